/**
 * Numbers as the reports write them, `12,345`: what `toLocaleString("en-US")`
 * gives, without its cost. The first `toLocaleString` of a process loads
 * ICU's locale data, ~16 ms on these machines, paid by every command that
 * printed a count (a fuzz run printed its first finding 12-17 ms late).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupDigits } from "./digits.ts";
 * assert.equal(groupDigits(1234567), "1,234,567");
 * assert.equal(groupDigits(-1234.5), "-1,234.5");
 * assert.equal(groupDigits(999), "999");
 * ```
 *
 * @module
 */

/** `n` with a comma between each group of three digits of its integer part (`1,234,567.89`). */
export function groupDigits(n: number): string {
  if (!Number.isFinite(n)) return n === Infinity ? "∞" : n === -Infinity ? "-∞" : "NaN";
  const text = String(Math.abs(n));
  if (text.includes("e")) return n.toLocaleString("en-US"); // 1e21 and up: never a count plugcheck prints
  const [whole, fraction] = text.split(".") as [string, string | undefined];
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, ",");
  return `${n < 0 ? "-" : ""}${grouped}${fraction === undefined ? "" : `.${fraction}`}`;
}
