/**
 * One loaded plugin library in this process: dlopen, ABI check, init and
 * describe; every nonblocking call with its deadline and call slot; and the
 * close that shuts the plugin down and unloads it once nothing runs inside
 * it any more. Handles (`plugin.ts`) share a core through `registry.ts`.
 *
 * A call that misses its deadline cannot be cancelled: it keeps its slot and counts as outstanding until it
 * returns, and the library is never unloaded under it. A lifecycle call that misses its deadline pins the
 * library for good (never shut down, never unloaded).
 *
 * @example
 * ```ts ignore
 * import { PluginCore } from "./core.ts";
 * const core = await PluginCore.open(real, shown, resolveOptions({}));
 * await core.close();
 * ```
 *
 * @module
 */
import { basename } from "node:path";
import { logger } from "../../plugin/log_out.ts";
import type { PluginDescription } from "../../plugin/describe_schema.ts";
import { readDescription } from "../../plugin/read_description.ts";
import type { PluginCalls } from "../../ffi/calls.ts";
import { type CallHooks, CallTracker } from "./call_tracker.ts";
import { AsyncPath } from "../../ffi/async_call.ts";
import { NbCalls } from "./nb_call.ts";
import { FastPath } from "../../ffi/fast_call.ts";
import { HostLog, type LogCounters, NO_LOG_COUNTERS } from "../../ffi/host_log.ts";
import { ProcessGuard } from "../../ffi/process_guard.ts";
import { ProcInfo } from "../../ffi/proc_info.ts";
import { afterShutdown, ShutdownCheck } from "./shutdown_check.ts";
import type { PluginThreads } from "../../ffi/plugin_threads.ts";
import type { PluginLibrary } from "../../ffi/dlopen.ts";
import { BarePlugin, type StepRunner } from "../../load/bare_plugin.ts";
import { isLibraryLoaded, type LibraryCopy } from "../../ffi/private_copy.ts";
import type { GuardContext } from "../../errors/guard.ts";
import { CONSEQUENCES, loadError } from "../../errors/host_errors.ts";
import { pluginFilterSpec } from "../../plugin/log_directives.ts";
import type { ResolvedLoadOptions } from "../../plugin/options.ts";
import type { AbiVersion, Capabilities, ShutdownReport } from "../../plugin/handle.ts";
import { LogPump } from "../../plugin/log_pump.ts";
import { ProcessState } from "../../plugin/process_state.ts";
import { deferUnload } from "../unloads.ts";
import { forgetHeap, type HookedHeap, hookExits, hookHeap, hookThreads } from "./library_hooks.ts";
import { loadPhase } from "./load_phase.ts";

const MAX_WARNINGS = 1000;
let pump: LogPump | undefined;
const contractLog = logger(["plugcheck", "contract"]);
const lifecycleLog = logger(["plugcheck", "lifecycle"]);

/**
 * Where a core is on its way out: `waiting` for a call to return, `pinned`
 * (never unloaded), `mapped` (unloaded, but its code stayed in memory: linked
 * nodelete, or held by another handle), `closed`.
 */
export type CloseState = "open" | "closing" | "waiting" | "pinned" | "mapped" | "closed";

