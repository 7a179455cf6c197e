/**
 * Opening native libraries: path resolution, the sha256 pin (checked before
 * `dlopen`), and binding the npa symbol table with every missing symbol named.
 *
 * Failures are returned as data or rethrown as the raw error; the guard turns
 * them into `LoadError`s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256File } from "./dlopen.ts";
 * const hex = await sha256File(new URL(import.meta.url).pathname);
 * assert.ok(hex.length === 64);
 * ```
 *
 * @module
 */
import {
  ADAPTER_SYMBOLS,
  FOREIGN_ENTRY_SYMBOLS,
  OPTIONAL_SYMBOLS,
  PLUGIN_SYMBOLS,
  PROBE_SYMBOLS,
  REQUIRED_SYMBOLS,
} from "./symbols.ts";
import { NpaBufSlot, type RawBuf } from "./memory.ts";

/** The bound plugin library. */
export type PluginLibrary = Deno.DynamicLibrary<typeof PLUGIN_SYMBOLS>;
/** The bound symbols; required ones are checked non-null before use. */
export type PluginSymbols = PluginLibrary["symbols"];

/** The file name of a shared library called `name` on this OS (`libname.so`, ...). */
export function libraryFileName(name: string): string {
  switch (Deno.build.os) {
    case "windows":
      return `${name}.dll`;
    case "darwin":
      return `lib${name}.dylib`;
    default:
      return `lib${name}.so`;
  }
}

/** Hex SHA-256 of a file's bytes. */
export async function sha256File(path: string): Promise<string> {
  const data = await Deno.readFile(path);
  const digest = await crypto.subtle.digest("SHA-256", data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The outcome of binding a plugin's symbols. */
export type OpenedPlugin =
  | { ok: true; library: PluginLibrary; optionalPresent: string[] }
  /** Required C symbols the library lacks; nothing stays open. */
  | { ok: false; missing: string[]; abiVersion: number | undefined }
  /**
   * A library of another ABI (it exports that ABI's entry point, `entry`):
   * `hold` keeps it loaded, so the adapter that serves it opens the same
   * image (its constructors run once); close it once the adapter has.
   */
  | { ok: false; missing: string[]; abiVersion: undefined; entry: string; hold: { close(): void } };

/**
 * dlopen + bind. Presence is probed with sync bindings first (see
 * `PROBE_SYMBOLS`); the real table is bound only when every required symbol
 * exists. Throws the raw error when the file cannot be opened at all. `mark`
 * wraps the dlopen, which runs the library's constructors (the CLI's
 * watchdog bounds it).
 */
export function openPluginLibrary(
  path: string,
  mark: <T>(fn: () => T) => T = (fn) => fn(),
): OpenedPlugin {
  let probe: { close(): void; symbols: unknown } | undefined = mark(() => Deno.dlopen(path, PROBE_SYMBOLS));
  try {
    const found = probe.symbols as Record<string, unknown>;
    const missing = REQUIRED_SYMBOLS.filter((name) => found[name] === null);
    const entry = FOREIGN_ENTRY_SYMBOLS.find((name) => found[name] !== null);
    if (missing.includes("npa_abi_version") && entry !== undefined) {
      const hold = probe;
      probe = undefined;
      return { ok: false, missing: [...missing], abiVersion: undefined, entry, hold };
    }
    if (missing.length > 0) {
      // What the library says its ABI is, when it can say it (the check reports it next to what is missing).
      const abiVersion = missing.includes("npa_abi_version") ? undefined : readAbiVersion(path);
      return { ok: false, missing: [...missing], abiVersion };
    }
    const optionalPresent = OPTIONAL_SYMBOLS.filter((name) => found[name] !== null);
    // Opened while the probe handle still holds the library: no second load.
    return { ok: true, library: Deno.dlopen(path, PLUGIN_SYMBOLS), optionalPresent: [...optionalPresent] };
  } finally {
    probe?.close();
  }
}

/**
 * Tells an opened adapter which library it serves (`npa_adapter_open`, where
 * the target's constructors run: `mark` wraps it). Returns the status and
 * the adapter's error buffer (to free with its `npa_buffer_free`), or `null`
 * when the library exports no `npa_adapter_open` (it is no adapter).
 */
export function openAdapterTarget(
  adapterPath: string,
  targetPath: string,
  mark: <T>(fn: () => T) => T = (fn) => fn(),
): { status: number; err: RawBuf } | null {
  const lib = Deno.dlopen(adapterPath, ADAPTER_SYMBOLS);
  try {
    const open = lib.symbols.npa_adapter_open;
    if (open === null) return null;
    const path = new TextEncoder().encode(targetPath);
    const err = new NpaBufSlot();
    const status = mark(() => open(path, BigInt(path.length), err.bytes));
    return { status, err: err.read() };
  } finally {
    lib.close(); // the plugin's own handle keeps the adapter loaded
  }
}

/** `npa_abi_version()` of a library that is open already (the probe holds it). */
function readAbiVersion(path: string): number {
  const lib = Deno.dlopen(path, { npa_abi_version: { parameters: [], result: "u32" } });
  try {
    return lib.symbols.npa_abi_version();
  } finally {
    lib.close();
  }
}

/** A libFuzzer-style harness: `int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)`. */
const HARNESS_SYMBOLS = {
  // int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
  LLVMFuzzerTestOneInput: { parameters: ["buffer", "usize"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * dlopen of a libFuzzer harness, kept open for the life of the process (the
 * fuzz loop calls it from C). Throws the raw error, also when it lacks
 * `LLVMFuzzerTestOneInput`.
 */
export function openHarnessLibrary(
  path: string,
  mark: <T>(fn: () => T) => T = (fn) => fn(),
): Deno.DynamicLibrary<typeof HARNESS_SYMBOLS> {
  return mark(() => Deno.dlopen(path, HARNESS_SYMBOLS));
}
