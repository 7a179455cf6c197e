/**
 * What a shared library is, from its dynamic section and symbols
 * ({@link ElfDynamicInfo}, read by `readElfDynamic` in `elf.ts`): an
 * AddressSanitizer build (and which runtime it links), a libFuzzer harness
 * rather than an npa plugin, a SanitizerCoverage build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { asanRuntimeNeeded, isLibFuzzerHarness, sanitizerOf } from "./elf_info.ts";
 * const info = {
 *   needed: ["libasan.so.8", "libc.so.6"],
 *   defined: new Set(["LLVMFuzzerTestOneInput"]),
 *   undefined: new Set(["__asan_init"]),
 *   machine: "x86_64",
 * };
 * assert.equal(sanitizerOf(info), "asan");
 * assert.equal(asanRuntimeNeeded(info), "libasan.so.8");
 * assert.equal(isLibFuzzerHarness(info), true);
 * ```
 *
 * @module
 */

/** What `readElfDynamic` (`elf.ts`) reads from a shared library. */
export interface ElfDynamicInfo {
  /** The `DT_NEEDED` entries of the dynamic section, in order (`libc.so.6`, ...). */
  needed: string[];
  /** Names of the global and weak dynamic symbols (functions and objects) the file defines. */
  defined: Set<string>;
  /** Names of the dynamic symbols the file expects from other libraries (weak ones included). */
  undefined: Set<string>;
  /** The machine: `x86_64`, `aarch64`, ... (`machine 123` for one without a name here). */
  machine: string;
}

/** Whether a `DT_NEEDED` name is an AddressSanitizer runtime (`libasan.so.8`, `libclang_rt.asan-x86_64.so`). */
function isAsanRuntimeName(name: string): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return /^libasan\.so(\.\d+)*$/.test(base) || base.startsWith("libclang_rt.asan");
}

/** The `DT_NEEDED` name of the AddressSanitizer runtime the library links, if it links one. */
export function asanRuntimeNeeded(info: ElfDynamicInfo): string | undefined {
  return info.needed.find(isAsanRuntimeName);
}

/**
 * `"asan"` when the library was built with AddressSanitizer: it needs an ASan
 * runtime, or it refers to `__asan_init` (whose runtime the loading process
 * must then provide: clang without `-shared-libasan`).
 */
export function sanitizerOf(info: ElfDynamicInfo): "asan" | undefined {
  if (asanRuntimeNeeded(info) !== undefined) return "asan";
  if (info.undefined.has("__asan_init")) return "asan";
  return undefined;
}

/** Whether the library is a libFuzzer harness: it exports `LLVMFuzzerTestOneInput` and no `npa_*` symbol. */
export function isLibFuzzerHarness(info: ElfDynamicInfo): boolean {
  if (!info.defined.has("LLVMFuzzerTestOneInput")) return false;
  for (const name of info.defined) if (name.startsWith("npa_")) return false;
  return true;
}

/** Whether the library was built with SanitizerCoverage: it refers to `__sanitizer_cov_*` functions it does not define. */
export function usesSanitizerCoverage(info: ElfDynamicInfo): boolean {
  for (const name of info.undefined) if (name.startsWith("__sanitizer_cov_")) return true;
  return false;
}
