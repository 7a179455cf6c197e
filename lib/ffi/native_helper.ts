/**
 * plugcheck's native helper library (`native/`, built into
 * `build/libnpa_host.so`), opened once per part of lib/ffi with that part's
 * symbol table (binding costs ~170 us a symbol, so a sandbox child binds only
 * what it uses) and never closed: plugins may call its log functions at any
 * time, and its guard threads live as long as the process. Every table opens
 * the same library (the loader counts the handles; there is one copy).
 *
 * Which helper a process uses is one process setting, resolved here once:
 * `$PLUGCHECK_HOST_LIB`, else where `deno task build` puts it. A sandbox child
 * is handed its parent's choice in that variable (`lib/sandbox/spawn.ts`), so
 * parent and children always use the same helper and no engine passes a path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostLibraryPath } from "./native_helper.ts";
 * assert.ok(hostLibraryPath().endsWith(".so") || Deno.build.os !== "linux");
 * ```
 *
 * @module
 */
import { libraryFileName } from "./dlopen.ts";

/** The environment variable that names the helper (and carries it to sandbox children). */
export const HOST_LIB_ENV = "PLUGCHECK_HOST_LIB";

let chosenPath: string | undefined;

/** The helper this process uses: `$PLUGCHECK_HOST_LIB`, else {@link defaultHostLibraryPath}; settled at the first call. */
export function hostLibraryPath(): string {
  chosenPath ??= Deno.env.get(HOST_LIB_ENV) || defaultHostLibraryPath();
  return chosenPath;
}

/** Where `deno task build` puts the helper. */
export function defaultHostLibraryPath(): string {
  // Not node:url's fileURLToPath: a node: import costs a sandbox child ~11 ms at start.
  return decodeURIComponent(new URL(`../../build/${libraryFileName("npa_host")}`, import.meta.url).pathname);
}

/** The helper's symbols as one table binds them. */
export type HostSymbols<T extends Deno.ForeignLibraryInterface> = Deno.DynamicLibrary<T>["symbols"];

const opened = new Map<Deno.ForeignLibraryInterface, Deno.DynamicLibrary<Deno.ForeignLibraryInterface>>();

/** The helper bound with `table`, opened on first use. Throws the raw error. */
export function hostSymbols<T extends Deno.ForeignLibraryInterface>(table: T): HostSymbols<T> {
  let lib = opened.get(table);
  if (lib === undefined) {
    lib = Deno.dlopen(hostLibraryPath(), table) as Deno.DynamicLibrary<Deno.ForeignLibraryInterface>;
    opened.set(table, lib);
  }
  return lib.symbols as HostSymbols<T>;
}
