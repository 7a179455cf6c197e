/**
 * Timers that are safe with any delay: `setTimeout` fires at once for delays
 * of 2^31 ms or more, so every delay is checked once ({@link checkDelay}) and
 * clamped where a timer is set; `Infinity` sets no timer. Every timer here is
 * cleared when its race is decided, so none keeps the process alive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDelay, withDeadline } from "./timers.ts";
 * assert.ok(checkDelay(Infinity, "timeoutMs") === Infinity);
 * const v = await withDeadline(Promise.resolve(7), 1000, () => new Error("late"));
 * assert.ok(v === 7);
 * ```
 *
 * @module
 */

/** The longest delay a timer can wait: 2^31 - 1 ms (about 24.8 days). */
export const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Returns `ms` if it is a usable delay: a positive number of milliseconds up
 * to {@link MAX_DELAY_MS}, or `Infinity` (when allowed). Throws RangeError
 * naming `what` otherwise.
 */
export function checkDelay(ms: number, what: string, options: { infinity?: boolean } = {}): number {
  if (ms === Infinity && options.infinity !== false) return ms;
  if (typeof ms !== "number" || !(ms > 0) || ms > MAX_DELAY_MS) {
    const range = options.infinity === false ? "" : " or Infinity";
    throw new RangeError(
      `${what} must be a positive number of milliseconds up to ${MAX_DELAY_MS}${range}: got ${ms}`,
    );
  }
  return ms;
}

/** A timer that can be cancelled; `unref` keeps it from holding the process open. */
export function timer(ms: number, fn: () => void, options: { unref?: boolean } = {}): () => void {
  if (ms === Infinity) return () => {};
  const id = setTimeout(fn, Math.min(Math.max(ms, 0), MAX_DELAY_MS));
  if (options.unref) Deno.unrefTimer(id);
  return () => clearTimeout(id);
}

/** Resolves `true` after `ms` unless cancelled first (then `false`). The timer is cleared either way. */
export function sleep(ms: number, options: { unref?: boolean } = {}): { done: Promise<boolean>; cancel: () => void } {
  let resolve!: (fired: boolean) => void;
  const done = new Promise<boolean>((r) => (resolve = r));
  const clear = timer(ms, () => resolve(true), options);
  return {
    done,
    cancel: () => {
      clear();
      resolve(false);
    },
  };
}

/**
 * Races `promise` against `ms`: on expiry calls `onTimeout` and rejects with
 * the error it returns. The timer is cleared as soon as the race is decided.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (ms === Infinity) return await promise;
  let cancel = () => {};
  const deadline = new Promise<never>((_, reject) => {
    cancel = timer(ms, () => reject(onTimeout()));
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    cancel();
  }
}

/** A deadline timer that fires later than this (ms) was held up (a stopped process, a starved event loop). */
export const LATE_FIRE_MS = 250;

/**
 * Many deadlines on one timer. A `setTimeout` costs ~4 us to set and clear in
 * Deno, more than a whole nonblocking plugin call's own overhead, so calls
 * register here instead: one unref'd timer is armed for the earliest
 * deadline, and a deadline that is met is only forgotten (the timer, when it
 * fires, finds nothing due and re-arms for what is left, or stops). The
 * timer never keeps the process alive on its own; a call in flight does.
 * Deadlines live in an array with a free list: no hashing per call.
 */
export class Deadlines {
  readonly #at: number[] = [];
  readonly #ms: number[] = [];
  readonly #expire: ((() => void) | undefined)[] = [];
  readonly #free: number[] = [];
  #live = 0;
  #armedAt = Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Calls `onExpire` once `ms` have passed, unless {@link remove}d first.
   * Returns the deadline's handle; `Infinity` registers nothing (-1).
   */
  add(ms: number, onExpire: () => void): number {
    if (ms === Infinity) return -1;
    const at = performance.now() + ms;
    const i = this.#free.pop() ?? this.#at.length;
    this.#at[i] = at;
    this.#ms[i] = ms;
    this.#expire[i] = onExpire;
    this.#live++;
    if (at < this.#armedAt) this.#arm(at);
    return i;
  }

  /** Forgets a deadline that was met (cheap: the timer is left as it is). Ignores -1. */
  remove(handle: number): void {
    if (handle < 0 || this.#expire[handle] === undefined) return;
    this.#expire[handle] = undefined;
    this.#free.push(handle);
    this.#live--;
  }

  /** Deadlines registered and not yet met or expired. */
  get size(): number {
    return this.#live;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAt = at;
    const delay = Math.min(Math.max(Math.ceil(at - performance.now()), 0), MAX_DELAY_MS);
    const id = setTimeout(() => this.#fire(), delay);
    Deno.unrefTimer(id);
    this.#timer = id;
  }

  #fire(): void {
    this.#timer = undefined;
    const lateBy = performance.now() - this.#armedAt;
    this.#armedAt = Infinity;
    if (lateBy > LATE_FIRE_MS) {
      // The timer fired far too late: the process was stopped (SIGSTOP) or its event loop starved. That time was
      // nobody's call's: each deadline now due starts again (as the native watchdog's do), and a real hang still
      // expires at the next, punctual, fire.
      const now = performance.now();
      let next = Infinity;
      for (let i = 0; i < this.#expire.length; i++) {
        if (this.#expire[i] === undefined) continue;
        if (this.#at[i]! <= now) this.#at[i] = now + this.#ms[i]!;
        next = Math.min(next, this.#at[i]!);
      }
      if (next < Infinity) this.#arm(next);
      return;
    }
    // A timer may fire up to a millisecond early by the performance clock: count that as due.
    const now = performance.now() + 1;
    let next = Infinity;
    const due: (() => void)[] = [];
    for (let i = 0; i < this.#expire.length; i++) {
      const fn = this.#expire[i];
      if (fn === undefined) continue;
      const at = this.#at[i]!;
      if (at <= now) {
        due.push(fn);
        this.remove(i);
      } else if (at < next) next = at;
    }
    if (next < Infinity) this.#arm(next);
    for (const fn of due) fn();
  }
}

/** The process's deadlines for plugin calls. */
export const deadlines: Deadlines = new Deadlines();
