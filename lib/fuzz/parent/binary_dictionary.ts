/**
 * A fuzzing dictionary read from the plugin's binary, so a plugin built
 * without coverage instrumentation still gives the fuzzer the words it looks
 * for: the printable strings of its read-only data (what `memcmp(in,
 * "MAGIC", 5)` compares against), and the constants its x86-64 code
 * compares with (`cmp`/`test` with an immediate, and 8-byte `movabs`
 * constants: a two-byte prefix check, a length guard), each in both byte
 * orders, at the fewest bytes that hold it. Zero and all-ones are left out
 * (every program compares with them). Compares of one register's memory at
 * neighbouring displacements in one function (`cmpb $0xc3,(%rsi)` then
 * `cmpb $0x7e,0x1(%rsi)`: a guard on a two-byte prefix, or gcc's inlined
 * `memcmp` of "decode" as "deco" and "de") also give the bytes they guard
 * together, as one word. The words are ordered by how telling they are
 * (guards, strings, then constants from the widest down) and capped at
 * {@link MAX_BINARY_WORDS}, so a large library does not drown the rest of the
 * dictionary.
 *
 * @example
 * ```ts ignore
 * import { binaryDictionary } from "./binary_dictionary.ts";
 * const d = binaryDictionary("build/fixtures/libref_c.so");
 * console.log(d.words.length, d.strings, d.constants);
 * ```
 *
 * @module
 */
import { elfSections, functionStarts, sectionBytes } from "../../load/elf_sections.ts";
import { type ImmediateCompare, immediateCompares } from "../../load/x86_compares.ts";
import { dedupeWords } from "../mutate/dictionary.ts";

/** Most words taken from one binary. */
export const MAX_BINARY_WORDS = 1024;
/** Printable strings of this many bytes or more are words (shorter ones are mostly noise)... */
export const MIN_STRING = 3;
/** ...and up to this many (longer ones are cut here, as libFuzzer caps dictionary words at 64 bytes). */
export const MAX_STRING = 64;
/** Libraries larger than this are not read (MiB). */
const MAX_FILE_BYTES = 256 << 20;

/** Lengths taken from one binary at most. */
export const MAX_BINARY_LENGTHS = 64;
/** The largest constant of a register compare taken as a length an input may need (a guard on its size). */
export const MAX_GUARD_LENGTH = 4096;

/** The words of a binary, and where they came from. */
export interface BinaryDictionary {
  words: Uint8Array[];
  /**
   * Constants a register is compared with (`cmp $37,%rdx`), from 2 to {@link MAX_GUARD_LENGTH}, and each plus
   * one (`len > 36`): the sizes a guard on an input's length may want, for the fuzzer's `ChangeLength`.
   */
  lengths: number[];
  /** Words from guards (neighbouring compares), printable strings and compare constants (before the cap). */
  guards: number;
  strings: number;
  constants: number;
  /** Why nothing was read, when nothing was. */
  skipped?: string;
}

/** Printable ASCII (and tab, newline, carriage return). */
const printable = (b: number) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d;

/** The NUL-terminated printable strings of `data` of MIN_STRING bytes or more (cut at MAX_STRING). */
export function printableStrings(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    const b = data[i];
    if (b !== undefined && printable(b)) continue;
    if (b === 0 || b === undefined) {
      if (i - start >= MIN_STRING) out.push(data.slice(start, Math.min(i, start + MAX_STRING)));
    }
    start = i + 1;
  }
  return out;
}

/** The `size` bytes of `value`, little-endian: what a compare of memory with it matches there. */
function bytesOf(value: bigint, size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => Number((value >> BigInt(i * 8)) & 0xffn));
}

/** How far apart (bytes of code) two compares of one guard may be. */
const GUARD_SPAN = 512;
/** Runs kept open at once for one register (the oldest is done when another starts). */
const MAX_RUNS = 8;

/**
 * The bytes that runs of compares guard together: compares of one
 * register's memory, in one function, no more than GUARD_SPAN bytes of code
 * apart, at displacements that continue each other (2 compares or more, at
 * most MAX_STRING bytes). A compare that contradicts a run (other bytes at
 * the same place: another case of a switch, another name of a table) starts
 * a new run beside it, and a later compare joins every run it fits, so
 * interleaved guards give each of their words (and, where it cannot be told
 * which run a compare belongs to, a few words that are no guard: a
 * dictionary can afford them). Words of only zeros or only 0xff are left
 * out, as for single constants.
 */
export function guardedWords(compares: readonly ImmediateCompare[], starts: readonly number[]): Uint8Array[] {
  const words: Uint8Array[] = [];
  const emit = (parts: Map<number, Uint8Array>) => {
    let run: [number, Uint8Array][] = [];
    const done = () => {
      const length = run.reduce((n, [, b]) => n + b.length, 0);
      const boring = run.every(([, b]) => b.every((x) => x === 0)) || run.every(([, b]) => b.every((x) => x === 0xff));
      if (run.length >= 2 && length <= MAX_STRING && !boring) {
        const word = new Uint8Array(length);
        let at = 0;
        for (const [, b] of run) word.set(b, (at += b.length) - b.length);
        words.push(word);
      }
      run = [];
    };
    for (const [disp, bytes] of [...parts].sort((a, b) => a[0] - b[0])) {
      const last = run.at(-1);
      if (last !== undefined && last[0] + last[1].length !== disp) done();
      run.push([disp, bytes]);
    }
    done();
  };
  const groups = new Map<number, { runs: Map<number, Uint8Array>[]; last: number; fn: number }>();
  for (const c of compares) {
    if (c.op !== "cmp" || c.memory === undefined) continue;
    const fn = functionOf(starts, c.address);
    let g = groups.get(c.memory.base);
    if (g !== undefined && (g.fn !== fn || c.address - g.last > GUARD_SPAN)) {
      g.runs.forEach(emit);
      g = undefined;
    }
    if (g === undefined) groups.set(c.memory.base, g = { runs: [], last: c.address, fn });
    const bytes = bytesOf(c.value, c.size);
    const { disp } = c.memory;
    const fits = (run: Map<number, Uint8Array>) =>
      ![...run].some(([d, b]) =>
        d < disp + bytes.length && disp < d + b.length &&
        b.some((x, i) => d + i >= disp && d + i < disp + bytes.length && bytes[d + i - disp] !== x)
      );
    const joined = g.runs.filter(fits);
    for (const run of joined) run.set(disp, bytes);
    if (joined.length === 0) {
      if (g.runs.length >= MAX_RUNS) emit(g.runs.shift()!);
      g.runs.push(new Map([[disp, bytes]]));
    }
    g.last = c.address;
  }
  for (const g of groups.values()) g.runs.forEach(emit);
  return words;
}

