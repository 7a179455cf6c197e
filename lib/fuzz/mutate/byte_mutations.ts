/**
 * The fuzzer's byte mutations, modelled on what libFuzzer's mutation
 * dispatcher does (erase, insert, change bytes, bits and integers, shuffle,
 * copy parts, cross over with another input, dictionary words, and in
 * guided mode the target's comparison operands, `comparison_table.ts`): a
 * {@link Mutator} applies a stack of one to five of them to a region of a
 * buffer, in place, allocating nothing, and replays the same bytes for the
 * same {@link Prng} seed and the same calls.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../../util/prng.ts";
 * import { Mutator } from "./byte_mutations.ts";
 * const m = new Mutator(new Prng(1), { dictionary: [new TextEncoder().encode("GET")] });
 * const buf = new Uint8Array(64);
 * buf.set(new TextEncoder().encode("hello"));
 * const len = m.mutate(buf, 0, 5, buf.length);
 * assert.ok(len <= 64 && m.lastMutations.endsWith("-"));
 * ```
 *
 * @module
 */
import type { Prng } from "../../util/prng.ts";
import { ByteWindow } from "./byte_window.ts";
import { ComparisonTable } from "./comparison_table.ts";
import { Draws } from "./draws.ts";
import { changeAsciiInteger, changeBinaryInteger } from "./integer_mutations.ts";
import { shuffleBytes } from "./shuffle_bytes.ts";

/** The mutations, by name; {@link Mutator.mutateWith} takes one of these. */
export const MUTATION_NAMES: readonly string[] = [
  "EraseBytes",
  "InsertByte",
  "InsertRepeatedBytes",
  "ChangeByte",
  "ChangeBit",
  "ShuffleBytes",
  "ChangeASCIIInteger",
  "ChangeBinaryInteger",
  "CopyPart",
  "Dictionary",
  "CrossOver",
  "CMP",
  "ChangeLength",
];
const INSERT_BYTE = 1, DICTIONARY = 9, CROSS_OVER = 10, CMP = 11, CHANGE_LENGTH = 12;
const INDEX: ReadonlyMap<string, number> = new Map(MUTATION_NAMES.map((name, i) => [name, i]));

const MAX_DEPTH = 5;
/** Picks tried per slot of the stack before giving up on mutations that cannot apply. */
const MAX_TRIES = 32;
const MAX_REPEAT = 128;
/** Bytes that parsers tend to treat specially: bounds, whitespace, quotes, signs, separators, brackets. */
const INTERESTING_BYTES = Uint8Array.from(
  "00 01 7f 80 ff fe 20 0a 0d 09 22 27 5c 25 30 39 41 61 2d 2b 2e 2c 3a 7b 7d 5b 5d 3c 3e 40 10 c0 ef".split(" "),
  (hex) => parseInt(hex, 16),
);

/** Options of a {@link Mutator}. */
export interface MutatorOptions {
  /** Words (tokens, keywords, magic values) the `Dictionary` mutation inserts or writes over the input. */
  dictionary?: readonly Uint8Array[];
  /**
   * Enables the `CMP` mutation over operands of the target's comparisons
   * ({@link Mutator.addComparison}; guided mode).
   */
  comparisons?: boolean;
  /**
   * Lengths the target compares an input's size with (the binary's register compares): the `ChangeLength`
   * mutation cuts the input to one of them or pads it up to one with random bytes.
   */
  lengths?: readonly number[] | undefined;
}

/**
 * Applies random stacks of mutations to byte inputs. Not for concurrent use:
 * it keeps the last stack for {@link Mutator.lastMutations}.
 */
export class Mutator {
  readonly #draws: Draws;
  /** The mutations `mutate()` picks from, CrossOver last (picked only when given a partner). */
  readonly #ops: Uint8Array;
  readonly #baseCount: number;
  readonly #stack = new Uint8Array(MAX_DEPTH + 1);
  #depth = 0;
  /** Scratch for the up to 8 bytes a shuffle or an integer change compares with. */
  readonly #saved = new Uint8Array(8);
  readonly #buf = new ByteWindow();
  readonly #partner = new ByteWindow();
  /** The dictionary's words end to end, and where each starts (with the end as a last entry). */
  readonly #words = new ByteWindow();
  readonly #wordStarts: Uint32Array;
  /** Comparison operands for the CMP mutation (guided mode). */
  readonly #comparisons = new ComparisonTable();
  readonly #lengths: readonly number[];

