/**
 * What `plugcheck fuzz --merge OUT_DIR IN_DIR...` prints: the document (a
 * zod schema, `--format json`) and its text. How many candidates the merge
 * saw and added to the output directory, the coverage of the merged corpus,
 * and the candidates left out because they were findings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MergeReportSchema, renderMergeReport } from "./fuzz_merge.ts";
 * const doc = MergeReportSchema.parse({
 *   ok: true, into: "corpus-min", base: 0, candidates: 3, added: 2, coverage: { edges: 12, features: 19 },
 *   findings: [{ kind: "crash", method: "magic", message: "killed by SIGSEGV", artifact: "crash-0123" }],
 *   children: 2, seconds: 0.412,
 * });
 * assert.ok(renderMergeReport(doc) === [
 *   "merged     2 of 3 new inputs into corpus-min (0 there before); coverage 12 edges, 19 features",
 *   'left out   crash in "magic": crash-0123',
 *   "",
 * ].join("\n"));
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { FINDING_KINDS, type FindingKind, type MergeResult } from "../fuzz/mod.ts";
import { escapeControl } from "../util/safe_text.ts";

/** The document `plugcheck fuzz --merge ... --format json` prints. */
export const MergeReportSchema = z.object({
  ok: z.literal(true),
  /** The output directory. */
  into: z.string(),
  /** Inputs that were in it before, and candidates from the others (distinct, new to it). */
  base: z.number().int(),
  candidates: z.number().int(),
  /** Candidates copied into it. */
  added: z.number().int(),
  /** Coverage of the merged corpus (null: the library is not instrumented). */
  coverage: z.object({ edges: z.number().int(), features: z.number().int() }).nullable(),
  /** Candidates that were findings: left out, their artifacts written. */
  findings: z.array(z.object({
    kind: z.enum(FINDING_KINDS as [FindingKind, ...FindingKind[]]),
    method: z.string(),
    message: z.string(),
    artifact: z.string(),
  })),
  children: z.number().int(),
  seconds: z.number(),
});

/** The document of `--merge`. */
export type MergeReport = z.infer<typeof MergeReportSchema>;

/** The document of a finished merge. */
export function mergeReport(r: MergeResult): MergeReport {
  return {
    ok: true,
    into: r.into,
    base: r.base,
    candidates: r.candidates,
    added: r.added,
    coverage: r.coverage,
    findings: r.findings.map((f) => ({ kind: f.kind, method: f.method, message: f.message, artifact: f.artifact })),
    children: r.children,
    seconds: Math.round(r.seconds * 1000) / 1000,
  };
}

/** The text of a merge: what was added, the coverage, and each finding left out. */
export function renderMergeReport(doc: MergeReport): string {
  const cov = doc.coverage ? `; coverage ${doc.coverage.edges} edges, ${doc.coverage.features} features` : "";
  const lines = [
    `merged     ${doc.added} of ${doc.candidates} new inputs into ${
      escapeControl(doc.into)
    } (${doc.base} there before)${cov}`,
  ];
  for (const f of doc.findings) {
    lines.push(`left out   ${f.kind} in ${escapeControl(JSON.stringify(f.method))}: ${escapeControl(f.artifact)}`);
  }
  return `${lines.join("\n")}\n`;
}
