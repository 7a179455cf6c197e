/**
 * Memory rules for plugin buffers: out-parameter slots the host owns, bounded
 * copies of plugin buffers, and freeing each one exactly once through the
 * plugin's own `npa_buffer_free`.
 *
 * Nothing here throws plugin errors: it reports what it found as data
 * ({@link TakenBuffer}) and the guard decides what that means.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NpaBufSlot } from "./memory.ts";
 * const slot = new NpaBufSlot();
 * assert.ok(slot.read().ptr === 0n && slot.read().len === 0n);
 * ```
 *
 * @module
 */

/** `sizeof(NpaBuf)` on 64-bit targets: `{ uint8_t* ptr; size_t len; }`. */
export const NPA_BUF_SIZE = 16;

/** A plugin buffer as the plugin described it: address and claimed length. */
export interface RawBuf {
  ptr: bigint;
  len: bigint;
}

/** Frees a plugin buffer with the plugin's own allocator. */
export type FreeFn = (ptr: Deno.PointerValue, len: bigint) => void;

/** Host-owned memory for one `NpaBuf` out-parameter, passed as `"buffer"`. */
export class NpaBufSlot {
  /** The bytes handed to the plugin; keep a reference while a call runs. */
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(NPA_BUF_SIZE);
  readonly #view = new DataView(this.bytes.buffer);

  /** What the plugin wrote. */
  read(): RawBuf {
    return {
      ptr: this.#view.getBigUint64(0, true),
      len: this.#view.getBigUint64(8, true),
    };
  }
}

/** Host-owned memory for a `void**` out-parameter. */
export class PointerSlot {
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(8);
  readonly #view = new DataView(this.bytes.buffer);

  /** The pointer the plugin wrote, or null. */
  read(): Deno.PointerValue {
    return Deno.UnsafePointer.create(this.#view.getBigUint64(0, true));
  }
}

/** What became of a plugin buffer the host took over. */
export type TakenBuffer =
  | { kind: "empty" } // {NULL, 0}
  | { kind: "bytes"; bytes: Uint8Array<ArrayBuffer> } // copied, then freed
  | { kind: "null_with_length"; len: bigint } // {NULL, n>0}: nothing to copy or free
  | { kind: "oversize"; len: bigint; max: number }; // longer than allowed: freed unread

/**
 * Copies a plugin buffer (at most `max` bytes) and frees it through the
 * plugin's `free`, exactly once, whatever its contents.
 */
export function takeBuffer(raw: RawBuf, free: FreeFn, max: number): TakenBuffer {
  if (raw.ptr === 0n) {
    return raw.len === 0n ? { kind: "empty" } : { kind: "null_with_length", len: raw.len };
  }
  const ptr = Deno.UnsafePointer.create(raw.ptr);
  if (raw.len > BigInt(max)) {
    free(ptr, raw.len);
    return { kind: "oversize", len: raw.len, max };
  }
  const bytes = new Uint8Array(Number(raw.len));
  try {
    if (bytes.length > 0 && ptr !== null) Deno.UnsafePointerView.copyInto(ptr, bytes);
  } finally {
    free(ptr, raw.len);
  }
  return { kind: "bytes", bytes };
}

/** Frees a plugin buffer without reading it (used when a reply is discarded). */
export function discardBuffer(raw: RawBuf, free: FreeFn): void {
  if (raw.ptr !== 0n) free(Deno.UnsafePointer.create(raw.ptr), raw.len);
}

/** True when the pointer is NULL. */
export function isNull(p: Deno.PointerValue): boolean {
  return p === null || Deno.UnsafePointer.value(p) === 0n;
}