/** One loaded library, shared by every handle of its path. */
export class PluginCore {
  /** The resolved path of the library (what users see, even for a private copy). */
  readonly path: string;
  readonly calls: PluginCalls;
  readonly abi: AbiVersion;
  readonly capabilities: Capabilities;
  readonly optionalSymbols: string[];
  readonly timeoutMs: number;
  readonly guard: GuardContext;
  readonly warnings: string[] = [];
  readonly host: HostLog;
  readonly pump: LogPump;
  /** The synchronous call path, and this library's slot in it. */
  readonly fast: FastPath;
  readonly fastSlot: number;
  /** The nonblocking call path, and its invokes in flight. */
  readonly async: AsyncPath;
  readonly nb: NbCalls;
  description!: PluginDescription;
  initMs = 0;
  /** True once the library must never be shut down or unloaded (a lifecycle call hung, a destroy failed). */
  pinned = false;
  /** With `shutdownCheck`, once closed: what the shutdown left running. */
  shutdownReport: ShutdownReport | undefined;
  readonly #shutdownCheck: ShutdownCheck | undefined;
  /** The private copy this core opened, closed once the library is unloaded. */
  readonly #copy: LibraryCopy | undefined;
  readonly #lib: PluginLibrary;
  readonly #shown: string;
  readonly #libraryPath: string;
  #state: "open" | "closing" | "closed" = "open";
  #initialized = false;
  #logId = 0;
  #logCtx: Deno.PointerObject | undefined;
  /** The counters of a log context released for reuse (after unload). */
  #lastCounters: LogCounters | undefined;
  /** Unloaded, but its code is still in memory (with its plugin's state). */
  #stillMapped = false;
  /** Instances created and not (yet) destroyed. */
  #live = 0;
  readonly #tracker: CallTracker;
  readonly #bare: BarePlugin;
  readonly #processGuard: ProcessGuard;
  readonly #deferUnload: boolean;
  /** The deadline on top of the bare opener's steps: a lifecycle call that hangs pins the library. */
  readonly #lifecycle: StepRunner = (op, start, late) =>
    this.call(op, this.timeoutMs, start, {
      late,
      timeout: () => (this.pinned = true),
      consequence: CONSEQUENCES.library,
    });
  #closeDone: Promise<void> | undefined;
  #processState: ProcessState | undefined;
  /** The helper's thread records, when it could hook the library (see `plugin_threads.ts`). */
  #threads: PluginThreads | undefined;
  /** With `trackHeap`: where the helper counts the plugin's heap (see `plugin_heap.ts`). */
  heap: HookedHeap | undefined;

