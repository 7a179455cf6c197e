/**
 * What the fuzz engine (`fuzz_engine.ts`) drives and is driven by: the
 * batch loop (the native helper's in a Deno fuzz child, a fork server's
 * worker seen from the parent), what the loop throws when its process died,
 * the target that judges the calls the loop stopped at, and the events the
 * engine sends.
 *
 * @example
 * ```ts ignore
 * import { type BatchLoop, isLoopDeath } from "./batch_loop.ts";
 * try { await loop.run(0, n); } catch (e) { if (isLoopDeath(e)) console.log("died at input", e.index); }
 * ```
 *
 * @module
 */
import type { CallResult } from "../../ffi/calls.ts";
import type { ComparisonTables } from "../../ffi/fuzz_loop.ts";

/**
 * The batch loop the engine drives: the native helper's in a fuzz child
 * (`FuzzLoop`), or a fork server's worker seen from the parent (`RemoteLoop`).
 */
export interface BatchLoop {
  /** The inputs of a batch, anywhere in here; input i is `arena[offsets[i], offsets[i] + lengths[i])`. */
  readonly arena: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** After a run: 1 for each input that reached something new. */
  readonly fresh: Uint8Array;
  /** Where other jobs' corpus entries wait (`inbox.ts`). */
  readonly inbox: Uint8Array;
  /** Which method the batch is for, and its sequence number (written where the parent reads them). */
  methodIndex: number;
  batch: number;
  /** The method of the next batches. */
  method(name: string, json: boolean): void;
  /** Runs inputs `[from, count)`: `count`, the index of one to judge, or a stop (`stoppedBefore`). */
  run(from: number, count: number): number | Promise<number>;
  /** The call the loop stopped at. */
  raw(): CallResult;
  readonly stopRequested: boolean;
  comparisons(): ComparisonTables | undefined;
}

/** What a loop throws when the process running the inputs died: `index` is the input of the batch in flight. */
export interface LoopDeath {
  readonly loopDied: true;
  readonly index: number;
}

export function isLoopDeath(e: unknown): e is LoopDeath {
  return typeof e === "object" && e !== null && (e as LoopDeath).loopDied === true;
}

/** What the guard made of a call the loop stopped at. */
export interface Judged {
  /** The typed error the call is (a PANIC status, a contract violation), if it is one. */
  error?: Error;
  /** Contract warnings the guard recorded (a stray buffer, an error buffer that is not JSON, ...). */
  warnings: string[];
}

/** What the engine needs of the target beyond the native loop. */
export interface EngineTarget {
  /** Judges a call the loop stopped at (npa targets; a libFuzzer harness never stops the loop). */
  judge(method: string, json: boolean, raw: CallResult): Judged;
  /** The plugin's counters, when it has `npa_plugin_stats` (asked of a fork server's worker: a promise). */
  stats?(): Record<string, number> | undefined | Promise<Record<string, number> | undefined>;
}

/** An event for the parent (id 0 frames). */
export type SendEvent = (header: Record<string, unknown>, blobs: Uint8Array[]) => void;
