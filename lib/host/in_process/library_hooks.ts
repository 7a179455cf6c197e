/**
 * Rebinding a freshly loaded library's own import slots to plugcheck's native
 * helper: its `_exit`, `_Exit`, `quick_exit` and `exit` to the exit guard
 * (`npah_exits.c`), its `pthread_create` to the thread records
 * (`npah_threads.c`), and on request its allocation functions to the heap
 * records (`npah_heap.c`). All are best effort: a library that cannot be rebound
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
import { PluginHeap } from "../../ffi/plugin_heap.ts";
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

/** A library whose heap the helper counts: its id there, and the files its stacks' private copies stand for. */
export interface HookedHeap {
  id: number;
  /** Module paths as mapped (a private copy of the plugin, of its adapter) -> the file users know. */
  aliases: Record<string, string>;
}

/**
 * Counts the heap of the library at `path` (opened by that path, maybe a
 * private copy of `shown`; `adapter`: the copy of the adapter that serves
 * it, if one); undefined (and said once) when the helper cannot.
 */
export function hookHeap(
  path: string,
  shown: string,
  adapter: { adapter: { path(): string }; copy: { path: string } } | undefined,
  lifecycleLog: Logger,
): HookedHeap | undefined {
  let id: number;
  try {
    id = PluginHeap.get().hook(path);
  } catch (e) {
    id = -1;
    lifecycleLog.warning("cannot count the plugin's heap: {message}", { message: e instanceof Error ? e.message : e });
  }
  const aliases: Record<string, string> = { [path]: shown };
  if (adapter !== undefined) aliases[adapter.copy.path] = adapter.adapter.path();
  if (id >= 0) return { id, aliases };
  if (!saidNoHeap) {
    saidNoHeap = true;
    lifecycleLog.info("the plugin's heap cannot be counted here (error {code}): heap checks are skipped", {
      code: -id,
    });
  }
  return undefined;
}

let saidNoHeap = false;

/** Drops the heap records of an unloaded library (its slot serves the next one hooked). */
export function forgetHeap(heap: HookedHeap): void {
  PluginHeap.get().forget(heap.id);
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
