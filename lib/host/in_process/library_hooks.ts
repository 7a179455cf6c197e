/**
 * Rebinding a freshly loaded library's own import slots to plugcheck's native
 * helper: its `_exit`, `_Exit`, `quick_exit` and `exit` to the exit guard
 * (`npah_exits.c`), its `pthread_create` to the thread records
 * (`npah_threads.c`). Both are best effort: a library that cannot be rebound
 * (another architecture, no such import) still loads.
 *
 * @example
 * ```ts ignore
 * import { hookExits, hookThreads } from "./library_hooks.ts";
 * hookExits(ProcessGuard.get(), libraryPath, "libecho.so", log);
 * const threads = hookThreads(libraryPath); // undefined: not recorded
 * ```
 *
 * @module
 */
import type { Logger } from "../../plugin/log_out.ts";
import type { ProcessGuard } from "../../ffi/process_guard.ts";
import { PluginThreads } from "../../ffi/plugin_threads.ts";

let saidNoExitHooks = false;

/**
 * Rebinds the library's own `_exit`, `_Exit`, `quick_exit` and `exit` to the
 * exit guard (best effort: a library it cannot rebind still loads).
 */
export function hookExits(
  guard: ProcessGuard,
  libraryPath: string,
  shown: string,
  lifecycleLog: Logger,
): void {
  try {
    if (guard.hookExits(libraryPath) < 0 && !saidNoExitHooks) {
      saidNoExitHooks = true;
      lifecycleLog.info(
        "a plugin's _exit() and quick_exit() cannot be caught in process on this architecture (x86-64 only); use --isolate",
      );
    }
  } catch (e) {
    lifecycleLog.warning("{plugin}: {message}", { plugin: shown, message: e instanceof Error ? e.message : String(e) });
  }
}

/** Records the threads the library at `path` starts (see `plugin_threads.ts`); undefined when the helper cannot. */
export function hookThreads(path: string): PluginThreads | undefined {
  try {
    const threads = PluginThreads.get();
    return threads.hook(path) >= 0 ? threads : undefined;
  } catch {
    return undefined;
  }
}
