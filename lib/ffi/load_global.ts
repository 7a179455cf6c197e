/**
 * Loading a library into the process's global scope. `Deno.dlopen` loads
 * privately (RTLD_LOCAL), so a library it loads later cannot resolve its
 * undefined symbols against another library Deno loaded; one loaded here
 * (RTLD_GLOBAL, through the helper, and never unloaded) serves every library
 * loaded after it. plugcheck's SanitizerCoverage runtime is loaded this way
 * before an instrumented plugin, in a process that did not preload it.
 *
 * @example
 * ```ts ignore
 * import { loadGlobally } from "./load_global.ts";
 * loadGlobally("build/libnpa_cov.so"); // throws the loader's message on failure
 * ```
 *
 * @module
 */
import { hostSymbols } from "./native_helper.ts";
import { HOST_COPY_SYMBOLS } from "./symbols.ts";

/** Loads the library at `path` RTLD_GLOBAL for the rest of the process. Throws the loader's message. */
export function loadGlobally(path: string): void {
  const bytes = new TextEncoder().encode(path);
  const msg = new Uint8Array(1024);
  const rc = hostSymbols(HOST_COPY_SYMBOLS).npah_load_global(bytes, bytes.length, msg, msg.length);
  if (rc === 0) return;
  const end = msg.indexOf(0);
  throw new Error(new TextDecoder().decode(msg.subarray(0, end < 0 ? msg.length : end)));
}
