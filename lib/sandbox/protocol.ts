/**
 * The parent <-> child wire protocol of the sandbox: binary-safe frames over
 * stdio.
 *
 * Frame layout (little-endian):
 * ```
 * u32 rest_len | u32 id | u8 kind | u32 header_len | header (UTF-8 JSON object)
 *              | u32 blob_count | (u32 blob_len | blob bytes)*
 * ```
 * `rest_len` counts everything after itself. The JSON header carries small
 * fields; blobs carry raw bytes (inputs, outputs, config), so arbitrary bytes
 * cross unchanged and a batch is simply many blobs in one frame.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameReader, KIND } from "./protocol.ts";
 * const reader = new FrameReader(1 << 20);
 * const bytes = encodeFrame({ id: 7, kind: KIND.INVOKE, header: { method: "echo" }, blobs: [new Uint8Array([0, 255])] });
 * const [frame] = reader.push(bytes);
 * console.assert(frame?.id === 7 && frame.blobs[0]?.[1] === 255);
 * ```
 *
 * @module
 */

/** Bumped on any incompatible change; checked in the handshake. */
export const PROTOCOL_VERSION = 1;

/** Frame kinds. Child -> parent below 10, parent -> child from 10. */
export const KIND = {
  HELLO: 1,
  REPLY: 2,
  LOG: 3,
  BOOTED: 4,
  CREATE: 10,
  INVOKE: 11,
  BATCH: 12,
  DESTROY: 13,
  STATS: 14,
  CLOSE: 15,
  LOG_COUNTERS: 16,
} as const;

/** One decoded frame. */
export interface Frame {
  id: number;
  kind: number;
  header: Record<string, unknown>;
  blobs: Uint8Array[];
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

/** A frame that could not be decoded; the stream is unusable after it. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/** Incremental decoder: push chunks, get whole frames. */
export class FrameReader {
  readonly #max: number;
  #buf: Uint8Array = new Uint8Array(0);

  /** `maxFrame`: largest `rest_len` accepted; beyond it is a FrameError. */
  constructor(maxFrame: number) {
    this.#max = maxFrame;
  }

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.#buf.length;
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.#buf.length === 0) {
      this.#buf = chunk;
    } else {
      const joined = new Uint8Array(this.#buf.length + chunk.length);
      joined.set(this.#buf);
      joined.set(chunk, this.#buf.length);
      this.#buf = joined;
    }
    const frames: Frame[] = [];
    while (this.#buf.length >= 4) {
      const view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
      const rest = view.getUint32(0, true);
      if (rest > this.#max) throw new FrameError(`frame of ${rest} bytes exceeds the ${this.#max}-byte limit`);
      if (rest < 13) throw new FrameError(`frame of ${rest} bytes is shorter than a frame header`);
      if (this.#buf.length < 4 + rest) break;
      frames.push(decodeBody(this.#buf.subarray(4, 4 + rest)));
      this.#buf = this.#buf.subarray(4 + rest);
    }
    return frames;
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
    blobs.push(body.slice(off, off + len));
    off += len;
  }
  if (off !== body.length) throw new FrameError(`frame has ${body.length - off} trailing bytes`);
  return { id, kind, header: header as Record<string, unknown>, blobs };
}
