/**
 * The report of a `plugcheck check` run as people and scripts read it: the
 * table of every check with its status, duration and one line of details
 * (failures with their evidence and repro command under them) and the
 * summary line; and the JSON document `--format json` prints (snake_case,
 * like the other reports), defined as a zod schema. The checks escape the
 * plugin text in their details; the header escapes and shortens the plugin's
 * name and version; colour comes from the caller's `paint`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckReportJsonSchema, checkReportJson, renderCheckReport } from "./check_report.ts";
 * import { plain } from "./paint.ts";
 * const report = {
 *   library: "libdemo.so", plugin: { name: "demo", version: "1.0.0" }, toolVersion: "0.1.0",
 *   startedAt: new Date("2024-05-01T10:00:00Z"), durationMs: 1500, ok: false, exitCode: 1 as const, seed: 1,
 *   strict: false, configPath: undefined, stage: "plugin" as const, stageError: undefined,
 *   counts: { pass: 0, fail: 1, crash: 0, timeout: 0, skip: 0, warn: 0 },
 *   provenance: {
 *     tool: { name: "plugcheck" as const, version: "0.1.0" }, plugin_sha256: null,
 *     machine: { os: "linux", arch: "x86_64", cores: 2, kernel: "6.1.0", deno: "2.9.6" },
 *   },
 *   results: [{
 *     id: "errors.unknown_method", group: "errors", title: "An unknown method answers UNKNOWN_METHOD",
 *     rule: "unknown-methods", status: "fail" as const, durationMs: 12, details: "status 7 (INTERNAL)",
 *     evidence: ["invoke \"no-such-method\" -> status 7"], repro: "plugcheck invoke lib.so no-such-method --isolate",
 *   }],
 * };
 * const text = renderCheckReport(report, plain);
 * assert.ok(text.includes("  FAIL    errors.unknown_method 12.0 ms  status 7 (INTERNAL)\n"));
 * assert.ok(text.includes("1 checks: 0 passed; 1 failed (1.5 s)\n"));
 * assert.ok(CheckReportJsonSchema.parse(checkReportJson(report)).results[0]!.repro === report.results[0]!.repro);
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { ProvenanceSchema } from "../load/provenance.ts";
import type { CheckReport } from "../check/run_checks.ts";
import type { CheckResult, CheckStatus } from "../check/result.ts";
import { STAGES } from "../check/spec.ts";
import type { Paint, Style } from "./paint.ts";
import { DEFAULT_HELP_BASE, ruleUri } from "./sarif.ts";
import { shortText } from "../util/safe_text.ts";
import { duration } from "./units.ts";

/** Every status a check ends with. */
const STATUSES = ["pass", "fail", "crash", "timeout", "skip", "warn"] as const satisfies readonly CheckStatus[];

const Location = z.object({ file: z.string(), line: z.number().int().optional() });

/** One check's result in the JSON document. */
export const CheckResultJsonSchema = z.object({
  id: z.string(),
  group: z.string(),
  title: z.string(),
  /** The anchor of the rule in docs/abi.md, and its full link. */
  rule: z.string(),
  help_uri: z.string(),
  status: z.enum(STATUSES),
  duration_ms: z.number(),
  details: z.string(),
  evidence: z.array(z.string()),
  repro: z.string().nullable(),
  location: Location.optional(),
  findings: z.array(z.object({ message: z.string(), location: Location.optional() })).optional(),
});

/** The document `plugcheck check --format json` prints. */
export const CheckReportJsonSchema = z.object({
  /** True when no check failed (with `strict`, none warned either). */
  ok: z.boolean(),
  exit_code: z.union([z.literal(0), z.literal(1), z.literal(3)]),
  library: z.string(),
  plugin: z.object({ name: z.string(), version: z.string() }).nullable(),
  tool_version: z.string(),
  seed: z.number().int(),
  strict: z.boolean(),
  config: z.string().nullable(),
  started_at: z.string(),
  duration_ms: z.number().int(),
  /** How far the plugin got in loading, and why it stopped there. */
  stage: z.enum(STAGES),
  stage_error: z.string().nullable(),
  counts: z.record(z.enum(STATUSES), z.number().int()),
  results: z.array(CheckResultJsonSchema),
  /** Which plugcheck, which build of the plugin (its SHA-256), on what machine: for charting runs over time. */
  provenance: ProvenanceSchema,
});

