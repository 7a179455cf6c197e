/**
 * Two check reports of two builds, compared check by check: a check that
 * passed (or was skipped) and now fails, crashes or times out is a
 * regression; the reverse a fix (an improvement); a check only one run has,
 * or a warning that came or went, a change. How far each build loaded is
 * compared too.
 *
 * @example
 * ```ts ignore
 * import { compareChecks } from "./compare_check.ts";
 * const c = compareChecks(oldReport, newReport);
 * for (const d of c.differences) if (d.verdict === "regression") console.log(d.item, d.detail);
 * ```
 *
 * @module
 */
import type { CheckReportJson } from "../check_report.ts";
import { STAGES } from "../../check/spec.ts";
import { type Comparison, comparison, DEFAULT_MAX_SLOWDOWN, type Difference, statusVerdict } from "./difference.ts";
import { machineWarnings } from "./machines.ts";

const BAD = new Set(["fail", "crash", "timeout"]);

/** The document comparing two check reports (old first). */
export function compareChecks(a: CheckReportJson, b: CheckReportJson, maxSlowdown = DEFAULT_MAX_SLOWDOWN): Comparison {
  const diffs: Difference[] = [];
  if (a.stage !== b.stage) {
    diffs.push({
      area: "behaviour",
      item: "loads as far as",
      old: a.stage,
      new: b.stage,
      verdict: STAGES.indexOf(b.stage) < STAGES.indexOf(a.stage) ? "regression" : "improvement",
      detail: `${a.stage} -> ${b.stage}${b.stage_error ? `: ${b.stage_error}` : ""}`,
    });
  }
  const before = new Map(a.results.map((r) => [r.id, r]));
  const after = new Map(b.results.map((r) => [r.id, r]));
  for (const [id, o] of before) {
    const n = after.get(id);
    if (n === undefined) {
      diffs.push({
        area: "checks",
        item: id,
        old: o.status,
        new: null,
        verdict: "change",
        detail: "not run on the new build",
      });
      continue;
    }
    const verdict = statusVerdict(BAD.has(o.status), BAD.has(n.status), o.status === n.status);
    const detail = verdict === "regression"
      ? `${o.status} -> ${n.status}: ${n.details}`
      : verdict === "improvement"
      ? `${o.status} -> ${n.status} (was: ${o.details})`
      : o.status !== n.status
      ? `${o.status} -> ${n.status}`
      : n.status;
    diffs.push({ area: "checks", item: id, old: o.status, new: n.status, verdict, detail });
  }
  for (const [id, n] of after) {
    if (before.has(id)) continue;
    diffs.push({
      area: "checks",
      item: id,
      old: null,
      new: n.status,
      verdict: BAD.has(n.status) ? "regression" : "change",
      detail: `only on the new build: ${n.status}${BAD.has(n.status) ? `: ${n.details}` : ""}`,
    });
  }
  const build = (r: CheckReportJson) => ({
    library: r.library,
    plugin: r.plugin ? `${r.plugin.name} ${r.plugin.version}` : null,
    sha256: r.provenance.plugin_sha256,
  });
  const warnings = machineWarnings(a.provenance, b.provenance);
  if (a.seed !== b.seed) {
    warnings.push(`The runs used other seeds (${a.seed}, ${b.seed}): checks that sample may differ.`);
  }
  return comparison("check", { old: build(a), new: build(b) }, maxSlowdown, diffs, warnings);
}
