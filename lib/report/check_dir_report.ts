/**
 * The report of `plugcheck check DIR`: one summary table (library, plugins,
 * checks passed, failed (+warned), time, first failure cut to one line),
 * the rules over the directory as a whole (`ladspa.unique_ids_across` with
 * its colliding IDs), a total line and the time taken; the JSON document
 * `--format json` prints (each library's report as `plugcheck check LIB`
 * prints it, plus the summary), defined as a zod schema; and the one JUnit
 * file and one SARIF log for all the libraries.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DirectoryReportJsonSchema, directoryReportJson, renderDirectoryReport } from "./check_dir_report.ts";
 * import { plain } from "./paint.ts";
 * const report = {
 *   directories: ["plugins"], missing: [], notRun: [], collisions: [], across: [], ok: true, exitCode: 0 as const,
 *   seed: 1, strict: false, jobs: 1, toolVersion: "0.1.0", startedAt: new Date(0), durationMs: 2500,
 *   libraries: [{
 *     library: "plugins/amp.so", name: "amp.so", plugins: 2, passed: 40, failed: 0, warned: 1, skipped: 3,
 *     firstFailure: undefined, exitCode: 0 as const, ok: true, durationMs: 2400, report: undefined,
 *   }],
 * };
 * const text = renderDirectoryReport(report, plain);
 * assert.match(text, /amp\.so +2 +40 +0 \(\+1\)/);
 * assert.match(text, /1 library: 1 passed, 0 failed; 44 checks/);
 * assert.equal(DirectoryReportJsonSchema.parse(directoryReportJson(report)).summary.rows[0]!.plugins, 2);
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import type { CheckResult, CheckRun } from "../check/result.ts";
import type { DirectoryReport, LibraryRun } from "../check/run_directory.ts";
import { checkReportJson, CheckReportJsonSchema, CheckResultJsonSchema } from "./check_report.ts";
import { junitXmlOfRuns } from "./junit.ts";
import type { Paint } from "./paint.ts";
import { DEFAULT_HELP_BASE, ruleUri, sarifLogOfRuns, type SarifOptions } from "./sarif.ts";
import type { SarifLog } from "../util/deps.ts";
import { duration } from "./units.ts";
import { escapeControl } from "../util/safe_text.ts";

const count = z.number().int();

/** One library's line of the summary. */
export const LibraryRowJsonSchema = z.object({
  library: z.string(),
  /** The methods describe() lists (for a LADSPA library: its plugins); null when it did not load that far. */
  plugins: count.nullable(),
  passed: count,
  /** Failed, crashed or timed out (with strict, warned too). */
  failed: count,
  warned: count,
  skipped: count,
  first_failure: z.object({ id: z.string(), details: z.string() }).nullable(),
  /** The library's own exit code as `plugcheck check LIB` gives it (3: it cannot be loaded). */
  exit_code: z.union([z.literal(0), z.literal(1), z.literal(3)]),
  duration_ms: count,
  /** plugcheck's own failure on this library (a bug of plugcheck), or null. */
  error: z.string().nullable(),
});

/** The document `plugcheck check DIR --format json` prints. */
export const DirectoryReportJsonSchema = z.object({
  ok: z.boolean(),
  exit_code: z.union([z.literal(0), z.literal(1)]),
  directories: z.array(z.string()),
  /** LADSPA_PATH directories that do not exist (left out). */
  missing_directories: z.array(z.string()),
  tool_version: z.string(),
  seed: count,
  strict: z.boolean(),
  jobs: count,
  started_at: z.string(),
  duration_ms: count,
  summary: z.object({
    libraries: count,
    passed: count,
    failed: count,
    /** Libraries not run: the run was interrupted first. */
    not_run: z.array(z.string()),
    /** Checks by status, over every library. */
    checks: z.record(z.enum(["pass", "fail", "crash", "timeout", "skip", "warn"]), count),
    rows: z.array(LibraryRowJsonSchema),
  }),
  /** LADSPA unique IDs that plugins of two or more libraries declare. */
  collisions: z.array(z.object({
    unique_id: z.number(),
    plugins: z.array(z.object({ library: z.string(), label: z.string().nullable(), index: count })),
  })),
  /** The rules over the directory as a whole (ladspa.unique_ids_across), as check results. */
  across: z.array(CheckResultJsonSchema),
  /** Each library's report, as `plugcheck check LIB --format json` prints it. */
  libraries: z.array(CheckReportJsonSchema),
});

