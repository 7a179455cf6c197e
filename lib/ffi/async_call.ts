/**
 * The nonblocking call path at native speed (`npah_call_nb` in
 * `native/npah_call.c`). Each call in flight has a small block of its own:
 * JS writes the target and lengths as u32 words, Deno runs the helper on its
 * blocking pool, and C runs the plugin's `npa_instance_invoke`, copies a
 * clean output into a stretch of a JS slab reserved for this call and frees
 * it with the plugin's own `npa_buffer_free`, all on that pool thread. JS
 * then makes one view into the slab: no typed array, pointer or BigInt per
 * call, no free call from JS.
 *
 * Anything but a clean success stays in the block for the guard
 * ({@link AsyncPath.raw}); an output larger than the reserved stretch is kept
 * there until {@link AsyncPath.takeKept} copies it into an array of its own.
 *
 * A block's owner reuses it only once its call has returned (a call
 * abandoned after its deadline keeps its block until then), and the block
 * keeps the slab its output goes to alive for as long.
 *
 * @example
 * ```ts ignore
 * import { AsyncPath, NB_OK } from "./async_call.ts";
 * const path = AsyncPath.get();
 * const block = path.take(); // kept by its owner, reused call after call
 * const r = await path.start(block, target, methodBytes, input);
 * const out = r === NB_OK ? path.output(block) : judge(path.raw(block));
 * ```
 *
 * @module
 */
import type { CallResult } from "./calls.ts";
import type { CallTarget } from "./fast_call.ts";
import { type HostSymbols, hostSymbols } from "./native_helper.ts";
import { HOST_NB_SYMBOLS } from "./symbols.ts";

// Header words of a nonblocking block (npah_call.c).
const SLOT = 0, INST_LO = 1, INST_HI = 2, METHOD_LEN = 3, INPUT_LEN = 4, DST_LO = 5, DST_HI = 6, DST_CAP = 7;
const MAX_OUT = 8, STATUS = 10, LEN = 11;

/** The call succeeded; its output is in the reserved stretch ({@link AsyncPath.output}). */
export const NB_OK = 0;
/** Anything else: the guard must judge {@link AsyncPath.raw}. */
export const NB_GUARD = 1;
/** The call succeeded, but its output is larger than the stretch: {@link AsyncPath.takeKept}. */
export const NB_NO_ROOM = 2;

const SLAB = 64 * 1024;
const MIN_RESERVE = 256;
const MAX_RESERVE = 16 * 1024;
const BLOCKS_PER_CHUNK = 32;
const EMPTY = new Uint8Array(0);

/** One call's block. */
export interface NbBlock {
  readonly ptr: Deno.PointerObject;
  readonly h: Uint32Array;
  readonly status: Int32Array;
  readonly raw: BigUint64Array;
  /** The slab the output goes to (kept alive while C may write there), and where in it. */
  slab: ArrayBuffer | undefined;
  off: number;
  cap: number;
}

function halves(p: Deno.PointerValue): [number, number] {
  const v = BigInt(Deno.UnsafePointer.value(p));
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}

/** This thread's nonblocking call path. */
export class AsyncPath {
  readonly #s: HostSymbols<typeof HOST_NB_SYMBOLS>;
  readonly #callNb: HostSymbols<typeof HOST_NB_SYMBOLS>["npah_call_nb"];
  readonly #words: number;
  readonly #rawAt: number;
  readonly #size: number;
  readonly #pool: NbBlock[] = [];
  #slab!: ArrayBuffer;
  #slabLo = 0;
  #slabHi = 0;
  #slabOff = 0;
  /** How much a call reserves: twice the last output, within bounds. */
  #reserve = MIN_RESERVE;
  #noopSlot: number | undefined;

