/**
 * The two integer mutations of the byte mutator: ChangeASCIIInteger (a
 * decimal number in the text, changed and written back) and
 * ChangeBinaryInteger (a 1- to 8-byte integer, either endianness, nudged or
 * set to a value at the edge of its range).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../../util/prng.ts";
 * import { ByteWindow } from "./byte_window.ts";
 * import { Draws } from "./draws.ts";
 * import { changeAsciiInteger } from "./integer_mutations.ts";
 * const w = new ByteWindow();
 * w.bind(new Uint8Array(16));
 * w.bytes.set(new TextEncoder().encode("id=41;"));
 * const len = changeAsciiInteger(new Draws(new Prng(1)), w, 0, 6, 16);
 * assert.ok(/^id=-?\d+;$/.test(new TextDecoder().decode(w.bytes.subarray(0, len))));
 * ```
 *
 * @module
 */
import type { ByteWindow } from "./byte_window.ts";
import type { Draws } from "./draws.ts";

/** How far ChangeASCIIInteger looks for a digit (a bound on its cost on inputs with no digits). */
const DIGIT_SCAN = 32;
/** AFL's interesting 8-, 16- and 32-bit values (written sign-extended, or truncated, to the width). */
const INTERESTING_INTS = Int32Array.from(
  ("-128 -1 0 1 16 32 64 100 127 -32768 -129 128 255 256 512 1000 1024 4096 32767 " +
    "-2147483648 -100663046 -32769 32768 65535 65536 100663045 2147483647").split(" "),
  Number,
);
const WIDTHS = [1, 2, 4, 8];
const POW10 = Float64Array.from({ length: 17 }, (_, i) => 10 ** i);

/**
 * ChangeASCIIInteger: finds a decimal number (digits, with the "-" before
 * them if any) at or within {@link DIGIT_SCAN} bytes after a random place
 * (wrapping round), changes its value (+1, -1, /2, *2, negated, or random)
 * and writes it back in its new width, or in the old width when the new one
 * does not fit in `cap`. Returns the new length, or -1 when it finds no digit.
 */
export function changeAsciiInteger(d: Draws, w: ByteWindow, s: number, len: number, cap: number): number {
  if (len === 0) return -1;
  const buf = w.bytes;
  let b = findDigit(buf, s, len, d.below(len));
  if (b < 0) return -1;
  while (b > s && isDigit(buf[b - 1]!)) b--;
  let e = b + 1;
  while (e < s + len && isDigit(buf[e]!)) e++;
  if (e - b > 15) b = e - 15; // the last 15 digits: a value that doubled stays exact
  let mag = 0;
  for (let i = b; i < e; i++) mag = mag * 10 + buf[i]! - 0x30;
  const negative = b > s && buf[b - 1] === 0x2d;
  const old = negative ? -mag : mag;
  let v: number;
  switch (d.small(6)) {
    case 0:
      v = old + 1;
      break;
    case 1:
      v = old - 1;
      break;
    case 2:
      v = Math.trunc(old / 2);
      break;
    case 3:
      v = old * 2;
      break;
    case 4:
      v = d.below(POW10[1 + d.small(9)]!);
      break;
    default:
      v = -old;
  }
  if (v === old) v = old + 1;
  const abs = Math.abs(v), sign = v < 0 ? 1 : 0;
  let digits = 1;
  while (abs >= POW10[digits]!) digits++;
  const textFrom = negative ? b - 1 : b;
  let newLen = len + sign + digits - (e - textFrom), at = textFrom + sign, value = abs;
  if (newLen <= cap) {
    w.move(at + digits, e, s + len);
    if (sign) buf[textFrom] = 0x2d;
  } else { // no room to grow: the old width, modulo
    newLen = len, at = b, digits = e - b;
    value = abs % POW10[digits]!;
    if (value === mag) value = (mag + 1) % POW10[digits]!;
  }
  // The digits, here rather than in a function: a value past 2^30 passed to one that is not inlined costs a heap number.
  for (let i = at + digits - 1; i >= at; i--) {
    const q = Math.floor(value / 10);
    buf[i] = 0x30 + value - q * 10;
    value = q;
  }
  return newLen;
}

/**
 * ChangeBinaryInteger: adds a small delta to, or sets an interesting value
 * in, a 1-, 2-, 4- or 8-byte integer of either endianness at a random offset
 * (`saved`: 8 bytes of scratch). Returns the length, or -1 for an empty input.
 */
export function changeBinaryInteger(d: Draws, buf: Uint8Array, s: number, len: number, saved: Uint8Array): number {
  if (len === 0) return -1;
  const width = WIDTHS[d.small(len >= 8 ? 4 : len >= 4 ? 3 : len >= 2 ? 2 : 1)]!;
  const at = s + d.below(len - width + 1);
  const r = d.small(80); // bit 0: the endianness; bit 1: a delta or a value; r / 4: the delta
  const little = (r & 1) === 0;
  if ((r & 2) === 0) {
    const delta = 1 + (r >> 2) % 10;
    addToInteger(buf, at, width, little, r >= 40 ? delta : -delta);
    return len;
  }
  for (let i = 0; i < width; i++) saved[i] = buf[at + i]!;
  const pick = d.small(INTERESTING_INTS.length + 2);
  for (let k = 0; k < width; k++) {
    let byte: number;
    if (pick < INTERESTING_INTS.length) {
      const v = INTERESTING_INTS[pick]!;
      byte = k < 4 ? (v >>> (8 * k)) & 0xff : v < 0 ? 0xff : 0;
    } else if (pick === INTERESTING_INTS.length) byte = k === width - 1 ? 0x7f : 0xff; // the largest signed value
    else byte = k === width - 1 ? 0x80 : 0; // the smallest signed value
    buf[little ? at + k : at + width - 1 - k] = byte;
  }
  let same = true;
  for (let i = 0; i < width && same; i++) same = buf[at + i] === saved[i];
  if (same) addToInteger(buf, at, width, little, 1);
  return len;
}

/** The index of the first digit in `buf[s + from, s + len)`, wrapping round to `s`, within {@link DIGIT_SCAN} bytes; or -1. */
function findDigit(buf: Uint8Array, s: number, len: number, from: number): number {
  const end = s + len;
  let i = s + from;
  for (let scan = Math.min(len, DIGIT_SCAN); scan > 0; scan--) {
    if (isDigit(buf[i]!)) return i;
    if (++i === end) i = s;
  }
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Adds `delta` (small, either sign) to the `width`-byte two's complement integer at `at`, wrapping. */
function addToInteger(buf: Uint8Array, at: number, width: number, little: boolean, delta: number): void {
  let carry = delta;
  for (let k = 0; k < width && carry !== 0; k++) {
    const i = little ? at + k : at + width - 1 - k;
    const t = buf[i]! + carry;
    buf[i] = t & 0xff;
    carry = t >> 8;
  }
}
