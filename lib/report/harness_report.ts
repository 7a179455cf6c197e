/**
 * What `plugcheck harness` prints besides the C itself: the document (a zod
 * schema, `--format json`) holding the harness and how to build it, and the
 * line that says where it was written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HarnessReportSchema, writtenLine } from "./harness_report.ts";
 * const doc = HarnessReportSchema.parse({
 *   ok: true, harness: "int LLVMFuzzerTestOneInput(...)", library: "/opt/libdemo.so", method: "parse",
 *   build: "clang -fsanitize=fuzzer harness.c -ldl -o harness", output: "harness.c", warnings: [],
 * });
 * assert.ok(writtenLine(doc) === 'wrote harness.c: fuzzes "parse"; build: clang -fsanitize=fuzzer harness.c -ldl -o harness');
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { escapeControl } from "../util/safe_text.ts";

/** The document `plugcheck harness --format json` prints. */
export const HarnessReportSchema = z.object({
  ok: z.literal(true),
  /** The C source. */
  harness: z.string(),
  library: z.string(),
  method: z.string(),
  /** The clang command that builds it. */
  build: z.string(),
  /** Where it was written (null: only printed). */
  output: z.string().nullable(),
  warnings: z.array(z.string()),
});

/** The document of `harness`. */
export type HarnessReport = z.infer<typeof HarnessReportSchema>;

/** What a generated harness is: its C, for which library and method, its build command, its file if written. */
export interface GeneratedHarness {
  harness: string;
  library: string;
  method: string;
  build: string;
  output: string | undefined;
}

/** The document of a generated harness. */
export function harnessReport(h: GeneratedHarness, warnings: readonly string[]): HarnessReport {
  return { ok: true, ...h, output: h.output ?? null, warnings: [...warnings] };
}

/** The line (for stderr) that says where the harness went, what it fuzzes and how to build it; undefined without a file. */
export function writtenLine(doc: HarnessReport): string | undefined {
  if (doc.output === null) return undefined;
  return `wrote ${escapeControl(doc.output)}: fuzzes ${escapeControl(JSON.stringify(doc.method))}; build: ${
    escapeControl(doc.build)
  }`;
}
