/**
 * Where the AddressSanitizer runtime a library needs is on this machine: the
 * `libasan.so.N` it names in the usual library directories (or as gcc knows
 * it), clang's runtime for a clang build, and for an ASan build that links
 * none (clang without `-shared-libasan`), clang's shared runtime, else gcc's.
 * `lib/load/sanitizer.ts` preloads what this finds.
 *
 * @example
 * ```ts ignore
 * import { findAsanRuntime } from "./asan_runtime.ts";
 * const runtime = await findAsanRuntime(await readElfDynamic(path)); // "/usr/lib/x86_64-linux-gnu/libasan.so.8.0.0"
 * ```
 *
 * @module
 */
import { asanRuntimeNeeded, type ElfDynamicInfo, sanitizerOf } from "./elf_info.ts";
import { runTool } from "../util/run_tool.ts";
import { readElfDynamic } from "./elf.ts";

/** The multiarch directory name of a machine (`x86_64-linux-gnu`). */
function multiarch(machine: string): string | undefined {
  return machine === "x86_64" || machine === "aarch64" ? `${machine}-linux-gnu` : undefined;
}

/** The directories searched for a `libasan.so.N` the library needs, for its machine. */
function libraryDirs(machine: string): string[] {
  const triple = multiarch(machine);
  const dirs = triple ? [`/lib/${triple}`, `/usr/lib/${triple}`] : [];
  return [...dirs, "/usr/lib64", "/lib64", "/usr/lib", "/lib"];
}

async function existingFile(path: string): Promise<string | undefined> {
  try {
    const real = await Deno.realPath(path);
    return (await Deno.stat(real)).isFile ? real : undefined;
  } catch {
    return undefined;
  }
}

/** What `<compiler> -print-file-name=<name>` finds, as a real path; undefined when it finds nothing (or is missing). */
async function printFileName(compiler: string, name: string): Promise<string | undefined> {
  const run = await runTool(compiler, [`-print-file-name=${name}`]);
  if (!run.ran || run.code !== 0) return undefined;
  const printed = run.stdout.trim();
  // Without a match, gcc and clang print the name back unchanged.
  return printed.startsWith("/") ? await existingFile(printed) : undefined;
}

/** `name` in clang's runtime directory (`clang -print-runtime-dir`), as a real path. */
async function inClangRuntimeDir(name: string): Promise<string | undefined> {
  const run = await runTool("clang", ["-print-runtime-dir"]);
  if (!run.ran || run.code !== 0) return undefined;
  const dir = run.stdout.trim();
  return dir.startsWith("/") ? await existingFile(`${dir}/${name}`) : undefined;
}

/** The names in directory `dir` (none when it cannot be read). */
async function names(dir: string): Promise<string[]> {
  try {
    const out: string[] = [];
    for await (const e of Deno.readDir(dir)) out.push(e.name);
    return out;
  } catch {
    return [];
  }
}

/** clang's resource directories' runtime folders on disk (`/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux`, ...). */
async function clangRuntimeDirs(): Promise<string[]> {
  const dirs: string[] = [];
  for (const root of ["/usr/lib", "/usr/local/lib"]) {
    const resources = (await names(`${root}/clang`)).map((v) => `${root}/clang/${v}`);
    for (const llvm of (await names(root)).filter((n) => n.startsWith("llvm-"))) {
      for (const v of await names(`${root}/${llvm}/lib/clang`)) resources.push(`${root}/${llvm}/lib/clang/${v}`);
    }
    for (const r of resources) for (const os of await names(`${r}/lib`)) dirs.push(`${r}/lib/${os}`);
  }
  return dirs;
}

/**
 * `name` found in clang's runtime folders without running clang (its start
 * costs ~30 ms of every fuzz run of a clang ASan build): the one real file
 * there, or among several (clangs of several versions), the one that defines
 * the ASan ABI version check the library calls
 * (`__asan_version_mismatch_check_vN`). Undefined when none, or several
 * qualify (then clang says which is its own).
 */
async function clangRuntimeOnDisk(name: string, info: ElfDynamicInfo): Promise<string | undefined> {
  const check = [...info.undefined].find((s) => s.startsWith("__asan_version_mismatch_check_"));
  const found = new Set<string>();
  for (const dir of await clangRuntimeDirs()) {
    const real = await existingFile(`${dir}/${name}`);
    if (real) found.add(real);
  }
  if (found.size <= 1) return [...found][0];
  const fitting: string[] = [];
  for (const real of found) {
    try {
      if (check === undefined || (await readElfDynamic(real)).defined.has(check)) fitting.push(real);
    } catch {
      // not an ELF file we can read: not it
    }
  }
  return fitting.length === 1 ? fitting[0] : undefined;
}

async function clangRuntime(name: string, info: ElfDynamicInfo): Promise<string | undefined> {
  return await clangRuntimeOnDisk(name, info) ?? await printFileName("clang", name) ?? await inClangRuntimeDir(name);
}

/**
 * The path of the AddressSanitizer runtime to `LD_PRELOAD` for the library
 * (symlinks resolved), or undefined when it is no ASan build or no runtime is
 * found. A `libasan.so.N` it needs is looked for in the usual library
 * directories, then asked of `gcc -print-file-name`; a `libclang_rt.asan*`
 * is looked for in clang's runtime folders on disk (the one that fits the
 * library's ASan ABI version), else asked of clang; for an ASan build that links no runtime (clang without
 * `-shared-libasan`), clang's shared runtime is preferred, else gcc's
 * `libasan.so`. gcc and clang are run with a deadline; a missing one is
 * skipped.
 */
export async function findAsanRuntime(info: ElfDynamicInfo): Promise<string | undefined> {
  if (sanitizerOf(info) !== "asan") return undefined;
  const needed = asanRuntimeNeeded(info);
  if (needed?.includes("/")) return await existingFile(needed);
  if (needed?.startsWith("libasan")) {
    for (const dir of libraryDirs(info.machine)) {
      const found = await existingFile(`${dir}/${needed}`);
      if (found) return found;
    }
    return await printFileName("gcc", needed);
  }
  if (needed) return await clangRuntime(needed, info);
  const arch = info.machine === "i386" ? "i386" : info.machine;
  return await clangRuntime(`libclang_rt.asan-${arch}.so`, info) ?? await clangRuntime("libclang_rt.asan.so", info) ??
    await printFileName("gcc", "libasan.so");
}
