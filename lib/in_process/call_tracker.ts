/**
 * The nonblocking calls into one loaded library: each takes a call slot
 * (process-wide, see `call_slots.ts`), races its deadline, and counts as
 * outstanding until it really returns, since a call cannot be cancelled. A
 * reply that comes after the deadline goes to the call's `late` hook, to free
 * its buffers while the library is still loaded. Holds keep the library's
 * close waiting for work that has not started yet (a destroy queued behind a
 * running call).
 *
 * @example
 * ```ts ignore
 * const tracker = new CallTracker(guard, () => console.log("a call ended"));
 * const r = await tracker.call('invoke "echo"', 1000, () => calls.invoke(inst, m, input));
 * ```
 *
 * @module
 */
import { callSlots } from "../call_slots.ts";
import type { ProcessGuard } from "../ffi/process_guard.ts";
import { slotsExhausted, slotWaitExpired, timedOut } from "../guard.ts";
import { withDeadline } from "../timers.ts";

/** How a call is run by {@link CallTracker.call}. */
export interface CallHooks<T> {
  /** A reply that came after the deadline (free its buffers here; the library is still loaded). */
  late?: (value: T) => void;
  /** The deadline passed. */
  timeout?: () => void;
  /** The call returned (in time or not). */
  settled?: () => void;
  /** What the timeout error says the missed deadline leaves behind. */
  consequence?: string;
  /** Wait for a free call slot (within the deadline) instead of failing: for calls that must happen. */
  waitForSlot?: boolean;
}

/** The calls in flight in one library. */
export class CallTracker {
  /** Calls that have not returned (running or abandoned). */
  outstanding = 0;
  readonly #guard: ProcessGuard;
  readonly #afterCall: () => void;
  readonly #running = new Map<number, string>();
  #nextCall = 1;
  #holds = 0;
  #idle: (() => void)[] = [];

  /** `afterCall` runs after every call returns and every hold is released. */
  constructor(guard: ProcessGuard, afterCall: () => void) {
    this.#guard = guard;
    this.#afterCall = afterCall;
  }

  /** True while a call is outstanding or a hold is held. */
  get busy(): boolean {
    return this.outstanding + this.#holds > 0;
  }

  /** Labels of the calls outstanding now. */
  running(): string[] {
    return [...this.#running.values()];
  }

  /**
   * Runs one nonblocking call against a deadline, holding a call slot until
   * it returns. A synchronous throw from `start` releases everything.
   */
  async call<T>(op: string, timeoutMs: number, start: () => Promise<T>, hooks: CallHooks<T> = {}): Promise<T> {
    const began = performance.now();
    let release: () => void;
    if (hooks.waitForSlot) {
      const request = callSlots.acquire();
      release = await withDeadline(request.slot, timeoutMs, () => {
        request.abandon();
        return slotWaitExpired(op, timeoutMs, callSlots.limit);
      });
    } else {
      const slot = callSlots.tryAcquire();
      if (slot === undefined) throw slotsExhausted(op, callSlots.limit);
      release = slot;
    }
    this.outstanding++;
    const id = this.#nextCall++;
    this.#running.set(id, op);
    this.#guard.asyncBegin(op);
    let late = false;
    let started: Promise<T>;
    try {
      started = start();
    } catch (error) {
      started = Promise.reject(error);
    }
    const done = started.then((value) => {
      if (late) hooks.late?.(value);
      return value;
    }).finally(() => {
      this.#guard.asyncEnd();
      release();
      this.outstanding--;
      this.#running.delete(id);
      hooks.settled?.();
      this.#settle();
    });
    if (timeoutMs === Infinity) return await done;
    done.catch(() => {}); // a late failure has no one to report to
    const left = Math.max(1, timeoutMs - (performance.now() - began));
    return await withDeadline(done, left, () => {
      late = true;
      hooks.timeout?.();
      return timedOut(op, timeoutMs, hooks.consequence);
    });
  }

  /** Counts as busy until the returned release is called (idempotent). */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#settle();
    };
  }

  /** Resolves once nothing is outstanding or held. */
  async whenIdle(): Promise<void> {
    while (this.busy) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #settle(): void {
    this.#afterCall();
    if (this.busy) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }
}
