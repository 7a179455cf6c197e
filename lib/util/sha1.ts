/**
 * SHA-1, as hex: the names of fuzz artifacts and corpus entries (libFuzzer's
 * names). Written here, not imported from `node:crypto`, whose first import
 * costs a Deno process ~10-15 ms on these machines (every `plugcheck fuzz`
 * paid it before its first input ran); this one hashes ~300 MB/s, and what it
 * hashes are inputs of at most a few KiB. Checked against `node:crypto` in
 * `tests/fuzz_test.ts`; checked against the standard vectors there too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha1Hex } from "./sha1.ts";
 * assert.equal(sha1Hex(new TextEncoder().encode("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
 * ```
 *
 * @module
 */

const W = new Int32Array(80);

/** The five words of the state, updated by one 64-byte block of `src` at `off`. */
function block(h: Int32Array, src: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const p = off + i * 4;
    W[i] = (src[p]! << 24) | (src[p + 1]! << 16) | (src[p + 2]! << 8) | src[p + 3]!;
  }
  for (let i = 16; i < 80; i++) {
    const x = W[i - 3]! ^ W[i - 8]! ^ W[i - 14]! ^ W[i - 16]!;
    W[i] = (x << 1) | (x >>> 31);
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!;
  for (let i = 0; i < 80; i++) {
    const f = i < 20
      ? ((b & c) | (~b & d)) + 0x5a827999
      : i < 40
      ? (b ^ c ^ d) + 0x6ed9eba1
      : i < 60
      ? ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc
      : (b ^ c ^ d) + 0xca62c1d6;
    const t = (((a << 5) | (a >>> 27)) + f + e + W[i]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  h[0] = h[0]! + a;
  h[1] = h[1]! + b;
  h[2] = h[2]! + c;
  h[3] = h[3]! + d;
  h[4] = h[4]! + e;
}

/** The SHA-1 of `bytes`, 40 lowercase hex digits. */
export function sha1Hex(bytes: Uint8Array): string {
  const h = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  const n = bytes.length;
  const whole = n - (n % 64);
  for (let off = 0; off < whole; off += 64) block(h, bytes, off);
  // The rest, a 1 bit, zeros, and the length in bits as a 64-bit big-endian number: one or two blocks.
  const rest = n - whole;
  const tail = new Uint8Array(rest + 9 <= 64 ? 64 : 128);
  tail.set(bytes.subarray(whole));
  tail[rest] = 0x80;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(n / 0x20000000));
  view.setUint32(tail.length - 4, (n * 8) >>> 0);
  for (let off = 0; off < tail.length; off += 64) block(h, tail, off);
  return [...h].map((x) => (x >>> 0).toString(16).padStart(8, "0")).join("");
}
