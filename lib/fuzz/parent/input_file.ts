/**
 * The parent's side of a fuzz child's input file: the file-backed shared
 * mapping where the child's native loop keeps the batch it runs, the index
 * and exec counter of the input in flight, and, after a fatal signal, where
 * it happened (`native/npah_fuzz.c` and `npah_fuzz_crash.c`; the layout is in
 * `npah_fuzz.h`). The parent never maps it: it reads the file, whose pages
 * the kernel keeps after the child died. It lives in the artifacts directory
 * until the job ends, so even when the parent dies too, the input that was
 * running is on disk.
 *
 * @example
 * ```ts ignore
 * import { InputFile } from "./input_file.ts";
 * const file = InputFile.create(join(artifacts, ".plugcheck-input-1-0"), 1 << 20);
 * const { execs, inCall } = file.pulse();
 * const input = file.current(); // the input in flight (or last run)
 * file.remove();
 * ```
 *
 * @module
 */
import type { CrashRecord, CurrentInput, FileFrame } from "../wire.ts";
import { FUZZ_INBOX_BYTES, type FuzzLayout, fuzzLayout, FuzzLoop } from "../../ffi/fuzz_loop.ts";
import { appendEntry, INBOX_HEADER } from "../inbox.ts";

const decoder = new TextDecoder();
/** Where the file's magic number is (its first word). */
const MAGIC_AT = 0;

/** One fuzz child's input file, read by the parent. */
export class InputFile {
  readonly path: string;
  readonly size: number;
  readonly #file: Deno.FsFile;
  readonly #l: FuzzLayout;
  readonly #pulse = new Uint8Array(24);

  private constructor(path: string, size: number, file: Deno.FsFile, l: FuzzLayout) {
    this.path = path;
    this.size = size;
    this.#file = file;
    this.#l = l;
  }

  /** Creates (or truncates) the file at `path` with room for `arenaBytes` of inputs. */
  static create(path: string, arenaBytes: number): InputFile {
    const l = fuzzLayout();
    const size = FuzzLoop.fileSize(arenaBytes);
    const file = Deno.openSync(path, { read: true, write: true, create: true, truncate: true });
    file.truncateSync(size);
    return new InputFile(path, size, file, l);
  }

