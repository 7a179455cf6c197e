/**
 * Opening a plugin library the way every engine must: dlopen (marked, so the
 * CLI's watchdog bounds a hanging load-time constructor), every missing
 * required symbol named, the loader's own words kept as the cause, and the
 * ABI major version checked before anything else is called. Used by the
 * in-process engine and by the fuzz child, which must start without zod or
 * LogTape (so nothing here imports them).
 *
 * @example
 * ```ts ignore
 * import { openCheckedLibrary } from "./open_checked.ts";
 * const { library, calls, abi } = openCheckedLibrary(path, path, ProcessGuard.get());
 * ```
 *
 * @module
 */
import { type CallResult, PluginCalls } from "../ffi/calls.ts";
import { openAdapterTarget, openPluginLibrary, type PluginLibrary } from "../ffi/dlopen.ts";
import { copyLibrary, isLibraryLoaded, type LibraryCopy } from "../ffi/private_copy.ts";
import type { ProcessGuard } from "../ffi/process_guard.ts";
import { checkStatus, type GuardContext, parseJsonOutput, takeOutput } from "../errors/guard.ts";
import { abiMismatchError, contractViolationError, loadError } from "../errors/host_errors.ts";
import { PluginError } from "../errors/errors.ts";
import type { AbiVersion } from "../plugin/handle.ts";
import { wrongMachine } from "./elf.ts";
import { type Adapter, adapterFor, givenAdapter } from "./adapters.ts";

/** The npa ABI version this host implements (`major << 16 | minor`). */
export const HOST_ABI_VERSION = (1 << 16) | 0;

/** An opened library whose symbols and ABI major version are right. */
export interface CheckedLibrary {
  library: PluginLibrary;
  optionalPresent: string[];
  calls: PluginCalls;
  abi: AbiVersion;
  /**
   * For a library of another ABI: the adapter that serves it and the private
   * copy of the adapter that `library` is (what the npa entry points are
   * bound from; close it once it is unloaded).
   */
  adapter?: { adapter: Adapter; copy: LibraryCopy };
}

/**
 * Opens the library at `libraryPath` (named `shown` in messages): an npa
 * plugin, a library of an ABI plugcheck has a built-in adapter for
 * (detected), or, given `adapterPath`, whatever that adapter serves (nothing
 * is detected then). Throws `LoadError` or `AbiMismatchError`; on failure
 * nothing stays open.
 */
export function openCheckedLibrary(
  libraryPath: string,
  shown: string,
  guard: ProcessGuard,
  adapterPath?: string,
): CheckedLibrary {
  if (adapterPath !== undefined) return openThroughAdapter(libraryPath, shown, guard, givenAdapter(adapterPath));
  return openLibrary(libraryPath, shown, guard, true);
}

/** Opens an npa plugin; with `detect`, a library of another ABI goes through its built-in adapter. */
function openLibrary(libraryPath: string, shown: string, guard: ProcessGuard, detect: boolean): CheckedLibrary {
  let opened;
  try {
    opened = openPluginLibrary(libraryPath, (fn) => guard.sync(`load plugin ${JSON.stringify(shown)}`, fn));
  } catch (cause) {
    // glibc refuses another machine's library as "No such file or directory": the ELF header says what is wrong.
    const machine = wrongMachine(libraryPath);
    if (machine !== undefined) throw loadError(shown, machine);
    const reason = "not a loadable shared library (the file exists, but the dynamic loader refused it)";
    throw loadError(shown, reason, loaderError(cause, libraryPath));
  }
  if (!opened.ok && "entry" in opened) {
    if (!detect) opened.hold.close(); // an adapter's copy is opened as npa, whatever else it exports
    else {
      try {
        return openThroughAdapter(libraryPath, shown, guard, adapterFor(opened.entry)!);
      } finally {
        opened.hold.close(); // the adapter holds the library now (or nothing does)
      }
    }
  }
  if (!opened.ok) {
    const s = opened.missing.length > 1 ? "s" : "";
    throw loadError(shown, `missing required symbol${s} ${opened.missing.join(", ")}`);
  }
  const calls = new PluginCalls(opened.library, guard);
  const raw = calls.abiVersion();
  const abi = { major: raw >>> 16, minor: raw & 0xffff, raw };
  if (abi.major !== HOST_ABI_VERSION >>> 16) {
    opened.library.close();
    throw abiMismatchError(shown, raw, HOST_ABI_VERSION);
  }
  return { library: opened.library, optionalPresent: opened.optionalPresent, calls, abi };
}