  /** A mutator drawing its choices from `prng` (64 values at a time: see {@link Draws}). */
  constructor(prng: Prng, options: MutatorOptions = {}) {
    this.#draws = new Draws(prng);
    const words = (options.dictionary ?? []).filter((w) => w.length > 0);
    const arena = new Uint8Array(words.reduce((n, w) => n + w.length, 0));
    this.#wordStarts = new Uint32Array(words.length + 1);
    words.forEach((w, i) => {
      arena.set(w, this.#wordStarts[i]!);
      this.#wordStarts[i + 1] = this.#wordStarts[i]! + w.length;
    });
    this.#words.bind(arena);
    this.#lengths = (options.lengths ?? []).filter((n) => Number.isSafeInteger(n) && n > 0);
    const ops = MUTATION_NAMES.map((_, i) => i).filter((i) =>
      i !== CROSS_OVER && (i !== DICTIONARY || words.length) && (i !== CMP || options.comparisons === true) &&
      (i !== CHANGE_LENGTH || this.#lengths.length > 0)
    );
    this.#baseCount = ops.length;
    this.#ops = Uint8Array.from([...ops, CROSS_OVER]);
  }

  /**
   * Mutates the input `buf[start, start + len)` in place with a stack of 1 to
   * 5 random mutations, writing only inside `buf[start, start + cap)`, and
   * returns the new length (0 to `cap`). `crossover` (another input, not
   * overlapping that region) enables the CrossOver mutation. An empty input
   * always comes out non-empty (unless `cap` is 0). Allocates nothing (but a
   * `DataView` when `buf` is in another `ArrayBuffer` than at the last call).
   */
  mutate(buf: Uint8Array, start: number, len: number, cap: number, crossover?: Uint8Array): number {
    const partner = this.#begin(buf, start, len, cap, crossover);
    if (cap === 0) return 0;
    const count = partner ? this.#baseCount + 1 : this.#baseCount;
    const depth = 1 + this.#draws.small(MAX_DEPTH);
    const inputLen = len;
    for (let d = 0; d < depth; d++) {
      const out = this.#step(buf, start, len, cap, count);
      if (out < 0) break;
      len = out;
    }
    if (len === 0 && inputLen === 0) {
      len = this.#insertByte(buf, start, 0);
      this.#stack[this.#depth++] = INSERT_BYTE;
    }
    return len;
  }

  /**
   * One mutation, picked as `mutate()` picks each of its stack. libFuzzer's
   * way: mutate the last input again and run every step, so each input costs
   * one mutation. Returns the new length; an empty input comes out non-empty.
   */
  mutateOnce(buf: Uint8Array, start: number, len: number, cap: number, crossover?: Uint8Array): number {
    const partner = this.#begin(buf, start, len, cap, crossover);
    if (cap === 0) return 0;
    const out = this.#step(buf, start, len, cap, partner ? this.#baseCount + 1 : this.#baseCount);
    if (out >= 0 || len > 0) return out >= 0 ? out : len;
    this.#stack[this.#depth++] = INSERT_BYTE;
    return this.#insertByte(buf, start, 0);
  }

  /** One applicable mutation of the first `count` kinds (a few tries); its new length, or -1 when none applied. */
  #step(buf: Uint8Array, start: number, len: number, cap: number, count: number): number {
    let out = -1;
    for (let tries = 0; out < 0 && tries < MAX_TRIES; tries++) {
      const op = this.#ops[this.#draws.small(count)]!;
      out = this.#apply(op, buf, start, len, cap);
      if (out >= 0) this.#stack[this.#depth++] = op;
    }
    return out;
  }

  /**
   * Applies exactly the mutation `name` (one of {@link MUTATION_NAMES}) as
   * `mutate()` would, and returns the new length, or -1 when it cannot apply
   * to this input (then the input is left as it was). A mutation that
   * applies always changes the input.
   */
  mutateWith(name: string, buf: Uint8Array, start: number, len: number, cap: number, crossover?: Uint8Array): number {
    const op = INDEX.get(name);
    if (op === undefined) throw new RangeError(`Unknown mutation: ${name}`);
    const partner = this.#begin(buf, start, len, cap, crossover);
    const out = op === CROSS_OVER && !partner ? -1 : this.#apply(op, buf, start, len, cap);
    if (out >= 0) this.#stack[this.#depth++] = op;
    return out;
  }

  /**
   * Remembers the operands of one comparison the target made (`a` what it
   * compared with, `b` the other side; up to 32 bytes each, copied), for the
   * `CMP` mutation: it finds one operand in an input and writes the other
   * over it, or writes one in at a random place. `integer`: the operands are
   * little-endian integers of their length, tried in both byte orders.
   */
  addComparison(a: Uint8Array, b: Uint8Array, integer: boolean): void {
    this.#comparisons.add(a, b, integer);
  }

  /** Comparison pairs held (at most 256). */
  get comparisonCount(): number {
    return this.#comparisons.count;
  }

  /** The stack the last call applied, each name followed by "-" (e.g. "ChangeByte-EraseBytes-"). */
  get lastMutations(): string {
    let text = "";
    for (let i = 0; i < this.#depth; i++) text += MUTATION_NAMES[this.#stack[i]!]! + "-";
    return text;
  }

  /** Checks the region and binds the windows; whether there is a partner to cross over with. */
  #begin(buf: Uint8Array, start: number, len: number, cap: number, crossover: Uint8Array | undefined): boolean {
    const integers = (start | 0) === start && (len | 0) === len && (cap | 0) === cap;
    if (!integers || start < 0 || len < 0 || len > cap || start + cap > buf.length) {
      throw new RangeError(
        `Mutation region out of bounds: start ${start}, length ${len}, cap ${cap}, buffer ${buf.length}`,
      );
    }
    this.#depth = 0;
    this.#buf.bind(buf);
    if (crossover === undefined || crossover.length === 0) return false;
    this.#partner.bindSource(crossover); // partners change at every call: no DataView for them
    return true;
  }

  #apply(op: number, buf: Uint8Array, s: number, len: number, cap: number): number {
    switch (op) {
      case 0:
        return this.#eraseBytes(s, len);
      case INSERT_BYTE:
        return len < cap ? this.#insertByte(buf, s, len) : -1;
      case 2:
        return this.#insertRepeatedBytes(s, len, cap);
      case 3:
        return this.#changeByte(buf, s, len);
      case 4:
        if (len === 0) return -1;
        buf[s + this.#draws.below(len)]! ^= 1 << this.#draws.small(8);
        return len;
      case 5:
        return shuffleBytes(this.#draws, buf, s, len, this.#saved);
      case 6:
        return changeAsciiInteger(this.#draws, this.#buf, s, len, cap);
      case 7:
        return changeBinaryInteger(this.#draws, buf, s, len, this.#saved);
      case 8:
        return this.#copyPart(s, len, cap);
      case DICTIONARY:
        return this.#dictionary(s, len, cap);
      case CMP:
        return this.#comparisons.mutate(this.#draws, this.#buf, s, len, cap);
      case CHANGE_LENGTH:
        return this.#changeLength(buf, s, len, cap);
      default:
        return this.#crossOver(s, len, cap);
    }
  }

  #eraseBytes(s: number, len: number): number {
    if (len === 0) return -1;
    const n = 1 + this.#draws.below((len + 1) >> 1);
    const at = s + this.#draws.below(len - n + 1);
    this.#buf.move(at, at + n, s + len);
    return len - n;
  }

  /** A random byte half the time, an interesting one the other half. */
  #randomByte(): number {
    const r = this.#draws.small(512);
    return r < 256 ? r : INTERESTING_BYTES[(r - 256) % INTERESTING_BYTES.length]!;
  }

  #insertByte(buf: Uint8Array, s: number, len: number): number {
    const at = s + this.#draws.below(len + 1);
    this.#buf.move(at + 1, at, s + len);
    buf[at] = this.#randomByte();
    return len + 1;
  }

  /** Inserts 3 to 128 copies of a byte (0, 0xff or a random one), or as many as fit. */
  #insertRepeatedBytes(s: number, len: number, cap: number): number {
    const most = Math.min(cap - len, MAX_REPEAT);
    if (most <= 0) return -1;
    const n = most < 3 ? 1 + this.#draws.small(most) : 3 + this.#draws.small(most - 2);
    const r = this.#draws.small(512);
    const at = s + this.#draws.below(len + 1);
    this.#buf.move(at + n, at, s + len);
    this.#buf.fill(r < 256 ? r : r < 384 ? 0 : 0xff, at, at + n);
    return len + n;
  }

