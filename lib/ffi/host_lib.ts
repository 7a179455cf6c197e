/**
 * plugcheck's native helper library (`native/`, built into
 * `build/libnpa_host.so`), opened once per part of lib/ffi with that part's
 * symbol table (binding costs ~170 us a symbol, so a sandbox child binds only
 * what it uses) and never closed: plugins may call its log functions at any
 * time, and its guard threads live as long as the process. Every table opens
 * the same library (the loader counts the handles; there is one copy).
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

/** The helper to load: the explicit path, else `$PLUGCHECK_HOST_LIB`, else {@link defaultHostLibraryPath}. */
export function hostLibraryPath(explicit?: string): string {
  return explicit ?? Deno.env.get("PLUGCHECK_HOST_LIB") ?? defaultHostLibraryPath();
}

/** Where `deno task build` puts the helper. */
export function defaultHostLibraryPath(): string {
  // Not node:url's fileURLToPath: a node: import costs a sandbox child ~11 ms at start.
  return decodeURIComponent(new URL(`../../build/${libraryFileName("npa_host")}`, import.meta.url).pathname);
}

/** The helper's symbols as one table binds them. */
export type HostSymbols<T extends Deno.ForeignLibraryInterface> = Deno.DynamicLibrary<T>["symbols"];

let chosenPath: string | undefined;
const opened = new Map<Deno.ForeignLibraryInterface, Deno.DynamicLibrary<Deno.ForeignLibraryInterface>>();

/** The helper bound with `table`, opened on first use (the first caller's path wins). Throws the raw error. */
export function hostSymbols<T extends Deno.ForeignLibraryInterface>(table: T, explicit?: string): HostSymbols<T> {
  let lib = opened.get(table);
  if (lib === undefined) {
    chosenPath ??= hostLibraryPath(explicit);
    lib = Deno.dlopen(chosenPath, table) as Deno.DynamicLibrary<Deno.ForeignLibraryInterface>;
    opened.set(table, lib);
  }
  return lib.symbols as HostSymbols<T>;
}
