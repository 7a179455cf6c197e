/**
 * Ctrl-C as "stop and report": a long-running command (stress, later fuzz)
 * registers what to do on the first SIGINT; `cli.ts` calls it instead of
 * exiting, and a second SIGINT (or SIGTERM) exits at once as before.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onInterrupt, takeInterrupt } from "./interrupt.ts";
 * const abort = new AbortController();
 * const release = onInterrupt(() => abort.abort());
 * assert.ok(takeInterrupt() && abort.signal.aborted && !takeInterrupt());
 * release();
 * ```
 *
 * @module
 */

import { printErr } from "./output.ts";

let handler: (() => void) | undefined;

/** Registers what the next SIGINT does; returns a function that unregisters it. */
export function onInterrupt(fn: () => void): () => void {
  handler = fn;
  return () => {
    if (handler === fn) handler = undefined;
  };
}

/** For `cli.ts`: runs (and forgets) the registered handler; false when there is none (then exit). */
export function takeInterrupt(): boolean {
  const fn = handler;
  handler = undefined;
  fn?.();
  return fn !== undefined;
}

/**
 * For a command that stops and reports on Ctrl-C: the first SIGINT aborts the
 * returned signal (and says so on stderr); call `release` when the run is over.
 */
export function abortOnInterrupt(): { signal: AbortSignal; release: () => void } {
  const abort = new AbortController();
  const release = onInterrupt(() => {
    abort.abort();
    printErr("\nplugcheck: interrupted: finishing the report (Ctrl-C again quits at once)");
  });
  return { signal: abort.signal, release };
}
