/**
 * The ELF parser behind `readElfDynamic` (`elf.ts`), independent of how
 * bytes are read: a generator that yields each byte range it needs (checked
 * against the file's size first) and takes the bytes back, so one parser
 * serves the async and the sync reader. From the section headers, or, when
 * they are gone, from the `PT_DYNAMIC` segment (its addresses mapped through
 * `PT_LOAD`, the symbol count from `DT_HASH` or `DT_GNU_HASH`), it reads the
 * `DT_NEEDED` names and the dynamic symbols.
 *
 * Only 64-bit little-endian ELF is read; every loop is bounded by the file's
 * size, and anything inconsistent is an `Error` saying what.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseElf } from "./elf_parse.ts";
 * // An ELF header and nothing else: x86_64, no sections, no segments.
 * const bytes = new Uint8Array(64);
 * bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]); // the magic, 64-bit, little-endian
 * bytes[18] = 62; // e_machine: x86_64
 * const parser = parseElf("in-memory.so", bytes.length);
 * let step = parser.next();
 * while (!step.done) step = parser.next(bytes.slice(step.value.offset, step.value.offset + step.value.length));
 * assert.deepEqual(step.value, { needed: [], defined: new Set(), undefined: new Set(), machine: "x86_64" });
 * ```
 *
 * @module
 */
import type { ElfDynamicInfo } from "./elf_info.ts";

/** The `e_machine` values with a name. */
const MACHINES: Readonly<Record<number, string>> = {
  3: "i386",
  21: "ppc64",
  22: "s390x",
  40: "arm",
  62: "x86_64",
  183: "aarch64",
  243: "riscv64",
  258: "loongarch64",
};

const ELF_HEADER_SIZE = 64;
const SECTION_HEADER_SIZE = 64;
const PROGRAM_HEADER_SIZE = 56;
const SYMBOL_SIZE = 24;
const DYNAMIC_ENTRY_SIZE = 16;

const SHT_STRTAB = 3;
const SHT_DYNAMIC = 6;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_HASH = 4;
const DT_STRTAB = 5;
const DT_SYMTAB = 6;
const DT_STRSZ = 10;
const DT_SYMENT = 11;
const DT_GNU_HASH = 0x6ffffef5;
const SHN_UNDEF = 0;
const STB_LOCAL = 0;

/** A byte range the parser needs (already checked to lie inside the file). */
export interface Need {
  offset: number;
  length: number;
}

/** The parser: yields the byte ranges it needs (each checked against the file size), gets their bytes back. */
export type Parser = Generator<Need, ElfDynamicInfo, Uint8Array>;

/** A little-endian view of bytes the parser was given. */
class View {
  readonly #view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(at: number): number {
    return this.#view.getUint8(at);
  }
  u16(at: number): number {
    return this.#view.getUint16(at, true);
  }
  u32(at: number): number {
    return this.#view.getUint32(at, true);
  }
  /** A 64-bit value as a number; values past 2^53 become `Infinity` (larger than any file, so caught by bounds checks). */
  u64(at: number): number {
    const v = this.#view.getBigUint64(at, true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
  }
}

/** A number a file states, for messages: 64-bit values past 2^53 (read as `Infinity`) as such. */
function quantity(n: number, radix: 10 | 16 = 10): string {
  if (!Number.isFinite(n)) return "2^53 or more";
  return radix === 16 ? `0x${n.toString(16)}` : String(n);
}