/** The JSON document of a check run. */
export type CheckReportJson = z.infer<typeof CheckReportJsonSchema>;
/** One result of it. */
export type CheckResultJson = z.infer<typeof CheckResultJsonSchema>;

const LABEL: Record<CheckStatus, [string, Style]> = {
  pass: ["PASS", "green"],
  fail: ["FAIL", "red"],
  crash: ["CRASH", "red"],
  timeout: ["TIMEOUT", "red"],
  skip: ["SKIP", "dim"],
  warn: ["WARN", "yellow"],
};

/** The table, the summary and (for what did not pass) the evidence and repro commands. */
export function renderCheckReport(r: CheckReport, paint: Paint): string {
  const idWidth = Math.max(...r.results.map((x) => x.id.length), 10);
  // The plugin's own words: escaped and shortened, as every other command shows them.
  const head = r.plugin ? `${shortText(r.plugin.name, 60)} ${shortText(r.plugin.version, 40)}` : "not loaded";
  const out = [paint("bold", `plugcheck check ${r.library} (${head}, seed ${r.seed})`)];
  for (const x of r.results) {
    const [label, style] = LABEL[x.status];
    out.push(
      `  ${paint(style, label.padEnd(7))} ${x.id.padEnd(idWidth)} ${duration(x.durationMs).padStart(7)}  ${x.details}`,
    );
    if (x.status === "pass" || x.status === "skip") continue;
    // Evidence that only repeats the details line (a warning's one message) is shown once.
    for (const e of x.evidence) if (e !== x.details) out.push(paint("dim", `          | ${e}`));
    if (x.repro) out.push(paint("dim", `          repro: ${x.repro}`));
  }
  const c = r.counts;
  const parts = [`${c.pass} passed`, c.warn && `${c.warn} warned`, c.skip && `${c.skip} skipped`]
    .filter(Boolean).join(", ");
  const bad = c.fail + c.crash + c.timeout;
  const failed = bad > 0
    ? paint(
      "red",
      `${c.fail} failed${c.crash ? `, ${c.crash} crashed` : ""}${c.timeout ? `, ${c.timeout} timed out` : ""}`,
    )
    : "none failed";
  out.push("");
  out.push(`${r.results.length} checks: ${parts}; ${failed} (${duration(r.durationMs)})${r.strict ? ", strict" : ""}`);
  if (r.exitCode === 3) out.push(paint("red", `the library cannot be loaded: ${r.stageError}`));
  else if (bad > 0 || (r.strict && c.warn > 0)) out.push("Each failure's repro command shows it again on its own.");
  return `${out.join("\n")}\n`;
}

/** One result in the JSON document. */
function resultJson(x: CheckResult, helpBase: string): CheckResultJson {
  return {
    id: x.id,
    group: x.group,
    title: x.title,
    rule: x.rule,
    help_uri: ruleUri(x.rule, helpBase, x.id),
    status: x.status,
    duration_ms: x.durationMs,
    details: x.details,
    evidence: x.evidence,
    repro: x.repro ?? null,
    ...x.location && { location: x.location },
    ...x.findings && { findings: x.findings },
  };
}

/** The document `plugcheck check --format json` prints. */
export function checkReportJson(r: CheckReport, helpBase: string = DEFAULT_HELP_BASE): CheckReportJson {
  return {
    ok: r.ok,
    exit_code: r.exitCode,
    library: r.library,
    plugin: r.plugin ?? null,
    tool_version: r.toolVersion,
    seed: r.seed,
    strict: r.strict,
    config: r.configPath ?? null,
    started_at: r.startedAt.toISOString(),
    duration_ms: Math.round(r.durationMs),
    stage: r.stage,
    stage_error: r.stageError ?? null,
    counts: r.counts,
    results: r.results.map((x) => resultJson(x, helpBase)),
    provenance: r.provenance,
  };
}
