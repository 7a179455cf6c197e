/**
 * The operands of the target's recent comparisons, and the `CMP` mutation
 * over them (guided mode): a ring of the last 256 pairs the engine took
 * from the coverage runtime's tables, up to 32 bytes a side. Where an input
 * holds one side of a pair (an integer pair in either byte order, at its
 * width), the mutation writes the other side over it; otherwise it writes
 * one side over, or into, the input at a random place. So a
 * `memcmp(input, "FUZZ", 4)` or a `value == 0x5eed1e55` is passed within a
 * few thousand inputs. Allocates nothing per mutation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../../util/prng.ts";
 * import { ByteWindow } from "./byte_window.ts";
 * import { ComparisonTable } from "./comparison_table.ts";
 * import { Draws } from "./draws.ts";
 * const table = new ComparisonTable();
 * table.add(new TextEncoder().encode("FUZZ"), new TextEncoder().encode("ABCD"), false);
 * const w = new ByteWindow();
 * w.bind(new Uint8Array(16));
 * const len = table.mutate(new Draws(new Prng(1)), w, 0, 4, 16);
 * assert.ok(table.count === 1 && len >= 4);
 * ```
 *
 * @module
 */
import { ByteWindow } from "./byte_window.ts";
import type { Draws } from "./draws.ts";

/** Pairs kept (the most recent win), and the longest side. */
const ENTRIES = 256, BYTES = 32;

/** A ring of comparison operand pairs. */
export class ComparisonTable {
  /** Pair i is `a` at i * BYTES in #a, `b` at the same place in #b. */
  readonly #a = new Uint8Array(ENTRIES * BYTES);
  readonly #b = new Uint8Array(ENTRIES * BYTES);
  readonly #lenA = new Uint8Array(ENTRIES);
  readonly #lenB = new Uint8Array(ENTRIES);
  /** 1 for an integer pair (tried in both byte orders). */
  readonly #integer = new Uint8Array(ENTRIES);
  #count = 0;
  #next = 0;
  /** Both sides of the pair in use (from, then to at BYTES), in the byte order chosen. */
  readonly #scratch = new Uint8Array(2 * BYTES);
  readonly #window = new ByteWindow();

  constructor() {
    this.#window.bind(this.#scratch);
  }

  /** Pairs held (at most 256). */
  get count(): number {
    return this.#count;
  }

  /** Keeps one pair (copies of up to 32 bytes a side); `integer`: little-endian integers of their length. */
  add(a: Uint8Array, b: Uint8Array, integer: boolean): void {
    const i = this.#next;
    const na = Math.min(a.length, BYTES), nb = Math.min(b.length, BYTES);
    this.#a.set(a.subarray(0, na), i * BYTES);
    this.#b.set(b.subarray(0, nb), i * BYTES);
    this.#lenA[i] = na;
    this.#lenB[i] = nb;
    this.#integer[i] = integer ? 1 : 0;
    this.#next = (i + 1) % ENTRIES;
    this.#count = Math.min(this.#count + 1, ENTRIES);
  }

  /**
   * The CMP mutation of `w.bytes[s, s + len)` (room up to `s + cap`): the
   * new length, or -1 when it cannot apply (no pairs, or nothing fits). A
   * mutation that applies changes the input.
   */
  mutate(draws: Draws, w: ByteWindow, s: number, len: number, cap: number): number {
    if (this.#count === 0) return -1;
    const i = draws.below(this.#count);
    const swap = draws.small(2) === 1;
    const from = swap ? this.#b : this.#a, to = swap ? this.#a : this.#b;
    const nFrom = swap ? this.#lenB[i]! : this.#lenA[i]!, nTo = swap ? this.#lenA[i]! : this.#lenB[i]!;
    if (nTo === 0) return -1;
    const reverse = this.#integer[i] === 1 && draws.small(2) === 1;
    const scratch = this.#scratch, at0 = i * BYTES;
    for (let k = 0; k < nFrom; k++) scratch[k] = from[at0 + (reverse ? nFrom - 1 - k : k)]!;
    for (let k = 0; k < nTo; k++) scratch[BYTES + k] = to[at0 + (reverse ? nTo - 1 - k : k)]!;
    const src = this.#window, buf = w.bytes;
    if (nFrom > 0 && nFrom <= len && nFrom === nTo) {
      const positions = len - nFrom + 1;
      const start = draws.below(positions);
      for (let p = 0; p < positions; p++) {
        const at = s + ((start + p) % positions);
        let match = true;
        for (let k = 0; k < nFrom && match; k++) match = buf[at + k] === scratch[k];
        if (match && !w.same(src, BYTES, at, nTo)) {
          w.copyFrom(src, BYTES, at, nTo);
          return len;
        }
      }
    }
    if (nTo <= len && (len + nTo > cap || draws.small(2) === 0)) {
      const at = s + draws.below(len - nTo + 1);
      if (!w.same(src, BYTES, at, nTo)) {
        w.copyFrom(src, BYTES, at, nTo);
        return len;
      }
    }
    if (len + nTo > cap) return -1;
    const at = s + draws.below(len + 1);
    w.move(at + nTo, at, s + len);
    w.copyFrom(src, BYTES, at, nTo);
    return len + nTo;
  }
}
