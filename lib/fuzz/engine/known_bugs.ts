/**
 * The inputs of the bugs a fuzz run knows, as the engine uses them: a word
 * or a comparison operand one of them holds would rebuild that bug at every
 * other input, so the mutator is not given it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KnownBugs } from "./known_bugs.ts";
 * const known = new KnownBugs([new TextEncoder().encode("xFZy")]);
 * assert.equal(known.holds(new TextEncoder().encode("FZ"), false), true);
 * assert.equal(known.holds(new TextEncoder().encode("ZF"), true), true); // an integer, the other byte order
 * assert.equal(known.holds(new TextEncoder().encode("ZF"), false), false);
 * ```
 *
 * @module
 */

/** The known bugs' inputs. */
export class KnownBugs {
  readonly #inputs: Uint8Array[];

  constructor(inputs: readonly Uint8Array[] = []) {
    this.#inputs = [...inputs];
  }

  get inputs(): readonly Uint8Array[] {
    return this.#inputs;
  }

  /** A bug found on `input`. */
  add(input: Uint8Array): void {
    this.#inputs.push(input);
  }

  /** True when a known bug's input holds `operand` (2 bytes or more; an integer in either byte order). */
  holds(operand: Uint8Array, integer: boolean): boolean {
    const n = operand.length;
    if (n < 2 || this.#inputs.length === 0) return false;
    for (const input of this.#inputs) {
      for (let at = 0; at + n <= input.length; at++) {
        let same = true, reversed = integer;
        for (let k = 0; k < n && (same || reversed); k++) {
          same &&= input[at + k] === operand[k];
          reversed &&= input[at + k] === operand[n - 1 - k];
        }
        if (same || reversed) return true;
      }
    }
    return false;
  }
}
