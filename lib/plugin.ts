/**
 * Loading npa plugins and calling them safely, in process.
 *
 * `loadPlugin()` opens a library once per resolved path (concurrent loads
 * share one `npa_plugin_init`), checks its ABI version and symbols, and
 * validates describe(). Instances are created, invoked and destroyed through
 * the guard, so every failure is a typed {@link PluginError}.
 *
 * Deadlines: lifecycle calls and `invoke()` run on Deno's blocking pool and
 * race a deadline. A call that misses it cannot be cancelled, so its instance
 * is quarantined (`InstanceWedgedError` from then on), never destroyed while
 * the call runs, and the library is never unloaded under it: `close()` defers
 * the unload until every call has returned. `invokeSync()` is the hot path
 * for loops; it has no deadline.
 *
 * @example
 * ```ts ignore
 * import { loadPlugin } from "./plugin.ts";
 * await using plugin = await loadPlugin("build/fixtures/libref_rust.so");
 * await using inst = await plugin.createInstance();
 * const out = await inst.invoke("upper", "hello", { timeoutMs: 1000 });
 * console.log(new TextDecoder().decode(out)); // HELLO
 * ```
 *
 * @module
 */
import { basename } from "node:path";
import { getLogger } from "./deps.ts";
import type { PluginDescription } from "./describe_schema.ts";
import { PluginDescriptionSchema } from "./describe_schema.ts";
import { callSlots } from "./call_slots.ts";
import { HostLog, type LogCounters } from "./ffi/host_log.ts";
import { openPluginLibrary, type PluginLibrary } from "./ffi/library.ts";
import { resolveLibrary } from "./resolve_library.ts";
import { discardBuffer, isNull, NpaBufSlot, PointerSlot } from "./ffi/memory.ts";
import {
  abiMismatch,
  checkStatus,
  closed,
  contractViolation,
  describeInvalid,
  type GuardContext,
  loadFailed,
  parseJsonOutput,
  slotsExhausted,
  takeOutput,
  timedOut,
  wedged,
} from "./guard.ts";
import { LogPump } from "./plugin_log.ts";
import { PluginError } from "./errors.ts";
import {
  type AbiVersion,
  type BatchResult,
  type Capabilities,
  configBytes,
  inputBytes,
  type InstanceConfig,
  type InstanceHandle,
  type InvokeInput,
  type InvokeOptions,
  type PluginHandle,
} from "./plugin_handle.ts";
import type { SandboxedPlugin, SandboxOptions } from "./sandbox/sandboxed_plugin.ts";

export type {
  AbiVersion,
  BatchResult,
  Capabilities,
  InstanceConfig,
  InstanceHandle,
  InvokeInput,
  InvokeOptions,
  PluginHandle,
};
import { parseLogDirectives, pluginFilterSpec } from "./log_directives.ts";

