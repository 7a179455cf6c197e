/**
 * How sure a slowdown is: the median of per-round ratios (new cost / old
 * cost, each round timing both builds back to back), and a 95 % bootstrap
 * interval of that median (rounds drawn again with replacement, seeded, so
 * a run repeats exactly). A build is slower only when the whole interval is
 * above the tolerance: a noisy machine widens the interval instead of
 * failing the build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { medianInterval } from "./bootstrap.ts";
 * const i = medianInterval([3.1, 2.9, 3.0, 3.2, 2.8, 3.05, 2.95], 1);
 * assert.ok(i.low > 2.7 && i.median === 3 && i.high < 3.3);
 * ```
 *
 * @module
 */
import { Prng } from "../util/prng.ts";

/** Resamples drawn. */
const RESAMPLES = 2000;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A median and its 95 % interval. */
export interface Interval {
  median: number;
  low: number;
  high: number;
}

/** The median of `values` and its 95 % bootstrap interval (percentile method), drawn with `seed`. */
export function medianInterval(values: readonly number[], seed: number): Interval {
  if (values.length === 0) return { median: NaN, low: NaN, high: NaN };
  const prng = new Prng(seed);
  const medians = new Float64Array(RESAMPLES);
  const draw = new Array<number>(values.length);
  for (let r = 0; r < RESAMPLES; r++) {
    for (let i = 0; i < values.length; i++) draw[i] = values[prng.below(values.length)]!;
    medians[r] = median(draw);
  }
  medians.sort();
  return {
    median: median(values),
    low: medians[Math.floor(RESAMPLES * 0.025)]!,
    high: medians[Math.ceil(RESAMPLES * 0.975) - 1]!,
  };
}