/** The parser, independent of how bytes are read: `path` names the file in messages, `size` bounds every read. */
export function* parseElf(path: string, size: number): Parser {
  const truncated = (what: string, offset: number, length: number) =>
    new Error(
      `Truncated ELF file "${path}": ${quantity(length)} bytes at offset ${quantity(offset)} (${what}) ` +
        `reach past the end of the file (${size} bytes)`,
    );
  const inconsistent = (what: string) => new Error(`Inconsistent ELF file "${path}": ${what}`);
  /** The bytes of a range the file states, after checking it lies inside the file. */
  function* read(what: string, offset: number, length: number): Generator<Need, View, Uint8Array> {
    if (!(offset >= 0 && length >= 0 && offset + length <= size)) throw truncated(what, offset, length);
    if (length === 0) return new View(new Uint8Array(0));
    return new View(yield { offset, length });
  }

  if (size < 4) throw new Error(`Not an ELF file: "${path}"`);
  const header = yield* read("the ELF header", 0, Math.min(size, ELF_HEADER_SIZE));
  if (header.u8(0) !== 0x7f || header.u8(1) !== 0x45 || header.u8(2) !== 0x4c || header.u8(3) !== 0x46) {
    throw new Error(`Not an ELF file: "${path}"`);
  }
  if (size < ELF_HEADER_SIZE) throw truncated("the ELF header", 0, ELF_HEADER_SIZE);
  const elfClass = header.u8(4);
  if (elfClass === 1) throw new Error(`Unsupported ELF file "${path}": it is 32-bit (only 64-bit ELF is read)`);
  if (elfClass !== 2) throw inconsistent(`the ELF class is "${elfClass}" (expected 1 or 2)`);
  const data = header.u8(5);
  if (data === 2) throw new Error(`Unsupported ELF file "${path}": it is big-endian (only little-endian ELF is read)`);
  if (data !== 1) throw inconsistent(`the data encoding is "${data}" (expected 1 or 2)`);
  const eMachine = header.u16(18);
  const machine = MACHINES[eMachine] ?? `machine ${eMachine}`;
  const phoff = header.u64(32);
  const shoff = header.u64(40);
  const phentsize = header.u16(54);
  const phnum = header.u16(56);
  const shentsize = header.u16(58);
  let shnum = header.u16(60);

  // Section headers: .dynamic and .dynsym with the string tables they link to.
  if (shoff !== 0) {
    if (shentsize !== SECTION_HEADER_SIZE) {
      throw inconsistent(`the section header size is "${shentsize}" (expected ${SECTION_HEADER_SIZE})`);
    }
    if (shnum === 0) {
      // More than 0xff00 sections: the count is in the first header's sh_size.
      const first = yield* read("the first section header", shoff, SECTION_HEADER_SIZE);
      shnum = first.u64(32);
    }
  }
  if (shoff !== 0 && shnum > 0) {
    if (shnum * SECTION_HEADER_SIZE > size) throw truncated("the section headers", shoff, shnum * SECTION_HEADER_SIZE);
    const table = yield* read("the section headers", shoff, shnum * SECTION_HEADER_SIZE);
    const section = (index: number) => {
      const at = index * SECTION_HEADER_SIZE;
      return {
        index,
        type: table.u32(at + 4),
        offset: table.u64(at + 24),
        size: table.u64(at + 32),
        link: table.u32(at + 40),
        entsize: table.u64(at + 56),
      };
    };
    type Section = ReturnType<typeof section>;
    let dynamic: Section | undefined;
    let dynsym: Section | undefined;
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      if (s.type === SHT_DYNAMIC) dynamic ??= s;
      if (s.type === SHT_DYNSYM) dynsym ??= s;
    }
    const contents = (s: Section, what: string) =>
      s.type === SHT_NOBITS ? new View(new Uint8Array(0)) : read(`section ${s.index}, ${what}`, s.offset, s.size);
    const linkedStrings = function* (s: Section, what: string): Generator<Need, View, Uint8Array> {
      if (s.link >= shnum) {
        throw inconsistent(`${what} (section ${s.index}) links to section ${s.link}, but there are ${shnum} sections`);
      }
      const strings = section(s.link);
      if (strings.type !== SHT_STRTAB) {
        throw inconsistent(`${what} (section ${s.index}) links to section ${s.link}, which is not a string table`);
      }
      return yield* asView(contents(strings, `the string table of ${what}`));
    };

    const needed: string[] = [];
    if (dynamic) {
      const entries = yield* asView(contents(dynamic, "the dynamic section"));
      const strings = yield* linkedStrings(dynamic, "the dynamic section");
      for (let at = 0; at + DYNAMIC_ENTRY_SIZE <= entries.bytes.length; at += DYNAMIC_ENTRY_SIZE) {
        const tag = entries.u64(at);
        if (tag === DT_NULL) break;
        if (tag === DT_NEEDED) needed.push(stringAt(strings, entries.u64(at + 8), "a DT_NEEDED name", inconsistent));
      }
    }
    const defined = new Set<string>();
    const undefinedNames = new Set<string>();
    if (dynsym) {
      if (dynsym.entsize !== SYMBOL_SIZE) {
        throw inconsistent(`the .dynsym entry size is "${dynsym.entsize}" (expected ${SYMBOL_SIZE})`);
      }
      const symbols = yield* asView(contents(dynsym, "the dynamic symbol table"));
      const strings = yield* linkedStrings(dynsym, "the dynamic symbol table");
      collectSymbols(symbols, strings, defined, undefinedNames, inconsistent);
    }
    return { needed, defined, undefined: undefinedNames, machine };
  }

  // No section headers (stripped by sstrip and the like): the PT_DYNAMIC segment, its addresses mapped through PT_LOAD.
  if (phoff === 0 || phnum === 0) return { needed: [], defined: new Set(), undefined: new Set(), machine };
  if (phentsize !== PROGRAM_HEADER_SIZE) {
    throw inconsistent(`the program header size is "${phentsize}" (expected ${PROGRAM_HEADER_SIZE})`);
  }
  const programs = yield* read("the program headers", phoff, phnum * PROGRAM_HEADER_SIZE);
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let dynamicSegment: { offset: number; filesz: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const at = i * PROGRAM_HEADER_SIZE;
    const type = programs.u32(at);
    const segment = { offset: programs.u64(at + 8), vaddr: programs.u64(at + 16), filesz: programs.u64(at + 32) };
    if (type === PT_LOAD) loads.push(segment);
    if (type === PT_DYNAMIC) dynamicSegment ??= segment;
  }
  if (!dynamicSegment) return { needed: [], defined: new Set(), undefined: new Set(), machine };
  /** The file offset of virtual address `vaddr`, and how many bytes of its segment follow it in the file. */
  const mapped = (vaddr: number, what: string) => {
    for (const s of loads) {
      if (vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) {
        return { offset: s.offset + (vaddr - s.vaddr), available: s.filesz - (vaddr - s.vaddr) };
      }
    }
    throw inconsistent(`${what} (address ${quantity(vaddr, 16)}) is in no loaded segment`);
  };
  const entries = yield* read("the dynamic segment", dynamicSegment.offset, dynamicSegment.filesz);
  const neededOffsets: number[] = [];
  const tags = new Map<number, number>();
  for (let at = 0; at + DYNAMIC_ENTRY_SIZE <= entries.bytes.length; at += DYNAMIC_ENTRY_SIZE) {
    const tag = entries.u64(at);
    if (tag === DT_NULL) break;
    const value = entries.u64(at + 8);
    if (tag === DT_NEEDED) neededOffsets.push(value);
    else if (!tags.has(tag)) tags.set(tag, value);
  }
  const needed: string[] = [];
  const defined = new Set<string>();
  const undefinedNames = new Set<string>();
  const strtab = tags.get(DT_STRTAB);
  const strsz = tags.get(DT_STRSZ);
  if (strtab === undefined || strsz === undefined) {
    if (neededOffsets.length > 0) throw inconsistent("the dynamic segment has DT_NEEDED entries but no string table");
    return { needed, defined, undefined: undefinedNames, machine };
  }
  const stringsAt = mapped(strtab, "the dynamic string table");
  const strings = yield* read("the dynamic string table", stringsAt.offset, strsz);
  for (const offset of neededOffsets) needed.push(stringAt(strings, offset, "a DT_NEEDED name", inconsistent));

  const symtab = tags.get(DT_SYMTAB);
  if (symtab !== undefined) {
    const syment = tags.get(DT_SYMENT) ?? SYMBOL_SIZE;
    if (syment !== SYMBOL_SIZE) throw inconsistent(`DT_SYMENT is "${syment}" (expected ${SYMBOL_SIZE})`);
    const symbolsAt = mapped(symtab, "the dynamic symbol table");
    let count = 0;
    const hash = tags.get(DT_HASH);
    const gnuHash = tags.get(DT_GNU_HASH);
    if (hash !== undefined) {
      const at = mapped(hash, "the DT_HASH table");
      count = (yield* read("the DT_HASH table", at.offset, 8)).u32(4); // nchain = the number of symbols
    } else if (gnuHash !== undefined) {
      count = yield* gnuHashSymbolCount(mapped(gnuHash, "the DT_GNU_HASH table"), read, inconsistent);
    }
    if (count * SYMBOL_SIZE > symbolsAt.available) {
      throw inconsistent(`the hash table counts ${count} dynamic symbols, more than their segment holds`);
    }
    const symbols = yield* read("the dynamic symbol table", symbolsAt.offset, count * SYMBOL_SIZE);
    collectSymbols(symbols, strings, defined, undefinedNames, inconsistent);
  }
  return { needed, defined, undefined: undefinedNames, machine };
}

