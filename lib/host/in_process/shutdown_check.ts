/**
 * What a plugin left running after `npa_plugin_shutdown`: the threads and
 * open descriptors of this process before the library was opened, against
 * the same after shutdown returned. A thread the plugin started and never
 * ended would crash the process the moment its code is unloaded, so the core
 * keeps a library mapped while such a thread lives (see `core.ts`).
 *
 * Counting threads means telling the plugin's from Deno's: both counts are
 * exact snapshots (`ProcInfo.snapshotSelf`: Deno's blocking pool filled to
 * its maximum, the runtime's own late thread already there).
 *
 * @example
 * ```ts ignore
 * const check = await ShutdownCheck.begin(ProcInfo.get());
 * // ... open, init, use, shut down ...
 * const report = await check.afterShutdown(); // report.leftThreads: [{ tid, name }]
 * ```
 *
 * @module
 */
import type { ProcInfo } from "../../ffi/proc_info.ts";
import { describeThread, type PluginThread, type PluginThreads } from "../../ffi/plugin_threads.ts";
import { ProcessBaseline } from "../../plugin/process_baseline.ts";
import type { ShutdownReport } from "../../plugin/handle.ts";

/** A baseline taken before the library is opened, compared after shutdown. */
export class ShutdownCheck {
  readonly #baseline: ProcessBaseline;

  private constructor(baseline: ProcessBaseline) {
    this.#baseline = baseline;
  }

  /** Takes the baseline of this process (an exact snapshot: ~20 ms, or until the process is 1 s old). */
  static async begin(proc: ProcInfo): Promise<ShutdownCheck> {
    return new ShutdownCheck((await ProcessBaseline.take(() => proc.snapshotSelf()))!);
  }

  /**
   * Compares with the baseline, giving stragglers a moment to end. With
   * threads left running, `unloaded` is false: the caller must keep the
   * library mapped.
   */
  async afterShutdown(): Promise<ShutdownReport> {
    const c = (await this.#baseline.compare())!;
    return {
      before: { threads: c.before.threads, fds: c.before.fds },
      after: { threads: c.after.threads, fds: c.after.fds },
      leftThreads: c.leftThreads,
      leftFds: c.leftFds,
      unloaded: c.leftThreads.length === 0,
      attributed: c.attributed,
    };
  }

  /** The contract warning for threads left running, if any. */
  warning(report: ShutdownReport): string | undefined {
    if (report.unloaded) return undefined;
    if (report.attributed) return leftThreadsWarning(report.leftThreads as PluginThread[]);
    const names = report.leftThreads.slice(0, 5).map((t) => `${t.tid} (${t.name})`).join(", ");
    return `${
      report.after.threads - report.before.threads
    } thread(s) the plugin started still run after npa_plugin_shutdown returned (${names}); ${KEPT}`;
  }
}

const KEPT = "the library stays loaded, because unloading code under a running thread crashes the process";

/** How long stragglers get to end before they count as left running (ms, cumulative ~90). */
const SETTLE_STEPS_MS = [5, 10, 25, 50];

/**
 * The threads the plugin at `path` started that still run, as the helper
 * recorded them, giving stragglers ~90 ms to end. Cheap (no snapshot of the
 * process): every close asks, so no library is unloaded under its threads.
 */
export async function threadsLeftRunning(threads: PluginThreads, path: string): Promise<PluginThread[]> {
  let left = threads.runningOf(path);
  for (const ms of SETTLE_STEPS_MS) {
    if (left.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, ms));
    left = threads.runningOf(path);
  }
  return left;
}

/** The contract warning for plugin threads still running after shutdown, each with the CPU it burned. */
export function leftThreadsWarning(left: readonly PluginThread[]): string {
  const shown = left.slice(0, 5).map(describeThread).join(", ");
  return `${left.length} thread(s) the plugin started still run after npa_plugin_shutdown returned: ${shown}${
    left.length > 5 ? ", ..." : ""
  }; ${KEPT}`;
}

/**
 * What a shutdown left running: with a {@link ShutdownCheck}, threads and
 * descriptors against its baseline; without, the threads the helper saw the
 * plugin start (none recorded: nothing known). Warns through `warn`; `left`
 * is true when threads still run, so the library must stay mapped.
 */
export async function afterShutdown(
  check: ShutdownCheck | undefined,
  threads: PluginThreads | undefined,
  path: string,
  warn: (message: string) => void,
): Promise<{ left: boolean; report?: ShutdownReport }> {
  if (check === undefined) {
    if (threads === undefined || threads.tracking === "none") return { left: false };
    const left = await threadsLeftRunning(threads, path);
    if (left.length > 0) warn(leftThreadsWarning(left));
    return { left: left.length > 0 };
  }
  const report = await check.afterShutdown();
  const warning = check.warning(report);
  if (warning) warn(warning);
  return { left: !report.unloaded, report };
}
