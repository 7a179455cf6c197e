/**
 * What plugcheck needs from a shared library file, read without loading it:
 * the libraries it needs (`DT_NEEDED`), the dynamic symbols it defines and
 * the ones it expects from elsewhere, and its machine. What these say of the
 * library (a libFuzzer harness or an npa plugin, an AddressSanitizer build
 * and which runtime to `LD_PRELOAD` for it, a SanitizerCoverage build) is in
 * `elf_info.ts`; the parser is in `elf_parse.ts`.
 *
 * Only 64-bit little-endian ELF is read (x86_64, aarch64 and the like);
 * every offset a file states is checked against the file's size before it
 * is read, and every loop is bounded by the file's size, so a malicious or
 * damaged file gives an `Error` saying what is wrong, never a read out of
 * bounds or a loop without end. Only the ranges the parser asks for are
 * read, not the whole file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileURLToPath } from "node:url";
 * import { readElfDynamic } from "./elf.ts";
 * // The C reference plugin (deno task build).
 * const info = await readElfDynamic(fileURLToPath(new URL("../../build/fixtures/libref_c.so", import.meta.url)));
 * assert.ok(info.defined.has("npa_abi_version"));
 * assert.deepEqual(info.needed, ["libc.so.6"]);
 * ```
 *
 * @module
 */
import type { ElfDynamicInfo } from "./elf_info.ts";
import { type Need, parseElf } from "./elf_parse.ts";

/**
 * Reads the dynamic section and dynamic symbols of the ELF file at `path`.
 * Throws `Error` for a file that is not ELF (`Not an ELF file: "<path>"`),
 * a 32-bit or big-endian one, and a truncated or inconsistent one (saying
 * what is wrong); the raw error when the file cannot be opened.
 */
export async function readElfDynamic(path: string): Promise<ElfDynamicInfo> {
  const stat = await Deno.stat(path);
  if (!stat.isFile) throw new Error(`Not a file: "${path}"`);
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const parser = parseElf(path, size);
  let step = parser.next();
  while (!step.done) step = parser.next(await readAt(file, step.value, path));
  return step.value;
}

/** {@link readElfDynamic}, synchronously. */
export function readElfDynamicSync(path: string): ElfDynamicInfo {
  const stat = Deno.statSync(path);
  if (!stat.isFile) throw new Error(`Not a file: "${path}"`);
  using file = Deno.openSync(path, { read: true });
  const size = file.statSync().size;
  const parser = parseElf(path, size);
  let step = parser.next();
  while (!step.done) step = parser.next(readAtSync(file, step.value, path));
  return step.value;
}

/** The machine this process runs on, as the ELF names it (`x86_64`, `aarch64`). */
const HOST_MACHINE: string = Deno.build.arch;

/**
 * Why the library at `path` cannot load here when it is an ELF file built
 * for another machine (`wrong architecture: built for aarch64 ...`), else
 * undefined (not ELF, unreadable, or this machine's). For a loader error
 * that would not say so (glibc answers "No such file or directory").
 */
export function wrongMachine(path: string): string | undefined {
  let info: ElfDynamicInfo;
  try {
    info = readElfDynamicSync(path);
  } catch {
    return undefined;
  }
  if (info.machine === HOST_MACHINE) return undefined;
  return `wrong architecture: the library is built for ${info.machine} (its ELF e_machine), but this machine is ${HOST_MACHINE}; build it for ${HOST_MACHINE}`;
}

async function readAt(file: Deno.FsFile, need: Need, path: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(need.length);
  await file.seek(need.offset, Deno.SeekMode.Start);
  for (let at = 0; at < bytes.length;) {
    const n = await file.read(bytes.subarray(at));
    if (n === null) throw shrunk(path);
    at += n;
  }
  return bytes;
}

function readAtSync(file: Deno.FsFile, need: Need, path: string): Uint8Array {
  const bytes = new Uint8Array(need.length);
  file.seekSync(need.offset, Deno.SeekMode.Start);
  for (let at = 0; at < bytes.length;) {
    const n = file.readSync(bytes.subarray(at));
    if (n === null) throw shrunk(path);
    at += n;
  }
  return bytes;
}

function shrunk(path: string): Error {
  return new Error(`Truncated ELF file "${path}": the file became shorter while it was read`);
}
