/**
 * Bounded random integers for the fuzzer's hot loop, drawn from a
 * {@link Prng} as cheaply as replays allow. The generator's values are taken
 * 64 at a time into a buffer (one tight loop, where they stay unboxed: a
 * 32-bit value returned through a call that is not inlined costs a heap
 * number); a small range then takes half of one (the other half is kept for
 * the next), a larger one a whole one, and neither rejects (the slight bias,
 * below n / 65536 and n / 2^32, does not matter for picking mutations and
 * offsets). The values come in the generator's order, so the same calls
 * replay the same integers for the same seed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../../util/prng.ts";
 * import { Draws } from "./draws.ts";
 * const a = new Draws(new Prng(3)), b = new Draws(new Prng(3));
 * assert.ok(a.small(6) === b.small(6) && a.below(100_000) === b.below(100_000));
 * ```
 *
 * @module
 */
import type { Prng } from "../../util/prng.ts";

const TWO_32 = 4294967296;
const POOL = 64;

/** Bounded integers from `prng` (which it advances 64 values at a time). */
export class Draws {
  readonly #prng: Prng;
  readonly #pool = new Uint32Array(POOL);
  /** The next unused value of the pool. */
  #at = POOL;
  /** The unused half of the last value `small()` split, or -1. */
  #half = -1;

  /** Integers drawn from `prng`. */
  constructor(prng: Prng) {
    this.#prng = prng;
  }

  /** An integer from 0 to `n - 1` (`n` from 1 to 2^32): from half a value up to 256, else from a whole one. */
  below(n: number): number {
    if (n <= 256) return this.small(n);
    if (this.#at === POOL) this.#refill();
    return Math.floor((this.#pool[this.#at++]! * n) / TWO_32);
  }

  /** An integer from 0 to `n - 1` for a small `n` (1 to 512), from half a value. */
  small(n: number): number {
    let bits = this.#half;
    if (bits < 0) {
      if (this.#at === POOL) this.#refill();
      const value = this.#pool[this.#at++]!; // read here, not in a helper: a value past 2^30 returned is a heap number
      this.#half = value >>> 16;
      bits = value & 0xffff;
    } else this.#half = -1;
    return (bits * n) >>> 16;
  }

  #refill(): void {
    const prng = this.#prng, pool = this.#pool;
    for (let i = 0; i < POOL; i++) pool[i] = prng.next();
    this.#at = 0;
  }
}
