/**
 * One nonblocking invoke in flight on the native path, as a reusable object:
 * its block, its deadline, and its handlers, made once and bound once, so a
 * call allocates nothing but its promise. The hot path of `invoke()` (about
 * a third of a raw call's cost went to closures and bookkeeping before).
 *
 * Life of a call: `start` takes a call slot and starts the native call; the
 * native reply settles the promise, or the deadline rejects it first and the
 * reply, when it comes, is freed; either way the object goes back to its
 * pool only once the native call has returned.
 *
 * @example
 * ```ts ignore
 * const calls = new NbCalls(tracker, AsyncPath.get(), guard, free);
 * const out = await calls.start('invoke "echo"', target, method, input, 1000, hooks);
 * ```
 *
 * @module
 */
import { callSlots } from "../../plugin/call_slots.ts";
import { type AsyncPath, NB_NO_ROOM, NB_OK, type NbBlock } from "../../ffi/async_call.ts";
import type { CallTarget } from "../../ffi/fast_call.ts";
import { discardBuffer, type FreeFn } from "../../ffi/memory.ts";
import { checkStatus, type GuardContext, takeOutput } from "../../errors/guard.ts";
import { slotsExhaustedError, timeoutError } from "../../errors/host_errors.ts";
import { deadlines } from "../../util/timers.ts";
import type { CallTracker } from "./call_tracker.ts";

/** What an instance learns of its nonblocking calls (one object per instance, not one per call). */
export interface InvokeHooks {
  /** The call started (it is sure to settle). */
  started(): void;
  /** Its deadline passed. */
  timeout(): void;
  /** It returned (in time or not). */
  settled(): void;
}

/** What the calls of one library share. */
interface Shared {
  tracker: CallTracker;
  path: AsyncPath;
  guard: GuardContext;
  free: FreeFn;
}

/** One call in flight; reused. */
class NbCall {
  readonly #s: Shared;
  readonly #pool: NbCall[];
  readonly block: NbBlock;
  op = "";
  timeoutMs = 0;
  hooks: InvokeHooks | undefined;
  /** Where a large output may go instead of fresh memory (`InvokeCallOptions.into`). */
  into: Uint8Array | undefined;
  index = -1;
  deadline = -1;
  late = false;
  resolve: (value: Uint8Array<ArrayBuffer>) => void = () => {};
  reject: (error: unknown) => void = () => {};

  constructor(shared: Shared, pool: NbCall[]) {
    this.#s = shared;
    this.#pool = pool;
    this.block = shared.path.take();
  }

  readonly executor = (resolve: (value: Uint8Array<ArrayBuffer>) => void, reject: (error: unknown) => void): void => {
    this.resolve = resolve;
    this.reject = reject;
  };

  readonly onExpire = (): void => {
    this.late = true;
    this.hooks!.timeout();
    this.reject(timeoutError(this.op, this.timeoutMs));
  };

  readonly onReply = (r: number): void => {
    this.#returned();
    if (this.late) {
      this.#discard(r);
    } else {
      try {
        this.resolve(this.#result(r));
      } catch (error) {
        this.reject(error);
      }
    }
    this.#release();
  };

  readonly onError = (error: unknown): void => {
    this.#returned();
    if (!this.late) this.reject(error);
    this.#release();
  };

  #returned(): void {
    deadlines.remove(this.deadline);
    this.hooks!.settled();
    this.#s.tracker.end(this.index);
  }

  /** The output, or the guard's typed error. */
  #result(r: number): Uint8Array<ArrayBuffer> {
    const { path, guard } = this.#s;
    if (r === NB_OK) return path.output(this.block);
    if (r === NB_NO_ROOM) return path.takeKept(this.block, this.into);
    const raw = path.raw(this.block);
    checkStatus(this.op, raw.status, raw.err, guard, raw.out);
    return takeOutput(this.op, raw.out, guard);
  }

  /** A reply nobody waits for: frees what it left (the library is still loaded: the call held it). */
  #discard(r: number): void {
    const { path, free } = this.#s;
    if (r === NB_NO_ROOM) path.discardKept(this.block);
    else if (r !== NB_OK) {
      const raw = path.raw(this.block);
      discardBuffer(raw.out, free);
      discardBuffer(raw.err, free);
    }
  }

  #release(): void {
    this.block.slab = undefined;
    this.hooks = undefined;
    this.into = undefined;
    this.resolve = this.reject = () => {};
    this.#pool.push(this);
  }
}

/** The nonblocking invokes of one library. */
export class NbCalls {
  readonly #s: Shared;
  readonly #pool: NbCall[] = [];

  constructor(tracker: CallTracker, path: AsyncPath, guard: GuardContext, free: FreeFn) {
    this.#s = { tracker, path, guard, free };
  }

  /**
   * Runs one invoke on `target` with a deadline: the output, or the guard's
   * typed error. A large output goes into `into` when it fits there.
   */
  start(
    op: string,
    target: CallTarget,
    method: Uint8Array<ArrayBuffer>,
    input: Uint8Array,
    timeoutMs: number,
    hooks: InvokeHooks,
    into?: Uint8Array,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const s = this.#s;
    const index = s.tracker.begin(op);
    if (index < 0) return Promise.reject(slotsExhaustedError(op, callSlots.limit));
    const c = this.#pool.pop() ?? new NbCall(s, this.#pool);
    let native: Promise<number>;
    try {
      native = s.path.start(c.block, target, method, input);
    } catch (error) {
      this.#pool.push(c);
      s.tracker.end(index);
      return Promise.reject(error);
    }
    c.op = op;
    c.timeoutMs = timeoutMs;
    c.hooks = hooks;
    c.into = into;
    c.index = index;
    c.late = false;
    hooks.started();
    const promise = new Promise<Uint8Array<ArrayBuffer>>(c.executor);
    c.deadline = deadlines.add(timeoutMs, c.onExpire);
    native.then(c.onReply, c.onError);
    return promise;
  }
}
