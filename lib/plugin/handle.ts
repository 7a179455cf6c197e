/**
 * The interface shared by in-process plugins (`Plugin`) and sandboxed ones
 * (`SandboxedPlugin`), so callers switch engines with one option of
 * `loadPlugin` (`isolate: true`) and nothing else.
 *
 * @example
 * ```ts ignore
 * import type { PluginHandle } from "./handle.ts";
 * async function smoke(plugin: PluginHandle) {
 *   await using inst = await plugin.createInstance();
 *   return await inst.invoke("echo", "hi", { timeoutMs: 1000 });
 * }
 * ```
 *
 * @module
 */
import type { HeapCounts, HeapResidue } from "../ffi/plugin_heap.ts";
import type { PluginDescription } from "./describe_schema.ts";
import type { PluginError } from "../errors/errors.ts";
import type { LogCounters } from "../ffi/host_log.ts";
import type { FdInfo, ProcessSnapshot, ThreadInfo } from "../ffi/proc_info.ts";

/** An ABI version split into its parts. */
export interface AbiVersion {
  major: number;
  minor: number;
  /** `major << 16 | minor`, as the plugin returned it. */
  raw: number;
}

/** Optional ABI entry points the plugin exports. */
export interface Capabilities {
  /** `npa_plugin_stats` is exported. */
  stats: boolean;
}

/** Input accepted by `invoke`: bytes, or text sent as UTF-8. */
export type InvokeInput = Uint8Array | string;
/** Config accepted by `createInstance`: a value sent as JSON, JSON text, or raw bytes. */
export type InstanceConfig = Record<string, unknown> | string | Uint8Array;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** The bytes of an invoke input (text as UTF-8; none is empty); TypeError for anything else. */
export function inputBytes(input: InvokeInput | undefined): Uint8Array {
  if (input === undefined) return EMPTY;
  if (typeof input === "string") return encoder.encode(input);
  if (input instanceof Uint8Array) return input;
  throw new TypeError(`An invoke input must be a Uint8Array or a string: got ${describeValue(input)}`);
}

/** The bytes of an instance config (objects as JSON, text as UTF-8), or undefined for none; TypeError otherwise. */
export function configBytes(config: InstanceConfig | undefined): Uint8Array | undefined {
  if (config === undefined || config instanceof Uint8Array) return config;
  if (typeof config === "string") return encoder.encode(config);
  if (config === null || typeof config !== "object" || Array.isArray(config) || ArrayBuffer.isView(config)) {
    throw new TypeError(`An instance config must be an object, a string or a Uint8Array: got ${describeValue(config)}`);
  }
  return encoder.encode(JSON.stringify(config));
}

const methodCache = new Map<string, Uint8Array<ArrayBuffer>>();

/** A method name's UTF-8 bytes, cached for the names used most. */
export function methodBytes(method: string): Uint8Array<ArrayBuffer> {
  let bytes = methodCache.get(method);
  if (bytes === undefined) {
    if (typeof method !== "string") throw new TypeError(`A method name must be a string: got ${describeValue(method)}`);
    bytes = encoder.encode(method);
    if (methodCache.size < 256) methodCache.set(method, bytes);
  }
  return bytes;
}

function describeValue(v: unknown): string {
  return v === null ? "null" : typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v;
}

/** Options of `invoke` and `invokeBatch`. */
export interface InvokeOptions {
  /** Deadline in ms (default 30 000); `Infinity` waits forever. For a batch: the whole batch. */
  timeoutMs?: number;
}

/** Options of one `invoke`. */
export interface InvokeCallOptions extends InvokeOptions {
  /**
   * An array the output may be copied into instead of fresh memory, when it
   * fits: the result is then a view of its start, and its bytes are
   * overwritten. For a caller done with a large array (its input, say): fresh
   * memory for a big output costs more than the copy. Only a large output of
   * a call in process goes there (a small one shares a slab, a sandboxed one
   * arrives in a buffer of its own), and nothing is written to it once the
   * call has failed or timed out.
   */
  into?: Uint8Array | undefined;
}

/** One result of `invokeBatch`. */
export type BatchResult = { ok: true; output: Uint8Array } | { ok: false; error: PluginError };

/** One call of `invokeCalls`: a method and its input. */
export interface MethodCall {
  method: string;
  input: Uint8Array;
}