/**
 * Opens a private copy of `adapter` as the npa plugin and tells it to serve
 * the library at `libraryPath` (its constructors run there, under the
 * watchdog). A LoadError when the adapter is missing, is no adapter, or
 * refuses the library; messages name an adapter the caller gave by its file.
 */
function openThroughAdapter(libraryPath: string, shown: string, guard: ProcessGuard, adapter: Adapter): CheckedLibrary {
  let copy: LibraryCopy;
  try {
    copy = copyLibrary(adapter.path());
  } catch (cause) {
    const why = adapter.given
      ? `${adapter.title} cannot be read`
      : `a ${adapter.title} library, but plugcheck's ${adapter.abi} adapter cannot be opened (run \`deno task build\`)`;
    throw loadError(shown, why, cause);
  }
  let checked: CheckedLibrary | undefined;
  try {
    checked = openAdapterCopy(copy.path, shown, guard, adapter);
    const mark = <T>(fn: () => T) => guard.sync(`load plugin ${JSON.stringify(shown)}`, fn);
    const r = openAdapterTarget(copy.path, libraryPath, mark);
    if (r === null) {
      throw loadError(
        shown,
        adapter.given
          ? `${adapter.abi} is not an adapter: it exports no npa_adapter_open (see docs/adapters.md)`
          : `a ${adapter.title} library, but plugcheck's ${adapter.abi} adapter exports no npa_adapter_open`,
      );
    }
    try {
      const free = checked.calls.free;
      const op = adapter.given ? `serve the library through ${adapter.title}` : `open the ${adapter.title} library`;
      checkStatus(op, r.status, r.err, { free, maxOutputBytes: 64 * 1024, warn: () => {} });
    } catch (e) {
      const said = e instanceof PluginError ? e.pluginMessage ?? e.message : String(e);
      const why = adapter.given
        ? `${adapter.title} refused it: ${said}`
        : `a ${adapter.title} library that plugcheck's adapter cannot serve: ${said}`;
      throw loadError(shown, why, e);
    }
    return { ...checked, adapter: { adapter, copy } };
  } catch (e) {
    checked?.library.close();
    if (!isLibraryLoaded(copy.path)) copy.close();
    throw e;
  }
}

/** The adapter's copy opened as an npa plugin; for an adapter the caller gave, a failure says it is the adapter's. */
function openAdapterCopy(path: string, shown: string, guard: ProcessGuard, adapter: Adapter): CheckedLibrary {
  try {
    return openLibrary(path, adapter.given ? adapter.abi : shown, guard, false);
  } catch (e) {
    if (!adapter.given || !(e instanceof PluginError) || e.operation !== "load") throw e;
    const reason = e.message.replace(/^Cannot load plugin "(?:[^"\\]|\\.)*": /, "");
    throw loadError(shown, `${adapter.abi} is not an adapter: ${reason} (see docs/adapters.md)`, e);
  }
}

/** Parsed `npa_plugin_stats()` counters, or `null` when the plugin lacks the capability. Throws the typed error. */
export function readStats(calls: PluginCalls, guard: GuardContext): Record<string, number> | null {
  const r = calls.stats();
  return r === null ? null : judgeStats(r, guard);
}

/**
 * The counters of an `npa_plugin_stats` call's result, judged by `guard`
 * (its buffers freed, or read from what a fork server's worker sent). Throws
 * the typed error for a bad status or a document that breaks the contract.
 */
export function judgeStats(r: CallResult, guard: GuardContext): Record<string, number> {
  const op = "read stats";
  checkStatus(op, r.status, r.err, guard, r.out);
  const json = parseJsonOutput(op, takeOutput(op, r.out, guard));
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw contractViolationError(op, "stats output is not a JSON object");
  }
  const stats: Record<string, number> = {};
  for (const [k, v] of Object.entries(json)) {
    if (typeof v !== "number") throw contractViolationError(op, `stats counter ${JSON.stringify(k)} is not a number`);
    stats[k] = v;
  }
  for (const k of ["live_instances", "live_buffers", "init_calls"]) {
    if (!(k in stats)) throw contractViolationError(op, `stats lacks the required counter ${JSON.stringify(k)}`);
  }
  return stats;
}

/** The dynamic loader's own words from a dlopen error, without Deno's prefix and the path (the rest adds nothing). */
function loaderError(cause: unknown, path: string): Error {
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new Error(msg.replace(/^(Could not open library: )+/, "").replace(`${path}: `, ""));
}
