/**
 * The fuzzer's byte mutations: replayed bytes for a seed, writes confined to
 * the region, every mutation changing what it applies to and picked by
 * `mutate()`, the integer, dictionary and crossover mutations doing what
 * they say; and the allocation-free byte moves under them.
 */
import assert from "node:assert/strict";
import { Prng } from "../lib/util/prng.ts";
import { MUTATION_NAMES, Mutator } from "../lib/fuzz/mutate/byte_mutations.ts";
import { ByteWindow } from "../lib/fuzz/mutate/byte_window.ts";
import { MAX_WORD_TRIES, WORDS_AT_LENGTHS, wordTries } from "../lib/fuzz/mutate/dictionary.ts";

const encode = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const DICTIONARY = ["MAGICWORD", "GET", "\x00\xff"].map(encode);

/** Random bytes, with digits a quarter of the time (for ChangeASCIIInteger). */
function randomBytes(p: Prng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => p.below(4) === 0 ? 0x30 + p.below(10) : p.below(256));
}

function differs(before: Uint8Array, after: Uint8Array, len: number): boolean {
  return len !== before.length || before.some((b, i) => after[i] !== b);
}

Deno.test("Mutator.mutate() replays the same bytes for the same seed (10,000 calls)", () => {
  const run = (seed: number) => {
    const p = new Prng(seed, 1), m = new Mutator(new Prng(seed), { dictionary: DICTIONARY });
    const buf = new Uint8Array(256), partner = randomBytes(p, 40);
    let len = 0, digest = 0;
    const stacks: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i % 100 === 0) len = 0; // start over now and then, so lengths stay varied
      len = m.mutate(buf, 0, len, buf.length, i % 3 === 0 ? partner : undefined);
      for (let j = 0; j < len; j++) digest = (Math.imul(digest, 31) + buf[j]!) | 0;
      digest = (digest + len) | 0;
      if (i % 500 === 0) stacks.push(m.lastMutations);
    }
    return { digest, stacks };
  };
  assert.deepEqual(run(42), run(42));
  assert.notEqual(run(42).digest, run(43).digest);
});

Deno.test("Mutator.mutate() gives the same bytes as when they were recorded (a seed replays forever)", () => {
  const m = new Mutator(new Prng(2024), { dictionary: [encode("WORD")] });
  const buf = new Uint8Array(128), seed = encode("GET /index.html?id=42 HTTP/1.1"), partner = encode("POST /x 7");
  let digest = 0x811c9dc5;
  for (let i = 0; i < 1000; i++) {
    buf.set(seed);
    const len = m.mutate(buf, 0, seed.length, buf.length, i % 2 ? partner : undefined);
    for (let j = 0; j < len; j++) digest = Math.imul(digest ^ buf[j]!, 0x01000193) >>> 0;
    digest = Math.imul(digest ^ len, 0x01000193) >>> 0;
  }
  assert.equal(digest, 1231702536);
  buf.set(seed);
  const len = m.mutate(buf, 0, seed.length, buf.length, partner);
  assert.equal(decode(buf.subarray(0, len)), "GET /index.html?id=42 H9TTP/2.1");
  assert.equal(m.lastMutations, "ChangeASCIIInteger-InsertByte-");
});

Deno.test("Mutator.mutate() never writes past cap, nor before start, and returns a length from 0 to cap", () => {
  const p = new Prng(7);
  const m = new Mutator(new Prng(8), { dictionary: DICTIONARY });
  const GUARD = 0xa5;
  for (let run = 0; run < 20_000; run++) {
    const start = p.below(17), cap = p.below(5) === 0 ? p.below(4) : p.below(200);
    const len = p.below(3) === 0 ? [0, cap][p.below(2)]! : p.below(cap + 1);
    const buf = new Uint8Array(start + cap + 16).fill(GUARD);
    buf.set(randomBytes(p, len), start);
    const partner = p.below(2) === 0 ? randomBytes(p, p.below(50)) : undefined;
    const name = p.below(4) === 0 ? MUTATION_NAMES[p.below(MUTATION_NAMES.length)]! : undefined;
    const out = name === undefined
      ? m.mutate(buf, start, len, cap, partner)
      : m.mutateWith(name, buf, start, len, cap, partner);
    assert.ok(Number.isInteger(out) && out >= (name === undefined ? 0 : -1) && out <= cap, `${out} for cap ${cap}`);
    for (let i = 0; i < start; i++) assert.equal(buf[i], GUARD, `byte ${i} before start ${start}`);
    for (let i = start + cap; i < buf.length; i++) {
      assert.equal(buf[i], GUARD, `byte ${i} past cap (${m.lastMutations})`);
    }
  }
});

