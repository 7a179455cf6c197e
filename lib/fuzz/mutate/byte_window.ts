/**
 * Moving, filling, copying and comparing bytes without allocating, for the
 * fuzzer's hot loop. A JavaScript byte loop costs about 2 ns a byte and a
 * `copyWithin()` or `fill()` call about 30 ns whatever the length, so short
 * runs go four bytes at a time through a `DataView` (kept from call to call
 * while the bytes stay in the same `ArrayBuffer`) and long ones to the
 * built-ins.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWindow } from "./byte_window.ts";
 * const w = new ByteWindow();
 * w.bind(new Uint8Array([1, 2, 3, 4, 5]));
 * w.move(0, 1, 5); // like copyWithin(0, 1, 5)
 * assert.ok(w.bytes.join() === "2,3,4,5,5");
 * ```
 *
 * @module
 */

/** Runs longer than this go to `copyWithin()` and `fill()`. */
const LONG = 48;
const NOTHING = new Uint8Array(0);

/** A view of the bytes of one `Uint8Array`, with moves and copies that do not allocate. */
export class ByteWindow {
  /** The bytes bound last. */
  bytes: Uint8Array = NOTHING;
  #view: DataView = new DataView(NOTHING.buffer);
  /** Where `bytes` starts in the view's buffer. */
  #base = 0;

  /** Works on `bytes` from now on (making a new `DataView` only when its buffer differs from the last one's). */
  bind(bytes: Uint8Array): void {
    if (bytes === this.bytes && this.#base >= 0) return;
    const buffer = bytes.buffer;
    if (buffer !== this.#view.buffer) this.#view = new DataView(buffer);
    this.#base = bytes.byteOffset;
    this.bytes = bytes;
  }

  /**
   * Works on `bytes` from now on without a `DataView` (so without ever
   * allocating, for bytes in a new buffer at every call): only as the source
   * of {@link ByteWindow.copyFrom}, then a byte loop.
   */
  bindSource(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.#base = -1;
  }

  /** `bytes.copyWithin(to, from, end)`: moves `bytes[from, end)` to `to` (the ranges may overlap). */
  move(to: number, from: number, end: number): void {
    const n = end - from;
    if (n <= 0 || to === from) return;
    const u8 = this.bytes;
    if (n > LONG) {
      u8.copyWithin(to, from, end);
      return;
    }
    const view = this.#view, o = this.#base;
    if (to < from) {
      let i = 0;
      for (; i + 4 <= n; i += 4) view.setUint32(o + to + i, view.getUint32(o + from + i, true), true);
      for (; i < n; i++) u8[to + i] = u8[from + i]!;
    } else {
      let i = n;
      for (; i >= 4; i -= 4) view.setUint32(o + to + i - 4, view.getUint32(o + from + i - 4, true), true);
      for (; i > 0; i--) u8[to + i - 1] = u8[from + i - 1]!;
    }
  }

  /** `bytes.fill(byte, from, end)`. */
  fill(byte: number, from: number, end: number): void {
    const n = end - from;
    if (n > LONG) {
      this.bytes.fill(byte, from, end);
      return;
    }
    const view = this.#view, o = this.#base + from, word = byte * 0x01010101;
    let i = 0;
    for (; i + 4 <= n; i += 4) view.setUint32(o + i, word, true);
    for (; i < n; i++) this.bytes[from + i] = byte;
  }

  /** Copies `n` bytes from `src.bytes[from, from + n)` to `bytes[to, to + n)` (`src` must be bound to other memory). */
  copyFrom(src: ByteWindow, from: number, to: number, n: number): void {
    let i = 0;
    if (src.#base >= 0) {
      const sv = src.#view, so = src.#base + from, view = this.#view, o = this.#base + to;
      for (; i + 4 <= n; i += 4) view.setUint32(o + i, sv.getUint32(so + i, true), true);
    }
    const u8 = this.bytes, s8 = src.bytes;
    for (; i < n; i++) u8[to + i] = s8[from + i]!;
  }

  /** Whether `src.bytes[from, from + n)` holds the same bytes as `bytes[to, to + n)`. */
  same(src: ByteWindow, from: number, to: number, n: number): boolean {
    const u8 = this.bytes, s8 = src.bytes;
    for (let i = 0; i < n; i++) if (u8[to + i] !== s8[from + i]) return false;
    return true;
  }
}
