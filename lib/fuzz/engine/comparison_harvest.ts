/**
 * The comparisons the coverage runtime recorded (`native/coverage/npa_cov.h`:
 * tables of recent operands, each slot stamped with a record counter), taken
 * into the mutator after each batch: integer operands at their width, memory
 * operands as they were, none that a known bug's input holds.
 *
 * @example
 * ```ts ignore
 * import { ComparisonHarvest } from "./comparison_harvest.ts";
 * const harvest = new ComparisonHarvest(loop.comparisons());
 * harvest.take(mutator, knownBugs); // after each batch
 * ```
 *
 * @module
 */
import type { ComparisonTables } from "../../ffi/fuzz_loop.ts";
import type { Mutator } from "../mutate/byte_mutations.ts";
import type { KnownBugs } from "./known_bugs.ts";

/** Reads the tables of one process's coverage runtime. */
export class ComparisonHarvest {
  readonly #t: ComparisonTables | undefined;
  readonly #cmp: DataView | undefined;
  readonly #mem: DataView | undefined;
  /** The record counter when the tables were read last. */
  #last = 0;

  constructor(tables: ComparisonTables | undefined) {
    this.#t = tables;
    this.#cmp = tables && new DataView(tables.cmps.buffer, tables.cmps.byteOffset, tables.cmps.byteLength);
    this.#mem = tables && new DataView(tables.mems.buffer, tables.mems.byteOffset, tables.mems.byteLength);
  }

  /** The tables now belong to a new process (a fork server's next worker): its counter starts over. */
  restart(): void {
    this.#last = 0;
  }

  /** Hands `mutator` every pair recorded since the last call that no known bug's input holds. */
  take(mutator: Mutator, known: KnownBugs): void {
    const t = this.#t, cv = this.#cmp, mv = this.#mem;
    if (t === undefined || cv === undefined || mv === undefined) return;
    const now = t.seq[0]!, last = this.#last;
    if (now === last) return;
    for (let at = 0; at + t.cmpSlot <= t.cmps.length; at += t.cmpSlot) {
      if (((cv.getUint32(at + 20, true) - last) | 0) <= 0) continue;
      const width = cv.getUint32(at + 16, true);
      if (width === 0 || width > 8) continue;
      const a = t.cmps.subarray(at, at + width), b = t.cmps.subarray(at + 8, at + 8 + width);
      if (known.holds(a, true) || known.holds(b, true)) continue;
      mutator.addComparison(a, b, true);
    }
    for (let at = 0; at + t.memSlot <= t.mems.length; at += t.memSlot) {
      if (((mv.getUint32(at + 4, true) - last) | 0) <= 0) continue;
      const alen = Math.min(mv.getUint16(at, true), 32), blen = Math.min(mv.getUint16(at + 2, true), 32);
      const a = t.mems.subarray(at + 8, at + 8 + alen), b = t.mems.subarray(at + 40, at + 40 + blen);
      if (known.holds(a, false) || known.holds(b, false)) continue;
      mutator.addComparison(a, b, false);
    }
    this.#last = now;
  }
}