/** The npa ABI version this host speaks: `major << 16 | minor`. */
export const HOST_ABI_VERSION = (1 << 16) | 0;
/** Default largest plugin buffer the host copies: 64 MiB. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** Default deadline for init, describe, create, destroy and shutdown. */
export const DEFAULT_LIFECYCLE_TIMEOUT_MS = 10_000;
/** Default deadline for `invoke()`. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 30_000;
const MAX_WARNINGS = 1000;

/** Options of {@link loadPlugin}. */
export interface LoadOptions {
  /** Expected hex SHA-256 of the file, checked before `dlopen`. */
  sha256?: string;
  /** Deadline for init, describe, create, destroy and shutdown (ms). */
  timeoutMs?: number;
  /** Largest plugin buffer the host copies (bytes); larger claims are `MalformedBufferError`. */
  maxOutputBytes?: number;
  /**
   * Which plugin log messages are delivered, as a level (`"debug"`) or
   * RUST_LOG-style directives (`"info,plugin.whisper=debug,plugin.kokoro=off"`);
   * default `info`. The plugin's `log_enabled` answers from the same directives.
   */
  log?: string;
  /** Path of plugcheck's native log helper (default `build/libnpa_host.so`, or `$PLUGCHECK_HOST_LIB`). */
  hostLibraryPath?: string;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const methodCache = new Map<string, Uint8Array<ArrayBuffer>>();

function methodBytes(method: string): Uint8Array<ArrayBuffer> {
  let bytes = methodCache.get(method);
  if (bytes === undefined) {
    bytes = encoder.encode(method);
    if (methodCache.size < 256) methodCache.set(method, bytes);
  }
  return bytes;
}

function checkTimeout(ms: number, what: string): number {
  if (!(ms > 0)) throw new RangeError(`${what} must be a positive number of milliseconds: got ${ms}`);
  return ms;
}

let pump: LogPump | undefined;
const contractLog = getLogger(["plugcheck", "contract"]);

/** One loaded library, shared by every handle `loadPlugin` returned for its path. */
class PluginCore {
  readonly path: string;
  readonly lib: PluginLibrary;
  readonly sym: PluginLibrary["symbols"];
  readonly abi: AbiVersion;
  readonly capabilities: Capabilities;
  readonly optionalSymbols: string[];
  readonly timeoutMs: number;
  readonly guard: GuardContext;
  readonly warnings: string[] = [];
  readonly instances: Set<Instance> = new Set();
  readonly host: HostLog;
  readonly pump: LogPump;
  description!: PluginDescription;
  initMs = 0;
  /** init returned OK: shutdown is owed. */
  initialized = false;
  logId = 0;
  logCtx: Deno.PointerObject | undefined;
  state: "open" | "closing" | "closed" = "open";
  /** Nonblocking calls that have not returned (running or abandoned). */
  outstanding = 0;
  /** True once a lifecycle call timed out: the library must never be unloaded. */
  pinned = false;
  #settled: (() => void)[] = [];
  #closeDone: Promise<void> | undefined;

