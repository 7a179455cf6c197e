/**
 * SIGINT and SIGTERM as "stop and report": a long-running command (stress,
 * fuzz, check) registers what to do on the first signal; `cli.ts` calls it
 * instead of exiting, and a second signal (either) exits at once. The exit
 * code then says which signal stopped the run: 130 for SIGINT, 143 for
 * SIGTERM (what `timeout` and CI cancellation send).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { interruptExitCode, onInterrupt, takeInterrupt } from "./interrupt.ts";
 * const abort = new AbortController();
 * const release = onInterrupt(() => abort.abort());
 * assert.ok(takeInterrupt("SIGTERM") && abort.signal.aborted && !takeInterrupt("SIGTERM"));
 * assert.equal(interruptExitCode(), 143);
 * release();
 * ```
 *
 * @module
 */

import { printErr } from "./output.ts";

/** The signals that interrupt a run. */
export type InterruptSignal = "SIGINT" | "SIGTERM";

/** The exit code of a run each signal interrupted (128 + the signal's number). */
export const INTERRUPT_EXIT_CODES: Readonly<Record<InterruptSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

let handler: ((signal: InterruptSignal) => void) | undefined;
let taken: InterruptSignal | undefined;

/** Registers what the next SIGINT or SIGTERM does; returns a function that unregisters it. */
export function onInterrupt(fn: (signal: InterruptSignal) => void): () => void {
  handler = fn;
  return () => {
    if (handler === fn) handler = undefined;
  };
}

/**
 * For `cli.ts`: runs (and forgets) the registered handler with the signal
 * that came; false when there is none (then exit).
 */
export function takeInterrupt(signal: InterruptSignal): boolean {
  const fn = handler;
  handler = undefined;
  if (fn === undefined) return false;
  taken = signal;
  fn(signal);
  return true;
}

/** The exit code of an interrupted run: 143 when SIGTERM stopped it, else 130. */
export function interruptExitCode(): number {
  return INTERRUPT_EXIT_CODES[taken ?? "SIGINT"];
}

/**
 * For a command that stops and reports on SIGINT or SIGTERM: the first one
 * aborts the returned signal (and says so on stderr); call `release` when the
 * run is over.
 */
export function abortOnInterrupt(): { signal: AbortSignal; release: () => void } {
  const abort = new AbortController();
  const release = onInterrupt((signal) => {
    abort.abort();
    const again = signal === "SIGINT" ? "Ctrl-C again" : "a second signal";
    printErr(`\nplugcheck: interrupted: finishing the report (${signal}; ${again} quits at once)`);
  });
  return { signal: abort.signal, release };
}
