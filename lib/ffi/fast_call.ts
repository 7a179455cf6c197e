/**
 * The synchronous call path at native speed (`native/npah_call.c`). A call
 * writes a few u32 words into this thread's call block and makes one FFI call
 * with no arguments; C runs the plugin's `npa_instance_invoke`, copies a
 * clean output straight into the destination and frees it with the plugin's
 * own `npa_buffer_free`. Nothing is allocated per call: outputs of
 * `invokeSync` are views into a 64 KiB slab (a fresh slab when one is full;
 * results stay valid as long as they are referenced), text inputs are encoded
 * straight into the block, and an input or destination array used twice in a
 * row has its address taken once and reused.
 *
 * Anything but a clean success (a failure status, an error buffer, an odd or
 * oversize output) is left untouched for the guard: {@link FastPath.raw}
 * hands it over as a `CallResult`. One block per thread, so Workers each have
 * their own; every plugin shares these call sites, which keeps them
 * monomorphic however many plugins are loaded.
 *
 * @example
 * ```ts ignore
 * import { FastPath } from "./fast_call.ts";
 * const fast = FastPath.get();
 * const target = fast.target(fast.bind(libraryPath), instancePointer, 1 << 20);
 * const out = fast.invokeSync(target, "echo", "hi") ?? judge(fast.raw());
 * ```
 *
 * @module
 */
import type { CallResult } from "./calls.ts";
import { type HostSymbols, hostSymbols } from "./native_helper.ts";
import { HOST_CALL_SYMBOLS } from "./symbols.ts";

// Header words of the call block (npah_call.c).
const SLOT = 0, INST_LO = 1, INST_HI = 2, METHOD_LEN = 3, INPUT_LEN = 4, INPUT_LO = 5, INPUT_HI = 6;
const DST_LO = 7, DST_HI = 8, DST_OFF = 9, DST_CAP = 10, MAX_OUT = 11, STATUS = 13, LEN = 14;
const OK = 0, NO_ROOM = 2;
const SLAB = 64 * 1024;
/** Outputs larger than this get an array of their own instead of slab space. */
const OWN = 16 * 1024;

/** What `invokeInto` returns when the guard must judge the call ({@link FastPath.raw}). */
export const NEEDS_GUARD = -1;
/** What `invokeInto` returns when the output did not fit (it was freed; its length is {@link FastPath.needed}). */
export const NO_ROOM_IN_DST = -2;

/** Where a call goes: the plugin's bound slot, the instance address in halves, the largest output accepted. */
export interface CallTarget {
  readonly slot: number;
  readonly lo: number;
  readonly hi: number;
  readonly maxOut: number;
}

const encoder = new TextEncoder();

function halves(p: Deno.PointerValue | ArrayBuffer): [number, number] {
  const ptr = p instanceof ArrayBuffer ? Deno.UnsafePointer.of(p) : p;
  const v = BigInt(Deno.UnsafePointer.value(ptr));
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}

/** This thread's fast call path. */
export class FastPath {
  readonly #s: HostSymbols<typeof HOST_CALL_SYMBOLS>;
  // The hot entry points, held directly: a property load from the large symbols object costs more than the call.
  readonly #call: HostSymbols<typeof HOST_CALL_SYMBOLS>["npah_call"];
  readonly #callWith: HostSymbols<typeof HOST_CALL_SYMBOLS>["npah_call_with"];
  readonly #h: Uint32Array;
  readonly #status: Int32Array;
  readonly #raw: BigUint64Array;
  readonly #method: Uint8Array;
  readonly #stage: Uint8Array;
  #methodText = "";
  /** The target whose words the block holds, and whether the destination words are the slab's. */
  #lastTarget: CallTarget | undefined;
  #dstIsSlab = false;
  #slab!: ArrayBuffer;
  #slabLo = 0;
  #slabHi = 0;
  #slabOff = 0;
  /** The last input array, and whether the block's input words hold its address (the block has one writer: this). */
  #lastInput: Uint8Array | undefined;
  #lastInputLen = -1;
  #inputInBlock = false;
  /** The last destination array of invokeInto, and whether the block's destination words hold its address. */
  #lastDst: Uint8Array | undefined;
  #lastDstLen = -1;
  #dstInBlock = false;
  #needed = 0;

