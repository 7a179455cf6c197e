/**
 * A plugin run in a sandbox child process: the same {@link PluginHandle}
 * interface as in process, but a segfault, abort or hang kills only the child
 * and becomes a typed error (`PluginCrashError`, `PluginTimeoutError`).
 *
 * Lifetime policy (all configurable through {@link SandboxOptions}):
 * - The next request after a crash or a killed hang starts a fresh child.
 *   Instances of the dead child are wedged (their state is gone).
 * - More than `restartCap` crashes/kills within `restartWindowMs` disables the
 *   plugin (`PluginDisabledError`) until `enable()`.
 * - A child idle for `idleTimeoutMs` is reaped; instances it held are
 *   re-created (from their config) on their next call.
 * - `close()` asks the child to destroy everything and shut the plugin down,
 *   waits `graceMs`, then sends SIGTERM and, a second later, SIGKILL.
 *
 * @example
 * ```ts ignore
 * import { loadPlugin } from "../load_plugin.ts";
 * await using plugin = await loadPlugin("build/fixtures/faults/libsegfault.so", { isolate: true });
 * await using inst = await plugin.createInstance();
 * await inst.invoke("crash").catch((e) => console.log(e.signal)); // SIGSEGV
 * console.log(plugin.health().crashesInWindow); // 1
 * ```
 *
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import type { PluginDescription } from "../describe_schema.ts";
import {
  InstanceWedgedError,
  PluginCrashError,
  PluginError,
  PluginTimeoutError,
  SandboxProtocolError,
} from "../errors.ts";
import type { LogCounters } from "../ffi/host_log.ts";
import { hostLibraryPath as resolveHostLibraryPath } from "../ffi/host_lib.ts";
import { resolveLibrary } from "../resolve_library.ts";
import { closed, contractViolation, disabled, graceExpired, loadFailed, wedged } from "../guard.ts";
import { type ErrorData, fromData } from "../error_data.ts";
import {
  DEFAULT_INVOKE_TIMEOUT_MS,
  type ResolvedLoadOptions,
  type ResolvedSandboxOptions,
  SANDBOX_DEFAULTS,
  type SandboxOptions,
} from "../options.ts";
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
} from "../plugin_handle.ts";
import { type ChildSpec, SandboxChild } from "./child_process.ts";
import { KIND } from "./protocol.ts";

export { SANDBOX_DEFAULTS, type SandboxOptions };

/** A snapshot of a sandboxed plugin's health. */
export interface SandboxHealth {
  /** `idle`: no request running; `running`: one is; `recovering`: the child died, the next request restarts it; `disabled`. */
  state: "idle" | "running" | "recovering" | "disabled";
  /** Crashes and killed hangs within the restart window. */
  crashesInWindow: number;
  /** Children started after the first. */
  restarts: number;
  /** When the last request started, if any. */
  lastUse: Date | undefined;
  /** The last crash or killed hang. */
  lastCrash: { at: Date; message: string; signal?: string | undefined } | undefined;
  /** Why the plugin is disabled, if it is. */
  disabledReason: string | undefined;
  /** Process id of the current child, if one runs. */
  pid: number | undefined;
}

/** Loads `path` in a sandbox child (what `loadPlugin(path, { isolate: true })` calls). */
export async function loadSandboxedPlugin(
  path: string,
  options: ResolvedLoadOptions,
  sandbox: ResolvedSandboxOptions,
): Promise<SandboxedPlugin> {
  const real = await resolveLibrary(path, options.sha256);
  let hostLibraryPath = resolveHostLibraryPath(options.hostLibraryPath);
  try {
    hostLibraryPath = await Deno.realPath(hostLibraryPath);
  } catch (cause) {
    throw loadFailed(path, "cannot open plugcheck's native log helper (run `deno task build`)", cause);
  }
  const spec: ChildSpec = {
    pluginPath: real,
    hostLibraryPath,
    log: options.log,
    maxOutputBytes: options.maxOutputBytes,
    env: sandbox.env,
    startTimeoutMs: options.timeoutMs,
    childModule: sandbox.childModule,
  };
  const child = await SandboxChild.start(spec);
  return new SandboxedPlugin(real, spec, options, sandbox, child);
}

