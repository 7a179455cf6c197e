/**
 * `mergeCorpus`: pools corpora into a minimal one, with libFuzzer's
 * `-merge=1` semantics. The inputs already in the output directory run
 * first, then the candidates, smallest first; a candidate is copied into
 * the output when it reaches something the inputs before it had not (an
 * (edge, hit-count bucket) of an instrumented library; otherwise a new kind
 * of answer). Into an empty directory, that is a small subset of the
 * candidates with all their coverage. A candidate that crashes (or hangs)
 * is recorded as a finding and left out; the child that replaces the dead
 * one first reruns the inputs kept so far, so the result is the same as if
 * nothing had crashed.
 *
 * @example
 * ```ts ignore
 * import { mergeCorpus } from "./merge.ts";
 * const r = await mergeCorpus("build/fixtures/fuzz/libcov_magic.so", "corpus-min", ["corpus-a", "corpus-b"], {
 *   methods: ["magic"],
 * });
 * console.log(`${r.added} of ${r.candidates} inputs added; ${r.coverage?.features} features`);
 * ```
 *
 * @module
 */
import { resolve } from "node:path";
import { UsageError } from "../../errors/errors.ts";
import { CorpusDirectory, readInputs, sha1Hex } from "./artifacts.ts";
import type { Finding } from "./finding_book.ts";
import { bestCoverage } from "./report.ts";
import { prepareOneJob } from "./minimize.ts";
import type { FuzzOptions } from "./options.ts";

/** What a merge did. */
export interface MergeResult {
  into: string;
  /** Inputs that were in the output directory, and candidates from the others (distinct, new to it). */
  base: number;
  candidates: number;
  /** Candidates copied into the output directory. */
  added: number;
  /** Candidates that were findings (left out; their artifacts are written). */
  findings: Finding[];
  /** Coverage of the merged corpus (null: the library is not instrumented). */
  coverage: { edges: number; features: number } | null;
  children: number;
  seconds: number;
}

function checkDir(dir: string): void {
  try {
    if (Deno.statSync(dir).isDirectory) return;
  } catch (e) {
    throw new UsageError(`Cannot read corpus directory ${JSON.stringify(dir)}: ${e instanceof Error ? e.message : e}`);
  }
  throw new UsageError(`Corpus ${JSON.stringify(dir)} is not a directory`);
}

/**
 * Merges the inputs of `from` into the directory `into` (created if
 * needed); see the module. Throws `UsageError` / `LoadError` before
 * anything runs; a merge runs one method (`options.methods`).
 */
export async function mergeCorpus(
  path: string,
  into: string,
  from: readonly string[],
  options: FuzzOptions = {},
): Promise<MergeResult> {
  if (from.length === 0) throw new UsageError("A merge needs at least one directory to take inputs from");
  const started = performance.now();
  const out = resolve(into);
  const dirs = from.map((d) => resolve(d));
  for (const d of dirs) checkDir(d);
  const { run, job } = await prepareOneJob(path, { ...options, corpus: [], leaks: false }, true);
  run.session.oneMethod = true;
  const maxLen = run.options.maxLen;
  const corpus = new CorpusDirectory(out);
  const base = readInputs([out], maxLen);
  const known = new Set(base.map((b) => sha1Hex(b)));
  const candidates: Uint8Array[] = [];
  for (const input of readInputs(dirs, maxLen)) {
    const sha1 = sha1Hex(input);
    if (known.has(sha1)) continue;
    known.add(sha1);
    candidates.push(input);
  }
  candidates.sort((a, b) => a.length - b.length);
  const kept: Uint8Array[] = [];
  let children = 0;
  try {
    let pending = candidates;
    while (pending.length > 0) {
      const prefix = [...base, ...kept];
      children++;
      const r = await job.merge([...prefix, ...pending]);
      for (const i of r.fresh) if (i >= prefix.length) kept.push(pending[i - prefix.length]!);
      if (r.died === undefined) break;
      if (r.died < prefix.length) { // an input that ran cleanly before killed a child now: drop it too
        if (r.died < base.length) base.splice(r.died, 1);
        else kept.splice(r.died - base.length, 1);
        continue;
      }
      // Rerun what ran after the last confirmed batch, without the input that killed the child.
      const confirmed = Math.max(0, r.upTo - prefix.length), dead = r.died - prefix.length;
      pending = pending.filter((_, i) => i >= confirmed && i !== dead);
    }
  } finally {
    await job.close();
  }
  for (const input of kept) corpus.add(input);
  await run.book.locate(run.pluginPath);
  return {
    into: out,
    base: base.length,
    candidates: candidates.length,
    added: corpus.written,
    findings: run.book.all,
    coverage: run.session.guided ? bestCoverage([job]) : null,
    children,
    seconds: (performance.now() - started) / 1000,
  };
}
