/**
 * The percentile axis of a latency plot, as HDR histograms draw it: each
 * further nine (90 %, 99 %, 99.9 % ...) an equal step, so the tail gets as
 * much room as the body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NINES_TICKS, ninesOf } from "./nines.ts";
 * assert.equal(ninesOf(99), 2);
 * assert.equal(NINES_TICKS[2]!.label, "99%");
 * ```
 *
 * @module
 */

/** The most nines plotted (99.999 %); 100 % (the maximum) is drawn there too. */
const MAX_NINES = 5;

/** A percentile (0 to 100) as its count of nines: -log10(1 - p/100), at most {@link MAX_NINES}. */
export function ninesOf(percentile: number): number {
  if (percentile >= 100) return MAX_NINES;
  return Math.min(MAX_NINES, Number((-Math.log10(1 - percentile / 100)).toFixed(4)));
}

/** Ticks of a nines axis, labelled as percentiles. */
export const NINES_TICKS: readonly { value: number; label: string }[] = [
  { value: 0, label: "0%" },
  { value: 1, label: "90%" },
  { value: 2, label: "99%" },
  { value: 3, label: "99.9%" },
  { value: 4, label: "99.99%" },
  { value: 5, label: "99.999%" },
];
