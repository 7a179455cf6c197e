/**
 * Two fuzz reports of two builds, compared: a finding (by its key: one bug)
 * the new build's run made and the old one's did not is a regression, the
 * reverse an improvement; methods fuzzed that came or went; exec/s (slower
 * than `maxSlowdown` times is a regression); coverage. Fuzzing samples: two
 * runs compare best with the same seed and the same number of runs.
 *
 * @example
 * ```ts ignore
 * import { compareFuzz } from "./compare_fuzz.ts";
 * console.log(compareFuzz(oldReport, newReport).counts);
 * ```
 *
 * @module
 */
import type { FuzzReport } from "../../fuzz/mod.ts";
import {
  type Comparison,
  comparison,
  DEFAULT_MAX_SLOWDOWN,
  type Difference,
  methodChanges,
  ratioText,
  slowdownVerdict,
} from "./difference.ts";
import { machineWarnings } from "./machines.ts";

/** The document comparing two fuzz reports (old first). */
export function compareFuzz(
  a: FuzzReport,
  b: FuzzReport,
  maxSlowdown = DEFAULT_MAX_SLOWDOWN,
  options: { judgeSpeed?: boolean; methods?: boolean } = {},
): Comparison {
  const diffs: Difference[] = [];
  const before = new Map(a.findings.map((f) => [f.key, f]));
  const after = new Map(b.findings.map((f) => [f.key, f]));
  for (const [key, f] of after) {
    const o = before.get(key);
    diffs.push({
      area: "findings",
      item: key,
      old: o ? o.count : null,
      new: f.count,
      verdict: o ? "same" : "regression",
      detail: `${o ? "found on both" : "new"}: ${f.kind} in ${f.method}: ${f.message} (${f.artifact})`,
    });
  }
  for (const [key, f] of before) {
    if (after.has(key)) continue;
    diffs.push({
      area: "findings",
      item: key,
      old: f.count,
      new: null,
      verdict: "improvement",
      detail: `not found on the new build: ${f.kind} in ${f.method}: ${f.message}`,
    });
  }
  // `--against` asks both builds directly which methods they have (behaviour.ts): not said twice.
  if (options.methods !== false) diffs.push(...methodChanges(new Set(a.methods), new Set(b.methods), "fuzzed"));
  if (a.run.per_second > 0 && b.run.per_second > 0) {
    const ratio = a.run.per_second / b.run.per_second;
    diffs.push({
      area: "performance",
      item: "exec/s",
      old: a.run.per_second,
      new: b.run.per_second,
      // Two runs one after the other share no noise: `--against` shows this, unjudged.
      verdict: slowdownVerdict(ratio, maxSlowdown, options.judgeSpeed !== false),
      detail: `${b.run.per_second} vs ${a.run.per_second} exec/s: ${ratioText(ratio)}x the old cost an execution${
        options.judgeSpeed === false ? " (not judged: two runs one after the other)" : ""
      }`,
    });
  }
  if (a.coverage && b.coverage) {
    diffs.push({
      area: "behaviour",
      item: "edges",
      old: a.coverage.edges,
      new: b.coverage.edges,
      verdict: a.coverage.edges === b.coverage.edges ? "same" : "change",
      detail: `${b.coverage.edges} of ${b.coverage.instrumented} vs ${a.coverage.edges} of ${a.coverage.instrumented}`,
    });
  }
  const warnings = machineWarnings(a.provenance, b.provenance);
  if (a.seed !== b.seed || a.run.execs !== b.run.execs) {
    warnings.push(
      `The runs differ (seed ${a.seed}, ${a.run.execs} executions; seed ${b.seed}, ${b.run.execs}): a finding one made and the other did not may be chance.`,
    );
  }
  const build = (r: FuzzReport) => ({
    library: r.plugin.path,
    plugin: r.plugin.name ? `${r.plugin.name} ${r.plugin.version ?? ""}`.trim() : null,
    sha256: r.provenance.plugin_sha256,
  });
  return comparison("fuzz", { old: build(a), new: build(b) }, maxSlowdown, diffs, warnings);
}
