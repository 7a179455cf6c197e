/**
 * What `plugcheck fuzz --replay FILE` prints: the document (a zod schema,
 * `--format json`) and its text. One input run once: its size and SHA-1, and
 * the finding it is, if it is one (exit code 1): where, the sanitizer's
 * summary and the stack; for other findings the end of the child's stderr,
 * for people, on stderr.
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
 *   finding: { kind: "crash", method: "parse", message: "killed by SIGSEGV", key: "signal:libp.so+0x10", stack: [], runtime_frames: 0 },
 * });
 * assert.ok(renderReplayReport(crash, plain) === 'crash in "parse": killed by SIGSEGV\n');
 * assert.ok(replayStderrLines({ stderrTail: "free(): invalid size\n\x1b[0m\n" }).join("|") === "  | free(): invalid size|  | \\x1b[0m");
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { FINDING_KINDS, type FindingCandidate, type FindingKind, sha1Hex } from "../fuzz/mod.ts";
import { escapeControl } from "../util/safe_text.ts";
import type { Paint } from "./paint.ts";
import type { FindingWords } from "../fuzz/mod.ts";

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
    /** The first frame inside the plugin, in words. */
    location: z.string().optional(),
    /** The sanitizer's summary, with its place in words. */
    summary: z.string().optional(),
    /** The stack: the sanitizer's, or the crashed thread's from the first plugin frame on. */
    stack: z.array(z.string()),
    /** Runtime frames (libc, the sanitizer runtime, plugcheck's helper) above the first plugin frame. */
    runtime_frames: z.number().int(),
  }).optional(),
});

/** The document of `--replay`. */
export type ReplayReport = z.infer<typeof ReplayReportSchema>;

/** Lines of the child's stderr shown under a finding. */
const TAIL_LINES = 20;

/** The document of a replay of `input` that found `finding` (or nothing), said in `words`. */
export function replayReport(
  input: Uint8Array,
  finding: FindingCandidate | undefined,
  words?: FindingWords,
): ReplayReport {
  return {
    ok: finding === undefined,
    input: { size: input.length, sha1: sha1Hex(input) },
    ...finding && {
      finding: {
        kind: finding.kind,
        method: finding.method,
        message: words?.message ?? finding.message,
        key: finding.key,
        ...words?.location !== undefined && { location: words.location },
        ...words?.summary !== undefined && { summary: words.summary },
        stack: words?.stack ?? [],
        runtime_frames: words?.runtimeFrames ?? 0,
      },
    },
  };
}

/** The text of a replay: the finding, where, the sanitizer's summary and the stack; or that the input ran cleanly. */
export function renderReplayReport(doc: ReplayReport, paint: Paint): string {
  const f = doc.finding;
  if (f === undefined) return `${paint("green", "ok")}: ${doc.input.size} bytes ran cleanly\n`;
  const lines = [`${paint("red", f.kind)} in ${escapeControl(JSON.stringify(f.method))}: ${escapeControl(f.message)}`];
  if (f.location !== undefined) lines.push(`  at ${escapeControl(f.location)}`);
  if (f.summary !== undefined) lines.push(`  ${escapeControl(f.summary)}`);
  if (f.runtime_frames > 0) {
    lines.push(`  stack (from the first plugin frame; ${f.runtime_frames} runtime frames above):`);
  } else if (f.stack.length > 0) lines.push("  stack:");
  for (const s of f.stack) lines.push(`    ${escapeControl(s)}`);
  return `${lines.join("\n")}\n`;
}

/**
 * The last lines of a finding's child stderr, quoted (`  | ...`) and
 * escaped, for stderr; none for a sanitizer's report (its summary and stack
 * are in the replay's own lines; its end is the shadow-byte legend).
 */
export function replayStderrLines(finding: Pick<FindingCandidate, "stderrTail" | "asan"> | undefined): string[] {
  if (!finding?.stderrTail || finding.asan) return [];
  return finding.stderrTail.trimEnd().split("\n").slice(-TAIL_LINES).map((l) => `  | ${escapeControl(l)}`);
}