/** A plugin running in a sandbox child process. */
export class SandboxedPlugin implements PluginHandle {
  /** Always true: calls run in a child process. */
  readonly isolated = true;
  readonly path: string;
  readonly abiVersion: AbiVersion;
  readonly capabilities: Capabilities;
  readonly optionalSymbols: readonly string[];
  readonly initMs: number;
  readonly #spec: ChildSpec;
  readonly #description: PluginDescription;
  readonly #timeoutMs: number;
  readonly #policy: ResolvedSandboxOptions;
  readonly #warnings: string[] = [];
  #child: SandboxChild | undefined;
  #generation = 1;
  #starting: Promise<SandboxChild> | undefined;
  #failures: number[] = [];
  #restarts = 0;
  #lastUse: Date | undefined;
  #lastCrash: SandboxHealth["lastCrash"];
  #disabledReason: string | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #running = 0;
  #closed = false;
  #lastCounters: LogCounters | undefined;

  /** @internal Use `loadPlugin(path, { isolate: true })`. */
  constructor(
    path: string,
    spec: ChildSpec,
    options: ResolvedLoadOptions,
    sandbox: ResolvedSandboxOptions,
    child: SandboxChild,
  ) {
    this.path = path;
    this.#spec = spec;
    this.#child = child;
    const h = child.hello;
    this.abiVersion = h.abi as AbiVersion;
    this.capabilities = h.capabilities as Capabilities;
    this.optionalSymbols = h.optionalSymbols as string[];
    this.initMs = Number(h.initMs);
    this.#description = h.description as PluginDescription;
    this.#timeoutMs = options.timeoutMs;
    this.#policy = sandbox;
    this.#armIdle();
  }

  /** Contract warnings the children recorded. */
  get contractWarnings(): readonly string[] {
    return this.#warnings;
  }

  /** The validated describe() document from the first child. */
  describe(): PluginDescription {
    return this.#description;
  }

