/**
 * The deadline of a sandbox child's start, phase by phase, so that only the
 * plugin's own time counts against the plugin's deadline. The child says
 * (PHASE frames) when a plugin call begins (`load plugin`: dlopen and the
 * library's constructors; `initialize plugin`; `describe plugin`) and when
 * plugcheck's own work resumes (`null`: the helper's setup, checking and
 * validating describe(), the handshake). Each plugin phase gets the plugin's
 * deadline, afresh, as each call does in process; plugcheck's own work gets
 * {@link OWN_WORK_MS}, however large the document it validates. Until the
 * first PHASE frame (a child that sends none, as the fuzz child), the whole
 * start is one plugin phase, as it always was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StartPhases } from "./start_phases.ts";
 * const phases = new StartPhases(50, (op, ms) => new Error(`${op}: ${ms} ms`));
 * const hello = new Promise((resolve) => setTimeout(() => resolve("hello"), 100));
 * phases.phase(null); // plugcheck's own work: 100 ms is fine
 * assert.ok(await phases.wait(hello) === "hello");
 * const hung = new StartPhases(20, (op, ms) => new Error(`${op}: ${ms} ms`));
 * hung.phase("initialize plugin");
 * await assert.rejects(hung.wait(new Promise(() => {})), /initialize plugin: 20 ms/);
 * ```
 *
 * @module
 */

/** Deadline of plugcheck's own work during a start (ms): never the plugin's time. */
export const OWN_WORK_MS = 30_000;
/** What a missed deadline of a plugin phase, and of plugcheck's own work, did. */
const LOADING = "the sandbox child was killed while it loaded the plugin (dlopen, init or describe)";
const OWN_WORK = "the sandbox child was killed; plugcheck's own start work took that long, not the plugin";

/** Runs `fire` after `ms` unless the returned cancel is called first. */
export type StartTimer = (ms: number, fire: () => void) => () => void;

const plainTimer: StartTimer = (ms, fire) => {
  const id = setTimeout(fire, ms);
  return () => clearTimeout(id);
};

/** A re-armed deadline: the plugin's for each plugin phase, plugcheck's own in between. */
export class StartPhases {
  readonly #pluginMs: number;
  readonly #expired: (op: string, ms: number, consequence: string) => Error;
  #op = "start sandboxed plugin";
  #own = false;
  readonly #startTimer: StartTimer;
  #cancel: () => void = () => {};
  #reject: ((e: Error) => void) | undefined;
  #done = false;

  /**
   * `expired` makes the error of a missed deadline (and kills the child);
   * `timer` runs each deadline (by default a plain timer; the sandbox passes
   * one that waits out a loaded machine).
   */
  constructor(
    pluginMs: number,
    expired: (op: string, ms: number, consequence: string) => Error,
    timer: StartTimer = plainTimer,
  ) {
    this.#pluginMs = pluginMs;
    this.#expired = expired;
    this.#startTimer = timer;
  }

  /** A plugin call began (its operation), or plugcheck's own work resumed (null). */
  phase(op: string | null): void {
    if (this.#done) return;
    this.#own = op === null;
    if (op !== null) this.#op = op;
    if (this.#reject !== undefined) this.#arm();
  }

  /** Waits for `promise` (the HELLO) under the phases' deadlines. */
  wait<T>(promise: Promise<T>): Promise<T> {
    const late = new Promise<never>((_, reject) => {
      this.#reject = reject;
      this.#arm();
    });
    return Promise.race([promise, late]).finally(() => {
      this.#done = true;
      this.#cancel();
    });
  }

  #arm(): void {
    this.#cancel();
    const own = this.#own;
    const ms = own ? OWN_WORK_MS : this.#pluginMs;
    const op = own ? "start sandboxed plugin" : this.#op;
    this.#cancel = this.#startTimer(ms, () => {
      this.#done = true;
      this.#reject?.(this.#expired(op, ms, own ? OWN_WORK : LOADING));
    });
  }
}