  private constructor(lib: HostSymbols<typeof HOST_CALL_SYMBOLS>) {
    this.#s = lib;
    this.#call = lib.npah_call;
    this.#callWith = lib.npah_call_with;
    const layout = new Uint32Array(6);
    this.#s.npah_block_layout(new Uint8Array(layout.buffer), 6);
    const [words, rawAt, methodAt, methodMax, inputAt, inputMax] = layout as unknown as number[];
    const block = this.#s.npah_block();
    if (block === null) throw new Error("Cannot allocate the native call block");
    const mem = Deno.UnsafePointerView.getArrayBuffer(block, inputAt! + inputMax!);
    this.#h = new Uint32Array(mem, 0, words);
    this.#status = new Int32Array(mem, STATUS * 4, 1);
    this.#raw = new BigUint64Array(mem, rawAt!, 4);
    this.#method = new Uint8Array(mem, methodAt!, methodMax);
    this.#stage = new Uint8Array(mem, inputAt!, inputMax);
    this.#newSlab();
  }

  static #instance: FastPath | undefined;

  /** The fast path of this thread (the helper must be openable; throws the raw error). */
  static get(): FastPath {
    FastPath.#instance ??= new FastPath(hostSymbols(HOST_CALL_SYMBOLS));
    return FastPath.#instance;
  }

  /** Binds the loaded library at `libraryPath` (never loads it); returns its slot. Throws the raw error. */
  bind(libraryPath: string): number {
    const path = encoder.encode(libraryPath);
    const slot = this.#s.npah_bind(path, path.length);
    if (slot < 0) throw new Error(`Cannot bind the plugin's entry points for the fast call path (code ${slot})`);
    return slot;
  }

  /** Frees a slot; before the library is unloaded. */
  unbind(slot: number): void {
    this.#s.npah_unbind(slot);
  }

  /** A call target for one instance. */
  target(slot: number, instance: Deno.PointerObject, maxOut: number): CallTarget {
    const [lo, hi] = halves(instance);
    return { slot, lo, hi, maxOut };
  }

