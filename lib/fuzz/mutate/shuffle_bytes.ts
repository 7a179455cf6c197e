/**
 * The `ShuffleBytes` mutation ({@link shuffleBytes}): a window of 2 to 8
 * bytes of the input put in another order, as libFuzzer's mutation of that
 * name does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../../util/prng.ts";
 * import { Draws } from "./draws.ts";
 * import { shuffleBytes } from "./shuffle_bytes.ts";
 * const buf = new TextEncoder().encode("abcdefgh");
 * assert.equal(shuffleBytes(new Draws(new Prng(1)), buf, 0, 8, new Uint8Array(8)), 8);
 * assert.notEqual(new TextDecoder().decode(buf), "abcdefgh");
 * ```
 *
 * @module
 */
import type { Draws } from "./draws.ts";

/** Shuffles a window of 2 to 8 bytes; one that comes out as it was gets two different bytes swapped. */
export function shuffleBytes(draws: Draws, buf: Uint8Array, s: number, len: number, saved: Uint8Array): number {
  if (len < 2) return -1;
  const n = 2 + draws.small(Math.min(len, 8) - 1);
  const at = s + draws.below(len - n + 1);
  let differs = 0;
  for (let i = 1; i < n && differs === 0; i++) if (buf[at + i] !== buf[at]) differs = i;
  if (differs === 0) return -1;
  for (let i = 0; i < n; i++) saved[i] = buf[at + i]!;
  for (let i = n - 1; i > 0; i--) {
    const j = draws.small(i + 1);
    const t = buf[at + i]!;
    buf[at + i] = buf[at + j]!;
    buf[at + j] = t;
  }
  let same = true;
  for (let i = 0; i < n && same; i++) same = buf[at + i] === saved[i];
  if (same) {
    buf[at] = saved[differs]!;
    buf[at + differs] = saved[0]!;
  }
  return len;
}
