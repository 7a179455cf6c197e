/**
 * A plugin opened the bare way: dlopen with every required symbol and the ABI
 * major checked ({@link openCheckedLibrary}), a log context (off unless asked),
 * then init, describe and create one step at a time, each judged by the guard.
 * No zod, no LogTape, no deadlines: the fuzz child and the lifecycle probes use
 * it as it is (a fuzz child restarts after every crash and must start fast; a
 * probe drives the steps in orders no engine would), and the in-process engine
 * adds its deadlines on top by passing a {@link StepRunner} to each step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BarePlugin } from "./bare_plugin.ts";
 * const plugin = BarePlugin.open("build/fixtures/libref_c.so");
 * const warnings: string[] = [];
 * const ctx = plugin.guardContext(1 << 20, (m) => warnings.push(m));
 * await plugin.init(ctx);
 * const description = JSON.parse(new TextDecoder().decode(await plugin.describe(ctx)));
 * const instance = await plugin.create(new Uint8Array(0), ctx);
 * assert.ok(description.name === "ref_c" && plugin.hasStats && warnings.length === 0);
 * await plugin.calls.destroy(instance);
 * await plugin.calls.shutdown();
 * ```
 *
 * @module
 */
import type { CallResult, PluginCalls } from "../ffi/calls.ts";
import { HostLog } from "../ffi/host_log.ts";
import type { PluginLibrary } from "../ffi/dlopen.ts";
import { discardBuffer, isNull } from "../ffi/memory.ts";
import { ProcessGuard } from "../ffi/process_guard.ts";
import { ProcInfo } from "../ffi/proc_info.ts";
import { checkStatus, type GuardContext, takeOutput } from "../errors/guard.ts";
import { contractViolationError } from "../errors/host_errors.ts";
import type { AbiVersion } from "../plugin/handle.ts";
import { type CheckedLibrary, openCheckedLibrary } from "./open_checked.ts";

/** Log directives in the native helper's form: every level off. */
export const LOG_OFF = { defaultLevel: 0, spec: "" } as const;

/**
 * Runs one step's plugin call: directly by default; the in-process engine
 * passes its deadline (`op` names the call, `late` settles a reply that comes
 * after the deadline gave up on it).
 */
export type StepRunner = <T>(op: string, start: () => Promise<T>, late: (reply: T) => void) => Promise<T>;

const direct: StepRunner = (_op, start) => start();

/** One plugin library, opened and checked, with its lifecycle steps. */
export class BarePlugin {
  /** The path opened (a private copy's, for exclusive loads): the plugin's code. */
  readonly libraryPath: string;
  /**
   * Where the npa entry points are: `libraryPath`, or for a library of
   * another ABI the private copy of the adapter that serves it.
   */
  readonly entryPath: string;
  /** For a library of another ABI: its adapter and the adapter's private copy (close it once unloaded). */
  readonly adapter: CheckedLibrary["adapter"];
  readonly library: PluginLibrary;
  readonly calls: PluginCalls;
  readonly abi: AbiVersion;
  readonly optionalPresent: readonly string[];
  #host: Uint8Array<ArrayBuffer> | undefined;

  private constructor(libraryPath: string, checked: CheckedLibrary) {
    this.libraryPath = libraryPath;
    this.entryPath = checked.adapter?.copy.path ?? libraryPath;
    this.adapter = checked.adapter;
    this.library = checked.library;
    this.calls = checked.calls;
    this.abi = checked.abi;
    this.optionalPresent = checked.optionalPresent;
  }

  /**
   * Opens `libraryPath` (named `shown` in messages), through the adapter at
   * `adapter` when one is given (`LoadOptions.adapter`). Throws `LoadError`
   * or `AbiMismatchError`; on failure nothing stays open.
   */
  static open(libraryPath: string, shown: string = libraryPath, adapter?: string): BarePlugin {
    return new BarePlugin(libraryPath, openCheckedLibrary(libraryPath, shown, ProcessGuard.get(), adapter));
  }

  /** The plugin exports `npa_plugin_stats`. */
  get hasStats(): boolean {
    return this.optionalPresent.includes("npa_plugin_stats");
  }

  /** A guard context for this plugin's calls: its free, an output bound, where contract warnings go. */
  guardContext(maxOutputBytes: number, warn: (message: string) => void): GuardContext {
    return { free: this.calls.free, maxOutputBytes, warn };
  }

  /**
   * Sets up the plugin's log context (log id and directives; {@link LOG_OFF}
   * by default) and returns the host struct `init` gets. Throws the raw error.
   */
  logContext(
    id = 1,
    directives: { defaultLevel: number; spec: string } = LOG_OFF,
  ): { ctx: Deno.PointerObject; host: Uint8Array<ArrayBuffer> } {
    const log = HostLog.get();
    const made = log.newContext(id, directives);
    log.bindContext(made.ctx, this.entryPath); // the code that calls the log function
    this.#host = made.host;
    return made;
  }

  /** `npa_plugin_init` raw, with the log context made so far (logs off if none). */
  initRaw(): Promise<CallResult> {
    const host = this.#host ?? this.logContext().host;
    return this.calls.init(host);
  }

  /**
   * Initializes the plugin. Throws the typed error for a status that is not
   * OK, and a contract violation when init changed the process's own state
   * (its descriptor limit, O_NONBLOCK on descriptors it does not own), after
   * putting back what can be put back.
   */
  async init(ctx: GuardContext, run: StepRunner = direct): Promise<void> {
    const op = "initialize plugin";
    const proc = ProcInfo.get();
    const before = proc.processState();
    const r = await run(op, () => this.initRaw(), (late) => discardBuffer(late.err, this.calls.free));
    checkStatus(op, r.status, r.err, ctx);
    const changed = proc.restoreProcessState(before);
    if (changed.length > 0) {
      throw contractViolationError(op, `npa_plugin_init changed the host process: it ${changed.join("; it ")}`);
    }
  }

  /** The describe() document's bytes (copied and freed). Throws the typed error. */
  async describe(ctx: GuardContext, run: StepRunner = direct): Promise<Uint8Array<ArrayBuffer>> {
    const op = "describe plugin";
    const r = await run(op, () => this.calls.describe(), (late) => {
      discardBuffer(late.err, this.calls.free);
      discardBuffer(late.out, this.calls.free);
    });
    checkStatus(op, r.status, r.err, ctx, r.out);
    return takeOutput(op, r.out, ctx);
  }

  /** Creates one instance with `config`. Throws the typed error (a NULL instance with OK is a contract violation). */
  async create(config: Uint8Array, ctx: GuardContext): Promise<Deno.PointerObject> {
    const op = "create instance";
    const c = await this.calls.create(config);
    checkStatus(op, c.status, c.err, ctx);
    if (c.instance === null || isNull(c.instance)) {
      throw contractViolationError(op, "plugin returned OK with a NULL instance");
    }
    return c.instance;
  }
}
