/**
 * A seeded pseudo-random generator of our own (xoshiro128**, seeded through
 * splitmix32), so a seed replays the same sequence forever, whatever package
 * or runtime upgrade comes. Used wherever plugcheck's choices must be
 * reproducible from `--seed`: the stress engine's input order, the fuzzer's
 * mutations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "./prng.ts";
 * const a = new Prng(42), b = new Prng(42);
 * assert.ok(a.next() === b.next() && a.below(10) < 10);
 * ```
 *
 * @module
 */

/** The largest seed accepted: seeds are unsigned 32-bit integers. */
export const MAX_SEED = 0xffffffff;

/** xoshiro128**: four 32-bit words of state, 2^128 - 1 period. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** A generator for `seed` (an integer from 0 to {@link MAX_SEED}); `stream` picks an independent sequence. */
  constructor(seed: number, stream = 0) {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new RangeError(`A seed must be an integer from 0 to ${MAX_SEED}: got ${seed}`);
    }
    let x = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const split = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = split();
    this.#b = split();
    this.#c = split();
    this.#d = split();
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1; // the one state xoshiro cannot leave
  }

  /** The next unsigned 32-bit integer. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  /** An integer from 0 to `n - 1` (`n` from 1 to 2^32), without modulo bias. */
  below(n: number): number {
    if (n <= 1) return 0;
    const limit = 0x100000000 - (0x100000000 % n);
    let v = this.next();
    while (v >= limit) v = this.next();
    return v % n;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A fresh seed from the system's randomness, for runs not given one (it is reported, so they replay too). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
