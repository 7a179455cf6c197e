/**
 * Numbers as the text reports show them, one way each: counts with thousands
 * separators, counted words, rates, libFuzzer's compact counts, durations in
 * the unit that reads best, and memory in MiB. JSON documents keep the exact
 * numbers; only text goes through here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compactCount, count, duration, mib, plural, rate } from "./units.ts";
 * assert.ok(count(1234567) === "1,234,567");
 * assert.ok(plural(1, "bug") === "1 bug" && plural(2000, "exec") === "2,000 execs");
 * assert.ok(rate(48210.4) === "48,210/s");
 * assert.ok(compactCount(2_500_000) === "2.5M" && compactCount(48_210) === "48k" && compactCount(950) === "950");
 * assert.ok(duration(0.00825) === "8.25 us" && duration(12.34) === "12.3 ms" && duration(2700) === "2.7 s");
 * assert.ok(mib(3 * 2 ** 20) === "3.0 MiB" && mib(3.4 * 2 ** 20, 0) === "3 MiB");
 * ```
 *
 * @module
 */
import { groupDigits } from "../util/digits.ts";

/** A whole number with thousands separators (rounded): `1,234,567`. */
export function count(n: number): string {
  return groupDigits(Math.round(n));
}

/** A count and its word, plural unless the count is one: `1 bug`, `2,000 execs`. */
export function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? "" : "s"}`;
}

/** Events per second: `48,210/s`. */
export function rate(perSecond: number): string {
  return `${count(perSecond)}/s`;
}

/** A count in at most four characters, as libFuzzer's status lines show speeds: `950`, `48k`, `2.5M`. */
export function compactCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(n);
}

/** Three significant digits (two decimals below 10, one below 100, none above). */
function threeDigits(x: number): string {
  return x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0);
}

/**
 * A duration given in ms, in the unit that reads best: below a millisecond in
 * us and below a second in ms, with three significant digits (`8.25 us`,
 * `412 us`, `1.50 ms`, `12.3 ms`, `250 ms`); from a second on in seconds with
 * one decimal (`2.7 s`, `600.0 s`). Zero is `0 ms`.
 */
export function duration(ms: number): string {
  if (ms === 0) return "0 ms";
  if (ms < 0.9995) return `${threeDigits(ms * 1000)} us`;
  if (ms < 999.5) return `${threeDigits(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Bytes in MiB, with `digits` decimals (default 1): `3.0 MiB`. */
export function mib(bytes: number, digits = 1): string {
  return `${(bytes / 2 ** 20).toFixed(digits)} MiB`;
}