  #changeByte(buf: Uint8Array, s: number, len: number): number {
    if (len === 0) return -1;
    const at = s + this.#draws.below(len);
    const old = buf[at]!;
    const v = this.#randomByte();
    buf[at] = v === old ? old ^ (1 + this.#draws.small(255)) : v;
    return len;
  }

  /** Copies a part of the input over another part, or inserts a copy of it (always when overwriting changes nothing). */
  #copyPart(s: number, len: number, cap: number): number {
    if (len === 0) return -1;
    const w = this.#buf;
    if (len >= 2 && (len === cap || this.#draws.small(2) === 0)) {
      const to = this.#draws.below(len);
      const n = 1 + this.#draws.below(len - to);
      const from = s + this.#draws.below(len - n + 1);
      if (!w.same(w, from, s + to, n)) {
        w.move(s + to, from, from + n);
        return len;
      }
    }
    if (len === cap) return -1;
    const n = 1 + this.#draws.below(Math.min(cap - len, len));
    const from = s + this.#draws.below(len - n + 1), to = s + this.#draws.below(len + 1);
    w.move(to + n, to, s + len);
    if (from + n <= to) w.move(to, from, from + n);
    else if (from >= to) w.move(to, from + n, from + 2 * n);
    else { // the part straddled the insertion point: its head stayed, its tail moved n bytes on
      w.move(to, from, to);
      w.move(2 * to - from, to + n, from + 2 * n);
    }
    return len + n;
  }

