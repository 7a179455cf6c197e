/**
 * Libraries built with AddressSanitizer: its runtime must be the first
 * library of the process that loads them (a plain `dlopen` makes ASan end
 * the whole process with one line on stderr). So a sandbox child for such a
 * library starts with the runtime preloaded (`LD_PRELOAD`, and
 * `ASAN_OPTIONS` that stop at the first error with a signal and leave leak
 * reports off), and loading one in a process without the runtime is a
 * `LoadError` that says to isolate it, before anything is opened.
 *
 * Libraries built with SanitizerCoverage need plugcheck's coverage runtime
 * (`lib/load/coverage_runtime.ts`): preloaded in children, before the ASan
 * runtime when there is one (ASan's own weak coverage hooks would win
 * otherwise, so ASan is told not to insist on coming first), and loaded into
 * the global scope before an in-process load.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileURLToPath } from "node:url";
 * import { sanitizerEnv } from "./sanitizer.ts";
 * // The C reference plugin (deno task build) has no sanitizer: a child for it preloads nothing.
 * // For an ASan build: { LD_PRELOAD: ".../libasan.so.8", ASAN_OPTIONS: "abort_on_error=1:..." }.
 * const path = fileURLToPath(new URL("../../build/fixtures/libref_c.so", import.meta.url));
 * assert.deepEqual(await sanitizerEnv(path), {});
 * ```
 *
 * @module
 */
import { findAsanRuntime } from "./asan_runtime.ts";
import { loadCoverageRuntime, requireCoverageRuntime } from "./coverage_runtime.ts";
import { readElfDynamic } from "./elf.ts";
import { asanRuntimeNeeded, type ElfDynamicInfo, sanitizerOf, usesSanitizerCoverage } from "./elf_info.ts";
import { isLibraryLoaded } from "../ffi/private_copy.ts";
import { loadError } from "../errors/host_errors.ts";

/**
 * The options an ASan child runs with: the first error aborts (a signal the parent sees); no leak report;
 * `symbolize` as asked; `afterCoverage`: the coverage runtime is preloaded first, which ASan would refuse.
 */
function asanOptions(o: { symbolize: boolean; afterCoverage: boolean }): string {
  return `abort_on_error=1:detect_leaks=0:symbolize=${
    o.symbolize ? 1 : 0
  }:allocator_may_return_null=1:handle_abort=0:` +
    `print_summary=1${o.afterCoverage ? ":verify_asan_link_order=0" : ""}`;
}

/** The options an ASan child runs with, symbolizing its reports. */
export const ASAN_OPTIONS = asanOptions({ symbolize: true, afterCoverage: false });

/** The library's dynamic section, or undefined when it is no ELF file plugcheck can read (dlopen will say why). */
async function elfOf(path: string): Promise<ElfDynamicInfo | undefined> {
  try {
    return await readElfDynamic(path);
  } catch {
    return undefined;
  }
}

/**
 * The environment a child needs to load the library at `path`: the coverage
 * runtime preloaded for a SanitizerCoverage build (`coverageRuntime`: for any
 * library, as a fuzz child wants for its interposers), the ASan runtime for an
 * ASan build (`asan`: true preloads it for any library, false never),
 * nothing otherwise. `symbolize: false` keeps ASan from symbolizing its
 * reports (it starts llvm-symbolizer in every process that reports, ~80 ms;
 * a fuzz run symbolizes once per bug, itself). `LoadError` when a runtime is
 * missing.
 */
export async function sanitizerEnv(
  path: string,
  o: {
    info?: ElfDynamicInfo | undefined;
    asan?: boolean | undefined;
    coverageRuntime?: boolean | undefined;
    symbolize?: boolean | undefined;
  } = {},
): Promise<Record<string, string>> {
  const elf = o.info ?? await elfOf(path);
  const instrumented = elf !== undefined && usesSanitizerCoverage(elf);
  const coverage = instrumented || o.coverageRuntime === true ? requireCoverageRuntime(path) : undefined;
  const runtime = o.asan === false ? undefined : await asanRuntime(path, elf, o.asan === true);
  const symbolize = o.symbolize !== false;
  if (runtime === undefined) return coverage === undefined ? {} : { LD_PRELOAD: coverage };
  return coverage === undefined
    ? { LD_PRELOAD: runtime, ASAN_OPTIONS: asanOptions({ symbolize, afterCoverage: false }) }
    : { LD_PRELOAD: `${coverage}:${runtime}`, ASAN_OPTIONS: asanOptions({ symbolize, afterCoverage: true }) };
}

/** The ASan runtime to preload for the library (undefined: none wanted); `LoadError` when it is wanted and missing. */
async function asanRuntime(path: string, elf: ElfDynamicInfo | undefined, force: boolean): Promise<string | undefined> {
  const asan = elf !== undefined && sanitizerOf(elf) === "asan";
  if (!asan && !force) return undefined;
  // Forced on a library that names no runtime: gcc's or clang's, whichever is there.
  const runtime = await findAsanRuntime(
    asan
      ? elf
      : { needed: [], defined: new Set(), undefined: new Set(["__asan_init"]), machine: elf?.machine ?? "x86_64" },
  );
  if (runtime === undefined) {
    throw loadError(
      path,
      "it is an AddressSanitizer build, but no ASan runtime to preload was found (install gcc's libasan or clang)",
    );
  }
  return runtime;
}

/**
 * Readies this process to load the library at `path`: loads the coverage
 * runtime for a SanitizerCoverage build, and refuses (`LoadError`) an ASan
 * build when this process has no ASan runtime loaded (dlopen would end the
 * process).
 */
export async function checkSanitizerInProcess(path: string): Promise<void> {
  const elf = await elfOf(path);
  if (elf !== undefined && usesSanitizerCoverage(elf)) loadCoverageRuntime(path);
  if (elf === undefined || sanitizerOf(elf) !== "asan") return;
  const needed = asanRuntimeNeeded(elf);
  const runtime = needed ?? await findAsanRuntime(elf);
  if (runtime !== undefined && isLibraryLoaded(runtime)) return;
  throw loadError(
    path,
    "it is an AddressSanitizer build, and this process has no ASan runtime loaded (its dlopen would end the process): run it isolated (--isolate, or isolate: true), which preloads the runtime in the sandbox child",
  );
}
