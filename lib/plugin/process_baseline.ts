/**
 * What the process that holds a plugin has at one moment (threads, open
 * descriptors), compared later with what it has then: how a stress run
 * (after every instance was destroyed) and the shutdown check (after
 * `npa_plugin_shutdown`) see what a plugin left running. The counts come
 * from exact snapshots (`ProcInfo.snapshotSelf`, run in that process); a
 * comparison gives stragglers up to ~90 ms to end before it counts them, and
 * names the threads that were not there before.
 *
 * @example
 * ```ts ignore
 * import { ProcessBaseline } from "./process_baseline.ts";
 * const base = await ProcessBaseline.take(() => plugin.snapshot());
 * // ... create and destroy instances ...
 * const { after, leftThreads } = (await base!.compare())!;
 * ```
 *
 * @module
 */
import type { FdInfo, ProcessSnapshot, ThreadInfo } from "../ffi/proc_info.ts";

/** What a comparison found. */
export interface BaselineComparison {
  before: ProcessSnapshot;
  after: ProcessSnapshot;
  /** Threads not there before, when there are more threads than before (else none). */
  leftThreads: ThreadInfo[];
  /** Descriptors not there before (or pointing elsewhere), when there are more than before (else none). */
  leftFds: FdInfo[];
  /**
   * True when threads are judged by what the helper recorded (the plugin's
   * threads only: `leftThreads` are those not running before); false when by
   * the count of every thread of the process.
   */
  attributed: boolean;
}

/** How long stragglers get to end before they count as left running (ms, cumulative ~90). */
const SETTLE_STEPS_MS = [0, 5, 10, 25, 50];

/** A snapshot to compare with later. */
export class ProcessBaseline {
  readonly #source: () => Promise<ProcessSnapshot | undefined>;
  readonly snapshot: ProcessSnapshot;

  private constructor(source: () => Promise<ProcessSnapshot | undefined>, snapshot: ProcessSnapshot) {
    this.#source = source;
    this.snapshot = snapshot;
  }

  /** A baseline from `source` now, or undefined when there is no process to read. */
  static async take(source: () => Promise<ProcessSnapshot | undefined>): Promise<ProcessBaseline | undefined> {
    const snapshot = await source();
    return snapshot === undefined ? undefined : new ProcessBaseline(source, snapshot);
  }

  /** Compares with now, reading again for up to ~90 ms while threads or descriptors are above the baseline. */
  async compare(): Promise<BaselineComparison | undefined> {
    const before = this.snapshot;
    let after: ProcessSnapshot | undefined;
    for (const ms of SETTLE_STEPS_MS) {
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      after = await this.#source();
      if (after === undefined || after.pid !== before.pid) return undefined;
      if (leftThreads(before, after).length === 0 && after.fds <= before.fds) break;
    }
    const had = new Set(before.fdList.map((f) => `${f.fd}\t${f.target}`));
    const newFds = after!.fdList.filter((f) => !had.has(`${f.fd}\t${f.target}`));
    return {
      before,
      after: after!,
      leftThreads: leftThreads(before, after!),
      leftFds: after!.fds > before.fds ? newFds : [],
      attributed: after!.pluginThreads !== undefined,
    };
  }
}

/**
 * Threads running in `after` and not in `before`: of the plugin's (when the
 * helper recorded them by then), else of the whole process when it has more
 * threads than before.
 */
function leftThreads(before: ProcessSnapshot, after: ProcessSnapshot): ThreadInfo[] {
  if (after.pluginThreads !== undefined) {
    // A baseline taken before the library was hooked has recorded none of its threads yet.
    const had = new Set((before.pluginThreads ?? []).map((t) => t.tid));
    return after.pluginThreads.filter((t) => !had.has(t.tid));
  }
  if (after.threads <= before.threads) return [];
  const had = new Set(before.threadList.map((t) => t.tid));
  return after.threadList.filter((t) => !had.has(t.tid));
}