/** The index of the function `address` lies in (the last start at or before it; -1 before the first). */
function functionOf(starts: readonly number[], address: number): number {
  let lo = 0, hi = starts.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** The bytes of `value` (at most `size` bytes) at the fewest bytes that hold it, little-endian. */
function leastBytes(value: bigint, size: number): Uint8Array {
  let width = size;
  while (width > 1 && (value >> BigInt((width - 1) * 8)) === 0n) width--;
  return bytesOf(value, width);
}

/** Reads the dictionary of the library at `path` (an unreadable or foreign file gives none, with the reason). */
export function binaryDictionary(path: string): BinaryDictionary {
  let bytes: Uint8Array;
  try {
    if (Deno.statSync(path).size > MAX_FILE_BYTES) return none(`larger than ${MAX_FILE_BYTES >> 20} MiB`);
    bytes = Deno.readFileSync(path);
  } catch (e) {
    return none(e instanceof Error ? e.message : String(e));
  }
  return dictionaryOf(bytes);
}

function none(skipped: string): BinaryDictionary {
  return { words: [], lengths: [], guards: 0, strings: 0, constants: 0, skipped };
}

/** The dictionary of an ELF file held in memory. */
export function dictionaryOf(bytes: Uint8Array): BinaryDictionary {
  let sections;
  try {
    sections = elfSections(bytes);
  } catch (e) {
    return none(e instanceof Error ? e.message : String(e));
  }
  const strings: Uint8Array[] = [];
  for (const s of sections) {
    if (s.loaded && !s.executable && !s.writable && s.name.startsWith(".rodata")) {
      strings.push(...printableStrings(sectionBytes(bytes, s)));
    }
  }
  const constants: Uint8Array[] = [];
  const guards: Uint8Array[] = [];
  const lengths = new Set<number>();
  const x86 = bytes[18] === 62 && bytes[19] === 0; // e_machine EM_X86_64
  if (x86) {
    const starts = functionStarts(bytes, sections);
    for (const s of sections.filter((s) => s.executable && s.loaded)) {
      const compares = immediateCompares(sectionBytes(bytes, s), s.address, starts);
      guards.push(...guardedWords(compares, starts));
      for (const c of compares) {
        const v = Number(c.value);
        if (c.op === "cmp" && c.memory === undefined && c.size >= 4 && v >= 2 && v <= MAX_GUARD_LENGTH) {
          lengths.add(v).add(v + 1);
        }
        if (c.value === 0n || c.value === (1n << BigInt(c.size * 8)) - 1n) continue;
        const le = leastBytes(c.value, c.size);
        constants.push(le);
        if (le.length > 1) constants.push(le.slice().reverse());
      }
    }
  }
  const words = dedupeWords([...guards, ...strings, ...constants.sort((a, b) => b.length - a.length)])
    .slice(0, MAX_BINARY_WORDS);
  return {
    words,
    lengths: [...lengths].slice(0, MAX_BINARY_LENGTHS),
    guards: guards.length,
    strings: strings.length,
    constants: constants.length,
  };
}

/**
 * A run's dictionary: the user's words, then those of the binary of `binaryOf` (none: no binary words), repeats
 * left out. The binary is read on first use, so a replay, a merge or a minimization, which send no dictionary, do
 * not read it.
 */
export class RunDictionary {
  readonly #user: readonly Uint8Array[];
  readonly #binaryOf: string | undefined;
  #made: { words: Uint8Array[]; fromBinary: number; lengths: number[] } | undefined;

  constructor(user: readonly Uint8Array[], binaryOf: string | undefined) {
    this.#user = user;
    this.#binaryOf = binaryOf;
  }

  /** All the words. */
  get words(): Uint8Array[] {
    return this.#make().words;
  }

  /** Lengths the binary's register compares suggest (see {@link BinaryDictionary.lengths}). */
  get lengths(): number[] {
    return this.#make().lengths;
  }

  /** How many of them came from the binary. */
  get fromBinary(): number {
    return this.#make().fromBinary;
  }

  #make(): { words: Uint8Array[]; fromBinary: number; lengths: number[] } {
    if (this.#made === undefined) {
      const binary = this.#binaryOf === undefined ? undefined : binaryDictionary(this.#binaryOf);
      const words = dedupeWords([...this.#user, ...binary?.words ?? []]);
      this.#made = {
        words,
        fromBinary: words.length - dedupeWords(this.#user).length,
        lengths: binary?.lengths ?? [],
      };
    }
    return this.#made;
  }
}
