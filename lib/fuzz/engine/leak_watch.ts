/**
 * Leaks of buffers and instances, read from the plugin's counters
 * (`npa_plugin_stats`) after each batch: counters above the baseline mean a
 * leak; each input of the batch is then run again alone, counters read
 * around it, to find the one that leaks. The baseline moves up either way.
 *
 * @example
 * ```ts ignore
 * import { LeakWatch } from "./leak_watch.ts";
 * const leaks = new LeakWatch(() => target.stats?.());
 * await leaks.start();
 * const leak = await leaks.find(n, (i) => runAlone(i)); // after each batch
 * ```
 *
 * @module
 */

const LEAK_COUNTERS = ["live_buffers", "live_instances"] as const;

/** The input that leaked, and the counter that says so. */
export interface Leak {
  index: number;
  counter: string;
  before: number;
  after: number;
}

/** The plugin's counters (undefined: no leak checks): read in this process, or asked of a fork server's worker. */
export type ReadCounters = () => Record<string, number> | undefined | Promise<Record<string, number> | undefined>;

/** One engine's watch over the plugin's counters. */
export class LeakWatch {
  readonly #read: ReadCounters;
  #baseline: Record<string, number> | undefined;

  /** `read`: the plugin's counters (undefined: no leak checks). */
  constructor(read: ReadCounters) {
    this.#read = read;
  }

  /** Takes the baseline (before the first batch). */
  async start(): Promise<void> {
    this.#baseline = await this.#read();
  }

  /**
   * After a batch of `n` inputs: the first that leaks (`runAlone(i)` runs
   * input i again by itself), or undefined when the counters did not grow.
   */
  async find(n: number, runAlone: (i: number) => Promise<void>): Promise<Leak | undefined> {
    const base = this.#baseline;
    if (base === undefined || n === 0) return undefined;
    const after = (await this.#read())!;
    if (!LEAK_COUNTERS.some((k) => (after[k] ?? 0) > (base[k] ?? 0))) return undefined;
    let found: Leak | undefined;
    for (let i = 0; i < n && found === undefined; i++) {
      const before = (await this.#read())!;
      await runAlone(i);
      const now = (await this.#read())!;
      const counter = LEAK_COUNTERS.find((k) => (now[k] ?? 0) > (before[k] ?? 0));
      if (counter !== undefined) found = { index: i, counter, before: before[counter] ?? 0, after: now[counter] ?? 0 };
    }
    this.#baseline = await this.#read();
    return found;
  }
}
