/**
 * A known bug's budget: once a hang or a crash is recorded, the inputs that
 * hit it again are occurrences, counted, and must not each cost what the
 * first did. A hang costs a deadline, so a method that hung before gets a
 * short one (`knownHangMs` in `watchdog.ts`). A crash or hang that ends a
 * child at once, life after life, costs a restart per input and finds
 * nothing new, so a method whose known bug does that
 * {@link RETIRE_AFTER} times in a row is retired: the rest of the run fuzzes
 * the other methods (when none is left, the run ends), and the run says so
 * in a warning. libFuzzer stops at the first crash; this keeps fuzzing what
 * still can be.
 *
 * A life's death is a strike against its method when the bug is a known one
 * (its key was recorded before), the input was not a fresh seed (a seed that
 * was no bug's input when the life began: seeds are finite, each may crash
 * once), and the life fuzzed fewer than {@link QUICK_EXECS} inputs past its
 * seeds. A life that ends normally, or dies later or of a new bug, clears the
 * strikes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeathBudget, RETIRE_AFTER } from "./budget.ts";
 * const budget = new DeathBudget();
 * const death = { method: 1, repeat: true, freshSeed: false, fuzzedExecs: 0 };
 * for (let i = 1; i < RETIRE_AFTER; i++) assert.equal(budget.death(death), false);
 * assert.equal(budget.death(death), true); // retire method 1
 * budget.clear();
 * assert.equal(budget.death({ ...death, repeat: false }), false);
 * ```
 *
 * @module
 */

/** Strikes in a row after which a method is retired. */
export const RETIRE_AFTER = 3;
/** Inputs fuzzed past the seeds under which a life's death counts as "at once". */
export const QUICK_EXECS = 256;
/** Lives in a row that ended before their first execution, after which a job gives up. */
export const STILLBORN_CAP = 3;

/** What the job knows of a child's death, for the budget. */
export interface BudgetedDeath {
  /** The method index the input was for. */
  method: number;
  /** The finding's key was recorded before this death. */
  repeat: boolean;
  /** The input was one of the life's seeds, and no bug's input when the life began. */
  freshSeed: boolean;
  /** Inputs the life ran past its seeds (negative: it died among them). */
  fuzzedExecs: number;
}

/** One job's strikes, per method. */
export class DeathBudget {
  readonly #strikes = new Map<number, number>();

  /** Counts a death; true when its method has now used its budget (retire it). */
  death(d: BudgetedDeath): boolean {
    if (d.repeat && d.freshSeed) return false; // a seed of the user's, run once: neither a strike nor progress
    if (!d.repeat || d.fuzzedExecs >= QUICK_EXECS) {
      this.clear();
      return false;
    }
    const n = (this.#strikes.get(d.method) ?? 0) + 1;
    this.#strikes.set(d.method, n);
    return n >= RETIRE_AFTER;
  }

  /** A life ended normally (or found something new): no strike stands. */
  clear(): void {
    this.#strikes.clear();
  }
}