Deno.test("Mutator.mutate() turns an empty input into a non-empty one (and leaves a zero cap alone)", () => {
  const m = new Mutator(new Prng(3));
  const buf = new Uint8Array(16);
  for (let i = 0; i < 2000; i++) assert.ok(m.mutate(buf, 0, 0, 1 + (i % 16)) > 0, m.lastMutations);
  assert.equal(m.mutate(buf, 4, 0, 0), 0);
  assert.equal(m.lastMutations, "");
});

/** Lengths a binary compared with, for the ChangeLength mutation. */
const LENGTHS = [5, 17, 33];

/** Gives `m` a few comparison operand pairs, integer and memory, for the CMP mutation. */
function withComparisons(m: Mutator): Mutator {
  m.addComparison(Uint8Array.of(0x55, 0x1e, 0xed, 0x5e), Uint8Array.of(1, 0, 0, 0), true);
  m.addComparison(new TextEncoder().encode("FUZZ"), new TextEncoder().encode("abcd"), false);
  m.addComparison(Uint8Array.of(7), Uint8Array.of(9), true);
  return m;
}

Deno.test("Mutator CMP: writes a comparison's other operand over the one the input holds, in either byte order", () => {
  const m = new Mutator(new Prng(3), { comparisons: true });
  const buf = new Uint8Array(16);
  assert.equal(m.mutateWith("CMP", buf, 0, 4, 16), -1, "nothing to apply without comparisons");
  // The plugin compared 0x5eed1e55 with the input's 0x00000001 (little-endian operands).
  m.addComparison(Uint8Array.of(0x55, 0x1e, 0xed, 0x5e), Uint8Array.of(1, 0, 0, 0), true);
  assert.equal(m.comparisonCount, 1);
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    buf.fill(0);
    buf.set([0xaa, 1, 0, 0, 0, 0xbb]);
    const out = m.mutateWith("CMP", buf, 0, 6, 16);
    seen.add(Array.from(buf.subarray(0, out), (b) => b.toString(16).padStart(2, "0")).join(""));
  }
  assert.ok(seen.has("aa551eed5ebb"), "the operand found in the input is replaced in place");
  assert.ok([...seen].some((s) => s.includes("5eed1e55")), "the other byte order is tried too");
});

Deno.test("Mutator.mutateWith(): every mutation changes an input it applies to, and leaves one it cannot alone", () => {
  const p = new Prng(11);
  const m = withComparisons(new Mutator(new Prng(12), { dictionary: DICTIONARY, comparisons: true, lengths: LENGTHS }));
  for (const name of MUTATION_NAMES) {
    let applied = 0;
    for (let run = 0; run < 2000; run++) {
      const len = p.below(40), cap = len + (p.below(3) === 0 ? 0 : p.below(40));
      const input = randomBytes(p, len);
      if (p.below(5) === 0) input.fill(input[0] ?? 0); // uniform inputs: nothing to shuffle or copy over
      const buf = new Uint8Array(cap);
      buf.set(input);
      const out = m.mutateWith(name, buf, 0, len, cap, randomBytes(p, p.below(30)));
      if (out < 0) {
        assert.deepEqual(buf.subarray(0, len), input, `${name} left the input alone when it could not apply`);
        assert.equal(m.lastMutations, "");
        continue;
      }
      applied++;
      assert.ok(differs(input, buf.subarray(0, out), out), `${name} changed ${input} (got ${buf.subarray(0, out)})`);
      assert.equal(m.lastMutations, `${name}-`);
    }
    assert.ok(applied > 500, `${name} applied ${applied} times in 2000`);
  }
  assert.throws(() => m.mutateWith("Nope", new Uint8Array(4), 0, 1, 4), RangeError);
  assert.throws(() => m.mutate(new Uint8Array(4), 2, 1, 4), /Mutation region out of bounds/);
  assert.throws(() => m.mutate(new Uint8Array(4), 0, 5, 4), RangeError);
  assert.throws(() => m.mutate(new Uint8Array(4), 0.5, 1, 2), RangeError);
});