/** What `invokeCalls` returns, per call that ran (in order, from the first). */
export interface CallsResult {
  /** Calls that ran: fewer than given when their outputs filled one reply (the rest never started). */
  ran: number;
  /** Each call's output (empty when it failed). */
  outputs: Uint8Array[];
  /** Each call's error, or undefined when it succeeded. */
  errors: (PluginError | undefined)[];
  /** Each call's time in ms, measured where it ran (the round trip left out). */
  ms: Float64Array;
}

/** An instance, in process or in a sandbox child. */
export interface InstanceHandle extends AsyncDisposable {
  /** `live`, `wedged` (a call timed out or its sandbox died; no more calls), or `destroyed`. */
  readonly state: "live" | "wedged" | "destroyed";
  invoke(method: string, input?: InvokeInput, options?: InvokeCallOptions): Promise<Uint8Array>;
  /** Calls `method` once per input, in order; plugin errors are results, not throws. */
  invokeBatch(method: string, inputs: readonly InvokeInput[], options?: InvokeOptions): Promise<BatchResult[]>;
  /**
   * Runs calls in order in one round trip, where a round trip costs more
   * than a call (a sandbox child; absent in process). Each call has its own
   * deadline (`timeoutMs`) and is timed where it runs; plugin errors are
   * results. A crash or a hang rejects, and the error names the call it
   * interrupted (its method and input), as for a request of that one call.
   */
  invokeCalls?(calls: readonly MethodCall[], options?: InvokeOptions): Promise<CallsResult>;
  destroy(): Promise<void>;
}

/** What a shutdown left behind (`LoadOptions.shutdownCheck`). */
export interface ShutdownReport {
  /** Threads and descriptors of the process before the library was opened. */
  before: { threads: number; fds: number };
  /** The same after `npa_plugin_shutdown` returned (and up to ~100 ms for stragglers to end). */
  after: { threads: number; fds: number };
  /** Threads that were not there before and still run. */
  leftThreads: ThreadInfo[];
  /** Descriptors that were not open before and still are. */
  leftFds: FdInfo[];
  /** False when the library stayed mapped because threads were left running in it. */
  unloaded: boolean;
  /** True when `leftThreads` are the plugin's own, as the helper recorded them (not a count of the process's). */
  attributed?: boolean;
}

/** A loaded plugin, in process or in a sandbox child. */
export interface PluginHandle extends AsyncDisposable {
  /** True when calls run in a child process. */
  readonly isolated: boolean;
  readonly path: string;
  readonly abiVersion: AbiVersion;
  readonly capabilities: Capabilities;
  readonly optionalSymbols: readonly string[];
  readonly initMs: number;
  readonly contractWarnings: readonly string[];
  describe(): PluginDescription;
  /** `npa_plugin_stats()` counters, or null without the capability. */
  readStats(): Promise<Record<string, number> | null>;
  /** The native log helper's counters for this plugin. */
  readLogCounters(): Promise<LogCounters>;
  /**
   * With `trackHeap`: the heap the plugin's own code holds now (blocks it
   * allocated and has not freed, and a serial that marks this moment);
   * null when it is not counted (no `trackHeap`, or the helper cannot here).
   */
  readHeap(): Promise<HeapCounts | null>;
  /**
   * With `trackHeap`: the blocks the plugin holds now, split by two serial
   * marks of earlier {@link readHeap} readings (`from` <= `mid`), with the
   * sampled stacks of those after `from`; null when it is not counted.
   */
  heapResidue(from: number, mid: number): Promise<HeapResidue | null>;
  createInstance(config?: InstanceConfig, options?: InvokeOptions): Promise<InstanceHandle>;
  /**
   * An instance whose calls take the same path as a real one's (deadline,
   * call slot, dispatch, sandbox round trip) into a native function that does
   * nothing and returns an empty output: what a call costs plugcheck and Deno
   * without the plugin (the dispatch floor `stress` reports). Its calls never
   * reach the plugin.
   */
  noopInstance(): Promise<InstanceHandle>;
  /**
   * The threads, open descriptors and memory of the process the plugin runs
   * in, counted in that process so that Deno's own threads never pass for
   * the plugin's (its blocking pool filled to the maximum first; not before
   * the process is 1 s old). Costs ~20 ms: for baselines, not for sampling.
   */
  snapshot(): Promise<ProcessSnapshot>;
  /** The id of the process the plugin runs in (this one, or the current sandbox child), if any. */
  readonly processId: number | undefined;
  /** With `shutdownCheck`, after `close()`: what the plugin's shutdown left running. */
  readonly shutdownReport: ShutdownReport | undefined;
  close(): Promise<void>;
}