  private constructor(
    path: string,
    shown: string,
    libraryPath: string,
    checked: BarePlugin,
    native: { host: HostLog; guard: ProcessGuard; fast: FastPath; async: AsyncPath; slot: number },
    o: { timeoutMs: number; maxOutputBytes: number; deferUnload: boolean },
    shutdownCheck: ShutdownCheck | undefined,
    copy: LibraryCopy | undefined,
  ) {
    this.#shutdownCheck = shutdownCheck;
    this.#copy = copy;
    this.path = path;
    this.#shown = shown;
    this.#libraryPath = libraryPath;
    this.#lib = checked.library;
    this.#bare = checked;
    this.#processGuard = native.guard;
    this.#deferUnload = o.deferUnload;
    this.#tracker = new CallTracker(native.guard, () => this.#afterCall());
    this.calls = checked.calls;
    this.host = native.host;
    this.fast = native.fast;
    this.fastSlot = native.slot;
    this.async = native.async;
    const host = native.host;
    pump ??= new LogPump(host);
    this.pump = pump;
    this.optionalSymbols = [...checked.optionalPresent];
    this.capabilities = { stats: checked.optionalPresent.includes("npa_plugin_stats") };
    this.timeoutMs = o.timeoutMs;
    this.guard = { free: this.calls.free, maxOutputBytes: o.maxOutputBytes, warn: (m) => this.warn(m) };
    this.nb = new NbCalls(this.#tracker, native.async, this.guard, this.calls.free);
    this.abi = checked.abi;
  }

  /**
   * dlopen, ABI check, init, describe. What is opened is `path`, or a private
   * copy of it (exclusive loads; closed by the core once unloaded); `path` is
   * what users see. On failure nothing stays loaded (unless a call hung).
   */
  static async open(
    path: string,
    shown: string,
    options: ResolvedLoadOptions,
    copy?: LibraryCopy,
  ): Promise<PluginCore> {
    const libraryPath = copy?.path ?? path;
    let native: { host: HostLog; guard: ProcessGuard; fast: FastPath; async: AsyncPath };
    let check: ShutdownCheck | undefined;
    try {
      native = {
        host: HostLog.get(),
        guard: ProcessGuard.get(),
        fast: FastPath.get(),
        async: AsyncPath.get(),
      };
      // The baseline comes before dlopen: a load-time constructor may start threads too.
      if (options.shutdownCheck) check = await ShutdownCheck.begin(ProcInfo.get());
    } catch (cause) {
      throw loadError(shown, "cannot open plugcheck's native helper (run `deno task build`)", cause);
    }
    const state = ProcessState.take(); // before dlopen: a load-time constructor counts too
    loadPhase("load plugin"); // dlopen runs the library's constructors: the plugin's time
    const checked = BarePlugin.open(libraryPath, shown, options.adapter);
    loadPhase(null);
    hookExits(native.guard, libraryPath, shown, lifecycleLog);
    // From here on the threads the plugin starts are recorded: its close never unloads code under one.
    const threads = hookThreads(libraryPath);
    let slot: number;
    try {
      slot = native.fast.bind(checked.entryPath);
    } catch (cause) {
      checked.library.close();
      throw loadError(shown, "cannot bind its entry points for plugcheck's synchronous call path", cause);
    }
    const core = new PluginCore(path, shown, libraryPath, checked, { ...native, slot }, options, check, copy);
    core.#processState = state;
    core.#threads = threads;
    if (options.trackHeap) core.heap = hookHeap(libraryPath, path, checked.adapter, lifecycleLog);
    try {
      await core.#init(options, basename(path));
      await core.#describe();
      core.#checkProcessState();
    } catch (e) {
      core.#state = "closing";
      // After a failed init the ABI allows nothing but npa_buffer_free: no shutdown.
      core.#closeDone = core.#finishClose();
      await core.#closeDone;
      throw e;
    }
    return core;
  }

  async #init(options: ResolvedLoadOptions, fallbackName: string): Promise<void> {
    this.#logId = this.pump.register(fallbackName);
    try {
      this.#logCtx = this.#bare.logContext(this.#logId, pluginFilterSpec(options.directives)).ctx;
    } catch (cause) {
      throw loadError(this.#shown, "cannot set up plugin logging in plugcheck's native helper", cause);
    }
    const started = performance.now();
    loadPhase("initialize plugin");
    try {
      await this.#bare.init(this.guard, this.#lifecycle);
    } finally {
      this.initMs = performance.now() - started;
      loadPhase(null);
    }
    this.#initialized = true;
  }

  async #describe(): Promise<void> {
    loadPhase("describe plugin");
    const bytes = await this.#bare.describe(this.guard, this.#lifecycle).finally(() => loadPhase(null));
    this.description = await readDescription(bytes); // plugcheck's own work, however big the document
    this.pump.rename(this.#logId, this.description?.name); // in a sandbox child, as read: its parent validates it
  }

  /** Records a contract warning (the call still succeeded). */
  warn(message: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(message);
    contractLog.warning("{plugin}: {message}", { plugin: this.description?.name ?? this.path, message });
  }

  /** True while handles may use the library. */
  get isOpen(): boolean {
    return this.#state === "open";
  }

  /** Runs one nonblocking plugin call against a deadline (see {@link CallTracker.call}). */
  call<T>(op: string, timeoutMs: number, start: () => Promise<T>, hooks: CallHooks<T> = {}): Promise<T> {
    return this.#tracker.call(op, timeoutMs, start, hooks);
  }

  /** Keeps the close waiting until the returned release is called (a deferred destroy). */
  hold(): () => void {
    return this.#tracker.hold();
  }

  /** Nonblocking calls that have not returned (running or abandoned). */
  get outstanding(): number {
    return this.#tracker.outstanding;
  }

  /** An instance was created (shutdown waits until each is destroyed). */
  instanceCreated(): void {
    this.#live++;
  }

  /** An instance was destroyed. */
  instanceDestroyed(): void {
    this.#live--;
  }

  /** Labels of the calls running or abandoned inside the library right now. */
  runningCalls(): string[] {
    return this.#tracker.running();
  }

  /**
   * After each call and release: deliver logs, look at the signal dispositions and umask (at most once a
   * second: a plugin that ignores SIGINT in a call is named while a long run goes on), and finish a close
   * that waited for the last call.
   */
  #afterCall(): void {
    this.pump.drain();
    if (this.#processState?.due()) this.#checkProcessState();
    if (!this.#tracker.busy && this.#state === "closing" && this.#closeDone === undefined) {
      this.#closeDone = this.#finishClose();
    }
  }

  /** Resolves once no call is running or abandoned (and a deferred close has finished). */
  async whenSettled(): Promise<void> {
    await this.#tracker.whenIdle();
    await this.#closeDone;
  }

  /** Where the core is on its way out. */
  get closeState(): CloseState {
    if (this.#state === "open") return "open";
    if (this.#state === "closed") return this.pinned ? "pinned" : this.#stillMapped ? "mapped" : "closed";
    if (this.#closeDone !== undefined) return "closing";
    return this.pinned ? "pinned" : "waiting";
  }

  /**
   * Closes the library once its last handle is gone: shutdown and unload now,
   * or, with a call still running inside it, when that call returns (the
   * returned promise does not wait for that).
   */
  close(): Promise<void> {
    if (this.#state !== "open") return this.#closeDone ?? Promise.resolve();
    this.#state = "closing";
    if (!this.#tracker.busy) this.#closeDone = this.#finishClose();
    return this.#closeDone ?? Promise.resolve();
  }

  async #finishClose(): Promise<void> {
    if (this.#initialized && !this.pinned && this.#live > 0) {
      this.warn(`${this.#live} instance(s) could not be destroyed, so the plugin is not shut down and stays loaded`);
      this.pinned = true;
    }
    if (this.#initialized && !this.pinned) {
      try {
        await this.call("shut down plugin", this.timeoutMs, () => this.calls.shutdown(), {
          timeout: () => (this.pinned = true),
          consequence: CONSEQUENCES.library,
          waitForSlot: true,
        });
      } catch (e) {
        this.warn(e instanceof Error ? e.message : String(e));
      }
    }
    this.#checkProcessState();
    if (this.#logCtx) this.host.closeContext(this.#logCtx);
    this.pump.unregister(this.#logId);
    const left = await this.#checkShutdown();
    // A call still running inside the library (or one that hung), or a thread it left, means it must stay loaded.
    if (left) {
      this.#stillMapped = true;
    } else if (!this.pinned && this.outstanding === 0) {
      if (this.#deferUnload) {
        deferUnload(() => Promise.resolve(void this.#unload()));
      } else {
        this.#unload();
      }
    }
    this.#state = "closed";
  }

  /**
   * dlclose (the library's destructors and atexit handlers run in it), marked as a synchronous call: the watchdog
   * bounds it, and an exit or a crash in it is reported as a failure of unloading. Its heap records go with it.
   */
  #unload(): void {
    const name = this.description?.name ?? basename(this.path);
    this.#processGuard.unloading(`unload plugin ${JSON.stringify(name)}`, () => {
      this.fast.unbind(this.fastSlot);
      this.#lib.close();
    });
    if (this.heap !== undefined) forgetHeap(this.heap);
    const ctx = this.#logCtx;
    if (ctx) {
      const last = this.host.counters(ctx);
      if (this.host.releaseContext(ctx)) {
        // Its code is gone, so no message can arrive any more: these counters are final.
        this.#lastCounters = last;
        this.#logCtx = undefined;
      } else {
        this.#stillMapped = true;
      }
    }
    const copies = [this.#copy, this.#bare.adapter?.copy].filter((c) => c && !isLibraryLoaded(c.path));
    if (!this.#stillMapped) { for (const copy of copies) copy!.close(); }
  }

  /** After shutdown (see {@link afterShutdown}): true when the plugin left threads running. */
  async #checkShutdown(): Promise<boolean> {
    if (this.pinned || this.outstanding > 0) return false;
    const { left, report } = await afterShutdown(
      this.#shutdownCheck,
      this.#threads,
      this.#libraryPath,
      (w) => this.warn(w),
    );
    if (report) this.shutdownReport = report;
    return left;
  }

  /** Warns when the plugin changed the signal dispositions or the umask since the last look. */
  #checkProcessState(): void {
    for (const w of this.#processState?.changes() ?? []) this.warn(w);
  }

  /** The native log helper's counters for this plugin; also after close (late messages count as after-close). */
  logCounters(): LogCounters {
    this.pump.drain();
    return this.#logCtx ? this.host.counters(this.#logCtx) : this.#lastCounters ?? NO_LOG_COUNTERS;
  }
}