  /** Cuts the input to one of the lengths, or pads it up to one with random bytes. */
  #changeLength(buf: Uint8Array, s: number, len: number, cap: number): number {
    if (this.#lengths.length === 0) return -1;
    const to = this.#lengths[this.#draws.below(this.#lengths.length)]!;
    if (to === len || to > cap) return -1;
    for (let i = s + len; i < s + to; i++) buf[i] = this.#randomByte();
    return to;
  }

  /** Inserts a dictionary word at a random place, or writes it over the input there. */
  #dictionary(s: number, len: number, cap: number): number {
    const count = this.#wordStarts.length - 1;
    if (count <= 0) return -1;
    const i = this.#draws.below(count);
    const from = this.#wordStarts[i]!, n = this.#wordStarts[i + 1]! - from;
    const w = this.#buf;
    if (n <= len && (len + n > cap || this.#draws.small(2) === 0)) {
      const at = s + this.#draws.below(len - n + 1);
      if (!w.same(this.#words, from, at, n)) {
        w.copyFrom(this.#words, from, at, n);
        return len;
      }
    }
    if (len + n > cap) return -1;
    const at = s + this.#draws.below(len + 1);
    w.move(at + n, at, s + len);
    w.copyFrom(this.#words, from, at, n);
    return len + n;
  }

  /**
   * Writes a part of the partner over the input, splices (keeps a prefix of
   * the input and puts a part of the partner after it), or inserts a part of
   * the partner (also when the others would change nothing).
   */
  #crossOver(s: number, len: number, cap: number): number {
    const w = this.#buf, p = this.#partner;
    const plen = p.bytes.length;
    const variant = this.#draws.small(3);
    if (variant === 0 && len > 0) {
      const n = 1 + this.#draws.below(Math.min(len, plen));
      const to = s + this.#draws.below(len - n + 1), from = this.#draws.below(plen - n + 1);
      if (!w.same(p, from, to, n)) {
        w.copyFrom(p, from, to, n);
        return len;
      }
    } else if (variant === 1) {
      const keep = this.#draws.below(len + 1), from = this.#draws.below(plen);
      const n = Math.min(plen - from, cap - keep);
      if (keep + n !== len || !w.same(p, from, s + keep, n)) {
        w.copyFrom(p, from, s + keep, n);
        return keep + n;
      }
    }
    if (len === cap) return -1;
    const n = 1 + this.#draws.below(Math.min(cap - len, plen));
    const from = this.#draws.below(plen - n + 1), at = s + this.#draws.below(len + 1);
    w.move(at + n, at, s + len);
    w.copyFrom(p, from, at, n);
    return len + n;
  }
}