/** The JSON document of a directory run. */
export type DirectoryReportJson = z.infer<typeof DirectoryReportJsonSchema>;

/** Checks by status, over every library. */
function checkCounts(r: DirectoryReport): Record<CheckResult["status"], number> {
  const counts = { pass: 0, fail: 0, crash: 0, timeout: 0, skip: 0, warn: 0 };
  for (const row of r.libraries) {
    const c = row.report?.counts;
    if (c === undefined) continue;
    for (const k of Object.keys(counts) as CheckResult["status"][]) counts[k] += c[k];
  }
  return counts;
}

/** `text` on one line, at most `max` characters. */
function oneLine(text: string, max: number): string {
  const line = text.replace(/\s*\n\s*/g, " ");
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/** The failed column: `2` or `2 (+1)` with warnings. */
const failedCell = (row: LibraryRun) => `${row.failed}${row.warned > 0 ? ` (+${row.warned})` : ""}`;

/** The summary table, the rules across the libraries, the totals and the time. */
export function renderDirectoryReport(r: DirectoryReport, paint: Paint): string {
  const named = (row: LibraryRun) => escapeControl(r.directories.length === 1 ? row.name : row.library);
  const nameWidth = Math.max(7, ...r.libraries.map((row) => named(row).length));
  const plural = (n: number) => `${n} ${n === 1 ? "library" : "libraries"}`;
  const out = [
    paint(
      "bold",
      `plugcheck check ${escapeControl(r.directories.join(":"))} (${plural(r.libraries.length)}, seed ${r.seed})`,
    ),
  ];
  for (const m of r.missing) out.push(paint("dim", `  (${m} does not exist: left out)`));
  const head = `  ${"library".padEnd(nameWidth)}  plugins  passed  failed (+warned)     time  first failure`;
  out.push(paint("bold", head));
  for (const row of r.libraries) {
    const first = row.firstFailure === undefined
      ? ""
      : oneLine(`${row.firstFailure.id}: ${row.firstFailure.details}`, 100);
    const cells = `  ${named(row).padEnd(nameWidth)}  ${String(row.plugins ?? "-").padStart(7)}  ${
      String(row.passed).padStart(6)
    }  ${failedCell(row).padEnd(16)} ${duration(row.durationMs).padStart(8)}  `;
    out.push(`${cells}${row.ok ? first : paint("red", first)}`);
  }
  if (r.across.length > 0) out.push("", paint("bold", "Across the libraries:"));
  for (const x of r.across) {
    const label = x.status === "fail" ? paint("red", "FAIL   ") : x.status.toUpperCase().padEnd(7);
    out.push(`  ${label} ${x.id}  ${x.details}`);
    for (const e of x.evidence) out.push(paint("dim", `          | ${e}`));
  }
  const failed = r.libraries.filter((row) => !row.ok).length;
  const sum = (f: (row: LibraryRun) => number) => r.libraries.reduce((n, row) => n + f(row), 0);
  const c = checkCounts(r);
  const [passed, warned, skipped, bad] = [
    sum((x) => x.passed),
    sum((x) => x.warned),
    sum((x) => x.skipped),
    sum((x) => x.failed),
  ];
  const checks = passed + skipped + bad + (r.strict ? 0 : warned);
  const parts = [
    `${passed} passed`,
    warned && `${warned} warned`,
    skipped && `${skipped} skipped`,
    `${bad} failed${c.crash ? ` (${c.crash} crashed)` : ""}${c.timeout ? ` (${c.timeout} timed out)` : ""}`,
  ].filter(Boolean).join(", ");
  const collided = r.collisions.length > 0 ? `; ${r.collisions.length} unique IDs collide` : "";
  out.push("");
  out.push(
    `${plural(r.libraries.length)}: ${r.libraries.length - failed} passed, ${
      failed > 0 ? paint("red", `${failed} failed`) : "0 failed"
    }; ${checks} checks: ${parts}${collided} (${duration(r.durationMs)})${r.strict ? ", strict" : ""}`,
  );
  if (r.notRun.length > 0) out.push(paint("red", `interrupted: ${plural(r.notRun.length)} not run`));
  if (failed > 0) out.push("Run plugcheck check on a library for its failures, evidence and repro commands.");
  return `${out.join("\n")}\n`;
}

/** The document `plugcheck check DIR --format json` prints. */
export function directoryReportJson(r: DirectoryReport, helpBase: string = DEFAULT_HELP_BASE): DirectoryReportJson {
  const failed = r.libraries.filter((row) => !row.ok).length;
  return {
    ok: r.ok,
    exit_code: r.exitCode,
    directories: r.directories,
    missing_directories: r.missing,
    tool_version: r.toolVersion,
    seed: r.seed,
    strict: r.strict,
    jobs: r.jobs,
    started_at: r.startedAt.toISOString(),
    duration_ms: Math.round(r.durationMs),
    summary: {
      libraries: r.libraries.length,
      passed: r.libraries.length - failed,
      failed,
      not_run: r.notRun,
      checks: checkCounts(r),
      rows: r.libraries.map((row) => ({
        library: row.library,
        plugins: row.plugins ?? null,
        passed: row.passed,
        failed: row.failed,
        warned: row.warned,
        skipped: row.skipped,
        first_failure: row.firstFailure ?? null,
        exit_code: row.exitCode,
        duration_ms: Math.round(row.durationMs),
        error: row.error ?? null,
      })),
    },
    collisions: r.collisions.map((c) => ({ unique_id: c.uniqueId, plugins: c.plugins })),
    across: r.across.map((x) => ({
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
    })),
    libraries: r.libraries.flatMap((row) => (row.report === undefined ? [] : [checkReportJson(row.report, helpBase)])),
  };
}

/**
 * The runs the JUnit and SARIF files hold: each library's (one that
 * plugcheck failed on is one crashed `plugcheck` result), then the rules
 * across the libraries as a run of the directories'.
 */
function runsOf(r: DirectoryReport): CheckRun[] {
  const runs: CheckRun[] = r.libraries.map((row) =>
    row.report ?? {
      library: row.library,
      toolVersion: r.toolVersion,
      startedAt: r.startedAt,
      durationMs: row.durationMs,
      results: [{
        id: "plugcheck.internal",
        group: "plugcheck",
        title: "plugcheck checks the library",
        rule: "checks",
        status: "crash",
        durationMs: row.durationMs,
        details: row.firstFailure?.details ?? "plugcheck failed",
        evidence: [],
      }],
    }
  );
  if (r.across.length > 0) {
    runs.push({
      library: r.directories.join(":"),
      toolVersion: r.toolVersion,
      startedAt: r.startedAt,
      durationMs: 0,
      results: r.across,
    });
  }
  return runs;
}

/** The one JUnit file of a directory run: a testsuite per library, and one for the rules across them. */
export function directoryJunitXml(r: DirectoryReport): string {
  return junitXmlOfRuns(`plugcheck check ${r.directories.join(":")}`, runsOf(r), r.durationMs);
}

/** The one SARIF log of a directory run: each result located at its library. */
export function directorySarifLog(r: DirectoryReport, options: SarifOptions = {}): SarifLog {
  return sarifLogOfRuns(runsOf(r), r, options);
}