Deno.test("Mutator.mutate() picks every mutation, in stacks of 1 to 5", () => {
  const p = new Prng(5);
  const m = withComparisons(new Mutator(new Prng(6), { dictionary: DICTIONARY, comparisons: true, lengths: LENGTHS }));
  const seen = new Map<string, number>();
  const depths = new Set<number>();
  const buf = new Uint8Array(128);
  for (let i = 0; i < 5000; i++) {
    const input = randomBytes(p, 1 + p.below(60));
    buf.set(input);
    m.mutate(buf, 0, input.length, buf.length, randomBytes(p, 1 + p.below(20)));
    const names = m.lastMutations.split("-");
    assert.equal(names.pop(), "", "each name is followed by a dash");
    depths.add(names.length);
    for (const name of names) seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), [...MUTATION_NAMES].sort());
  for (const [name, n] of seen) assert.ok(n > 500, `${name} picked ${n} times`);
  assert.deepEqual([...depths].sort(), [1, 2, 3, 4, 5]);
  const plain = new Mutator(new Prng(6)); // no dictionary, no partner: neither is picked
  for (let i = 0; i < 2000; i++) {
    buf.set(randomBytes(p, 30));
    plain.mutate(buf, 0, 30, buf.length);
    assert.doesNotMatch(plain.lastMutations, /Dictionary|CrossOver|CMP|ChangeLength/);
  }
});

Deno.test("Mutator ChangeASCIIInteger changes the number inside abc123def", () => {
  const m = new Mutator(new Prng(9));
  const values = new Set<string>();
  for (const cap of [9, 32]) {
    for (let i = 0; i < 300; i++) {
      const buf = new Uint8Array(cap);
      buf.set(encode("abc123def"));
      const out = m.mutateWith("ChangeASCIIInteger", buf, 0, 9, cap);
      const text = decode(buf.subarray(0, out));
      const number = /^abc(-?\d+)def$/.exec(text)?.[1];
      assert.ok(number !== undefined && number !== "123", text);
      values.add(number);
    }
  }
  for (const v of ["124", "122", "61", "246", "-123"]) {
    assert.ok(values.has(v), `${v} among ${[...values].slice(0, 20)}`);
  }
  const buf = encode("x-42y");
  assert.equal(m.mutateWith("ChangeASCIIInteger", encode("no digits here"), 0, 14, 14), -1);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const b = new Uint8Array(16);
    b.set(buf);
    seen.add(decode(b.subarray(0, m.mutateWith("ChangeASCIIInteger", b, 0, buf.length, 16))));
  }
  for (const v of ["x-41y", "x-43y", "x42y", "x-84y", "x-21y"]) assert.ok(seen.has(v), `${v} among ${[...seen]}`);
});

Deno.test("Mutator: dictionary words appear in outputs, inserted or written over", () => {
  const p = new Prng(13);
  const m = new Mutator(new Prng(14), { dictionary: [encode("MAGICWORD")] });
  let inserted = 0, overwritten = 0, viaMutate = 0;
  for (let i = 0; i < 500; i++) {
    const input = randomBytes(p, 20), buf = new Uint8Array(64);
    buf.set(input);
    const out = m.mutateWith("Dictionary", buf, 0, 20, 64);
    assert.match(decode(buf.subarray(0, out)), /MAGICWORD/);
    if (out === 29) inserted++;
    else overwritten++;
    buf.set(input);
    if (decode(buf.subarray(0, m.mutate(buf, 0, 20, 64))).includes("MAGICWORD")) viaMutate++;
  }
  assert.ok(inserted > 100 && overwritten > 100, `${inserted} inserted, ${overwritten} overwritten`);
  assert.ok(viaMutate > 50, `${viaMutate} of 500 mutate() outputs hold the word`);
});

Deno.test("Mutator CrossOver takes bytes from the partner", () => {
  const m = new Mutator(new Prng(15));
  const partner = new Uint8Array(32).fill(0x77);
  const lengths = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const buf = new Uint8Array(64);
    const out = m.mutateWith("CrossOver", buf, 0, 32, 64, partner);
    const got = buf.subarray(0, out);
    assert.ok(got.includes(0x77), "some of the partner's bytes");
    assert.ok(got.every((b) => b === 0 || b === 0x77), "nothing but the input's and the partner's bytes");
    lengths.add(Math.sign(out - 32));
  }
  assert.deepEqual([...lengths].sort(), [-1, 0, 1], "spliced shorter, written over, inserted");
  assert.equal(m.mutateWith("CrossOver", new Uint8Array(8), 0, 4, 8), -1, "no partner: cannot apply");
});

