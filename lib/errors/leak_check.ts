/**
 * Verdicts: conclusions the host draws from what it measured, not from a
 * status a plugin returned. Today: leaks of instances or buffers, from
 * `npa_plugin_stats` counters taken before and after. `stress` and `check`
 * add theirs here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leakCheck } from "./leak_check.ts";
 * const leak = leakCheck("invoke \"echo\"", { live_instances: 0, live_buffers: 1 }, { live_instances: 1, live_buffers: 1 });
 * assert.ok(leak?.leaks[0]?.counter === "live_instances");
 * ```
 *
 * @module
 */
import { ResourceLeakError } from "./errors.ts";

/** The counters a leak check compares. */
export const LEAK_COUNTERS = ["live_instances", "live_buffers"] as const;

/** Counters that did not return to their baseline, or undefined when none leaked. */
export function leakCheck(
  op: string,
  before: Record<string, number> | null,
  after: Record<string, number> | null,
): ResourceLeakError | undefined {
  if (before === null || after === null) return undefined;
  const leaks = LEAK_COUNTERS
    .filter((k) => (after[k] ?? 0) > (before[k] ?? 0))
    .map((counter) => ({ counter, before: before[counter] ?? 0, after: after[counter] ?? 0 }));
  if (leaks.length === 0) return undefined;
  const what = leaks.map((l) => `${l.counter} ${l.before} -> ${l.after}`).join(", ");
  return new ResourceLeakError(
    `Plugin leaked during ${op}: ${what} (not back to the count before create once the instance was destroyed and every buffer freed)`,
    { operation: op, leaks },
  );
}

/** The warning for a plugin that wrote to stdout (where hosts that speak a protocol over stdio carry it). */
export function stdoutWarning(bytes: number): string {
  return `The plugin wrote ${bytes} bytes to stdout (shown on stderr): hosts that speak a protocol over stdio (language servers, JSON-RPC plugin hosts) break on that; log through NpaHost instead`;
}

/** The warning for processes a plugin started and left running. */
export function leftoverWarning(processes: readonly { pid: number; name: string }[]): string {
  const list = processes.slice(0, 10).map((p) => `${p.pid}${p.name ? ` (${p.name})` : ""}`).join(", ");
  const more = processes.length > 10 ? ` and ${processes.length - 10} more` : "";
  return `The plugin left ${processes.length} process(es) running: ${list}${more}; plugcheck ended them with SIGKILL. A plugin must not leave processes behind (reap what it forks, before shutdown returns)`;
}
