/**
 * The phases of the loads of this process, told to one listener: a sandbox
 * child passes them to its parent (PHASE frames), whose start deadline then
 * counts only the plugin's calls, never plugcheck's own work.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPhase, onLoadPhase } from "./load_phase.ts";
 * const seen: (string | null)[] = [];
 * onLoadPhase((op) => seen.push(op));
 * loadPhase("initialize plugin");
 * loadPhase(null);
 * onLoadPhase(undefined);
 * loadPhase("describe plugin"); // nobody listens
 * assert.deepEqual(seen, ["initialize plugin", null]);
 * ```
 *
 * @module
 */

let listener: ((op: string | null) => void) | undefined;

/**
 * Listens to the phases of the loads of this process: `op` as dlopen, init
 * and describe() begin (`load plugin`, `initialize plugin`, `describe
 * plugin`), null as each returns and plugcheck's own work resumes.
 * Undefined: no listener.
 */
export function onLoadPhase(l: ((op: string | null) => void) | undefined): void {
  listener = l;
}

/** A load enters a plugin call (its operation) or leaves it (null). */
export function loadPhase(op: string | null): void {
  listener?.(op);
}
