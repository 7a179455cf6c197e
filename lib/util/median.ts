/**
 * The median of some numbers, as plugcheck's reports give it: the lower of
 * the two middle values when there is an even count (a value that was
 * measured, never an average of two), 0 when there are none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { median } from "./median.ts";
 * assert.equal(median([3, 1, 2]), 2);
 * assert.equal(median([4, 1, 3, 2]), 2);
 * assert.equal(median([]), 0);
 * ```
 *
 * @module
 */

/** The median of `values` (the lower middle one of an even count; 0 for none). */
export function median(values: ArrayLike<number>): number {
  const s = Array.from(values).sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[(s.length - 1) >> 1]!;
}
