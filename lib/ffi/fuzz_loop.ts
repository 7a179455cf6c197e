/**
 * The fuzz child's native batch loop (`native/npah_fuzz.c`; its coverage
 * guidance and crash recorder are `npah_fuzz_cov.c` and `npah_fuzz_crash.c`)
 * and the layout of its input file (`npah_fuzz.h`). The engine writes a batch
 * of inputs into {@link FuzzLoop.arena} and their places into
 * {@link FuzzLoop.offsets} / {@link FuzzLoop.lengths},
 * then makes one call, {@link FuzzLoop.run}, which calls the plugin for every
 * input from C. The arena, the table and the header are a file-backed shared
 * mapping, so the parent always knows the input in flight by reading the
 * file (`lib/fuzz/parent/input_file.ts`): after a crash, or while a call hangs.
 *
 * @example
 * ```ts ignore
 * import { FuzzLoop } from "./fuzz_loop.ts";
 * const loop = FuzzLoop.open("/tmp/artifacts/.input-1", FuzzLoop.fileSize(1 << 20));
 * loop.targetNpa(pluginPath, instance, 1 << 20);
 * loop.method("parse", false);
 * loop.arena.set([1, 2, 3], 0);
 * loop.offsets[0] = 0;
 * loop.lengths[0] = 3;
 * const stopped = loop.run(0, 1); // 1: ran cleanly; 0: the guard must judge loop.raw()
 * ```
 *
 * @module
 */
import type { CallResult } from "./calls.ts";
import { type HostSymbols, hostSymbols } from "./native_helper.ts";
import { HOST_FUZZ_SYMBOLS } from "./symbols.ts";

/** Where things are in the input file (read from the helper, so both sides agree). */
export interface FuzzLayout {
  table: number;
  arena: number;
  maxBatch: number;
  frames: number;
  modules: number;
  moduleSize: number;
  execs: number;
  state: number;
  index: number;
  count: number;
  method: number;
  stop: number;
  tid: number;
  batch: number;
  signal: number;
  siCode: number;
  address: number;
  pc: number;
  crashTid: number;
  nFrames: number;
  frameList: number;
  hangSeq: number;
  hangNFrames: number;
  hangFrameList: number;
  nModules: number;
  moduleList: number;
  magic: number;
  version: number;
  /** Guided mode: edges ever hit, (edge, bucket) features seen, edges instrumented (u32 each). */
  cov: number;
  features: number;
  counters: number;
}

const LAYOUT_KEYS: (keyof FuzzLayout)[] = [
  "table",
  "arena",
  "maxBatch",
  "frames",
  "modules",
  "moduleSize",
  "execs",
  "state",
  "index",
  "count",
  "method",
  "stop",
  "tid",
  "batch",
  "signal",
  "siCode",
  "address",
  "pc",
  "crashTid",
  "nFrames",
  "frameList",
  "hangSeq",
  "hangNFrames",
  "hangFrameList",
  "nModules",
  "moduleList",
  "magic",
  "version",
  "cov",
  "features",
  "counters",
];

/**
 * The last bytes of an input file: the inbox, where the parent appends
 * corpus entries other jobs found (`lib/fuzz/inbox.ts` has the format). The
 * native loop never touches it.
 */
export const FUZZ_INBOX_BYTES = 1 << 20;

/** The comparison tables of the coverage runtime (`native/coverage/npa_cov.h`), as bytes. */
export interface ComparisonTables {
  /** Integer comparisons: slots of {u64 a, u64 b, u32 width, u32 seq}. */
  cmps: Uint8Array;
  cmpSlot: number;
  /** Memory comparisons: slots of {u16 alen, u16 blen, u32 seq, u8 a[32], u8 b[32]}. */
  mems: Uint8Array;
  memSlot: number;
  /** The runtime's record counter (a u32 array of one). */
  seq: Uint32Array;
}

let layout: FuzzLayout | undefined;

/** The input file's layout, from the native helper (opens it on first use; throws the raw error). */
export function fuzzLayout(): FuzzLayout {
  if (layout) return layout;
  const words = new Uint32Array(LAYOUT_KEYS.length);
  const n = hostSymbols(HOST_FUZZ_SYMBOLS).npah_fuzz_layout(
    new Uint8Array(words.buffer),
    words.length,
  );
  if (n !== LAYOUT_KEYS.length) throw new Error(`The native helper describes ${n} layout words, not ${words.length}`);
  layout = Object.fromEntries(LAYOUT_KEYS.map((k, i) => [k, words[i]!])) as unknown as FuzzLayout;
  return layout;
}

