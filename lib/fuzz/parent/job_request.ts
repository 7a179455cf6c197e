/**
 * The FUZZ requests a fuzz job sends its child, and their blobs: a fuzz life
 * (seeds, then the inputs of known bugs, then the dictionary; the budget
 * left and a PRNG stream of its own), and a once-each run of given inputs
 * (a replay stops at the first finding; a merge checks no leaks). A request
 * is built when its child is up, since the first child's HELLO decides the
 * methods and the seeds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onceRequest, replayIndex } from "./job_request.ts";
 * const settings = { methods: [{ name: "parse", json: false }], seed: 1, maxLen: 64, leaks: true };
 * const inputs = [new Uint8Array([1]), new Uint8Array([2, 3])];
 * const { req, blobs } = onceRequest(settings, "replay", inputs);
 * assert.equal(req.stopAtFirst, true);
 * assert.equal(req.seeds, 2);
 * assert.equal(replayIndex(req, blobs, new Uint8Array([2, 3])), 1);
 * ```
 *
 * @module
 */
import type { JobSession } from "./job_session.ts";
import type { FuzzRequest } from "../wire.ts";

/** A request and its blobs. */
export interface JobRequest {
  req: FuzzRequest;
  blobs: Uint8Array[];
}

/** What every request takes from the run. */
type RequestSettings = Pick<JobSession, "methods" | "seed" | "maxLen" | "leaks">;

/**
 * The request of one fuzz life: `stream` picks its PRNG sequence, `runs` is
 * the budget left (null: until the run stops); with `tries`, the child runs
 * each dictionary word alone after the seeds (a job's first life).
 */
export function fuzzRequest(
  s:
    & RequestSettings
    & Pick<JobSession, "seeds" | "knownBugs" | "dictionary" | "lengths">
    & Partial<Pick<JobSession, "retired">>,
  stream: number,
  runs: number | null,
  tries = false,
): JobRequest {
  const seeds = s.seeds();
  const known = s.knownBugs();
  const req: FuzzRequest = {
    mode: "fuzz",
    methods: [...s.methods],
    seed: s.seed,
    stream,
    maxLen: s.maxLen,
    runs,
    leaks: s.leaks,
    seeds: seeds.length,
    known: known.length,
    ...tries && { tries: true },
    ...s.lengths.length > 0 && { lengths: [...s.lengths] },
    ...s.retired !== undefined && s.retired.size > 0 && { retired: [...s.retired].sort((a, b) => a - b) },
  };
  return { req, blobs: [...seeds, ...known, ...s.dictionary] };
}

/** A request that runs `inputs` once each (a replay stops at the first finding; a merge checks no leaks). */
export function onceRequest(s: RequestSettings, mode: "replay" | "merge", inputs: readonly Uint8Array[]): JobRequest {
  const req: FuzzRequest = {
    mode,
    methods: [...s.methods],
    seed: s.seed,
    stream: 0,
    maxLen: s.maxLen,
    runs: null,
    leaks: mode === "replay" && s.leaks,
    seeds: inputs.length,
    ...mode === "replay" && { stopAtFirst: true },
  };
  return { req, blobs: [...inputs] };
}

/** Which of a replay's inputs `bytes` is (the first equal one; 0 for a fuzz request or no bytes). */
export function replayIndex(req: FuzzRequest, blobs: Uint8Array[], bytes: Uint8Array | undefined): number {
  if (req.mode === "fuzz" || bytes === undefined) return 0;
  const i = blobs.findIndex((b) => b.length === bytes.length && b.every((v, k) => v === bytes[k]));
  return Math.max(0, i);
}
