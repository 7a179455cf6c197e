/**
 * What the parent sees of a sandbox child's memory: the most it held
 * (VmHWM, read every 100 ms while the child lives, since a dead process has
 * no `/proc` entry to read), and whether the kernel's OOM killer ran while it
 * did (`oom_kill` in `/proc/vmstat`, counted machine-wide: an OOM kill shows
 * itself to a parent only as SIGKILL). A child that died of SIGKILL with the
 * count risen ran out of memory.
 *
 * @example
 * ```ts ignore
 * import { MemoryWatch } from "./memory_watch.ts";
 * const watch = MemoryWatch.start(() => child.pid);
 * // ... the child dies ...
 * watch.stop(); // { peakRssBytes: 16_911_433_728, oomKill: true }
 * ```
 *
 * @module
 */
import { ProcInfo } from "../ffi/proc_info.ts";

/** What the watch saw. */
export interface ChildMemory {
  /** The most resident memory the child was seen with (bytes), if it was read at all. */
  peakRssBytes: number | undefined;
  /** True when the kernel counted an OOM kill while the child ran; undefined when it does not say. */
  oomKill: boolean | undefined;
}

/** How often the child's high-water mark is read (ms). */
const EVERY_MS = 100;

/** Watches one child's memory until stopped. */
export class MemoryWatch {
  readonly #pid: () => number;
  readonly #proc: ProcInfo | undefined;
  readonly #oomBefore: number | undefined;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  #peak: number | undefined;

  private constructor(pid: () => number, proc: ProcInfo | undefined) {
    this.#pid = pid;
    this.#proc = proc;
    this.#oomBefore = proc?.oomKills();
    if (proc === undefined) return;
    this.#read();
    const timer = setInterval(() => this.#read(), EVERY_MS);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /**
   * Starts watching the process `pid()` names at each reading (the sandbox
   * child's own pid once it said it; a watch that sees nothing when the
   * helper cannot be opened).
   */
  static start(pid: () => number): MemoryWatch {
    let proc: ProcInfo | undefined;
    try {
      proc = ProcInfo.get();
    } catch {
      proc = undefined;
    }
    return new MemoryWatch(pid, proc);
  }

  #read(): void {
    const b = this.#proc?.peakRss(this.#pid());
    if (b !== undefined && b > (this.#peak ?? -1)) this.#peak = b;
  }

  /**
   * Stops watching (once the child is gone) and says what was seen; `exact`:
   * the child's peak as its reaper measured it (the launcher's rusage), which
   * a child that dies between two readings leaves the watch without.
   */
  stop(exact?: number): ChildMemory {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (exact !== undefined && exact > (this.#peak ?? -1)) this.#peak = exact;
    const after = this.#proc?.oomKills();
    const before = this.#oomBefore;
    return {
      peakRssBytes: this.#peak,
      oomKill: before === undefined || after === undefined ? undefined : after > before,
    };
  }
}
