/**
 * A fuzz job's watch over its running child, through the child's input
 * file and /proc: an exec counter that stops moving inside a plugin call for
 * `timeoutMs` (or the shorter {@link knownHangMs} for a method that hung
 * before) is a hang (the child is asked for the stuck thread's backtrace
 * with SIGUSR2, given a moment to write it, then killed); an RSS over the
 * limit is an out-of-memory kill. The deadline is judged on the call's
 * thread, not on the clock alone: a thread that is asleep (or blocked) past
 * it hangs, one that computes hangs once it has had the deadline's worth of
 * CPU, so a loaded machine, where a runnable thread waits for a CPU, does not
 * turn slow calls into hangs (at {@link STARVED_FACTOR} times the deadline,
 * it hangs whatever its CPU). The job hears why before each kill, so
 * that it can name the finding the child's death becomes.
 *
 * @example
 * ```ts ignore
 * import { watchChild } from "./watchdog.ts";
 * const stop = watchChild(child, inputFile, { timeoutMs: 1200, rssLimitMb: 2048 }, (why) => (killedFor = why));
 * await child.request(KIND.FUZZ, req, blobs, ctl).catch(() => {});
 * stop();
 * ```
 *
 * @module
 */
import { ProcInfo } from "../../ffi/proc_info.ts";

/** What the watch needs of the process running the inputs: a sandbox child, or a fork server's worker. */
export interface Watched {
  readonly pid: number;
  /** Set once it ended (the watch then stops looking). */
  readonly end: unknown;
  readonly stderrTail: string;
  kill(reason: "timed_out", why?: string): void;
}
import { MAX_DELAY_MS, sleep } from "../../util/timers.ts";
import type { InputFile } from "./input_file.ts";

/** The limits a child is watched against. */
export interface WatchLimits {
  /** How long the exec counter may stand still inside a plugin call. */
  readonly timeoutMs: number;
  /** The child's RSS limit in MiB (0: none). */
  readonly rssLimitMb: number;
  /** True when method `index` hung before in this run: its calls get {@link knownHangMs} instead. */
  hungBefore?(index: number): boolean;
}

/**
 * The deadline of a call to a method that hung before: a tenth of the
 * timeout, at least 100 ms (never more than the timeout). A further hang
 * there is the same finding, counted; it need not cost the whole timeout.
 */
export function knownHangMs(timeoutMs: number): number {
  return Math.min(timeoutMs, Math.max(100, Math.round(timeoutMs / 10)));
}

/**
 * The deadline of a stuck call whose child is visibly dying of something
 * else (its crash recorder ran, or an AddressSanitizer report began on its
 * stderr): three timeouts, at least 10 s. AddressSanitizer symbolizes its
 * report's stack before it aborts, which takes seconds on a loaded machine;
 * killing it earlier would call the crash a hang.
 */
export function dyingMs(timeoutMs: number): number {
  return Math.min(MAX_DELAY_MS, Math.max(3 * timeoutMs, 10_000));
}

/** Wall time, in deadlines, after which a stuck call hangs even when it got less CPU than the deadline. */
export const STARVED_FACTOR = 4;

/** Why the watch killed a child. */
export type KilledFor = "timeout" | "oom";

/**
 * Watches `child` through `file` (hangs) and its RSS. `killing` is called
 * with the reason (and for a hang, the deadline it was held to) before the
 * child is killed. Returns the stop.
 */
export function watchChild(
  child: Watched,
  file: InputFile,
  limits: WatchLimits,
  killing: (why: KilledFor, deadlineMs?: number) => void,
): () => void {
  const shortest = limits.hungBefore ? knownHangMs(limits.timeoutMs) : limits.timeoutMs;
  const every = Math.min(250, Math.max(5, Math.floor(shortest / 4)));
  const proc = ProcInfo.get();
  const limit = limits.rssLimitMb * 1024 * 1024;
  let last = -1;
  let since = performance.now();
  let busy = false;
  /** The call's thread; its CPU time when the counter last moved (undefined: unknown, the clock decides). */
  const thread = () => proc.threadCpu(child.pid, file.loopTid() || child.pid);
  let cpuSince: number | undefined;
  const id = setInterval(() => {
    if (busy || child.end !== undefined) return;
    const { execs, inCall } = file.pulse();
    const now = performance.now();
    if (execs !== last || !inCall) {
      last = execs;
      since = now;
      cpuSince = inCall ? thread()?.cpuMs : undefined; // the call began at most one tick ago
    } else if (now - since >= shortest) {
      // A child whose crash recorder has run, or that began an ASan report, is dying of something else (ASan
      // symbolizes its stack before it aborts): it gets longer, never less.
      const dying = file.crash() !== undefined || child.stderrTail.includes("ERROR: AddressSanitizer");
      const deadline = dying
        ? dyingMs(limits.timeoutMs)
        : limits.hungBefore?.(file.method())
        ? shortest
        : limits.timeoutMs;
      const t = thread();
      // Runnable and short of the deadline's CPU: slowed by the machine, not hung (until starved that long).
      const starved = t !== undefined && cpuSince !== undefined && t.runnable && t.cpuMs - cpuSince < deadline &&
        now - since < STARVED_FACTOR * deadline;
      if (now - since >= deadline && !starved) {
        busy = true;
        killing("timeout", deadline);
        killHung(child, file, deadline).finally(() => (busy = false));
        return;
      }
    }
    if (limit > 0) {
      const sample = proc.sample(child.pid);
      if (sample && sample.rssBytes > limit) {
        killing("oom");
        child.kill("timed_out", `RSS over ${limits.rssLimitMb} MiB`);
      }
    }
  }, every);
  return () => clearInterval(id);
}

/** Asks the hung child for its loop thread's backtrace (briefly), then kills it. */
async function killHung(child: Watched, file: InputFile, timeoutMs: number): Promise<void> {
  const seq = file.hangSequence();
  try {
    Deno.kill(child.pid, "SIGUSR2");
    for (let i = 0; i < 20 && file.hangSequence() === seq; i++) {
      await sleep(10).done;
    }
  } catch {
    // gone meanwhile
  }
  child.kill("timed_out", `no progress within ${timeoutMs} ms`);
}
