/**
 * plugcheck's SanitizerCoverage runtime (`native/coverage/npa_cov.c`, built
 * into `build/libnpa_cov.so` next to the native helper). A plugin compiled
 * with `-fsanitize-coverage=...` calls its hooks from the moment it loads,
 * and `dlopen` of such a plugin without them ends the process ("undefined
 * symbol"), so every process that loads one has the runtime first: sandbox
 * and fuzz children preload it (`LD_PRELOAD`, which also lets it see
 * `memcmp` and friends), and the plugcheck process itself loads it into the
 * global scope before an in-process load.
 *
 * @example
 * ```ts ignore
 * import { coverageRuntimePath, loadCoverageRuntime } from "./coverage_runtime.ts";
 * console.log(coverageRuntimePath()); // .../build/libnpa_cov.so
 * loadCoverageRuntime(pluginPath); // LoadError when it is missing
 * ```
 *
 * @module
 */
import { libraryFileName } from "../ffi/dlopen.ts";
import { loadGlobally } from "../ffi/load_global.ts";
import { hostLibraryPath } from "../ffi/native_helper.ts";
import { isLibraryLoaded } from "../ffi/private_copy.ts";
import { loadError } from "../errors/host_errors.ts";

/** Where the runtime is: next to the native helper (`deno task build` makes both). */
export function coverageRuntimePath(): string {
  const host = hostLibraryPath();
  return host.slice(0, host.lastIndexOf("/") + 1) + libraryFileName("npa_cov");
}

/** The runtime's path for a child of a plugin at `pluginPath`; `LoadError` when it was never built. */
export function requireCoverageRuntime(pluginPath: string): string {
  const path = coverageRuntimePath();
  try {
    Deno.statSync(path);
  } catch {
    throw loadError(
      pluginPath,
      `it is built with SanitizerCoverage, and plugcheck's coverage runtime ${path} is missing (run \`deno task build\`)`,
    );
  }
  return path;
}

/** Makes the runtime's hooks visible to libraries loaded after this (once per process). `LoadError` on failure. */
export function loadCoverageRuntime(pluginPath: string): void {
  // Preloaded (a sandbox child, which may not even read the file): nothing to do.
  if (isLibraryLoaded(coverageRuntimePath())) return;
  const path = requireCoverageRuntime(pluginPath);
  try {
    loadGlobally(path);
  } catch (cause) {
    throw loadError(pluginPath, `cannot load plugcheck's coverage runtime ${path}`, cause);
  }
}