/** A `Generator` or a `View` as a `View` (for contents that may be empty without a read). */
function* asView(v: View | Generator<Need, View, Uint8Array>): Generator<Need, View, Uint8Array> {
  return v instanceof View ? v : yield* v;
}

/**
 * The number of dynamic symbols a DT_GNU_HASH table covers: one past the last
 * symbol of the longest chain (found from the highest bucket). Every read is
 * bounded by the segment holding the table.
 */
function* gnuHashSymbolCount(
  at: { offset: number; available: number },
  read: (what: string, offset: number, length: number) => Generator<Need, View, Uint8Array>,
  inconsistent: (what: string) => Error,
): Generator<Need, number, Uint8Array> {
  const what = "the DT_GNU_HASH table";
  if (at.available < 16) throw inconsistent(`${what} is cut short by the end of its segment`);
  const head = yield* read(what, at.offset, 16);
  const nbuckets = head.u32(0);
  const symoffset = head.u32(4);
  const bloomWords = head.u32(8);
  const bucketsAt = 16 + bloomWords * 8;
  const chainsAt = bucketsAt + nbuckets * 4;
  if (chainsAt > at.available) throw inconsistent(`${what} is longer than its segment`);
  const buckets = yield* read(what, at.offset + bucketsAt, nbuckets * 4);
  let last = 0;
  for (let i = 0; i < nbuckets; i++) last = Math.max(last, buckets.u32(i * 4));
  if (last < symoffset) return symoffset;
  // Walk the chain of the highest bucket to its end (the entry with bit 0 set), a chunk at a time.
  const CHUNK = 1024;
  for (let index = last;;) {
    const from = chainsAt + (index - symoffset) * 4;
    const length = Math.min(CHUNK * 4, at.available - from);
    if (length < 4) throw inconsistent(`${what} has a chain that runs past the end of its segment`);
    const chain = yield* read(what, at.offset + from, length - (length % 4));
    for (let i = 0; i < chain.bytes.length; i += 4, index++) {
      if (chain.u32(i) & 1) return index + 1;
    }
  }
}