  /** A snapshot of the sandbox's health. */
  health(): SandboxHealth {
    const now = Date.now();
    const crashesInWindow = this.#failures.filter((t) => now - t < this.#policy.restartWindowMs).length;
    const state = this.#closed
      ? "idle"
      : this.#disabledReason !== undefined
      ? "disabled"
      : this.#running > 0
      ? "running"
      : this.#child === undefined || !this.#child.alive
      ? (this.#lastCrash ? "recovering" : "idle")
      : "idle";
    return {
      state,
      crashesInWindow,
      restarts: this.#restarts,
      lastUse: this.#lastUse,
      lastCrash: this.#lastCrash,
      disabledReason: this.#disabledReason,
      pid: this.#child?.alive ? this.#child.pid : undefined,
    };
  }

  /** Clears a disabled state and the crash window. */
  enable(): void {
    this.#disabledReason = undefined;
    this.#failures = [];
  }

  /** @internal The generation number of the current (or next) child. */
  get _generation(): number {
    return this.#generation;
  }

  /** @internal Why the child of `generation` ended, or undefined while it runs. */
  _endOf(generation: number): string | undefined {
    if (generation === this.#generation && this.#child?.alive) return undefined;
    return this.#ends.get(generation) ?? (generation === this.#generation ? undefined : "crashed");
  }

  /** @internal Starts a child if none runs (recording how the last one ended). */
  async _ensure(op: string): Promise<void> {
    if (this.#closed) throw closed(op, "plugin");
    await this.#ensureChild(op);
  }
  readonly #ends = new Map<number, string>();

  /** @internal Runs one request on a live child, applying the restart policy. */
  async _request(
    kind: number,
    header: Record<string, unknown>,
    blobs: Uint8Array[],
    ctl: { op: string; timeoutMs: number; method?: string; inputs?: Uint8Array[] },
  ): Promise<{ header: Record<string, unknown>; blobs: Uint8Array[]; generation: number }> {
    if (this.#closed) throw closed(ctl.op, "plugin");
    const child = await this.#ensureChild(ctl.op);
    const generation = this.#generation;
    this.#running++;
    this.#lastUse = new Date();
    clearTimeout(this.#idleTimer);
    const inFlight = { kind: KIND_NAMES[kind] ?? String(kind), ...ctl.method !== undefined && { method: ctl.method } };
    try {
      const reply = await child.request(kind, header, blobs, {
        op: ctl.op,
        timeoutMs: ctl.timeoutMs,
        inFlight: ctl.inputs ? { ...inFlight, inputs: ctl.inputs } : inFlight,
      });
      const warnings = reply.header.warnings;
      if (Array.isArray(warnings)) this.#warnings.push(...warnings.map(String));
      return { ...reply, generation };
    } catch (error) {
      if (!child.alive) this.#recordDeath(child, error);
      throw error;
    } finally {
      this.#running--;
      this.#armIdle();
    }
  }

  #recordDeath(child: SandboxChild, error: unknown): void {
    if (this.#ends.has(this.#generation)) return;
    const reason = child.end?.reason ?? "crashed";
    this.#ends.set(this.#generation, reason);
    if (reason === "reaped" || reason === "closed") return;
    this.#countFailure(error, child.end?.signal);
  }

  /** Counts a crash or killed hang against the restart cap; disables the plugin past it. */
  #countFailure(error: unknown, signal: string | undefined): void {
    const now = Date.now();
    this.#failures = this.#failures.filter((t) => now - t < this.#policy.restartWindowMs);
    this.#failures.push(now);
    const message = error instanceof Error ? error.message : String(error);
    this.#lastCrash = { at: new Date(now), message, signal };
    if (this.#failures.length >= this.#policy.restartCap) {
      this.#disabledReason =
        `${this.#failures.length} crashes within ${this.#policy.restartWindowMs} ms; last: ${message}`;
    }
  }

  async #ensureChild(op: string): Promise<SandboxChild> {
    if (this.#disabledReason !== undefined) throw disabled(op, this.#disabledReason);
    if (this.#child?.alive) return this.#child;
    if (this.#child && !this.#ends.has(this.#generation)) {
      // Died between requests (e.g. a plugin thread crashed it while idle).
      await this.#child.exited;
      this.#recordDeath(this.#child, new Error(`the child ${this.#child.end?.signal ?? "exited"} while idle`));
      if (this.#disabledReason !== undefined) throw disabled(op, this.#disabledReason);
    }
    this.#starting ??= (async () => {
      try {
        let child: SandboxChild;
        try {
          child = await SandboxChild.start(this.#spec);
        } catch (error) {
          // A child that dies or hangs while starting counts like any other crash.
          if (error instanceof PluginCrashError) this.#countFailure(error, error.signal);
          else if (error instanceof PluginTimeoutError || error instanceof SandboxProtocolError) {
            this.#countFailure(error, undefined);
          }
          throw error;
        }
        if (!isDeepStrictEqual(child.hello.description, this.#description)) {
          child.kill("protocol");
          throw contractViolation(op, "describe() changed between two loads of the same library");
        }
        this.#generation++;
        this.#restarts++;
        this.#child = child;
        return child;
      } finally {
        this.#starting = undefined;
      }
    })();
    return await this.#starting;
  }

  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    if (this.#closed || this.#policy.idleTimeoutMs === Infinity) return;
    const timer = setTimeout(() => {
      if (this.#running === 0 && this.#child?.alive) {
        const child = this.#child;
        this.#ends.set(this.#generation, "reaped");
        this.#stopChild(child, "reaped").catch(() => {});
      }
    }, this.#policy.idleTimeoutMs);
    Deno.unrefTimer(timer as unknown as number);
    this.#idleTimer = timer;
  }

  /** Graceful stop: CLOSE, wait the grace, SIGTERM, one more second, SIGKILL. True if it finished in time. */
  async #stopChild(child: SandboxChild, reason: "closed" | "reaped"): Promise<{ inTime: boolean; signal?: string }> {
    const release = child.hold();
    try {
      return await this.#stopChildHeld(child, reason);
    } finally {
      release();
    }
  }

  async #stopChildHeld(
    child: SandboxChild,
    reason: "closed" | "reaped",
  ): Promise<{ inTime: boolean; signal?: string }> {
    const grace = this.#policy.graceMs;
    const asked = child.request(KIND.CLOSE, {}, [], {
      op: "close sandboxed plugin",
      timeoutMs: Infinity,
      inFlight: { kind: "close" },
    })
      .then((r) => {
        const c = r.header.counters;
        if (c && typeof c === "object") this.#lastCounters = c as LogCounters;
      })
      .catch(() => {});
    const exited = child.exited.then(() => true);
    const wait = (ms: number) => new Promise<false>((r) => setTimeout(() => r(false), ms));
    const inTime = await Promise.race([exited, wait(grace)]);
    await Promise.race([asked, wait(0)]);
    if (inTime) {
      child.end ??= { reason };
      return { inTime: true };
    }
    child.end ??= { reason };
    child.signal("SIGTERM");
    if (await Promise.race([exited, wait(1000)])) return { inTime: false, signal: "SIGTERM" };
    child.kill(reason);
    await child.exited;
    return { inTime: false, signal: "SIGKILL" };
  }

  async readStats(): Promise<Record<string, number> | null> {
    const r = await this._request(KIND.STATS, {}, [], { op: "read stats", timeoutMs: this.#timeoutMs });
    return (r.header.stats ?? null) as Record<string, number> | null;
  }

  async readLogCounters(): Promise<LogCounters> {
    if (this.#closed || !this.#child?.alive) {
      return this.#lastCounters ??
        { accepted: 0, droppedFull: 0, filtered: 0, afterClose: 0, truncated: 0, enabledQueries: 0 };
    }
    const r = await this._request(KIND.LOG_COUNTERS, {}, [], { op: "read log counters", timeoutMs: this.#timeoutMs });
    return r.header.counters as LogCounters;
  }

  async createInstance(config?: InstanceConfig, options: InvokeOptions = {}): Promise<SandboxedInstance> {
    const bytes = configBytes(config);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const { id, generation } = await this._create(bytes, timeoutMs);
    return new SandboxedInstance(this, bytes, id, generation, this.#timeoutMs);
  }

  /** @internal Creates an instance in the current child. */
  async _create(config: Uint8Array | undefined, timeoutMs: number): Promise<{ id: number; generation: number }> {
    const r = await this._request(
      KIND.CREATE,
      { hasConfig: config !== undefined },
      config === undefined ? [] : [config],
      { op: "create instance", timeoutMs },
    );
    return { id: Number(r.header.instance), generation: r.generation };
  }

  /**
   * Destroys every instance and shuts the plugin down in the child, within
   * the grace period; then SIGTERM, then SIGKILL. Throws `PluginTimeoutError`
   * when the grace ran out (the child is stopped either way). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const child = this.#child;
    if (!child?.alive) return;
    const result = await this.#stopChild(child, "closed");
    if (!result.inTime) throw graceExpired("close sandboxed plugin", this.#policy.graceMs, result.signal ?? "SIGKILL");
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const KIND_NAMES: Record<number, string> = {
  [KIND.CREATE]: "create",
  [KIND.INVOKE]: "invoke",
  [KIND.BATCH]: "batch",
  [KIND.DESTROY]: "destroy",
  [KIND.STATS]: "stats",
  [KIND.LOG_COUNTERS]: "log_counters",
};

/** An instance living in a sandbox child. */
export class SandboxedInstance implements InstanceHandle {
  readonly #plugin: SandboxedPlugin;
  readonly #config: Uint8Array | undefined;
  readonly #timeoutMs: number;
  #id: number;
  #generation: number;
  #state: "live" | "wedged" | "destroyed" = "live";
  #why = "";

  /** @internal Use `createInstance()`. */
  constructor(
    plugin: SandboxedPlugin,
    config: Uint8Array | undefined,
    id: number,
    generation: number,
    timeoutMs: number,
  ) {
    this.#plugin = plugin;
    this.#config = config;
    this.#id = id;
    this.#generation = generation;
    this.#timeoutMs = timeoutMs;
  }

  get state(): "live" | "wedged" | "destroyed" {
    return this.#state;
  }

  /** Makes sure the instance exists in the current child; re-creates it after an idle reap. */
  async #ready(op: string): Promise<void> {
    if (this.#state === "destroyed") throw closed(op, "instance");
    if (this.#state === "wedged") throw wedged(op, this.#why);
    await this.#plugin._ensure(op);
    const end = this.#plugin._endOf(this.#generation);
    if (end === undefined) return;
    if (end === "reaped") {
      const { id, generation } = await this.#plugin._create(this.#config, this.#timeoutMs);
      this.#id = id;
      this.#generation = generation;
      return;
    }
    this.#wedge(end === "timed_out" ? "a call timed out and its sandbox child was killed" : "its sandbox child died");
    throw wedged(op, this.#why);
  }

  #wedge(why: string): void {
    this.#state = "wedged";
    this.#why = why;
  }

  async #call<T>(op: string, run: () => Promise<T>): Promise<T> {
    await this.#ready(op);
    try {
      return await run();
    } catch (error) {
      if (error instanceof PluginError && !(error instanceof InstanceWedgedError)) {
        const end = this.#plugin._endOf(this.#generation);
        if (end === "timed_out") this.#wedge("a call timed out and its sandbox child was killed");
        else if (end !== undefined && end !== "reaped" && end !== "closed") this.#wedge("its sandbox child died");
      }
      throw error;
    }
  }

  async invoke(
    method: string,
    input?: InvokeInput,
    options: InvokeOptions = {},
  ): Promise<Uint8Array> {
    const op = `invoke ${JSON.stringify(method)}`;
    const bytes = inputBytes(input);
    return await this.#call(op, async () => {
      const r = await this.#plugin._request(KIND.INVOKE, { instance: this.#id, method }, [bytes], {
        op,
        timeoutMs: options.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS,
        method,
        inputs: [bytes],
      });
      return r.blobs[0] ?? new Uint8Array(0);
    });
  }

  async invokeBatch(
    method: string,
    inputs: readonly InvokeInput[],
    options: InvokeOptions = {},
  ): Promise<BatchResult[]> {
    const op = `invoke ${JSON.stringify(method)}`;
    const blobs = inputs.map(inputBytes);
    return await this.#call(op, async () => {
      const r = await this.#plugin._request(KIND.BATCH, { instance: this.#id, method }, blobs, {
        op,
        timeoutMs: options.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS,
        method,
        inputs: blobs,
      });
      const results = Array.isArray(r.header.results) ? r.header.results as Record<string, unknown>[] : [];
      return results.map((res, i): BatchResult =>
        res.ok === true
          ? { ok: true, output: r.blobs[i] ?? new Uint8Array(0) }
          : { ok: false, error: fromData((res.error ?? {}) as Partial<ErrorData>) as PluginError }
      );
    });
  }

  /** Destroys the instance in its child (a no-op if that child is gone). Idempotent. */
  async destroy(): Promise<void> {
    if (this.#state === "destroyed") return;
    const wasLive = this.#state === "live";
    this.#state = "destroyed";
    if (!wasLive || this.#plugin._endOf(this.#generation) !== undefined) return;
    await this.#plugin._request(KIND.DESTROY, { instance: this.#id }, [], {
      op: "destroy instance",
      timeoutMs: this.#timeoutMs,
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}
