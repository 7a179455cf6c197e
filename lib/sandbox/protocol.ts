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
 * import { encodeFrame, FrameReader, KIND } from "./protocol.ts";
 * const reader = new FrameReader(1 << 20);
 * const bytes = encodeFrame({ id: 7, kind: KIND.INVOKE, header: { method: "echo" }, blobs: [new Uint8Array([0, 255])] });
 * const [frame] = reader.push(bytes);
 * console.assert(frame?.id === 7 && frame.blobs[0]?.[1] === 255);
 * ```
 *
 * @module
 */
import { type ErrorData, fromData, toData } from "../error_data.ts";

/** Bumped on any incompatible change; checked in the handshake. 2: pipelined ids, FATAL. */
export const PROTOCOL_VERSION = 2;

/** Frame kinds. Child -> parent below 10, parent -> child from 10 (a handler's own kinds). */
export const KIND = {
  HELLO: 1,
  REPLY: 2,
  LOG: 3,
  BOOTED: 4,
  /** plugcheck itself failed in the child (never the plugin's fault); the child exits next. */
  FATAL: 5,
  CREATE: 10,
  INVOKE: 11,
  BATCH: 12,
  DESTROY: 13,
  STATS: 14,
  CLOSE: 15,
  LOG_COUNTERS: 16,
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
};

/** What the parent passes a child as its second argument. */
export interface ChildBoot {
  /** The parent's pid: the child ends when the parent is gone. */
  parent: number;
  hostLibraryPath: string;
  /** Largest frame accepted from the parent. */
  maxFrame: number;
  /** The handler's own options. */
  options: Record<string, unknown>;
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

/** A frame that could not be decoded; the stream is unusable after it. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/**
 * Incremental decoder: push chunks, get whole frames. Chunks are kept as they
 * come and each frame's bytes are gathered once, when all of them are there,
 * so reading a frame of n bytes costs O(n) however it was split.
 */
export class FrameReader {
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #have = 0;
  /** `rest_len` of the frame being gathered, once its first 4 bytes are in. */
  #need: number | undefined;

  /** `maxFrame`: largest `rest_len` accepted; beyond it is a FrameError. */
  constructor(maxFrame: number) {
    this.#max = maxFrame;
  }

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.#have;
  }

  push(chunk: Uint8Array): Frame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#have += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.#need === undefined) {
        if (this.#have < 4) break;
        const head = this.#peek(4);
        const rest = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
        if (rest > this.#max) throw new FrameError(`frame of ${rest} bytes exceeds the ${this.#max}-byte limit`);
        if (rest < 13) throw new FrameError(`frame of ${rest} bytes is shorter than a frame header`);
        this.#need = rest;
      }
      if (this.#have < 4 + this.#need) break;
      const bytes = this.#take(4 + this.#need);
      this.#need = undefined;
      frames.push(decodeBody(bytes.subarray(4)));
    }
    return frames;
  }

  /** The first n buffered bytes, without consuming them. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.#chunks) {
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
      if (at === n) break;
    }
    return out;
  }

  /** Consumes the first n buffered bytes: a view when they lie in one chunk, else one copy. */
  #take(n: number): Uint8Array {
    this.#have -= n;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0]!;
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
      if (part.length === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(part.length);
    }
    return out;
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
