/**
 * Timers that are safe with any delay: `setTimeout` fires at once for delays
 * of 2^31 ms or more, so every delay is checked once ({@link checkDelay}) and
 * clamped where a timer is set; `Infinity` sets no timer. Every timer here is
 * cleared when its race is decided, so none keeps the process alive.
 *
 * @example
 * ```ts
 * import { checkDelay, withDeadline } from "./timers.ts";
 * console.assert(checkDelay(Infinity, "timeoutMs") === Infinity);
 * const v = await withDeadline(Promise.resolve(7), 1000, () => new Error("late"));
 * console.assert(v === 7);
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
