/**
 * Deadlines that wait out a loaded machine. A deadline of `ms` is meant for
 * work that could run: time the processes doing it spent ready to run but
 * waiting for a CPU (the kernel's run_delay, per thread) is added on top, so
 * a neighbour burning every core stretches the deadline instead of failing a
 * plugin that was never given the CPU. A real hang still ends: a thread that
 * sleeps or blocks accrues no run delay, and no deadline stretches beyond
 * {@link MAX_STRETCH} times its length.
 *
 * @example
 * ```ts ignore
 * import { withStallDeadline } from "./stall_deadline.ts";
 * const hello = await withStallDeadline(helloFrame, 2000, () => [child.pid], () => timeoutError(...));
 * ```
 *
 * @module
 */
import { ProcInfo } from "./proc_info.ts";
import { MAX_DELAY_MS } from "../util/timers.ts";

/** No deadline stretches beyond this many times its length. */
export const MAX_STRETCH = 10;

/**
 * The most any one thread of `pids` waited for a CPU since the tracker was
 * made (ms): threads that started since count from zero. Undefined readings
 * (a process gone, no scheduler statistics) count as no wait.
 */
export function stallTracker(pids: () => readonly number[]): () => number {
  let proc: ProcInfo | undefined;
  try {
    proc = ProcInfo.get();
  } catch {
    return () => 0;
  }
  const start = new Map<string, number>();
  const read = () => {
    const now = new Map<string, number>();
    for (const pid of pids()) {
      for (const [tid, ms] of proc!.runDelays(pid) ?? []) now.set(`${pid}/${tid}`, ms);
    }
    return now;
  };
  for (const [k, ms] of read()) start.set(k, ms);
  let most = 0;
  return () => {
    for (const [k, ms] of read()) most = Math.max(most, ms - (start.get(k) ?? 0));
    return most;
  };
}

/**
 * Calls `fire` once `ms` plus `stalled()` (the wait for a CPU so far, e.g. a
 * {@link stallTracker}) has passed, at most {@link MAX_STRETCH} times `ms`,
 * unless the returned cancel is called first.
 */
export function stallTimer(ms: number, stalled: () => number, fire: () => void): () => void {
  if (ms === Infinity) return () => {};
  const left = msLeft(ms, stalled);
  let id: ReturnType<typeof setTimeout> | undefined;
  const arm = (wait: number) => {
    id = setTimeout(() => {
      const more = left();
      if (more === 0) fire();
      else arm(more);
    }, Math.min(Math.max(wait, 0), MAX_DELAY_MS));
  };
  arm(ms);
  return () => clearTimeout(id);
}

/**
 * For a deadline of `ms` that starts now: the ms left of it, stretched by
 * `stalled()` (the wait for a CPU so far) to at most {@link MAX_STRETCH}
 * times `ms`; 0 once it is due.
 */
function msLeft(ms: number, stalled: () => number): () => number {
  const t0 = performance.now();
  return () => {
    const left = Math.min(ms + stalled(), ms * MAX_STRETCH) - (performance.now() - t0);
    return left > 1 ? left : 0;
  };
}

/**
 * For a deadline of `ms` that starts now, of the processes `pids()`: when it
 * passes, how much longer to wait (the time they waited for a CPU meanwhile,
 * the whole at most {@link MAX_STRETCH} times `ms`), or 0 when it is due.
 */
export function stallGrace(ms: number, pids: () => readonly number[]): () => number {
  return msLeft(ms, stallTracker(pids));
}

/**
 * A timer factory for deadlines of the processes `pids()`: each `(ms, fire)`
 * runs {@link stallTimer} with one {@link stallTracker} made now, so every
 * deadline it runs waits out the same loaded machine. Returns cancel.
 */
export function stallAwareTimer(pids: () => readonly number[]): (ms: number, fire: () => void) => () => void {
  const stalled = stallTracker(pids);
  return (ms, fire) => stallTimer(ms, stalled, fire);
}

/**
 * Races `promise` against `ms` of time the processes `pids()` could run (see
 * the module): when it expires, calls `onTimeout` and rejects with the error
 * it returns. The timer is cleared as soon as the race is decided.
 */
export async function withStallDeadline<T>(
  promise: Promise<T>,
  ms: number,
  pids: () => readonly number[],
  onTimeout: () => Error,
): Promise<T> {
  if (ms === Infinity) return await promise;
  let cancel = () => {};
  const deadline = new Promise<never>((_, reject) => {
    cancel = stallTimer(ms, stallTracker(pids), () => reject(onTimeout()));
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    cancel();
  }
}
