/**
 * The text and JSON forms of a check run: a table of every check with its
 * status, duration and one line of details (failures with their evidence
 * and repro command under them), the summary line; and the JSON document
 * `--format json` prints (snake_case, like the other reports). Plugin text
 * is escaped already; colour comes from the caller's `paint`.
 *
 * @example
 * ```ts ignore
 * import { renderCheckReport } from "./check_text.ts";
 * import { plain } from "./paint.ts";
 * console.log(renderCheckReport(report, plain));
 * ```
 *
 * @module
 */
import type { CheckSpec } from "../check/spec.ts";
import type { CheckReport } from "../check/run_checks.ts";
import type { CheckResult, CheckStatus } from "../check/result.ts";
import { groupOf } from "../check/catalog.ts";
import type { Paint, Style } from "./paint.ts";
import { DEFAULT_HELP_BASE, ruleUri } from "./sarif.ts";
import { duration } from "./units.ts";

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
  const head = r.plugin ? `${r.plugin.name} ${r.plugin.version}` : "not loaded";
  const out = [paint("bold", `plugcheck check ${r.library} (${head}, seed ${r.seed})`)];
  for (const x of r.results) {
    const [label, style] = LABEL[x.status];
    out.push(
      `  ${paint(style, label.padEnd(7))} ${x.id.padEnd(idWidth)} ${duration(x.durationMs).padStart(7)}  ${x.details}`,
    );
    if (x.status === "pass" || x.status === "skip") continue;
    for (const e of x.evidence) out.push(paint("dim", `          | ${e}`));
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
function resultJson(x: CheckResult, helpBase: string) {
  return {
    id: x.id,
    group: x.group,
    title: x.title,
    rule: x.rule,
    help_uri: ruleUri(x.rule, helpBase),
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
export function checkReportJson(r: CheckReport, helpBase = DEFAULT_HELP_BASE) {
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
  };
}

/** `--list`: one line per check (id, rule anchor, title). */
export function renderCheckList(checks: readonly CheckSpec[]): string {
  const w = Math.max(...checks.map((c) => c.id.length));
  const rw = Math.max(...checks.map((c) => c.rule.length)) + 1;
  return `${checks.map((c) => `${c.id.padEnd(w)}  #${c.rule.padEnd(rw)} ${c.title}`).join("\n")}\n`;
}

/** `--list --format json`. */
export function checkListJson(checks: readonly CheckSpec[], helpBase = DEFAULT_HELP_BASE) {
  return checks.map((c) => ({
    id: c.id,
    group: groupOf(c.id),
    title: c.title,
    rule: c.rule,
    help_uri: ruleUri(c.rule, helpBase),
    needs: c.needs,
  }));
}