  /** The output in an array of its own (a slab view), or undefined when the guard must judge ({@link raw}). */
  invokeSync(
    t: CallTarget,
    method: string,
    input: Uint8Array | string | undefined,
  ): Uint8Array<ArrayBuffer> | undefined {
    const h = this.#h;
    const arg = this.#prepare(t, method, input);
    const off = this.#slabOff;
    if (!this.#dstIsSlab) {
      h[DST_LO] = this.#slabLo;
      h[DST_HI] = this.#slabHi;
      this.#dstIsSlab = true;
      this.#dstInBlock = false;
    }
    h[DST_OFF] = off;
    h[DST_CAP] = SLAB - off;
    const r = arg === null ? this.#call() : this.#callWith(arg, null);
    if (r === OK) {
      const len = h[LEN]!;
      this.#slabOff = (off + len + 7) & ~7;
      return new Uint8Array(this.#slab, off, len);
    }
    if (r !== NO_ROOM) return undefined;
    const len = h[LEN]!;
    if (len > OWN) {
      const own = new Uint8Array(len);
      this.#s.npah_take(own);
      return own;
    }
    this.#newSlab();
    const out = new Uint8Array(this.#slab, 0, len);
    this.#s.npah_take(out);
    this.#slabOff = (len + 7) & ~7;
    return out;
  }

  /**
   * The output copied into `dst`: its length, or {@link NEEDS_GUARD}, or
   * {@link NO_ROOM_IN_DST} (the output was freed; see {@link needed}).
   */
  invokeInto(t: CallTarget, method: string, input: Uint8Array | string | undefined, dst: Uint8Array): number {
    const h = this.#h;
    const arg = this.#prepare(t, method, input);
    // The same destination as last time, its address in the block already: nothing to write.
    const r = dst === this.#lastDst && this.#dstInBlock && dst.length === this.#lastDstLen
      ? (arg === null ? this.#call() : this.#callWith(arg, null))
      : this.#intoNewDst(arg, dst);
    if (r === OK) return h[LEN]!;
    if (r !== NO_ROOM) return NEEDS_GUARD;
    this.#needed = h[LEN]!;
    this.#s.npah_discard();
    return NO_ROOM_IN_DST;
  }

  /** A call into a destination not (yet) in the block: passed as an argument, its address taken on its second use. */
  #intoNewDst(arg: Uint8Array | null, dst: Uint8Array): number {
    const h = this.#h;
    const cap = dst.length;
    h[DST_OFF] = 0;
    h[DST_CAP] = cap;
    this.#dstIsSlab = false;
    if (dst === this.#lastDst && cap === this.#lastDstLen) {
      [h[DST_LO], h[DST_HI]] = halves(Deno.UnsafePointer.of(dst));
      this.#dstInBlock = true;
      return arg === null ? this.#call() : this.#callWith(arg, null);
    }
    this.#lastDst = dst;
    this.#lastDstLen = cap;
    this.#dstInBlock = false;
    return this.#callWith(arg, dst);
  }

  /** The length of the output that did not fit, after {@link NO_ROOM_IN_DST}. */
  get needed(): number {
    return this.#needed;
  }

  /** What the last call left for the guard: its status and both buffers, not yet freed. */
  raw(): CallResult {
    const r = this.#raw;
    return { status: this.#status[0]!, out: { ptr: r[0]!, len: r[1]! }, err: { ptr: r[2]!, len: r[3]! } };
  }

  /**
   * Writes what changed since the last call into the block; returns the input
   * when it must be passed as an argument instead. Small on purpose: V8
   * inlines it into both hot paths (the out-of-line cases are the methods below).
   */
  #prepare(t: CallTarget, method: string, input: Uint8Array | string | undefined): Uint8Array | null {
    if (t !== this.#lastTarget) this.#setTarget(t);
    if (method !== this.#methodText) this.#setMethod(method);
    // The same input array as last time, its address in the block already: nothing to write.
    if (input === this.#lastInput && this.#inputInBlock && (input as Uint8Array).length === this.#lastInputLen) {
      return null;
    }
    return this.#setInput(input);
  }

  #setTarget(t: CallTarget): void {
    const h = this.#h;
    h[SLOT] = t.slot;
    h[INST_LO] = t.lo;
    h[INST_HI] = t.hi;
    h[MAX_OUT] = t.maxOut;
    this.#lastTarget = t;
  }

  #setMethod(method: string): void {
    if (typeof method !== "string") throw new TypeError(`A method name must be a string: got ${typeof method}`);
    const { read, written } = encoder.encodeInto(method, this.#method);
    if (read < method.length) throw new RangeError(`A method name must be at most ${this.#method.length} bytes`);
    this.#h[METHOD_LEN] = written;
    this.#methodText = method;
  }

  /** Puts the input where C finds it; returns it when it must be passed as an argument instead. */
  #setInput(input: Uint8Array | string | undefined): Uint8Array | null {
    const h = this.#h;
    if (typeof input === "string") {
      this.#lastInput = undefined;
      this.#inputInBlock = false;
      if (input.length * 3 <= this.#stage.length) {
        h[INPUT_LEN] = encoder.encodeInto(input, this.#stage).written;
        h[INPUT_LO] = h[INPUT_HI] = 0;
        return null;
      }
      input = encoder.encode(input);
    } else if (input === undefined) {
      this.#lastInput = undefined;
      this.#inputInBlock = false;
      h[INPUT_LEN] = h[INPUT_LO] = h[INPUT_HI] = 0;
      return null;
    } else if (!(input instanceof Uint8Array)) {
      throw new TypeError(`An invoke input must be a Uint8Array or a string: got ${typeof input}`);
    }
    const len = input.length;
    h[INPUT_LEN] = len;
    if (input === this.#lastInput && len === this.#lastInputLen && len > 0) {
      // Seen twice in a row: take its address once; from now on the block holds it.
      [h[INPUT_LO], h[INPUT_HI]] = halves(Deno.UnsafePointer.of(input));
      this.#inputInBlock = true;
      return null;
    }
    this.#lastInput = input;
    this.#lastInputLen = len;
    this.#inputInBlock = false;
    h[INPUT_LO] = h[INPUT_HI] = 0;
    if (len === 0) return null; // also a detached array: nothing to copy
    if (len <= this.#stage.length) {
      this.#stage.set(input);
      return null;
    }
    return input;
  }

  #newSlab(): void {
    this.#slab = new ArrayBuffer(SLAB);
    [this.#slabLo, this.#slabHi] = halves(this.#slab);
    this.#slabOff = 0;
    this.#dstIsSlab = false;
  }
}
