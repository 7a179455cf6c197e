/**
 * The prebuilt JavaScript of plugcheck's processes: `deno task build` bundles
 * the command line and the three sandbox children's entries into `build/js/`
 * (one file each, the commands split into chunks loaded as they run), with a
 * stamp of every source file it read and its modification time. A process
 * started from the bundle loads a few files instead of ~100 TypeScript modules
 * (each costs Deno a cache lookup and a compile): the command line starts
 * ~30 ms sooner and a sandbox child ~20 ms sooner on these machines.
 *
 * `cli.ts` runs the bundle only while its stamp matches the sources, so an
 * edited file is never shadowed by a stale build: it runs the sources then,
 * as it does when nothing is built or `PLUGCHECK_PREBUILT=0` is set. A bundled
 * process starts bundled children; a process started from the sources (a
 * test, a host importing `mod.ts`) starts children from the sources.
 *
 * Every path the code derives from its own location (`new URL("../../build/…",
 * import.meta.url)`) holds in both: the files of `build/js/` sit two levels
 * under the root, as every module of `lib/<room>/` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { childEntry, RUNNING_PREBUILT } from "./prebuilt.ts";
 * assert.equal(RUNNING_PREBUILT, false); // this example runs from the sources
 * assert.ok(childEntry("lib/check/probe_entry.ts").endsWith("/lib/check/probe_entry.ts"));
 * ```
 *
 * @module
 */

/** The repository's root (a `file:` URL ending in `/`), from the sources or from `build/js/`. */
export const ROOT_URL: URL = new URL("../../", import.meta.url);

/** The prebuilt directory, relative to the root. */
export const PREBUILT_DIR = "build/js";

/** The stamp `deno task build` writes last into {@link PREBUILT_DIR}: the sources the bundle was made from. */
export const STAMP_NAME = "sources.json";

/** Set to `0` to run the sources even when the bundle is fresh (to compare, or to debug with source lines). */
export const PREBUILT_ENV = "PLUGCHECK_PREBUILT";

/** The stamp's content. */
export interface PrebuiltStamp {
  /** Every source file bundled (relative to the root), with its modification time in ms. */
  files: Record<string, number>;
}

/** The sandbox children's entry modules (relative to the root), each bundled as {@link bundledEntryName} says. */
export const CHILD_ENTRIES: readonly string[] = [
  "lib/host/isolated/child_entry.ts",
  "lib/fuzz/child/child_entry.ts",
  "lib/check/probe_entry.ts",
];

/** Whether this module runs from the bundle (its URL is then a file of `build/js/`). */
export const RUNNING_PREBUILT: boolean = import.meta.url.startsWith(new URL(`${PREBUILT_DIR}/`, ROOT_URL).href);

/**
 * The name of a sandbox child's entry in the bundle: `lib/host/isolated/child_entry.ts` is
 * `host_isolated_child_entry.js` (the path under `lib/`, its slashes as underscores).
 */
export function bundledEntryName(source: string): string {
  return source.replace(/^lib\//, "").replace(/\.ts$/, ".js").replaceAll("/", "_");
}

/**
 * The entry module (a `file:` URL) of a sandbox child whose source is `source` (relative to the root):
 * its bundled file when this process runs from the bundle, else the source.
 */
export function childEntry(source: string): string {
  return new URL(RUNNING_PREBUILT ? `${PREBUILT_DIR}/${bundledEntryName(source)}` : source, ROOT_URL).href;
}

/** Whether the bundle under `root` can run: `fresh`, or why not. */
export type PrebuiltState =
  | { state: "fresh"; files: number }
  | { state: "absent" }
  | { state: "stale"; file: string }
  | { state: "disabled" };

/**
 * Reads the stamp under `root` and compares every file it lists with the file now (~2 ms for ~200 files):
 * one changed, removed or unreadable file makes the bundle stale.
 */
export function prebuiltState(
  root: URL = ROOT_URL,
  env: (name: string) => string | undefined = readEnv,
): PrebuiltState {
  if (env(PREBUILT_ENV) === "0") return { state: "disabled" };
  let stamp: PrebuiltStamp;
  try {
    stamp = JSON.parse(Deno.readTextFileSync(new URL(`${PREBUILT_DIR}/${STAMP_NAME}`, root)));
  } catch {
    return { state: "absent" };
  }
  const entries = Object.entries(stamp.files ?? {});
  if (entries.length === 0) return { state: "absent" };
  for (const [file, mtime] of entries) {
    try {
      if (Deno.statSync(new URL(file, root)).mtime?.getTime() !== mtime) return { state: "stale", file };
    } catch {
      return { state: "stale", file };
    }
  }
  return { state: "fresh", files: entries.length };
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: the default
  }
}

/** One line for `--version --verbose`: what this process runs. */
export function describeState(s: PrebuiltState): string {
  switch (s.state) {
    case "fresh":
      return `running the prebuilt ${PREBUILT_DIR}/ (made from ${s.files} source files, none changed since)`;
    case "absent":
      return `running the sources: ${PREBUILT_DIR}/ is not built (deno task build makes it)`;
    case "stale":
      return `running the sources: ${s.file} changed after ${PREBUILT_DIR}/ was built (deno task build remakes it)`;
    case "disabled":
      return `running the sources: ${PREBUILT_ENV}=0`;
  }
}
