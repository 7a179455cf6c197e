/**
 * What `plugcheck fuzz --replay FILE` prints: the document (a zod schema,
 * `--format json`) and its text. One input run once: its size and SHA-1, and
 * the finding it is, if it is one (exit code 1) — with the end of the
 * child's stderr, for people, on stderr.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderReplayReport, ReplayReportSchema, replayStderrLines } from "./fuzz_replay.ts";
 * import { plain } from "./paint.ts";
 * const clean = ReplayReportSchema.parse({ ok: true, input: { size: 5, sha1: "aaf4c61d" } });
 * assert.ok(renderReplayReport(clean, plain) === "ok: 5 bytes ran cleanly\n");
 * const crash = ReplayReportSchema.parse({
 *   ok: false, input: { size: 2, sha1: "b2d1" },
 *   finding: { kind: "crash", method: "parse", message: "killed by SIGSEGV", key: "crash|SIGSEGV|parse_record" },
 * });
 * assert.ok(renderReplayReport(crash, plain) === 'crash in "parse": killed by SIGSEGV\n');
 * assert.ok(replayStderrLines("AddressSanitizer: SEGV\n\x1b[0m\n").join("|") === "  | AddressSanitizer: SEGV|  | \\x1b[0m");
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { FINDING_KINDS, type FindingCandidate, type FindingKind, sha1Hex } from "../fuzz/mod.ts";
import { escapeControl } from "../util/safe_text.ts";
import type { Paint } from "./paint.ts";

/** The document `plugcheck fuzz --replay FILE --format json` prints. */
export const ReplayReportSchema = z.object({
  /** True when the input found nothing. */
  ok: z.boolean(),
  input: z.object({ size: z.number().int(), sha1: z.string() }),
  /** The finding the input is (absent when it ran cleanly). */
  finding: z.object({
    kind: z.enum(FINDING_KINDS as [FindingKind, ...FindingKind[]]),
    method: z.string(),
    message: z.string(),
    key: z.string(),
  }).optional(),
});

/** The document of `--replay`. */
export type ReplayReport = z.infer<typeof ReplayReportSchema>;

/** Lines of the child's stderr shown under a finding. */
const TAIL_LINES = 20;

/** The document of a replay of `input` that found `finding` (or nothing). */
export function replayReport(input: Uint8Array, finding: FindingCandidate | undefined): ReplayReport {
  return {
    ok: finding === undefined,
    input: { size: input.length, sha1: sha1Hex(input) },
    ...finding && {
      finding: { kind: finding.kind, method: finding.method, message: finding.message, key: finding.key },
    },
  };
}

/** The text of a replay: the finding, or that the input ran cleanly. */
export function renderReplayReport(doc: ReplayReport, paint: Paint): string {
  const f = doc.finding;
  if (f === undefined) return `${paint("green", "ok")}: ${doc.input.size} bytes ran cleanly\n`;
  return `${paint("red", f.kind)} in ${escapeControl(JSON.stringify(f.method))}: ${escapeControl(f.message)}\n`;
}

/** The last lines of a finding's child stderr, quoted (`  | ...`) and escaped, for stderr. */
export function replayStderrLines(stderrTail: string | undefined): string[] {
  if (!stderrTail) return [];
  return stderrTail.trimEnd().split("\n").slice(-TAIL_LINES).map((l) => `  | ${escapeControl(l)}`);
}
