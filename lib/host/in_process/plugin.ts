/**
 * A plugin loaded in this process, as one handle. Handles of one path share
 * the loaded library (see `registry.ts`), but each owns its instances:
 * closing a handle destroys its instances, and the last handle to close
 * shuts the plugin down and unloads it.
 *
 * A call that missed its deadline cannot be cancelled. `close()` never
 * unloads the library under it; the unload happens when the call returns.
 * Until then the process cannot exit on its own (end it with `Deno.exit()`,
 * or load with `isolate: true`), and `close()` says so in a warning.
 *
 * @example
 * ```ts ignore
 * import { loadPlugin } from "../load_plugin.ts";
 * await using plugin = await loadPlugin("build/fixtures/libref_rust.so");
 * await using inst = await plugin.createInstance();
 * console.log(plugin.stats()); // { live_instances: 1, ... }
 * ```
 *
 * @module
 */
import { type HeapCounts, type HeapResidue, PluginHeap } from "../../ffi/plugin_heap.ts";
import { logger, logOutReady } from "../../plugin/log_out.ts";
import type { PluginDescription } from "../../plugin/describe_schema.ts";
import type { LogCounters } from "../../ffi/host_log.ts";
import { type ProcessSnapshot, ProcInfo } from "../../ffi/proc_info.ts";
import { discardBuffer, isNull } from "../../ffi/memory.ts";
import { checkStatus } from "../../errors/guard.ts";
import { closedError, CONSEQUENCES, contractViolationError } from "../../errors/host_errors.ts";
import type { ResolvedLoadOptions } from "../../plugin/options.ts";
import {
  type AbiVersion,
  type Capabilities,
  configBytes,
  type InstanceConfig,
  type InvokeOptions,
  type PluginHandle,
  type ShutdownReport,
} from "../../plugin/handle.ts";
import { readStats } from "../../load/open_checked.ts";
import { resolveLibrary } from "../../load/resolve_path.ts";
import { checkSanitizerInProcess } from "../../load/sanitizer.ts";
import { checkDelay } from "../../util/timers.ts";
import type { PluginCore } from "./core.ts";
import { Instance, type InstanceScope } from "./instance.ts";
import { type Lease, leaseCore } from "./registry.ts";

const EMPTY = new Uint8Array(0);
const lifecycleLog = logger(["plugcheck", "lifecycle"]);

/** Loads `path` in this process (what `loadPlugin(path)` calls once the options are checked). */
export async function loadInProcess(path: string, options: ResolvedLoadOptions): Promise<Plugin> {
  const real = await resolveLibrary(path, options.sha256);
  await checkSanitizerInProcess(real);
  await logOutReady(); // LogTape, unless a sandbox child set its own output
  return new Plugin(await leaseCore(real, path, options));
}

