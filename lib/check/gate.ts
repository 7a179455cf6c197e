/**
 * Who may run at once: ordinary checks share the machine (`--jobs` of them),
 * a check marked `alone` runs with no other, because what it provokes can
 * take the whole machine (a plugin's log flood at full volume) and would
 * make the deadlines of its neighbours miss. An `alone` check that waits
 * keeps new ordinary checks from starting, so it is not starved.
 *
 * @example
 * ```ts
 * import { CheckGate } from "./gate.ts";
 * const gate = new CheckGate();
 * await gate.enter(false);
 * const alone = gate.enter(true); // waits for the first to leave
 * gate.leave(false);
 * await alone;
 * gate.leave(true);
 * ```
 *
 * @module
 */

/** A shared/exclusive gate for the checks of one run. */
export class CheckGate {
  #running = 0;
  #alone = false;
  #aloneWaiting = 0;
  #waiters: (() => void)[] = [];

  /** Waits until the check may start: `alone` waits for every other to finish. */
  async enter(alone: boolean): Promise<void> {
    if (alone) this.#aloneWaiting++;
    while (this.#alone || (alone ? this.#running > 0 : this.#aloneWaiting > 0)) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (alone) {
      this.#aloneWaiting--;
      this.#alone = true;
    }
    this.#running++;
  }

  /** The check ended. */
  leave(alone: boolean): void {
    this.#running--;
    if (alone) this.#alone = false;
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
