/**
 * One plugin instance in this process. It belongs to the handle that made it
 * (closing that handle closes it) and is called through the guard, so every
 * failure is a typed error.
 *
 * `destroy()` means destroyed: it resolves once the plugin's
 * `npa_instance_destroy` has returned. With a call still running (an
 * abandoned call after a timeout), the destroy waits for it, never runs under
 * it; if that takes longer than the lifecycle deadline, `destroy()` rejects
 * with `PluginTimeoutError` and the destroy still happens when the call
 * returns.
 *
 * @example
 * ```ts ignore
 * await using inst = await plugin.createInstance();
 * inst.invokeSync("upper", "hot loop"); // no deadline
 * await inst.invoke("upper", "hello", { timeoutMs: 1000 });
 * ```
 *
 * @module
 */
import { PluginError } from "../../errors/errors.ts";
import { type CallTarget, type FastPath, NO_ROOM_IN_DST } from "../../ffi/fast_call.ts";
import { checkStatus, takeOutput } from "../../errors/guard.ts";
import {
  bufferTooSmallError,
  busyError,
  closedError,
  CONSEQUENCES,
  timeoutError,
  wedgedError,
} from "../../errors/host_errors.ts";
import { DEFAULT_INVOKE_TIMEOUT_MS } from "../../plugin/options.ts";
import {
  type BatchResult,
  inputBytes,
  type InstanceHandle,
  type InvokeCallOptions,
  type InvokeInput,
  type InvokeOptions,
  methodBytes,
} from "../../plugin/handle.ts";
import { checkDelay, withDeadline } from "../../util/timers.ts";
import type { PluginCore } from "./core.ts";
import type { InvokeHooks } from "./nb_call.ts";

const opCache = new Map<string, string>();

/** `invoke "<method>"`, the operation name errors carry (cached for the names used most). */
function invokeOp(method: string): string {
  let op = opCache.get(method);
  if (op === undefined) {
    op = `invoke ${JSON.stringify(method)}`;
    if (opCache.size < 256) opCache.set(method, op);
  }
  return op;
}

/** What an instance needs from the handle that made it. */
export interface InstanceScope {
  /** True once the handle is closed: its instances take no more calls. */
  closed: boolean;
  /** Registers the instance; `destroyForClose` is what the handle's close() runs for it. */
  track(instance: Instance, destroyForClose: () => Promise<void>): void;
  /** The instance is destroyed: the handle no longer needs to close it. */
  forget(instance: Instance): void;
}