/** What `run` returns besides an index: the parent asked for a stop before input `-(r + 2)` ran. */
export function stoppedBefore(r: number): number | undefined {
  return r <= -2 ? -(r + 2) : undefined;
}

const encoder = new TextEncoder();

/** One fuzz child's batch loop over its input file. */
export class FuzzLoop {
  readonly #s: HostSymbols<typeof HOST_FUZZ_SYMBOLS>;
  readonly #ctx: Deno.PointerObject;
  readonly #header: Uint32Array;
  readonly #layout: FuzzLayout;
  readonly #raw: BigInt64Array;
  /** The inputs of a batch, anywhere in here. */
  readonly arena: Uint8Array;
  /** Input i of the batch is `arena[offsets[i], offsets[i] + lengths[i])`. */
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** After a run: each input's status (or the harness's return value). */
  readonly status: Int32Array;
  /**
   * After a run: 1 for each input that reached something new: new coverage
   * in guided mode, else an answer not seen before (a new status or length class).
   */
  readonly fresh: Uint8Array;
  /** Where the parent leaves other jobs' corpus entries (the file's last {@link FUZZ_INBOX_BYTES}). */
  readonly inbox: Uint8Array;

  private constructor(lib: HostSymbols<typeof HOST_FUZZ_SYMBOLS>, ctx: Deno.PointerObject, l: FuzzLayout) {
    this.#s = lib;
    this.#ctx = ctx;
    this.#layout = l;
    const views = new BigUint64Array(5);
    lib.npah_fuzz_views(ctx, new Uint8Array(views.buffer), views.length);
    const [mapAt, mapSize, statusAt, freshAt, rawAt] = Array.from(views, (v) => Deno.UnsafePointer.create(v)!);
    const map = Deno.UnsafePointerView.getArrayBuffer(mapAt!, Number(views[1]!));
    void mapSize;
    this.#header = new Uint32Array(map, 0, l.table / 4);
    this.offsets = new Uint32Array(map, l.table, l.maxBatch);
    this.lengths = new Uint32Array(map, l.table + l.maxBatch * 4, l.maxBatch);
    this.arena = new Uint8Array(map, l.arena, map.byteLength - l.arena - FUZZ_INBOX_BYTES);
    this.inbox = new Uint8Array(map, map.byteLength - FUZZ_INBOX_BYTES);
    this.status = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(statusAt!, l.maxBatch * 4));
    this.fresh = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(freshAt!, l.maxBatch));
    this.#raw = new BigInt64Array(Deno.UnsafePointerView.getArrayBuffer(rawAt!, 5 * 8));
  }

  /** The size of an input file whose arena holds `arenaBytes` (and the inbox). */
  static fileSize(arenaBytes: number): number {
    return fuzzLayout().arena + arenaBytes + FUZZ_INBOX_BYTES;
  }

  /** Maps the input file at `path` (made by the parent, `size` bytes). Throws the raw error. */
  static open(path: string, size: number): FuzzLoop {
    const lib = hostSymbols(HOST_FUZZ_SYMBOLS);
    const l = fuzzLayout();
    const p = encoder.encode(path);
    const ctx = lib.npah_fuzz_open(p, p.length, BigInt(size));
    if (ctx === null) throw new Error(`Cannot map the fuzz input file ${JSON.stringify(path)}`);
    return new FuzzLoop(lib, ctx, l);
  }

  /** Targets an instance of the npa library loaded from `libraryPath`. Throws the raw error. */
  targetNpa(libraryPath: string, instance: Deno.PointerObject, maxOutputBytes: number): void {
    const p = encoder.encode(libraryPath);
    const rc = this.#s.npah_fuzz_target_npa(this.#ctx, p, p.length, instance, Math.min(maxOutputBytes, 2 ** 32 - 1));
    if (rc !== 0) throw new Error(`Cannot bind the plugin's entry points for the fuzz loop (code ${rc})`);
  }

  /**
   * Targets the libFuzzer harness loaded from `libraryPath`, running its
   * `LLVMFuzzerInitialize` if it has one. Returns that function's non-zero
   * result, if it failed. Throws the raw error.
   */
  targetLibFuzzer(libraryPath: string): number | undefined {
    const p = encoder.encode(libraryPath);
    const rc = this.#s.npah_fuzz_target_libfuzzer(this.#ctx, p, p.length);
    if (rc === -4) return Number(this.#raw[0]!);
    if (rc !== 0) throw new Error(`Cannot bind LLVMFuzzerTestOneInput for the fuzz loop (code ${rc})`);
    return undefined;
  }

  /** The method of the next batches; `json`: its output must be JSON. */
  method(name: string, json: boolean): void {
    const m = encoder.encode(name);
    if (this.#s.npah_fuzz_method(this.#ctx, m, m.length, json ? 1 : 0) !== 0) {
      throw new RangeError(`A method name must be at most 1024 bytes: got ${m.length}`);
    }
  }

  /** Forgets the answers (and the coverage) seen so far. */
  forget(): void {
    this.#s.npah_fuzz_forget(this.#ctx);
  }

  /**
   * Switches to coverage guidance (the target loaded, the coverage runtime
   * in the process). Returns the number of edges instrumented: 0 when the
   * target registered none. Throws the raw error.
   */
  guide(): number {
    const n = Number(this.#s.npah_fuzz_coverage(this.#ctx));
    if (n === -1) throw new Error("plugcheck's coverage runtime is not loaded in this process");
    if (n < 0) throw new Error("Out of memory for the coverage maps");
    return n;
  }

  /**
   * Blind mode: records the comparisons the coverage runtime's interposers (memcmp, strcmp, ...) see during
   * plugin calls, without counters. False when the runtime is not in this process.
   */
  compare(): boolean {
    return this.#s.npah_fuzz_compare(this.#ctx) === 0;
  }

  /** The coverage runtime's comparison tables (after {@link guide} or {@link compare}). */
  comparisons(): ComparisonTables | undefined {
    const v = new BigUint64Array(7);
    if (this.#s.npah_fuzz_cov_views(this.#ctx, new Uint8Array(v.buffer), v.length) !== 7) return undefined;
    const view = (at: bigint, n: number) => Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(at)!, n);
    const cmpSlot = Number(v[2]!), memSlot = Number(v[5]!);
    return {
      cmps: new Uint8Array(view(v[0]!, Number(v[1]!) * cmpSlot)),
      cmpSlot,
      mems: new Uint8Array(view(v[3]!, Number(v[4]!) * memSlot)),
      memSlot,
      seq: new Uint32Array(view(v[6]!, 4)),
    };
  }

  /** Arms the crash recorder on this thread, once the target is loaded. Throws the raw error. */
  arm(): void {
    const rc = this.#s.npah_fuzz_arm(this.#ctx);
    if (rc !== 0) throw new Error(`Cannot install the fuzz crash handlers (errno ${-rc})`);
  }

  /**
   * Runs inputs `[from, count)`: `count` when all ran cleanly, the index of
   * one the guard must judge ({@link raw}), or a stop ({@link stoppedBefore}).
   */
  run(from: number, count: number): number {
    return this.#s.npah_fuzz_run(this.#ctx, from, count);
  }

  /** The call the loop stopped at: its status and both buffers, not yet freed. */
  raw(): CallResult {
    const r = this.#raw;
    return {
      status: Number(r[0]!),
      out: { ptr: BigInt.asUintN(64, r[1]!), len: BigInt.asUintN(64, r[2]!) },
      err: { ptr: BigInt.asUintN(64, r[3]!), len: BigInt.asUintN(64, r[4]!) },
    };
  }

  /** Executions so far (the counter the parent watches). */
  get execs(): number {
    const at = this.#layout.execs / 4;
    return this.#header[at]! + this.#header[at + 1]! * 2 ** 32;
  }

  /** Which method the batch in the file is for (the parent names it in a finding). */
  set methodIndex(i: number) {
    this.#header[this.#layout.method / 4] = i;
  }

  /** The batch sequence number in the file. */
  set batch(n: number) {
    this.#header[this.#layout.batch / 4] = n;
  }

  /** True once the parent asked for a stop. */
  get stopRequested(): boolean {
    return this.#header[this.#layout.stop / 4] !== 0;
  }
}
