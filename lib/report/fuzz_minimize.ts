/**
 * What `plugcheck fuzz --minimize FILE` prints: the document (a zod schema,
 * `--format json`) and its text. A finding's input shrunk: its sizes before
 * and after, the bug it still reproduces, where the smallest input was
 * written and the command that reproduces it; or, for an input that finds
 * no bug, `ok: false` and its size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MinimizedSchema, MinimizeReportSchema, renderMinimizeReport } from "./fuzz_minimize.ts";
 * const doc = MinimizedSchema.parse({
 *   ok: true, reproduced: true, key: "crash|SIGSEGV|parse_record", kind: "crash", method: "parse",
 *   message: "killed by SIGSEGV during invoke \"parse\"", original: { path: "crash-padded", size: 202 },
 *   minimized: { path: "minimized-from-3f2a", size: 2, sha1: "b2d1" }, tried: 40, children: 3,
 *   repro: "plugcheck invoke libmagic_prefix.so parse --input-file minimized-from-3f2a --isolate",
 * });
 * assert.ok(renderMinimizeReport(doc).startsWith("minimized  202 -> 2 bytes (40 candidates, 3 children)\n"));
 * assert.ok(!MinimizeReportSchema.parse({ ok: false, reproduced: false, input: { size: 5 } }).ok);
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { FINDING_KINDS, type FindingKind, type MinimizeResult, sha1Hex } from "../fuzz/mod.ts";
import { escapeControl } from "../util/safe_text.ts";

const File = z.object({ path: z.string(), size: z.number().int() });

/** An input that reproduced a bug, shrunk. */
export const MinimizedSchema = z.object({
  ok: z.literal(true),
  reproduced: z.literal(true),
  /** The bug: findings with the same key are one bug. */
  key: z.string(),
  kind: z.enum(FINDING_KINDS as [FindingKind, ...FindingKind[]]),
  method: z.string(),
  message: z.string(),
  original: File,
  /** The smallest input that still reproduces the bug, as written (`minimized-from-<sha1 of the original>`). */
  minimized: File.extend({ sha1: z.string() }),
  /** Candidates tried and fuzz children used. */
  tried: z.number().int(),
  children: z.number().int(),
  /** The command that reproduces the bug with the smallest input. */
  repro: z.string(),
});

/** An input that found no bug: nothing was shrunk (exit code 1). */
export const NotReproducedSchema = z.object({
  ok: z.literal(false),
  reproduced: z.literal(false),
  input: z.object({ size: z.number().int() }),
});

/** The document `plugcheck fuzz --minimize FILE --format json` prints. */
export const MinimizeReportSchema = z.union([MinimizedSchema, NotReproducedSchema]);

/** The document of `--minimize`. */
export type MinimizeReport = z.infer<typeof MinimizeReportSchema>;
/** The document of `--minimize` for an input that reproduced a bug. */
export type Minimized = z.infer<typeof MinimizedSchema>;

/**
 * The document of a minimization of the input at `original`; `written` is
 * where the smallest input was written (ignored when nothing reproduced).
 */
export function minimizeReport(r: MinimizeResult, original: string, written: string): MinimizeReport {
  if (!r.reproduced || r.finding === undefined) {
    return { ok: false, reproduced: false, input: { size: r.original.length } };
  }
  const f = r.finding;
  return {
    ok: true,
    reproduced: true,
    key: r.key ?? f.key,
    kind: f.kind,
    method: f.method,
    message: f.message,
    original: { path: original, size: r.original.length },
    minimized: { path: written, size: r.input.length, sha1: sha1Hex(r.input) },
    tried: r.tried,
    children: r.children,
    repro: r.run.reproFor({ method: f.method, kind: f.kind, artifact: written }),
  };
}

/** The text of a minimization that reproduced: sizes, the bug, the file written, the repro command. */
export function renderMinimizeReport(doc: Minimized): string {
  return [
    `minimized  ${doc.original.size} -> ${doc.minimized.size} bytes (${doc.tried} candidates, ${doc.children} children)`,
    `bug        ${escapeControl(doc.key)}`,
    `written    ${escapeControl(doc.minimized.path)}`,
    `reproduce  ${escapeControl(doc.repro)}`,
    "",
  ].join("\n");
}
