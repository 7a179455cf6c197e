/**
 * The heap a plugin's own code holds, as the native helper counts it
 * (`native/npah_heap.c`): once a loaded library is hooked
 * ({@link PluginHeap.hook}: its own imports of malloc, calloc, realloc,
 * free, posix_memalign, strdup, C++'s new and delete and the like pointed at
 * the helper), every block it allocates is recorded until it frees it. Deno's
 * allocations are never seen, nor what libc allocates for the plugin inside
 * its own functions. Readings carry a serial number that marks a moment of a
 * run; {@link PluginHeap.residue} splits the live blocks by two such marks,
 * so memory kept since the start (a table built once) can be told from memory
 * lost all along (a leak), and groups the blocks that carry a sampled stack by
 * stack, as module + offset frames for the symbolizer.
 *
 * @example
 * ```ts ignore
 * import { PluginHeap } from "./plugin_heap.ts";
 * const heap = PluginHeap.get();
 * const id = heap.hook("/path/to/libplugin.so"); // after it is loaded; < 0: -errno
 * const start = heap.read(id); // { live: 3, liveBytes: 120, allocations: 3, serial: 3, untracked: 0 }
 * // ... calls ...
 * const left = heap.residue(id, start.serial, mid.serial); // { before, first, second, bytes, stacks }
 * ```
 *
 * @module
 */
import { type HostSymbols, hostSymbols } from "./native_helper.ts";
import { HOST_HEAP_SYMBOLS } from "./symbols.ts";

/** What a hooked library holds now. */
export interface HeapCounts {
  /** Blocks it allocated and has not freed. */
  live: number;
  /** Their bytes. */
  liveBytes: number;
  /** Blocks it allocated since it was hooked. */
  allocations: number;
  /** The helper's allocation serial now: a mark of this moment for {@link PluginHeap.residue}. */
  serial: number;
  /** Blocks the helper could not record (its table could not grow): the counts are a lower bound. */
  untracked: number;
}

/** One frame of an allocation's stack: a module and an offset in it (of the call, not the return address). */
export interface HeapFrame {
  module: string;
  offset: number;
}

/** Live blocks allocated from one stack (stacks are sampled: a site's first 16 blocks, then one in 64). */
export interface HeapStack {
  blocks: number;
  bytes: number;
  frames: HeapFrame[];
}

/** The live blocks of a hooked library, split by two serial marks. */
export interface HeapResidue {
  /** Allocated before the first mark. */
  before: number;
  /** Allocated between the two marks. */
  first: number;
  /** Allocated after the second mark. */
  second: number;
  /** The bytes of `first` and `second`. */
  bytes: number;
  /** The stacks of the blocks after the first mark that carry one, most blocks first (at most 8). */
  stacks: HeapStack[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The helper's heap records. */
export class PluginHeap {
  readonly #s: HostSymbols<typeof HOST_HEAP_SYMBOLS>;
  readonly #out = new Float64Array(5);

  private constructor() {
    this.#s = hostSymbols(HOST_HEAP_SYMBOLS);
  }

  static #instance: PluginHeap | undefined;

  /** The records (opens the helper on first use; throws the raw error). */
  static get(): PluginHeap {
    PluginHeap.#instance ??= new PluginHeap();
    return PluginHeap.#instance;
  }

  /**
   * Counts the heap of the loaded library at `path` from now on. Returns its
   * id, or -errno: -ENOENT (2) not loaded, -ENOSPC (28) too many libraries,
   * -ENOSYS (38) not on this architecture. A library that imports no
   * allocation function of its own gets an id too (it holds nothing countable).
   */
  hook(path: string): number {
    const bytes = encoder.encode(path);
    return this.#s.npah_heap_hook(bytes, bytes.length);
  }

  /** Forgets library `id` once it is unloaded: its records go, and its id may name the next library hooked. */
  forget(id: number): void {
    this.#s.npah_heap_forget(id);
  }

  /** What library `id` holds now. */
  read(id: number): HeapCounts {
    const out = this.#out;
    if (this.#s.npah_heap_read(id, out) !== 0) throw new RangeError(`no hooked library has heap id ${id}`);
    return { live: out[0]!, liveBytes: out[1]!, allocations: out[2]!, serial: out[3]!, untracked: out[4]! };
  }

  /** The live blocks of library `id` split by the serial marks `from` and `mid` (`from` <= `mid`). */
  residue(id: number, from: number, mid: number): HeapResidue {
    const out = new Float64Array(4);
    const text = new Uint8Array(64 * 1024);
    const n = this.#s.npah_heap_residue(id, from, mid, out, text, text.length);
    if (n < 0) throw new RangeError(`no hooked library has heap id ${id}`);
    return {
      before: out[0]!,
      first: out[1]!,
      second: out[2]!,
      bytes: out[3]!,
      stacks: parseStacks(decoder.decode(text.subarray(0, n))),
    };
  }
}

/** `"blocks\tbytes\tmodule+0xoff;module+0xoff\n"` lines, as npah_heap_residue writes them. */
export function parseStacks(text: string): HeapStack[] {
  return text.split("\n").filter((l) => l !== "").map((line) => {
    const [blocks, bytes, frames] = line.split("\t");
    return {
      blocks: Number(blocks),
      bytes: Number(bytes),
      frames: (frames ?? "").split(";").filter((f) => f !== "").map((f) => {
        const at = f.lastIndexOf("+0x");
        return { module: f.slice(0, at), offset: parseInt(f.slice(at + 3), 16) };
      }),
    };
  });
}
