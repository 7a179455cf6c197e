/**
 * The entry module of an isolated plugin's sandbox child: what the parent's
 * sandbox spawn runs (`deno run … child_entry.ts <boot JSON>`). It hands this
 * engine's handler (`child_handler.ts`) to the sandbox's child main, so the sandbox
 * names no engine and the child loads this engine alone.
 *
 * @example
 * ```ts ignore
 * // Named by the parent as the child's entry:
 * const spec = { entry: childEntry("lib/host/isolated/child_entry.ts"), ... };
 * ```
 *
 * @module
 */
import { runChild } from "../../sandbox/child_main.ts";
import * as handler from "./child_handler.ts";

/** Runs the child (the prebuilt bundle's entry calls it: `import.meta.main` is false inside a bundle). */
export function main(): Promise<never> {
  return runChild(handler);
}

if (import.meta.main) await main();
