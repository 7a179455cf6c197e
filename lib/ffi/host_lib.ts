/**
 * plugcheck's native helper library (`native/`, built into
 * `build/libnpa_host.so`), opened once per process and never closed: plugins
 * may call its log functions at any time, and its guard threads live as long
 * as the process.
 *
 * @example
 * ```ts
 * import { defaultHostLibraryPath } from "./host_lib.ts";
 * console.assert(defaultHostLibraryPath().endsWith(".so") || Deno.build.os !== "linux");
 * ```
 *
 * @module
 */
import { libraryFileName } from "./library.ts";
import { HOST_SYMBOLS } from "./symbols.ts";

/** The bound helper. */
export type HostLibrary = Deno.DynamicLibrary<typeof HOST_SYMBOLS>;

/** The helper to load: the explicit path, else `$PLUGCHECK_HOST_LIB`, else {@link defaultHostLibraryPath}. */
export function hostLibraryPath(explicit?: string): string {
  return explicit ?? Deno.env.get("PLUGCHECK_HOST_LIB") ?? defaultHostLibraryPath();
}

/** Where `deno task build` puts the helper. */
export function defaultHostLibraryPath(): string {
  // Not node:url's fileURLToPath: a node: import costs a sandbox child ~11 ms at start.
  return decodeURIComponent(new URL(`../../build/${libraryFileName("npa_host")}`, import.meta.url).pathname);
}

let opened: HostLibrary | undefined;

/** The helper, opened on first use (the first caller's path wins). Throws the raw error. */
export function hostLibrary(explicit?: string): HostLibrary {
  opened ??= Deno.dlopen(hostLibraryPath(explicit), HOST_SYMBOLS);
  return opened;
}