  /** Reads `n` bytes at `offset`. */
  #read(offset: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    let at = 0;
    while (at < n) {
      const got = this.#file.readSync(out.subarray(at));
      if (got === null || got === 0) break;
      at += got;
    }
    return out.subarray(0, at);
  }

  #u32(offset: number): number {
    const b = this.#read(offset, 4);
    return b.length === 4 ? new DataView(b.buffer, b.byteOffset).getUint32(0, true) : 0;
  }

  /** The exec counter and whether a plugin call is running, in one small read. */
  pulse(): { execs: number; inCall: boolean } {
    const l = this.#l;
    this.#file.seekSync(l.execs, Deno.SeekMode.Start);
    const b = this.#pulse;
    const got = this.#file.readSync(b) ?? 0;
    if (got < 12) return { execs: 0, inCall: false };
    const v = new DataView(b.buffer);
    return {
      execs: v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32,
      inCall: v.getUint32(l.state - l.execs, true) === 1,
    };
  }

  /** The index of the method the running batch is for. */
  method(): number {
    return this.#u32(this.#l.method);
  }

  /** Executions so far. */
  get execs(): number {
    return this.pulse().execs;
  }

  /** Asks the child to stop before its next input. */
  requestStop(): void {
    const one = new Uint8Array([1, 0, 0, 0]);
    this.#file.seekSync(this.#l.stop, Deno.SeekMode.Start);
    this.#file.writeSync(one);
  }

  /** The input in flight (or the last one run), or undefined when the file holds no batch yet. */
  current(): CurrentInput | undefined {
    const l = this.#l;
    const index = this.#u32(l.index);
    const count = this.#u32(l.count);
    if (this.#u32(MAGIC_AT) !== l.magic || count === 0 || index >= count || index >= l.maxBatch) {
      return undefined;
    }
    const off = this.#u32(l.table + index * 4);
    const len = this.#u32(l.table + l.maxBatch * 4 + index * 4);
    const arena = this.size - l.arena - FUZZ_INBOX_BYTES;
    if (off > arena || len > arena - off) return undefined;
    return { bytes: this.#read(l.arena + off, len), method: this.#u32(l.method), inCall: this.pulse().inCall };
  }

  /** What the fatal-signal handler recorded, if it ran. */
  crash(): CrashRecord | undefined {
    const l = this.#l;
    const signal = this.#u32(l.signal);
    if (signal === 0) return undefined;
    const address = new DataView(this.#read(l.address, 8).buffer).getBigUint64(0, true);
    const tid = this.#u32(l.crashTid);
    return {
      signal,
      siCode: this.#u32(l.siCode) | 0,
      address,
      tid,
      loopThread: tid === this.#u32(l.tid),
      frames: this.#frames(l.frameList, this.#u32(l.nFrames)),
    };
  }

  /** How many hang backtraces the child wrote (the parent asks for one with SIGUSR2). */
  hangSequence(): number {
    return this.#u32(this.#l.hangSeq);
  }

  /** The last hang backtrace of the thread that runs the plugin calls. */
  hangFrames(): FileFrame[] {
    return this.#frames(this.#l.hangFrameList, this.#u32(this.#l.hangNFrames));
  }

  #frames(at: number, n: number): FileFrame[] {
    const l = this.#l;
    const count = Math.min(n, l.frames);
    if (count === 0) return [];
    const raw = this.#read(at, count * 16);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const modules = this.#modules();
    const out: FileFrame[] = [];
    for (let i = 0; i + 16 <= raw.length; i += 16) {
      const m = v.getUint32(i, true);
      const offset = Number(v.getBigUint64(i + 8, true));
      out.push({ module: modules[m] ?? "?", offset });
    }
    return out;
  }

  #modules(): string[] {
    const l = this.#l;
    const n = Math.min(this.#u32(l.nModules), l.modules);
    const raw = this.#read(l.moduleList, n * l.moduleSize);
    const out: string[] = [];
    for (let i = 0; i + l.moduleSize <= raw.length; i += l.moduleSize) {
      const path = raw.subarray(i + 24, i + l.moduleSize);
      const end = path.indexOf(0);
      out.push(decoder.decode(end < 0 ? path : path.subarray(0, end)));
    }
    return out;
  }

  /** Guided mode: edges hit, features seen and edges instrumented (zeros before a guided child ran). */
  coverage(): { edges: number; features: number; counters: number } {
    const l = this.#l;
    const b = this.#read(l.cov, 12);
    if (b.length < 12) return { edges: 0, features: 0, counters: 0 };
    const v = new DataView(b.buffer, b.byteOffset);
    return { edges: v.getUint32(0, true), features: v.getUint32(4, true), counters: v.getUint32(8, true) };
  }

  /** Bytes of inbox entries written for the child that uses the file now. */
  #inboxUsed = 0;

  /** Empties the inbox (before a new child uses the file: it reads from the start). */
  resetInbox(): void {
    this.#inboxUsed = 0;
    this.#write(this.size - FUZZ_INBOX_BYTES, new Uint8Array(INBOX_HEADER));
  }

  #write(offset: number, bytes: Uint8Array): void {
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    for (let at = 0; at < bytes.length;) at += this.#file.writeSync(bytes.subarray(at));
  }

  /**
   * Leaves another job's corpus entry for the child: the entry first, then
   * the count of bytes written, so the child never reads a partial entry.
   * False when the inbox is full (the child's next life gets every entry as
   * a seed anyway).
   */
  share(input: Uint8Array, method: number): boolean {
    const base = this.size - FUZZ_INBOX_BYTES;
    const entry = appendEntry(input, method, this.#inboxUsed, FUZZ_INBOX_BYTES);
    if (entry === undefined) return false;
    this.#write(base + INBOX_HEADER + this.#inboxUsed, entry.bytes);
    this.#inboxUsed = entry.used;
    const used = new Uint8Array(4);
    new DataView(used.buffer).setUint32(0, entry.used, true);
    this.#write(base, used);
    return true;
  }

  /** Inputs a batch may hold. */
  get maxBatch(): number {
    return this.#l.maxBatch;
  }

  /** Bytes of the arena (what a batch's inputs may use). */
  get arenaBytes(): number {
    return this.size - this.#l.arena - FUZZ_INBOX_BYTES;
  }

  /** The thread that runs the plugin calls (0 before a child mapped the file). */
  loopTid(): number {
    return this.#u32(this.#l.tid);
  }

  /** The index, in its batch, of the input in flight (or run last). */
  inFlightIndex(): number {
    return this.#u32(this.#l.index);
  }

  /**
   * Writes a batch for a fork server's worker to run: its inputs (`arena`,
   * from the arena's start), the first `count` offsets and lengths into the
   * table, and the method index.
   */
  writeBatch(arena: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, method: number): void {
    const l = this.#l;
    this.#write(l.arena, arena);
    this.#write(l.table, new Uint8Array(offsets.buffer, offsets.byteOffset, count * 4));
    this.#write(l.table + l.maxBatch * 4, new Uint8Array(lengths.buffer, lengths.byteOffset, count * 4));
    const m = new Uint8Array(4);
    new DataView(m.buffer).setUint32(0, method, true);
    this.#write(l.method, m);
  }

  /** Closes and deletes the file. */
  remove(): void {
    try {
      this.#file.close();
    } catch {
      // closed already
    }
    try {
      Deno.removeSync(this.path);
    } catch {
      // gone already
    }
  }
}
