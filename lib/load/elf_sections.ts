/**
 * The sections of a 64-bit little-endian ELF file held in memory, and the
 * start addresses of its functions: what the fuzzer's binary dictionary
 * reads (its code sections, to find the constants compare instructions
 * use, and its read-only data, for printable strings). Every header and
 * range is checked against the file's size; anything inconsistent is an
 * `Error` saying what.
 *
 * @example
 * ```ts ignore
 * import { elfSections, functionStarts } from "./elf_sections.ts";
 * const bytes = Deno.readFileSync("build/fixtures/libref_c.so");
 * const text = elfSections(bytes).find((s) => s.name === ".text")!;
 * console.log(text.address, text.size, functionStarts(bytes).length);
 * ```
 *
 * @module
 */

/** One section header. */
export interface ElfSection {
  name: string;
  /** `sh_type` (1 PROGBITS, 2 SYMTAB, 8 NOBITS, 11 DYNSYM, ...). */
  type: number;
  /** `SHF_EXECINSTR` is set: the section holds code. */
  executable: boolean;
  /** `SHF_WRITE` is set. */
  writable: boolean;
  /** `SHF_ALLOC` is set: the section is loaded. */
  loaded: boolean;
  /** Load address, offset in the file, size in bytes. */
  address: number;
  offset: number;
  size: number;
  /** `sh_link`, `sh_entsize`: for symbol tables, their string table and entry size. */
  link: number;
  entrySize: number;
}

const SHT_NOBITS = 8;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;

/** The section headers of `bytes` (an ELF64 LE file), with their names. */
export function elfSections(bytes: Uint8Array): ElfSection[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || v.getUint32(0) !== 0x7f454c46) throw new Error("not an ELF file");
  if (bytes[4] !== 2 || bytes[5] !== 1) throw new Error("not a 64-bit little-endian ELF file");
  const shoff = Number(v.getBigUint64(0x28, true));
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  const shstrndx = v.getUint16(0x3e, true);
  if (shnum === 0) return [];
  if (shentsize < 64 || shoff + shnum * shentsize > bytes.length) {
    throw new Error("section headers past the end of the file");
  }
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    const flags = Number(v.getBigUint64(at + 8, true) & 0xffffn);
    return {
      nameAt: v.getUint32(at, true),
      type: v.getUint32(at + 4, true),
      executable: (flags & 4) !== 0,
      writable: (flags & 1) !== 0,
      loaded: (flags & 2) !== 0,
      address: Number(v.getBigUint64(at + 16, true)),
      offset: Number(v.getBigUint64(at + 24, true)),
      size: Number(v.getBigUint64(at + 32, true)),
      link: v.getUint32(at + 40, true),
      entrySize: Number(v.getBigUint64(at + 56, true)),
    };
  });
  for (const s of raw) {
    if (s.type !== SHT_NOBITS && s.offset + s.size > bytes.length) {
      throw new Error("a section runs past the end of the file");
    }
  }
  const names = raw[shstrndx];
  return raw.map(({ nameAt, ...s }) => ({ name: names === undefined ? "" : cString(bytes, names, nameAt), ...s }));
}

/** The NUL-terminated string at `at` in string table `table` (at most 4 KiB of it). */
function cString(bytes: Uint8Array, table: { offset: number; size: number }, at: number): string {
  if (at >= table.size) return "";
  const from = table.offset + at;
  const stop = Math.min(table.offset + table.size, from + 4096);
  let end = from;
  while (end < stop && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(from, end));
}

/** The bytes of section `s` in the file (none for a section that has none there, like `.bss`). */
export function sectionBytes(bytes: Uint8Array, s: ElfSection): Uint8Array {
  return s.type === SHT_NOBITS ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size);
}

/**
 * The addresses of the functions `bytes` defines, from its full symbol
 * table (`.symtab`) when it has one, else its dynamic symbols: where a
 * disassembler starts each function.
 */
export function functionStarts(bytes: Uint8Array, sections = elfSections(bytes)): number[] {
  const table = sections.find((s) => s.type === SHT_SYMTAB) ?? sections.find((s) => s.type === SHT_DYNSYM);
  if (table === undefined || table.entrySize < 24) return [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const starts: number[] = [];
  for (let at = table.offset; at + 24 <= table.offset + table.size; at += table.entrySize) {
    const info = bytes[at + 4]!;
    const shndx = v.getUint16(at + 6, true);
    const value = Number(v.getBigUint64(at + 8, true));
    if ((info & 0xf) === STT_FUNC && shndx !== 0 && value !== 0) starts.push(value);
  }
  return [...new Set(starts)].sort((a, b) => a - b);
}
