/**
 * The adapter seam: plugin ABIs other than npa, served through an adapter.
 * An adapter is a native library that exports the npa symbols and one more,
 * `npa_adapter_open(target)`, and serves the plugins of a library of its ABI
 * as npa methods (docs/adapters.md). plugcheck opens a private copy of the
 * adapter for each library it serves (the npa entry points are global to an
 * image), so every engine sees an npa plugin and none knows the ABI.
 *
 * A library is served through an adapter in one of two ways: plugcheck
 * detects a built-in one (`ADAPTERS`: the library exports that ABI's entry
 * point and no npa symbols), or the caller names one (`LoadOptions.adapter`,
 * `--adapter PATH`: {@link givenAdapter}), and then nothing is detected.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adapterFor, ADAPTERS, givenAdapter } from "./adapters.ts";
 * assert.equal(adapterFor("ladspa_descriptor")?.abi, "ladspa");
 * assert.equal(adapterFor("npa_abi_version"), undefined);
 * assert.ok(ADAPTERS.every((a) => a.path().endsWith(".so")));
 * assert.equal(givenAdapter("/opt/toy/libtoy_adapter.so").title, "the adapter libtoy_adapter.so");
 * ```
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { libraryFileName } from "../ffi/dlopen.ts";
import { hostLibraryPath } from "../ffi/native_helper.ts";

/** A plugin ABI plugcheck serves through an adapter. */
export interface Adapter {
  /** Its short name (`--abi`, reports); for an adapter the caller named, its file name. */
  abi: string;
  /** What users read: "LADSPA 1.1", or "the adapter libtoy_adapter.so" for one the caller named. */
  title: string;
  /** The symbol a library of this ABI exports (how it is recognized); none for an adapter the caller named. */
  entry?: string;
  /** Where the adapter library is: next to plugcheck's native helper, in `adapters/`, or where the caller said. */
  path(): string;
  /** Named by the caller (`LoadOptions.adapter`), not detected. */
  given?: true;
}

/** The adapters plugcheck has. */
export const ADAPTERS: readonly Adapter[] = [
  {
    abi: "ladspa",
    title: "LADSPA 1.1",
    entry: "ladspa_descriptor",
    path: () => join(dirname(hostLibraryPath()), "adapters", libraryFileName("npa_ladspa")),
  },
];

/**
 * The real-time watch (`native/adapters/rt_watch/`): an interposer that counts
 * the allocation, lock, sleep and I/O calls a plugin's `run` makes while the
 * LADSPA adapter runs it. Preloaded only into the sandbox child of the
 * `ladspa.hard_rt` check (`SandboxOptions.preload`).
 */
export function rtWatchPath(): string {
  return join(dirname(hostLibraryPath()), "adapters", libraryFileName("npa_rt_watch"));
}

/** The adapter for a library that exports `entry`, if plugcheck has one. */
export function adapterFor(entry: string): Adapter | undefined {
  return ADAPTERS.find((a) => a.entry === entry);
}

/** An adapter the caller named (`LoadOptions.adapter`, `--adapter PATH`): the library at `path`. */
export function givenAdapter(path: string): Adapter {
  const file = basename(path);
  return { abi: file, title: `the adapter ${file}`, path: () => path, given: true };
}