/** One plugin instance, in this process. */
export class Instance implements InstanceHandle {
  readonly #core: PluginCore;
  readonly #scope: InstanceScope;
  /** The plugin's instance, or null for a no-op instance (the dispatch floor). */
  readonly #ptr: Deno.PointerObject | null;
  readonly #target: CallTarget;
  readonly #fast: FastPath;
  readonly #pendingLogs: Uint32Array;
  readonly #threadSafe: boolean;
  #state: "live" | "wedged" | "destroyed" = "live";
  #destroyRequested = false;
  #destroyOp: Promise<void> | undefined;
  #running = 0;
  #idle: (() => void)[] = [];
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * @internal Use `Plugin.createInstance()` (or `Plugin.noopInstance()`: a
   * null `ptr` makes an instance whose calls run into a native no-op).
   */
  constructor(core: PluginCore, scope: InstanceScope, ptr: Deno.PointerObject | null) {
    this.#core = core;
    this.#scope = scope;
    this.#ptr = ptr;
    this.#fast = core.fast;
    this.#pendingLogs = core.host.pending;
    this.#target = ptr === null
      ? core.async.noopTarget()
      : core.fast.target(core.fastSlot, ptr, core.guard.maxOutputBytes);
    this.#threadSafe = core.description.thread_safe_instances;
    scope.track(this, () => this.#destroyForClose());
  }

  /** `live`, `wedged` (a call timed out; no more calls), or `destroyed`. */
  get state(): "live" | "wedged" | "destroyed" {
    return this.#state;
  }

  /**
   * Calls a method on the blocking pool, racing `timeoutMs`. On expiry throws
   * `PluginTimeoutError` and quarantines the instance. Calls on an instance of
   * a plugin without `thread_safe_instances` run one at a time. The output is
   * a view into a shared slab (like `invokeSync`'s), valid for as long as it
   * is referenced, or a view of `options.into` when a large output fits there.
   */
  invoke(method: string, input?: InvokeInput, options: InvokeCallOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
    let bytes: Uint8Array;
    let timeoutMs: number;
    try {
      bytes = inputBytes(input);
      timeoutMs = checkDelay(options.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS, "timeoutMs");
    } catch (error) {
      return Promise.reject(error);
    }
    const into = options.into;
    if (this.#threadSafe) return this.#invokeNow(method, bytes, timeoutMs, into);
    const run = this.#queue.then(() => this.#invokeNow(method, bytes, timeoutMs, into));
    this.#queue = run.catch(() => {});
    return run;
  }

  #invokeNow(
    method: string,
    input: Uint8Array,
    timeoutMs: number,
    into: Uint8Array | undefined,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const op = invokeOp(method);
    try {
      this.#check(op);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#core.nb.start(op, this.#target, methodBytes(method), input, timeoutMs, this.#hooks, into);
  }

  /** What the core's nonblocking invoke tells this instance (one object, not one per call). */
  readonly #hooks: InvokeHooks = {
    // counted only once the call starts: settled() is then sure to run
    started: () => void this.#running++,
    timeout: () => {
      if (this.#state === "live") this.#state = "wedged";
    },
    settled: () => {
      if (--this.#running === 0) this.#wakeIdle();
    },
  };

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
   * loops (one native call, the output copied once, no allocation per call:
   * the result is a view into a shared slab, valid for as long as it is
   * referenced). There is no deadline (a hang blocks the process); use
   * `invoke()` or the sandbox for untrusted code.
   */
  invokeSync(method: string, input?: InvokeInput): Uint8Array<ArrayBuffer> {
    if (this.#state !== "live" || this.#scope.closed || (this.#running > 0 && !this.#threadSafe)) {
      this.#checkSync(method);
    }
    const out = this.#fast.invokeSync(this.#target, method, input);
    if (this.#pendingLogs[0] !== 0) this.#core.pump.drain();
    return out ?? this.#judge(method);
  }

  /**
   * Like {@link invokeSync}, but copies the output into `dst` and returns its
   * length: for loops that want no allocation at all. An output longer than
   * `dst` is freed and reported as `BufferTooSmallError` (with `needed`).
   */
  invokeInto(method: string, input: InvokeInput | undefined, dst: Uint8Array): number {
    if (this.#state !== "live" || this.#scope.closed || (this.#running > 0 && !this.#threadSafe)) {
      this.#checkSync(method);
    }
    const n = this.#fast.invokeInto(this.#target, method, input, dst);
    if (this.#pendingLogs[0] !== 0) this.#core.pump.drain();
    if (n >= 0) return n;
    const core = this.#core;
    const op = `invoke ${JSON.stringify(method)}`;
    if (n === NO_ROOM_IN_DST) throw bufferTooSmallError(op, core.fast.needed, dst.byteLength);
    const out = this.#judge(method);
    if (out.length > dst.byteLength) throw bufferTooSmallError(op, out.length, dst.byteLength);
    dst.set(out);
    return out.length;
  }

  /** The guard's verdict on a synchronous call that was not a clean success: throws, or the output. */
  #judge(method: string): Uint8Array<ArrayBuffer> {
    const op = `invoke ${JSON.stringify(method)}`;
    const core = this.#core;
    const r = core.fast.raw();
    checkStatus(op, r.status, r.err, core.guard, r.out);
    return takeOutput(op, r.out, core.guard);
  }

  /**
   * The checks of a synchronous call, run only when the cheap test in front
   * of it failed (a handle is closed before its core, and a destroy request
   * leaves the state other than live, so that test covers everything).
   */
  #checkSync(method: string): void {
    this.#check(`invoke ${JSON.stringify(method)}`);
    if (this.#running > 0 && !this.#threadSafe) throw busyError(`invoke ${JSON.stringify(method)}`);
  }

  /**
   * Destroys the instance; resolves once the plugin's destroy has returned.
   * Idempotent. If a call is still running (a wedged instance), the destroy
   * waits for it; past the lifecycle deadline this rejects with
   * `PluginTimeoutError` and the destroy happens when the call returns.
   */
  destroy(): Promise<void> {
    const op = this.#startDestroy();
    if (this.#running === 0) return op;
    return withDeadline(op, this.#core.timeoutMs, () =>
      timeoutError(
        "destroy instance",
        this.#core.timeoutMs,
        "a call on the instance is still running, so the destroy runs when it returns",
      ));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  /** For the handle's close(): the destroy op, or (under a running call) nothing to wait for. */
  #destroyForClose(): Promise<void> {
    const op = this.#startDestroy();
    if (this.#running === 0) return op;
    op.catch(() => {}); // recorded as a contract warning by #destroyNow
    return Promise.resolve();
  }

  #startDestroy(): Promise<void> {
    if (this.#destroyOp === undefined) {
      this.#destroyRequested = true;
      if (this.#state === "live") this.#state = "destroyed";
      this.#destroyOp = this.#destroyNow();
    }
    return this.#destroyOp;
  }

  async #destroyNow(): Promise<void> {
    const core = this.#core;
    const ptr = this.#ptr;
    if (ptr === null) {
      // A no-op instance: nothing of the plugin's to destroy.
      this.#state = "destroyed";
      this.#scope.forget(this);
      return;
    }
    const release = core.hold();
    try {
      while (this.#running > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      const op = "destroy instance";
      await core.call(op, core.timeoutMs, () => core.calls.destroy(ptr), {
        timeout: () => (core.pinned = true),
        consequence: CONSEQUENCES.library,
        waitForSlot: true,
      });
      this.#state = "destroyed";
      core.instanceDestroyed();
      this.#scope.forget(this);
    } catch (error) {
      core.warn(`An instance was not destroyed: ${error instanceof Error ? error.message : error}`);
      throw error;
    } finally {
      release();
    }
  }

  #wakeIdle(): void {
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }

  #check(op: string): void {
    if (this.#state === "wedged") throw wedgedError(op);
    if (this.#destroyRequested || this.#scope.closed || !this.#core.isOpen) throw closedError(op, "instance");
  }
}
