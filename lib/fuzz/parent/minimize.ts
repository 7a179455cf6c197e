/**
 * Reproducing and shrinking a finding's input. `replayInput` runs one input
 * once in a fuzz child and says which finding it is, if any.
 * `minimizeInput` removes chunks of the input (halves, quarters, ... single
 * bytes) while it still reproduces the same bug (the same dedup key), many
 * candidates to a child: candidates that do not crash cost a native call
 * each, and the first that does ends the child, its index read from the
 * input file. So a shrink costs about one child per step that succeeds.
 *
 * @example
 * ```ts ignore
 * import { minimizeInput } from "./minimize.ts";
 * const r = await minimizeInput(path, Deno.readFileSync("crash-abc"), { methods: ["parse"] });
 * if (r.reproduced) console.log(r.original.length, "->", r.input.length, r.key);
 * ```
 *
 * @module
 */
import type { FindingCandidate } from "../crash/finding.ts";
import { FuzzJob } from "./job.ts";
import { type FuzzOptions, resolveFuzzOptions } from "./options.ts";
import { type PreparedRun, prepareRun } from "./prepare_run.ts";

/** Candidates run by one child at most. */
const CANDIDATES_PER_CHILD = 512;

/** What a replay found. */
export interface ReplayResult {
  /** The finding the input is, if it is one. */
  finding: FindingCandidate | undefined;
  /** The run it was replayed in (its methods, repro commands). */
  run: PreparedRun;
}

/** A prepared run with one job (no fuzzing): for replays, minimization and merges. */
export async function prepareOneJob(
  path: string,
  options: FuzzOptions,
  spares: boolean,
): Promise<{ run: PreparedRun; job: FuzzJob }> {
  const o = resolveFuzzOptions(options);
  const run = await prepareRun(path, o);
  return { run, job: new FuzzJob(0, run.session, { spares }) };
}

/** Runs `input` once (for the first of `options.methods`, or the plugin's first method). */
export async function replayInput(path: string, input: Uint8Array, options: FuzzOptions = {}): Promise<ReplayResult> {
  const { run, job } = await prepareOneJob(path, options, false);
  try {
    const r = await job.replay([input]);
    return { finding: r?.finding, run };
  } finally {
    await job.close();
  }
}

/** What a minimization did. */
export interface MinimizeResult {
  /** False when the input found no bug to begin with (then nothing was shrunk). */
  reproduced: boolean;
  original: Uint8Array;
  /** The smallest input found that still reproduces the bug. */
  input: Uint8Array;
  /** The bug (its dedup key) and its finding as the smallest input reproduces it. */
  key: string | undefined;
  finding: FindingCandidate | undefined;
  /** Candidates tried and fuzz children used. */
  tried: number;
  children: number;
  run: PreparedRun;
}

/** The candidates of one step: `input` with each `size`-byte chunk removed in turn. */
function removals(input: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < input.length; at += size) {
    const c = new Uint8Array(input.length - Math.min(size, input.length - at));
    c.set(input.subarray(0, at));
    c.set(input.subarray(at + size), at);
    out.push(c);
  }
  return out;
}

/** Shrinks `input` while it reproduces the same bug. */
export async function minimizeInput(
  path: string,
  input: Uint8Array,
  options: FuzzOptions = {},
): Promise<MinimizeResult> {
  const { run, job } = await prepareOneJob(path, options, true);
  let children = 0;
  let tried = 0;
  /** The first candidate (from `from` on) that reproduces `key`, with its finding. */
  const firstOf = async (cands: Uint8Array[], key: string | undefined) => {
    for (let from = 0; from < cands.length;) {
      const batch = cands.slice(from, from + CANDIDATES_PER_CHILD);
      children++;
      const r = await job.replay(batch);
      if (r === undefined) {
        tried += batch.length;
        from += batch.length;
        continue;
      }
      tried += r.index + 1;
      if (key === undefined || r.finding.key === key) return { index: from + r.index, finding: r.finding };
      from += r.index + 1; // another bug: not this one's smaller input
    }
    return undefined;
  };
  try {
    const first = await firstOf([input], undefined);
    if (first === undefined) {
      return { reproduced: false, original: input, input, key: undefined, finding: undefined, tried, children, run };
    }
    const key = first.finding.key;
    let best = input;
    let finding = first.finding;
    for (let size = Math.max(1, best.length >> 1); size >= 1 && best.length > 0;) {
      const cands = removals(best, size);
      const hit = await firstOf(cands, key);
      if (hit) {
        best = cands[hit.index]!;
        finding = hit.finding;
        size = Math.min(size, Math.max(1, best.length >> 1));
        continue;
      }
      if (size === 1) break;
      size >>= 1;
    }
    return { reproduced: true, original: input, input: best, key, finding, tried, children, run };
  } finally {
    await job.close();
  }
}
