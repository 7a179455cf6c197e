/**
 * The parent <-> child wire protocol of the sandbox: binary-safe frames over
 * a pair of pipes that only plugcheck holds (the child moves them off fd 0
 * and fd 1 before any plugin code runs).
 *
 * Frame layout (little-endian):
 * ```
 * u32 rest_len | u32 id | u8 kind | u32 header_len | header (UTF-8 JSON object)
 *              | u32 blob_count | (u32 blob_len | blob bytes)*
 * ```
 * `rest_len` counts everything after itself. The JSON header carries small
 * fields; blobs carry raw bytes (inputs, outputs, config), so arbitrary bytes
 * cross unchanged and a batch is simply many blobs in one frame. Request ids
 * are pipelined: many requests may be in flight, and replies come in any
 * order. Errors cross as `ErrorData` (`error_data.ts`) in a reply's header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, KIND, readFrames, readStream } from "./protocol.ts";
 * const bytes = encodeFrame({ id: 7, kind: KIND.INVOKE, header: { method: "echo" }, blobs: [new Uint8Array([0, 255])] });
 * const frames = readFrames(readStream(new Blob([bytes]).stream()), 1 << 20);
 * const { value: frame } = await frames.next();
 * assert.ok(frame?.id === 7 && frame.blobs[0]?.[1] === 255);
 * ```
 *
 * @module
 */
import { type ErrorData, fromData, toData } from "../errors/error_data.ts";

/** Bumped on any incompatible change; checked in the handshake. 2: pipelined ids, FATAL. 3: batches of calls. */
export const PROTOCOL_VERSION = 3;

/** Frame kinds. Child -> parent below 10, parent -> child from 10 (a handler's own kinds). */
export const KIND = {
  HELLO: 1,
  REPLY: 2,
  LOG: 3,
  BOOTED: 4,
  /** plugcheck itself failed in the child (never the plugin's fault); the child exits next. */
  FATAL: 5,
  /** Something a handler reports while it works (id 0; the fuzz loop's findings, corpus entries, stats). */
  EVENT: 6,
  /** Where a child's start is (id 0): `header.op`, the plugin call it is in, or null: plugcheck's own work. */
  PHASE: 7,
  CREATE: 10,
  INVOKE: 11,
  BATCH: 12,
  DESTROY: 13,
  STATS: 14,
  CLOSE: 15,
  LOG_COUNTERS: 16,
  SNAPSHOT: 17,
  /** The plugin's heap (`trackHeap`): `header.from`/`mid` ask for the residue between two marks too. */
  HEAP: 18,
  /** Runs the fuzz loop (the fuzz handler). */
  FUZZ: 20,
} as const;

/** The name of a request kind, for crash reports. */
export const KIND_NAMES: Record<number, string> = {
  [KIND.CREATE]: "create",
  [KIND.INVOKE]: "invoke",
  [KIND.BATCH]: "batch",
  [KIND.DESTROY]: "destroy",
  [KIND.STATS]: "stats",
  [KIND.CLOSE]: "close",
  [KIND.LOG_COUNTERS]: "log_counters",
  [KIND.SNAPSHOT]: "snapshot",
  [KIND.HEAP]: "heap",
  [KIND.FUZZ]: "fuzz",
};

/** What the parent passes a child as its second argument. */
export interface ChildBoot {
  /** The pid the child's parent must have (it ends at once otherwise); 0: not checked (the sandbox launcher checks). */
  parent: number;
  /** Largest frame accepted from the parent. */
  maxFrame: number;
  /** The handler's own options. */
  options: Record<string, unknown>;
  /** The call board's file (`call_board.ts`), for a handler that runs batches of calls. */
  board?: string;
}

/** A reply from the child: its header and blobs. */
export interface Reply {
  header: Record<string, unknown>;
  blobs: Uint8Array[];
}

/** Exit code of a child that failed on its own (a plugcheck bug), after its FATAL frame. */
export const FATAL_EXIT = 70;

/** One decoded frame. */
export interface Frame {
  id: number;
  kind: number;
  header: Record<string, unknown>;
  blobs: Uint8Array[];
}

/** An error as a reply header carries it. */
export function errorToWire(error: unknown): ErrorData {
  return toData(error);
}

/** The error a reply header carried. */
export function errorFromWire(data: unknown): Error {
  return fromData((data ?? {}) as Partial<ErrorData>);
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Encodes one frame. */
export function encodeFrame(frame: Frame): Uint8Array<ArrayBuffer> {
  const header = enc.encode(JSON.stringify(frame.header));
  let rest = 4 + 1 + 4 + header.length + 4;
  for (const b of frame.blobs) rest += 4 + b.length;
  const out = new Uint8Array(4 + rest);
  const view = new DataView(out.buffer);
  view.setUint32(0, rest, true);
  view.setUint32(4, frame.id, true);
  out[8] = frame.kind;
  view.setUint32(9, header.length, true);
  out.set(header, 13);
  let off = 13 + header.length;
  view.setUint32(off, frame.blobs.length, true);
  off += 4;
  for (const b of frame.blobs) {
    view.setUint32(off, b.length, true);
    out.set(b, off + 4);
    off += 4 + b.length;
  }
  return out;
}

/** Blobs this large are written as parts of their own, straight from their buffers. */
const PART_THRESHOLD = 64 * 1024;

/**
 * One frame as parts to write back to back: big blobs as they are (no copy),
 * everything between them coalesced into one buffer, so a frame of many small
 * blobs (a batch) is one write and a frame with a 64 MiB blob costs no copy of
 * it. Write all parts before anything else, or frames interleave.
 */
export function encodeFrameParts(frame: Frame): Uint8Array[] {
  if (!frame.blobs.some((b) => b.length >= PART_THRESHOLD)) return [encodeFrame(frame)];
  const header = enc.encode(JSON.stringify(frame.header));
  let rest = 4 + 1 + 4 + header.length + 4;
  for (const b of frame.blobs) rest += 4 + b.length;
  const parts: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const small = (bytes: Uint8Array) => {
    pending.push(bytes);
    pendingBytes += bytes.length;
  };
  const flush = () => {
    const joined = new Uint8Array(pendingBytes);
    let at = 0;
    for (const p of pending) {
      joined.set(p, at);
      at += p.length;
    }
    parts.push(joined);
    pending = [];
    pendingBytes = 0;
  };
  const u32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return b;
  };
  small(u32(rest));
  small(u32(frame.id));
  small(new Uint8Array([frame.kind]));
  small(u32(header.length));
  small(header);
  small(u32(frame.blobs.length));
  for (const b of frame.blobs) {
    small(u32(b.length));
    if (b.length < PART_THRESHOLD) {
      small(b);
      continue;
    }
    flush();
    parts.push(b);
  }
  if (pendingBytes > 0) flush();
  return parts;
}