/** A loaded plugin: one handle of a library loaded in this process. */
export class Plugin implements PluginHandle {
  /** Always false: calls run in this process. */
  readonly isolated = false;
  readonly #core: PluginCore;
  readonly #lease: Lease;
  readonly #instances = new Map<Instance, () => Promise<void>>();
  readonly #scope: InstanceScope;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @internal Use `loadPlugin()`. */
  constructor(lease: Lease) {
    this.#lease = lease;
    this.#core = lease.core;
    const instances = this.#instances;
    this.#scope = {
      closed: false,
      track: (inst, destroyForClose) => instances.set(inst, destroyForClose),
      forget: (inst) => instances.delete(inst),
    };
  }

  /** The resolved path of the library. */
  get path(): string {
    return this.#core.path;
  }
  /** The plugin's ABI version. */
  get abiVersion(): AbiVersion {
    return this.#core.abi;
  }
  /** Optional entry points present. */
  get capabilities(): Capabilities {
    return this.#core.capabilities;
  }
  /** Optional C symbols the library exports. */
  get optionalSymbols(): readonly string[] {
    return this.#core.optionalSymbols;
  }
  /** Milliseconds `npa_plugin_init` took. */
  get initMs(): number {
    return this.#core.initMs;
  }
  /** Contract warnings recorded so far (calls that succeeded but bent a rule). */
  get contractWarnings(): readonly string[] {
    return this.#core.warnings;
  }
  /** What this process holds, counted exactly (see `PluginHandle.snapshot`). */
  snapshot(): Promise<ProcessSnapshot> {
    return ProcInfo.get().snapshotSelf();
  }

  /** This process: the plugin runs here. */
  get processId(): number {
    return Deno.pid;
  }
  /** With `shutdownCheck`, once the library was shut down: what the shutdown left running. */
  get shutdownReport(): ShutdownReport | undefined {
    return this.#core.shutdownReport;
  }
  /** Nonblocking calls of this plugin running or abandoned right now. */
  get outstandingCalls(): number {
    return this.#core.outstanding;
  }

  /** The validated describe() document, read once at load. */
  describe(): PluginDescription {
    return this.#core.description;
  }

  /** Parsed `npa_plugin_stats()` counters, or `null` when the plugin lacks the capability. */
  stats(): Record<string, number> | null {
    const op = "read stats";
    this.#check(op);
    const core = this.#core;
    return readStats(core.calls, core.guard);
  }

  /** With `trackHeap`: what the plugin's own code holds now (see `PluginHandle.readHeap`). */
  heap(): HeapCounts | null {
    const h = this.#core.heap;
    return h === undefined ? null : PluginHeap.get().read(h.id);
  }

  /** With `trackHeap`: the blocks it holds now split by two marks (see `PluginHandle.heapResidue`). */
  residue(from: number, mid: number): HeapResidue | null {
    const h = this.#core.heap;
    if (h === undefined) return null;
    const r = PluginHeap.get().residue(h.id, from, mid);
    // Frames in private copies (of the plugin for an exclusive load, of its adapter) are their files' own.
    for (const f of r.stacks.flatMap((s) => s.frames)) f.module = h.aliases[f.module] ?? f.module;
    return r;
  }

  readHeap(): Promise<HeapCounts | null> {
    return Promise.resolve().then(() => this.heap());
  }

  heapResidue(from: number, mid: number): Promise<HeapResidue | null> {
    return Promise.resolve().then(() => this.residue(from, mid));
  }

  /** {@link stats} as a promise (the {@link PluginHandle} form). */
  readStats(): Promise<Record<string, number> | null> {
    return Promise.resolve().then(() => this.stats());
  }

  /** {@link logCounters} as a promise (the {@link PluginHandle} form). */
  readLogCounters(): Promise<LogCounters> {
    return Promise.resolve(this.logCounters());
  }

  /** The native log helper's counters for this plugin (accepted, dropped, filtered, ...); also after close. */
  logCounters(): LogCounters {
    return this.#core.logCounters();
  }

  /** Creates an instance owned by this handle. `config` is sent as JSON (objects), text, or raw bytes. */
  async createInstance(config?: InstanceConfig, options: InvokeOptions = {}): Promise<Instance> {
    const op = "create instance";
    this.#check(op);
    const core = this.#core;
    const bytes = configBytes(config) ?? EMPTY;
    const timeoutMs = checkDelay(options.timeoutMs ?? core.timeoutMs, "timeoutMs");
    const r = await core.call(op, timeoutMs, () => core.calls.create(bytes), {
      late: (late) => {
        discardBuffer(late.err, core.calls.free);
        const ptr = late.instance;
        // A create that succeeded after its deadline: destroy what nobody will use.
        if (late.status === 0 && ptr !== null && !isNull(ptr)) {
          core.call("destroy late instance", Infinity, () => core.calls.destroy(ptr), { waitForSlot: true })
            .catch(() => {});
        }
      },
      consequence: CONSEQUENCES.create,
    });
    checkStatus(op, r.status, r.err, core.guard);
    const ptr = r.instance;
    if (ptr === null || isNull(ptr)) throw contractViolationError(op, "plugin returned OK with a NULL instance");
    core.instanceCreated();
    const inst = new Instance(core, this.#scope, ptr);
    if (this.#closed) {
      // The handle closed while the plugin was creating it: nobody may use it.
      await inst.destroy().catch(() => {});
      throw closedError(op, "plugin");
    }
    return inst;
  }

  /**
   * An instance whose calls take the same path as a real one's (deadline,
   * call slot, nonblocking dispatch, output copy) into a native function that
   * does nothing and returns an empty output: what a call costs plugcheck and
   * Deno without the plugin (the dispatch floor `stress` reports). Its calls
   * never reach the plugin.
   */
  noopInstance(): Promise<Instance> {
    try {
      this.#check("create no-op instance");
      return Promise.resolve(new Instance(this.#core, this.#scope, null));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Closes this handle: destroys its instances (those with a call still
   * running are destroyed when it returns), then gives the library back; the
   * last handle shuts the plugin down and unloads it. Rejects with the first
   * destroy that failed. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#scope.closed = true;
    const results = await Promise.allSettled([...this.#instances.values()].map((destroy) => destroy()));
    await this.#lease.release();
    const running = this.#core.runningCalls();
    if (running.length > 0) {
      lifecycleLog.warning(
        "{plugin}: {count} call(s) still running inside the plugin ({calls}): a call cannot be cancelled, so the library stays loaded and this process cannot exit on its own until they return; end it with Deno.exit(), or load the plugin with isolate: true",
        { plugin: this.#core.description.name, count: running.length, calls: running.join(", ") },
      );
    }
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Resolves once no call of this plugin runs or is abandoned, and a deferred unload is done. */
  whenSettled(): Promise<void> {
    return this.#core.whenSettled();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(op: string): void {
    if (this.#closed || !this.#core.isOpen) throw closedError(op, "plugin");
  }
}
