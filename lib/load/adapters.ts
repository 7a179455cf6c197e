/**
 * The adapter seam: plugin ABIs other than npa, served through an adapter.
 * An adapter is a native library that exports the npa symbols and one more,
 * `npa_adapter_open(target)`, and serves the plugins of a library of its ABI
 * as npa methods (docs/adapters.md). plugcheck opens a private copy of the
 * adapter for each library it serves (the npa entry points are global to an
 * image), so every engine sees an npa plugin and none knows the ABI.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adapterFor, ADAPTERS } from "./adapters.ts";
 * assert.equal(adapterFor("ladspa_descriptor")?.abi, "ladspa");
 * assert.equal(adapterFor("npa_abi_version"), undefined);
 * assert.ok(ADAPTERS.every((a) => a.path().endsWith(".so")));
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { libraryFileName } from "../ffi/dlopen.ts";
import { hostLibraryPath } from "../ffi/native_helper.ts";

/** A plugin ABI plugcheck serves through an adapter. */
export interface Adapter {
  /** Its short name (`--abi`, reports). */
  abi: "ladspa";
  /** What users read: "LADSPA 1.1". */
  title: string;
  /** The symbol a library of this ABI exports (how it is recognized). */
  entry: string;
  /** Where the adapter library is: next to plugcheck's native helper, in `adapters/`. */
  path(): string;
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

/** The adapter for a library that exports `entry`, if plugcheck has one. */
export function adapterFor(entry: string): Adapter | undefined {
  return ADAPTERS.find((a) => a.entry === entry);
}