Deno.test("ByteWindow moves, fills and copies like copyWithin() and fill(), short and long", () => {
  const p = new Prng(17);
  const w = new ByteWindow(), src = new ByteWindow(), raw = new ByteWindow();
  for (let run = 0; run < 3000; run++) {
    const backing = randomBytes(p, 300);
    const off = p.below(20), bytes = backing.subarray(off, off + 200 + p.below(80));
    const expected = bytes.slice(), before = backing.slice();
    w.bind(bytes);
    const n = p.below(3) === 0 ? p.below(150) : p.below(60);
    const from = p.below(bytes.length - n + 1), to = p.below(bytes.length - n + 1);
    switch (run % 4) {
      case 0:
        w.move(to, from, from + n);
        expected.copyWithin(to, from, from + n);
        break;
      case 1:
        w.fill(run & 0xff, from, from + n);
        expected.fill(run & 0xff, from, from + n);
        break;
      default: {
        const other = randomBytes(p, 200), via = run % 4 === 2 ? src : raw;
        if (via === src) src.bind(other.subarray(3));
        else raw.bindSource(other.subarray(3));
        w.copyFrom(via, from % 190, to, Math.min(n, 190 - (from % 190)));
        expected.set(other.subarray(3 + (from % 190), 3 + (from % 190) + Math.min(n, 190 - (from % 190))), to);
        assert.ok(w.same(via, from % 190, to, Math.min(n, 190 - (from % 190))));
      }
    }
    assert.deepEqual(bytes, expected, `run ${run}: n ${n}, from ${from}, to ${to}`);
    const end = off + bytes.length;
    assert.deepEqual([backing.subarray(0, off), backing.subarray(end)], [
      before.subarray(0, off),
      before.subarray(end),
    ]);
  }
});

Deno.test("Mutator: ChangeLength cuts an input to a length the binary compares with, or pads it up to one", () => {
  const m = new Mutator(new Prng(21), { lengths: [3, 37, 500] });
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const buf = new Uint8Array(64);
    buf.set(encode("hello world"));
    const out = m.mutateWith("ChangeLength", buf, 0, 11, 64);
    if (out < 0) continue; // 500 does not fit in 64
    seen.add(out);
    assert.equal(decode(buf.subarray(0, Math.min(out, 11))), "hello world".slice(0, out), "the input's bytes stay");
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), [3, 37]);
  // No length but the input's own: nothing to change; without lengths, mutate() never picks it.
  assert.equal(
    new Mutator(new Prng(1), { lengths: [11] }).mutateWith("ChangeLength", new Uint8Array(64), 0, 11, 64),
    -1,
  );
  const plain = new Mutator(new Prng(2));
  for (let i = 0; i < 300; i++) plain.mutate(new Uint8Array(64), 0, 8, 64);
  assert.ok(MUTATION_NAMES.includes("ChangeLength"));
});

Deno.test("wordTries(): each word alone, then the short words at the start of an input of each length, zeros after", () => {
  const words = [Uint8Array.of(0xa7), encode("GET"), encode("a-long-word")];
  const tries = wordTries(words, [2, 5, 100], 64);
  assert.deepEqual(tries.slice(0, 3), words);
  assert.deepEqual(tries.slice(3).map((t) => [...t]), [
    [0xa7, 0], // length 2: only the 1-byte word fits with room to spare
    [0xa7, 0, 0, 0, 0],
    [...encode("GET"), 0, 0],
  ]);
  assert.equal(wordTries(words, [], 2).length, 1, "longer than maxLen: left out");
  const many = Array.from({ length: 100 }, (_, i) => Uint8Array.of(i));
  const capped = wordTries(many, Array.from({ length: 300 }, (_, i) => i + 2), 4096);
  assert.equal(capped.length, MAX_WORD_TRIES);
  assert.equal(
    capped.filter((t) => t.length === 2).length,
    WORDS_AT_LENGTHS,
    "the first short words only, at each length",
  );
});
