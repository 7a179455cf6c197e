/**
 * The inbox of a fuzz child's input file: where the parent leaves corpus
 * entries that other jobs found, so one job's discovery seeds the others
 * while they run. Append-only for one child's life, one writer (the parent)
 * and one reader (the child, between batches): a u32 count of entry bytes
 * written, then the entries, each `{u32 length, u32 method}` and its bytes,
 * padded to 4. The parent writes an entry before the count that covers it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendEntry, INBOX_HEADER, readEntries } from "./inbox.ts";
 * const inbox = new Uint8Array(64);
 * const e = appendEntry(new Uint8Array([1, 2, 3]), 0, 0, inbox.length)!;
 * inbox.set(e.bytes, INBOX_HEADER);
 * new DataView(inbox.buffer).setUint32(0, e.used, true);
 * const { entries, cursor } = readEntries(inbox, 0);
 * assert.ok(entries.length === 1 && entries[0]!.input.length === 3 && cursor === e.used);
 * ```
 *
 * @module
 */

/** Bytes before the first entry (the count, and a word kept free). */
export const INBOX_HEADER = 8;
const ENTRY_HEADER = 8;

/** An entry in the inbox. */
export interface InboxEntry {
  input: Uint8Array;
  method: number;
}

/**
 * The bytes of one more entry after `used` bytes of entries, in an inbox of
 * `capacity` bytes (header included), and the count after it; undefined when
 * it does not fit.
 */
export function appendEntry(
  input: Uint8Array,
  method: number,
  used: number,
  capacity: number,
): { bytes: Uint8Array; used: number } | undefined {
  const size = ENTRY_HEADER + ((input.length + 3) & ~3);
  if (INBOX_HEADER + used + size > capacity) return undefined;
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, input.length, true);
  v.setUint32(4, method, true);
  bytes.set(input, ENTRY_HEADER);
  return { bytes, used: used + size };
}

/** The entries after `cursor` bytes (copies), and the new cursor. Stops at anything malformed. */
export function readEntries(inbox: Uint8Array, cursor: number): { entries: InboxEntry[]; cursor: number } {
  const v = new DataView(inbox.buffer, inbox.byteOffset, inbox.byteLength);
  const used = Math.min(v.getUint32(0, true), inbox.length - INBOX_HEADER);
  const entries: InboxEntry[] = [];
  while (cursor + ENTRY_HEADER <= used) {
    const at = INBOX_HEADER + cursor;
    const len = v.getUint32(at, true);
    const size = ENTRY_HEADER + ((len + 3) & ~3);
    if (cursor + size > used) break;
    entries.push({ input: inbox.slice(at + ENTRY_HEADER, at + ENTRY_HEADER + len), method: v.getUint32(at + 4, true) });
    cursor += size;
  }
  return { entries, cursor };
}