  private constructor(path: string, lib: PluginLibrary, optional: string[], host: HostLog, options: LoadOptions) {
    this.path = path;
    this.lib = lib;
    this.sym = lib.symbols;
    this.host = host;
    pump ??= new LogPump(host);
    this.pump = pump;
    this.optionalSymbols = optional;
    this.capabilities = { stats: optional.includes("npa_plugin_stats") };
    this.timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_LIFECYCLE_TIMEOUT_MS, "timeoutMs");
    const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
      throw new RangeError(`maxOutputBytes must be a non-negative integer: got ${maxOutputBytes}`);
    }
    const free = this.sym.npa_buffer_free;
    this.guard = {
      free: (ptr, len) => free(ptr, len),
      maxOutputBytes,
      warn: (message) => this.warn(message),
    };
    const raw = this.sym.npa_abi_version();
    this.abi = { major: raw >>> 16, minor: raw & 0xffff, raw };
  }

  /** dlopen, ABI check, init, describe. On failure nothing stays loaded (unless a call hung). */
  static async open(path: string, shown: string, options: LoadOptions): Promise<PluginCore> {
    let host: HostLog;
    try {
      host = HostLog.get(options.hostLibraryPath);
    } catch (cause) {
      throw loadFailed(shown, "cannot open plugcheck's native log helper (run `deno task build`)", cause);
    }
    let opened;
    try {
      opened = openPluginLibrary(path);
    } catch (cause) {
      const msg = cause instanceof Error ? cause.message : String(cause);
      const detail = msg.replace(/^(Could not open library: )+/, "").replace(`${path}: `, "");
      throw loadFailed(shown, `not a loadable shared library (${detail})`, cause);
    }
    if (!opened.ok) {
      const s = opened.missing.length > 1 ? "s" : "";
      throw loadFailed(shown, `missing required symbol${s} ${opened.missing.join(", ")}`);
    }
    const core = new PluginCore(path, opened.library, opened.optionalPresent, host, options);
    if (core.abi.major !== HOST_ABI_VERSION >>> 16) {
      core.lib.close();
      throw abiMismatch(shown, core.abi.raw, HOST_ABI_VERSION);
    }
    try {
      await core.#init(options.log ?? "info", basename(path));
      await core.#describe();
    } catch (e) {
      await core.#abandon();
      throw e;
    }
    return core;
  }

  async #init(log: string, fallbackName: string): Promise<void> {
    this.logId = this.pump.register(fallbackName);
    const { ctx, host } = this.host.newContext(this.logId, pluginFilterSpec(parseLogDirectives(log)));
    this.logCtx = ctx;
    const err = new NpaBufSlot();
    const started = performance.now();
    const op = "initialize plugin";
    const status = await this.call(op, this.timeoutMs, () => this.sym.npa_plugin_init(host, err.bytes), {
      late: () => discardBuffer(err.read(), this.guard.free),
      timeout: () => {
        this.pinned = true;
      },
    });
    this.initMs = performance.now() - started;
    this.pump.drain();
    checkStatus(op, status, err.read(), this.guard);
    this.initialized = true;
  }

  async #describe(): Promise<void> {
    const out = new NpaBufSlot();
    const op = "describe plugin";
    const status = await this.call(op, this.timeoutMs, () => this.sym.npa_plugin_describe(out.bytes), {
      late: () => discardBuffer(out.read(), this.guard.free),
    });
    checkStatus(op, status, { ptr: 0n, len: 0n }, this.guard, out.read());
    const json = parseJsonOutput(op, takeOutput(op, out.read(), this.guard));
    const parsed = PluginDescriptionSchema.safeParse(json);
    if (!parsed.success) throw describeInvalid(parsed.error);
    this.description = parsed.data;
    this.pump.rename(this.logId, parsed.data.name);
  }

  /** After a failed init/describe: shut down if init succeeded, unload unless a call still runs. */
  async #abandon(): Promise<void> {
    this.state = "closing";
    // After a failed init the ABI allows nothing but npa_buffer_free: no shutdown.
    this.#closeDone = this.#finishClose(this.initialized);
    await this.#closeDone;
  }

  warn(message: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(message);
    contractLog.warning("{plugin}: {message}", { plugin: this.description?.name ?? this.path, message });
  }

  /**
   * Runs one nonblocking plugin call against a deadline. A late reply is handed
   * to `late` (to free its buffers) while the library is still loaded.
   */
  async call<T>(
    op: string,
    timeoutMs: number,
    start: () => Promise<T>,
    hooks: { late?: (value: T) => void; timeout?: () => void; settled?: () => void } = {},
  ): Promise<T> {
    const release = callSlots.tryAcquire();
    if (release === undefined) throw slotsExhausted(op, callSlots.limit);
    this.outstanding++;
    let late = false;
    const done = start().then((value) => {
      if (late) hooks.late?.(value);
      return value;
    }).finally(() => {
      release();
      this.outstanding--;
      hooks.settled?.();
      this.#afterCall();
    });
    if (timeoutMs === Infinity) return await done;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late = true;
        hooks.timeout?.();
        reject(timedOut(op, timeoutMs));
      }, timeoutMs);
    });
    done.catch(() => {}); // a late failure has no one to report to
    try {
      return await Promise.race([done, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  #afterCall(): void {
    this.pump.drain();
    if (this.outstanding === 0) {
      if (this.state === "closing" && this.#closeDone === undefined) {
        this.#closeDone = this.#finishClose(true);
      }
      const waiters = this.#settled;
      this.#settled = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once no call is running or abandoned (and a deferred close has finished). */
  async whenSettled(): Promise<void> {
    while (this.outstanding > 0) await new Promise<void>((resolve) => this.#settled.push(resolve));
    await this.#closeDone;
  }

  async close(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "closing";
    const destroys = [...this.instances].map((i) => i.destroy().catch(() => {}));
    await Promise.all(destroys);
    if (this.outstanding === 0 && this.#closeDone === undefined) this.#closeDone = this.#finishClose(true);
    // With a call still running, #afterCall starts the close when it returns; close() does not wait for that.
    // Otherwise wait for shutdown and unload (checking `outstanding` here would not do: the shutdown call
    // #finishClose just started counts as outstanding).
    await this.#closeDone;
  }

  async #finishClose(shutdown: boolean): Promise<void> {
    if (shutdown && !this.pinned) {
      try {
        await this.call("shut down plugin", this.timeoutMs, () => this.sym.npa_plugin_shutdown(), {
          timeout: () => {
            this.pinned = true;
          },
        });
      } catch (e) {
        this.warn(e instanceof Error ? e.message : String(e));
      }
    }
    if (this.logCtx) this.host.closeContext(this.logCtx);
    this.pump.unregister(this.logId);
    // A call still running inside the library (or one that hung) means it must stay loaded.
    if (!this.pinned && this.outstanding === 0) this.lib.close();
    this.state = "closed";
  }

  logCounters(): LogCounters | undefined {
    return this.logCtx ? this.host.counters(this.logCtx) : undefined;
  }
}

interface RegistryEntry {
  core: Promise<PluginCore>;
  refs: number;
}
const registry = new Map<string, RegistryEntry>();
const closing = new Map<string, Promise<void>>();

/**
 * Loads a plugin. In process (the default), concurrent and repeated loads of
 * one resolved path share one loaded library (init runs once); each returned
 * handle is closed on its own, and the last close shuts the plugin down.
 * Options other than `sha256` apply only to the load that actually opens the
 * library. With `isolate: true` the plugin runs in a sandbox child process
 * that survives crashes and hangs (see `lib/sandbox/`).
 */
export function loadPlugin(
  path: string,
  options: LoadOptions & SandboxOptions & { isolate: true },
): Promise<SandboxedPlugin>;
export function loadPlugin(path: string, options?: LoadOptions & { isolate?: false }): Promise<Plugin>;
export function loadPlugin(
  path: string,
  options?: LoadOptions & SandboxOptions & { isolate?: boolean },
): Promise<Plugin | SandboxedPlugin>;
export async function loadPlugin(
  path: string,
  options: LoadOptions & SandboxOptions & { isolate?: boolean } = {},
): Promise<Plugin | SandboxedPlugin> {
  parseLogDirectives(options.log ?? "info"); // RangeError before anything is opened
  if (options.isolate) {
    // Loaded on demand: the sandbox's child process imports this module too.
    const { loadSandboxedPlugin } = await import("./sandbox/sandboxed_plugin.ts");
    return await loadSandboxedPlugin(path, options);
  }
  return await loadInProcess(path, options);
}

async function loadInProcess(path: string, options: LoadOptions): Promise<Plugin> {
  const real = await resolveLibrary(path, options.sha256);
  await closing.get(real);
  let entry = registry.get(real);
  if (entry === undefined) {
    const created: RegistryEntry = { core: PluginCore.open(real, path, options), refs: 0 };
    registry.set(real, created);
    created.core.catch(() => {
      if (registry.get(real) === created) registry.delete(real);
    });
    entry = created;
  }
  entry.refs++;
  let core: PluginCore;
  try {
    core = await entry.core;
  } catch (e) {
    entry.refs--;
    throw e;
  }
  const owner = entry;
  return new Plugin(core, () => {
    owner.refs--;
    if (owner.refs > 0) return Promise.resolve();
    registry.delete(real);
    const done = core.close().finally(() => closing.delete(real));
    closing.set(real, done);
    return done;
  });
}

/** A loaded plugin: one handle of a shared library, called in this process. */
export class Plugin implements PluginHandle {
  /** Always false: calls run in this process. */
  readonly isolated = false;
  readonly #core: PluginCore;
  readonly #release: () => Promise<void>;
  #closed = false;

  /** @internal Use {@link loadPlugin}. */
  constructor(core: PluginCore, release: () => Promise<void>) {
    this.#core = core;
    this.#release = release;
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
    const fn = this.#core.sym.npa_plugin_stats;
    if (fn === null) return null;
    const out = new NpaBufSlot();
    const status = fn(out.bytes);
    checkStatus(op, status, { ptr: 0n, len: 0n }, this.#core.guard, out.read());
    const json = parseJsonOutput(op, takeOutput(op, out.read(), this.#core.guard));
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw contractViolation(op, "stats output is not a JSON object");
    }
    const stats: Record<string, number> = {};
    for (const [k, v] of Object.entries(json)) {
      if (typeof v !== "number") throw contractViolation(op, `stats counter ${JSON.stringify(k)} is not a number`);
      stats[k] = v;
    }
    for (const k of ["live_instances", "live_buffers", "init_calls"]) {
      if (!(k in stats)) throw contractViolation(op, `stats lacks the required counter ${JSON.stringify(k)}`);
    }
    return stats;
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
    this.#core.pump.drain();
    return this.#core.logCounters() ??
      { accepted: 0, droppedFull: 0, filtered: 0, afterClose: 0, truncated: 0, enabledQueries: 0 };
  }

  /** Creates an instance. `config` is sent as JSON (objects), text, or raw bytes. */
  async createInstance(config?: InstanceConfig, options: InvokeOptions = {}): Promise<Instance> {
    const op = "create instance";
    this.#check(op);
    const core = this.#core;
    const bytes = configBytes(config) ?? EMPTY;
    const out = new PointerSlot();
    const err = new NpaBufSlot();
    const timeoutMs = checkTimeout(options.timeoutMs ?? core.timeoutMs, "timeoutMs");
    const status = await core.call(
      op,
      timeoutMs,
      () => core.sym.npa_instance_create(bytes, BigInt(bytes.length), out.bytes, err.bytes),
      {
        late: (late) => {
          discardBuffer(err.read(), core.guard.free);
          const ptr = out.read();
          // A create that succeeded after its deadline: destroy what nobody will use.
          if (late === 0 && !isNull(ptr)) {
            core.call("destroy late instance", Infinity, () => core.sym.npa_instance_destroy(ptr)).catch(() => {});
          }
        },
      },
    );
    checkStatus(op, status, err.read(), core.guard);
    const ptr = out.read();
    if (ptr === null || isNull(ptr)) throw contractViolation(op, "plugin returned OK with a NULL instance");
    const inst = new Instance(core, ptr);
    core.instances.add(inst);
    return inst;
  }

  /** Closes this handle; the last handle shuts the plugin down and unloads it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#release();
  }

  /** Resolves once no call of this plugin runs or is abandoned, and a deferred unload is done. */
  whenSettled(): Promise<void> {
    return this.#core.whenSettled();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(op: string): void {
    if (this.#closed || this.#core.state !== "open") throw closed(op, "plugin");
  }
}

/** One plugin instance, in this process. */
export class Instance implements InstanceHandle {
  readonly #core: PluginCore;
  readonly #ptr: Deno.PointerObject;
  #state: "live" | "wedged" | "destroyed" = "live";
  #destroyPending = false;
  #running = 0;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #syncOut = new NpaBufSlot();
  readonly #syncErr = new NpaBufSlot();

  /** @internal Use {@link Plugin.createInstance}. */
  constructor(core: PluginCore, ptr: Deno.PointerObject) {
    this.#core = core;
    this.#ptr = ptr;
  }

  /** `live`, `wedged` (a call timed out; no more calls), or `destroyed`. */
  get state(): "live" | "wedged" | "destroyed" {
    return this.#state;
  }

  /**
   * Calls a method on the blocking pool, racing `timeoutMs`. On expiry throws
   * `PluginTimeoutError` and quarantines the instance. Calls on an instance of
   * a plugin without `thread_safe_instances` run one at a time.
   */
  invoke(method: string, input?: InvokeInput, options: InvokeOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#core.description.thread_safe_instances) return this.#invokeNow(method, input, options);
    const run = this.#queue.then(() => this.#invokeNow(method, input, options));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #invokeNow(
    method: string,
    input: InvokeInput | undefined,
    options: InvokeOptions,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const op = `invoke ${JSON.stringify(method)}`;
    this.#check(op);
    const core = this.#core;
    const timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS, "timeoutMs");
    const m = methodBytes(method);
    const inp = inputBytes(input);
    const out = new NpaBufSlot();
    const err = new NpaBufSlot();
    this.#running++;
    const status = await core.call(
      op,
      timeoutMs,
      () => core.sym.npa_instance_invoke(this.#ptr, m, BigInt(m.length), inp, BigInt(inp.length), out.bytes, err.bytes),
      {
        late: () => {
          discardBuffer(out.read(), core.guard.free);
          discardBuffer(err.read(), core.guard.free);
        },
        timeout: () => {
          if (this.#state === "live") this.#state = "wedged";
        },
        settled: () => {
          this.#running--;
          this.#maybeFinishDestroy();
        },
      },
    );
    checkStatus(op, status, err.read(), core.guard, out.read());
    return takeOutput(op, out.read(), core.guard);
  }

  /**
   * Calls `method` once per input, in order, each with `timeoutMs`; plugin
   * errors become results. After a timeout the rest fail as wedged.
   */
  async invokeBatch(
    method: string,
    inputs: readonly InvokeInput[],
    options: InvokeOptions = {},
  ): Promise<BatchResult[]> {
    const results: BatchResult[] = [];
    for (const input of inputs) {
      try {
        results.push({ ok: true, output: await this.invoke(method, input, options) });
      } catch (error) {
        if (!(error instanceof PluginError)) throw error;
        results.push({ ok: false, error });
      }
    }
    return results;
  }

  /**
   * Calls a method synchronously on the JS thread: the fast path for hot
   * loops. There is no deadline (a hang blocks the process); use `invoke()` or
   * the sandbox for untrusted code.
   */
  invokeSync(method: string, input?: InvokeInput): Uint8Array<ArrayBuffer> {
    const op = `invoke ${JSON.stringify(method)}`;
    this.#check(op);
    if (this.#running > 0 && !this.#core.description.thread_safe_instances) {
      throw new Error(`Cannot ${op} synchronously: an async call on this instance is still running`);
    }
    const core = this.#core;
    const m = methodBytes(method);
    const inp = inputBytes(input);
    const out = this.#syncOut;
    const err = this.#syncErr;
    out.reset();
    err.reset();
    const status = core.sym.npa_instance_invoke_sync(
      this.#ptr,
      m,
      BigInt(m.length),
      inp,
      BigInt(inp.length),
      out.bytes,
      err.bytes,
    );
    core.pump.drain();
    checkStatus(op, status, err.read(), core.guard, out.read());
    return takeOutput(op, out.read(), core.guard);
  }

  /**
   * Destroys the instance. Idempotent. If a call is still running (a wedged
   * instance), the destroy happens when it returns, never under it.
   */
  async destroy(): Promise<void> {
    if (this.#state === "destroyed" || this.#destroyPending) return;
    this.#destroyPending = true;
    if (this.#state === "live") this.#state = "destroyed";
    if (this.#running === 0) await this.#destroyNow();
  }

  /** A destroy deferred under a running call happens when the last call returns. */
  #maybeFinishDestroy(): void {
    if (this.#destroyPending && this.#running === 0 && this.#core.instances.has(this)) {
      this.#destroyNow().catch(() => {});
    }
  }

  async #destroyNow(): Promise<void> {
    const core = this.#core;
    core.instances.delete(this);
    this.#state = "destroyed";
    await core.call("destroy instance", core.timeoutMs, () => core.sym.npa_instance_destroy(this.#ptr), {
      timeout: () => {
        core.pinned = true;
      },
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  #check(op: string): void {
    if (this.#state === "wedged") throw wedged(op);
    if (this.#state === "destroyed" || this.#core.state !== "open") throw closed(op, "instance");
  }
}
