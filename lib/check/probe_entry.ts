/**
 * The entry module of a lifecycle probe child of `check`: what the parent's
 * sandbox spawn runs (`deno run … child_entry.ts <boot JSON>`). It hands this
 * engine's handler (`probe_handler.ts`) to the sandbox's child main, so the sandbox
 * names no engine and the child loads this engine alone.
 *
 * @example
 * ```ts ignore
 * // Named by the parent as the child's entry:
 * const spec = { entry: childEntry("lib/check/probe_entry.ts"), ... };
 * ```
 *
 * @module
 */
import { runChild } from "../sandbox/child_main.ts";
import * as handler from "./probe_handler.ts";

/** Runs the child (the prebuilt bundle's entry calls it: `import.meta.main` is false inside a bundle). */
export function main(): Promise<never> {
  return runChild(handler);
}

if (import.meta.main) await main();