/** Sorts the named symbols of a symbol table into defined and undefined ones. */
function collectSymbols(
  symbols: View,
  strings: View,
  defined: Set<string>,
  undefinedNames: Set<string>,
  inconsistent: (what: string) => Error,
): void {
  for (let at = 0; at + SYMBOL_SIZE <= symbols.bytes.length; at += SYMBOL_SIZE) {
    const nameOffset = symbols.u32(at);
    if (nameOffset === 0) continue;
    const name = stringAt(strings, nameOffset, "a symbol name", inconsistent);
    if (name === "") continue;
    const bind = symbols.u8(at + 4) >> 4;
    const shndx = symbols.u16(at + 6);
    if (shndx === SHN_UNDEF) undefinedNames.add(name);
    else if (bind !== STB_LOCAL) defined.add(name);
  }
}

const decoder = new TextDecoder();

/** The NUL-terminated string at `offset` of a string table. */
function stringAt(strings: View, offset: number, what: string, inconsistent: (what: string) => Error): string {
  const bytes = strings.bytes;
  if (offset >= bytes.length) {
    throw inconsistent(`${what} is at offset ${offset}, past the end of its string table (${bytes.length} bytes)`);
  }
  const end = bytes.indexOf(0, offset);
  if (end < 0) throw inconsistent(`${what} at offset ${offset} is not terminated inside its string table`);
  return decoder.decode(bytes.subarray(offset, end));
}
