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
 * const r = await tracker.call("create instance", 1000, () => calls.create(config));
 * ```
 *
 * @module
 */
import { callSlots } from "../../plugin/call_slots.ts";
import type { ProcessGuard } from "../../ffi/process_guard.ts";
import { slotsExhaustedError, slotWaitError, timeoutError } from "../../errors/host_errors.ts";
import { deadlines, withDeadline } from "../../util/timers.ts";

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
  /** Labels of the calls outstanding, by index (an array with a free list: no hashing on the hot path). */
  readonly #labels: (string | undefined)[] = [];
  readonly #freeIndex: number[] = [];
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
    return this.#labels.filter((l): l is string => l !== undefined);
  }

  /**
   * Starts the bookkeeping of one call: takes a call slot and counts the
   * call as outstanding. Returns its index for {@link end}, or -1 when no
   * call slot is free. The building block of the invoke hot path.
   */
  begin(op: string): number {
    return callSlots.take() ? this.#count(op) : -1;
  }

  /** Counts a call whose slot is taken as outstanding; returns its index. */
  #count(op: string): number {
    this.outstanding++;
    const index = this.#freeIndex.pop() ?? this.#labels.length;
    this.#labels[index] = op;
    return index;
  }

  /** The call of {@link begin} returned: gives its slot back and settles. */
  end(index: number): void {
    callSlots.give();
    this.outstanding--;
    this.#labels[index] = undefined;
    this.#freeIndex.push(index);
    this.#settle();
  }

  /**
   * Runs one nonblocking call against a deadline, holding a call slot until
   * it returns. A synchronous throw from `start` releases everything. The
   * deadline costs no timer of its own (see `Deadlines`).
   */
  call<T>(op: string, timeoutMs: number, start: () => Promise<T>, hooks: CallHooks<T> = {}): Promise<T> {
    if (hooks.waitForSlot && !callSlots.take()) return this.#callAfterSlot(op, timeoutMs, start, hooks);
    if (!hooks.waitForSlot && !callSlots.take()) return Promise.reject(slotsExhaustedError(op, callSlots.limit));
    return this.#run(op, timeoutMs, start, hooks);
  }

  /** Waits for a slot within the deadline, then runs the call with what is left of it. */
  async #callAfterSlot<T>(op: string, timeoutMs: number, start: () => Promise<T>, hooks: CallHooks<T>): Promise<T> {
    const began = performance.now();
    const request = callSlots.acquire();
    await withDeadline(request.slot, timeoutMs, () => {
      request.abandon();
      return slotWaitError(op, timeoutMs, callSlots.limit);
    });
    // The slot is ours, counted like one from take(): #run gives it back with callSlots.give().
    const left = timeoutMs === Infinity ? Infinity : Math.max(1, timeoutMs - (performance.now() - began));
    return await this.#run(op, left, start, hooks, timeoutMs);
  }

  /** The call itself, with a slot already taken. */
  #run<T>(
    op: string,
    timeoutMs: number,
    start: () => Promise<T>,
    hooks: CallHooks<T>,
    shownMs = timeoutMs,
  ): Promise<T> {
    const index = this.#count(op);
    this.#guard.asyncBegin(op);
    let started: Promise<T>;
    try {
      started = start();
    } catch (error) {
      started = Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => {
      let late = false;
      const deadline = deadlines.add(timeoutMs, () => {
        late = true;
        hooks.timeout?.();
        reject(timeoutError(op, shownMs, hooks.consequence));
      });
      const finish = () => {
        deadlines.remove(deadline);
        this.#guard.asyncEnd();
        hooks.settled?.();
        this.end(index);
      };
      started.then((value) => {
        finish();
        if (late) hooks.late?.(value);
        else resolve(value);
      }, (error) => {
        finish();
        if (!late) reject(error); // a late failure has no one to report to
      });
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