  private constructor(lib: HostSymbols<typeof HOST_NB_SYMBOLS>) {
    this.#s = lib;
    this.#callNb = lib.npah_call_nb;
    const layout = new Uint32Array(3);
    this.#s.npah_nb_layout(new Uint8Array(layout.buffer), 3);
    [this.#words, this.#rawAt, this.#size] = layout as unknown as [number, number, number];
    this.#newSlab();
  }

  static #instance: AsyncPath | undefined;

  /** The nonblocking path of this thread (the helper must be openable; throws the raw error). */
  static get(): AsyncPath {
    AsyncPath.#instance ??= new AsyncPath(hostSymbols(HOST_NB_SYMBOLS));
    return AsyncPath.#instance;
  }

  /** A target whose "plugin" does nothing and returns OK with no output: the same path, the plugin taken out. */
  noopTarget(): CallTarget {
    if (this.#noopSlot === undefined) {
      const slot = this.#s.npah_bind_noop();
      if (slot < 0) throw new Error(`Cannot bind the no-op call target (code ${slot})`);
      this.#noopSlot = slot;
    }
    return { slot: this.#noopSlot, lo: 0, hi: 0, maxOut: 0 };
  }

  /** A block of its own for a caller that reuses it call after call (see `nb_call.ts`); made in chunks. */
  take(): NbBlock {
    return this.#pool.pop() ?? this.#grow();
  }

  /** Starts the call; resolves to {@link NB_OK}, {@link NB_GUARD} or {@link NB_NO_ROOM}. */
  start(b: NbBlock, t: CallTarget, method: Uint8Array<ArrayBuffer>, input: Uint8Array): Promise<number> {
    const h = b.h;
    h[SLOT] = t.slot;
    h[INST_LO] = t.lo;
    h[INST_HI] = t.hi;
    h[MAX_OUT] = t.maxOut;
    h[METHOD_LEN] = method.length;
    h[INPUT_LEN] = input.length;
    this.#reserveFor(b);
    return this.#callNb(b.ptr, method, (input.length === 0 ? EMPTY : input) as Uint8Array<ArrayBuffer>);
  }

  /** After {@link NB_OK}: the output, a view into the slab (valid for as long as it is referenced). */
  output(b: NbBlock): Uint8Array<ArrayBuffer> {
    const len = b.h[LEN]!;
    this.#keep(len);
    // The latest reservation gives back what it did not use, so calls one at a time pack tightly.
    if (b.slab === this.#slab && this.#slabOff === b.off + b.cap) this.#slabOff = (b.off + len + 7) & ~7;
    return new Uint8Array(b.slab!, b.off, len);
  }

  /**
   * After {@link NB_NO_ROOM}: the output copied into an array of its own (or
   * into the start of `into`, when it fits: no fresh memory to fault in for a
   * big output), and freed.
   */
  takeKept(b: NbBlock, into?: Uint8Array): Uint8Array<ArrayBuffer> {
    const len = b.h[LEN]!;
    const out = into !== undefined && into.length >= len ? into.subarray(0, len) : new Uint8Array(len);
    this.#keep(len);
    this.#s.npah_take_nb(b.ptr, out as Uint8Array<ArrayBuffer>);
    return out as Uint8Array<ArrayBuffer>;
  }

  /** After {@link NB_NO_ROOM}, for a reply nobody will read: frees the kept output. */
  discardKept(b: NbBlock): void {
    this.#s.npah_take_nb(b.ptr, null);
  }

  /** After {@link NB_GUARD}: the status and both buffers, not yet freed. */
  raw(b: NbBlock): CallResult {
    const r = b.raw;
    return { status: b.status[0]!, out: { ptr: r[0]!, len: r[1]! }, err: { ptr: r[2]!, len: r[3]! } };
  }

  /** Reserves the next stretch of the slab for a call's output. */
  #reserveFor(b: NbBlock): void {
    let off = this.#slabOff;
    if (SLAB - off < this.#reserve) {
      this.#newSlab();
      off = 0;
    }
    const cap = this.#reserve;
    this.#slabOff = off + cap;
    const lo = this.#slabLo + off;
    b.slab = this.#slab;
    b.off = off;
    b.cap = cap;
    b.h[DST_LO] = lo >>> 0;
    b.h[DST_HI] = this.#slabHi + (lo > 0xffffffff ? 1 : 0);
    b.h[DST_CAP] = cap;
  }

  /** Adapts the reservation to the outputs seen: twice the last one, within bounds, a multiple of 64. */
  #keep(len: number): void {
    const want = Math.min(MAX_RESERVE, Math.max(MIN_RESERVE, (len * 2 + 63) & ~63));
    if (want !== this.#reserve) this.#reserve = want;
  }

  #newSlab(): void {
    this.#slab = new ArrayBuffer(SLAB);
    [this.#slabLo, this.#slabHi] = halves(Deno.UnsafePointer.of(this.#slab));
    this.#slabOff = 0;
  }

  #grow(): NbBlock {
    const chunk = new ArrayBuffer(this.#size * BLOCKS_PER_CHUNK);
    const base = Deno.UnsafePointer.of(chunk)!;
    for (let i = 1; i < BLOCKS_PER_CHUNK; i++) this.#pool.push(this.#block(chunk, base, i));
    return this.#block(chunk, base, 0);
  }

  #block(chunk: ArrayBuffer, base: Deno.PointerObject, i: number): NbBlock {
    const at = i * this.#size;
    return {
      ptr: Deno.UnsafePointer.offset(base, at)!,
      h: new Uint32Array(chunk, at, this.#words),
      status: new Int32Array(chunk, at + STATUS * 4, 1),
      raw: new BigUint64Array(chunk, at + this.#rawAt, 4),
      slab: undefined,
      off: 0,
      cap: 0,
    };
  }
}