/** A frame that could not be decoded; the stream is unusable after it. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/**
 * Reads into `into` and returns a view of the bytes read, which lie in the
 * same memory (possibly a new ArrayBuffer object: a BYOB read transfers the
 * one it was given), or null at the end of input.
 */
export type ReadInto = (into: Uint8Array) => Promise<Uint8Array | null>;

/** {@link ReadInto} for a file or pipe (`Deno.FsFile`, `Deno.stdin`). */
export function readFile(file: { read(p: Uint8Array): Promise<number | null> }): ReadInto {
  return async (into) => {
    const n = await file.read(into);
    return n === null ? null : into.subarray(0, n);
  };
}

/** {@link ReadInto} for a byte stream (a child process's stdout), read straight into the caller's buffers. */
export function readStream(stream: ReadableStream<Uint8Array>): ReadInto {
  const reader = stream.getReader({ mode: "byob" });
  return async (into) => {
    const { value, done } = await reader.read(into);
    return done || value === undefined ? null : value;
  };
}

const READ_BUFFER = 64 * 1024;

/**
 * Reads frames: small ones through a read buffer (copied out, since the
 * buffer is reused), a big one straight into a buffer of its own once its
 * length is known, so a frame of n bytes costs O(n) and no copy after the
 * read, however the input arrives.
 */
export async function* readFrames(read: ReadInto, maxFrame: number): AsyncGenerator<Frame> {
  let buf: Uint8Array = new Uint8Array(READ_BUFFER);
  let start = 0;
  let end = 0;
  const fill = async (need: number): Promise<boolean> => {
    if (start > 0 && buf.length - start < need) {
      buf.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    while (end - start < need) {
      const got = await read(buf.subarray(end));
      if (got === null) return false;
      buf = new Uint8Array(got.buffer, 0, READ_BUFFER);
      end += got.length;
    }
    return true;
  };
  for (;;) {
    if (!(await fill(4))) {
      if (end > start) throw new FrameError(`the input ended in the middle of a frame (${end - start} bytes)`);
      return;
    }
    const rest = new DataView(buf.buffer, start, 4).getUint32(0, true);
    if (rest > maxFrame) throw new FrameError(`frame of ${rest} bytes exceeds the ${maxFrame}-byte limit`);
    if (rest < 13) throw new FrameError(`frame of ${rest} bytes is shorter than a frame header`);
    const total = 4 + rest;
    if (total <= READ_BUFFER) {
      if (!(await fill(total))) {
        throw new FrameError(`the input ended in the middle of a frame (${end - start} bytes)`);
      }
      const frame = buf.slice(start + 4, start + total);
      start += total;
      yield decodeBody(frame);
      continue;
    }
    let own: Uint8Array = new Uint8Array(total);
    own.set(buf.subarray(start, end));
    let have = end - start;
    start = end = 0;
    while (have < total) {
      const got = await read(own.subarray(have));
      if (got === null) throw new FrameError(`the input ended in the middle of a frame (${have} bytes)`);
      own = new Uint8Array(got.buffer, 0, total);
      have += got.length;
    }
    yield decodeBody(own.subarray(4));
  }
}

function decodeBody(body: Uint8Array): Frame {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const id = view.getUint32(0, true);
  const kind = body[4]!;
  const hlen = view.getUint32(5, true);
  if (9 + hlen + 4 > body.length) throw new FrameError(`frame header length ${hlen} overruns the frame`);
  let header: unknown;
  try {
    header = JSON.parse(dec.decode(body.subarray(9, 9 + hlen)));
  } catch {
    throw new FrameError("frame header is not UTF-8 JSON");
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new FrameError("frame header is not a JSON object");
  }
  let off = 9 + hlen;
  const count = view.getUint32(off, true);
  off += 4;
  const blobs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (off + 4 > body.length) throw new FrameError(`frame blob ${i} overruns the frame`);
    const len = view.getUint32(off, true);
    off += 4;
    if (off + len > body.length) throw new FrameError(`frame blob ${i} of ${len} bytes overruns the frame`);
    blobs.push(body.subarray(off, off + len)); // a view: no copy of big inputs and outputs
    off += len;
  }
  if (off !== body.length) throw new FrameError(`frame has ${body.length - off} trailing bytes`);
  return { id, kind, header: header as Record<string, unknown>, blobs };
}
