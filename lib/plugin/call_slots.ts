/**
 * Process-wide accounting of nonblocking plugin calls.
 *
 * Deno runs nonblocking FFI calls on a blocking pool of at most 32 threads,
 * shared with async file I/O, and a call cannot be cancelled: a call that
 * outlives its deadline keeps its thread. So plugcheck counts every call that
 * is running or abandoned and refuses new ones beyond a cap well below 32,
 * instead of letting the pool starve (which hangs file I/O too).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { callSlots } from "./call_slots.ts";
 * const release = callSlots.tryAcquire();
 * assert.ok(release !== undefined);
 * release?.();
 * ```
 *
 * @module
 */

/** Default cap on running + abandoned nonblocking calls per process. */
export const DEFAULT_CALL_SLOTS = 16;

class CallSlots {
  #limit = DEFAULT_CALL_SLOTS;
  #inUse = 0;
  #waiters: (() => boolean)[] = [];

  /** The current cap. */
  get limit(): number {
    return this.#limit;
  }
  /** Calls running or abandoned right now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Changes the cap (1..28; the pool has 32 threads and file I/O needs some). */
  setLimit(limit: number): void {
    if (!Number.isInteger(limit) || limit < 1 || limit > 28) {
      throw new RangeError(`Call slot limit must be an integer from 1 to 28: got ${limit}`);
    }
    this.#limit = limit;
    this.#wake();
  }

  /** Takes a slot if one is free (true); pair with {@link give}. No allocation: for the hot path. */
  take(): boolean {
    if (this.#inUse >= this.#limit) return false;
    this.#inUse++;
    return true;
  }

  /** Gives back a slot taken with {@link take}. Call once per take. */
  give(): void {
    this.#inUse--;
    if (this.#waiters.length > 0) this.#wake();
  }

  /** Takes a slot; returns its release function (idempotent), or undefined when none is free. */
  tryAcquire(): (() => void) | undefined {
    if (this.#inUse >= this.#limit) return undefined;
    this.#inUse++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inUse--;
      this.#wake();
    };
  }

  /**
   * Takes a slot, waiting (first come, first served) until one is free: for
   * calls that must run, never be refused (destroy, shutdown). Callers bound
   * the wait with their own deadline; `abandon` withdraws the request.
   */
  acquire(): { slot: Promise<() => void>; abandon: () => void } {
    const now = this.tryAcquire();
    if (now) return { slot: Promise.resolve(now), abandon: () => {} };
    let abandoned = false;
    let granted: (() => void) | undefined;
    const slot = new Promise<() => void>((resolve) => {
      this.#waiters.push(() => {
        if (abandoned) return false;
        granted = this.tryAcquire();
        if (granted) resolve(granted);
        return granted !== undefined;
      });
    });
    return {
      slot,
      abandon: () => {
        abandoned = true;
        granted?.();
      },
    };
  }

  #wake(): void {
    while (this.#waiters.length > 0 && this.#inUse < this.#limit) {
      const next = this.#waiters.shift()!;
      next();
    }
  }
}

/** The process-wide slot counter. */
export const callSlots: CallSlots = new CallSlots();
