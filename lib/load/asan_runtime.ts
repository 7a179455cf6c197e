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

async function clangRuntime(name: string): Promise<string | undefined> {
  return await printFileName("clang", name) ?? await inClangRuntimeDir(name);
}

/**
 * The path of the AddressSanitizer runtime to `LD_PRELOAD` for the library
 * (symlinks resolved), or undefined when it is no ASan build or no runtime is
 * found. A `libasan.so.N` it needs is looked for in the usual library
 * directories, then asked of `gcc -print-file-name`; a `libclang_rt.asan*`
 * is asked of clang; for an ASan build that links no runtime (clang without
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
  if (needed) return await clangRuntime(needed);
  const arch = info.machine === "i386" ? "i386" : info.machine;
  return await clangRuntime(`libclang_rt.asan-${arch}.so`) ?? await clangRuntime("libclang_rt.asan.so") ??
    await printFileName("gcc", "libasan.so");
}
