/**
 * Two stress reports of two builds, compared: the verdicts (one that passed
 * and now fails is a regression), the methods and their outputs, the speed
 * (calls/s, p50, p99: slower than `maxSlowdown` times the old build is a
 * regression, corrected by the dispatch floor when both runs measured it, so
 * that a slower machine is not a slower plugin), and the resources after the
 * same work (peak RSS, threads and descriptors at the end).
 *
 * @example
 * ```ts ignore
 * import { compareStress } from "./compare_stress.ts";
 * const c = compareStress(oldReport, newReport, 1.2);
 * console.log(c.ok ? "no regression" : c.differences.filter((d) => d.verdict === "regression"));
 * ```
 *
 * @module
 */
import type { StressReport } from "../../stress/report.ts";
import { duration, mib } from "../units.ts";
import {
  type Comparison,
  comparison,
  DEFAULT_MAX_SLOWDOWN,
  type Difference,
  methodChanges,
  ratioText,
  slowdownVerdict,
  statusVerdict,
  type Verdict,
} from "./difference.ts";
import { machineWarnings } from "./machines.ts";

/** RSS growth below this is noise, whatever the ratio. */
const RSS_SLACK_BYTES = 8 * 2 ** 20;

/** The document comparing two stress reports (old first). */
export function compareStress(
  a: StressReport,
  b: StressReport,
  maxSlowdown = DEFAULT_MAX_SLOWDOWN,
  options: { judgeSpeed?: boolean } = {},
): Comparison {
  // Two runs one after the other share no noise: `--against` times each method interleaved instead, and leaves these
  // figures unjudged (a change when beyond the tolerance, never a regression).
  const judged = options.judgeSpeed !== false;
  const diffs: Difference[] = [];
  const before = new Map(a.verdicts.map((v) => [v.id, v]));
  for (const n of b.verdicts) {
    const o = before.get(n.id);
    const verdict: Verdict = o === undefined
      ? "change"
      : statusVerdict(o.status === "fail", n.status === "fail", o.status === n.status);
    diffs.push({
      area: "checks",
      item: n.id,
      old: o?.status ?? null,
      new: n.status,
      verdict,
      detail: verdict === "regression" ? `${o!.status} -> fail: ${n.summary}` : `${o?.status ?? "-"} -> ${n.status}`,
    });
  }
  const methods = (r: StressReport) => new Set(r.inputs.map((i) => i.method));
  diffs.push(...methodChanges(methods(a), methods(b), "called"));
  const wrong = (r: StressReport) => r.outcomes.wrong + r.outcomes.unexpected;
  diffs.push({
    area: "behaviour",
    item: "outputs",
    old: wrong(a),
    new: wrong(b),
    verdict: statusVerdict(wrong(a) > 0, wrong(b) > 0, true),
    detail: `${wrong(b)} of ${b.outcomes.checked} outputs wrong or unexpected (old: ${
      wrong(a)
    } of ${a.outcomes.checked})`,
  });
  // The floor: the same loops on a no-op function. Its slowdown is the machine's, and is taken out of the plugin's.
  const machine = a.floor && b.floor && a.floor.per_second > 0 && b.floor.per_second > 0
    ? a.floor.per_second / b.floor.per_second
    : null;
  const corrected = (ratio: number) => (machine === null ? ratio : ratio / machine);
  const note = (machine === null ? "" : `; the floor ran ${ratioText(machine)}x as slow, taken out`) +
    (judged ? "" : " (the whole run, not judged: see each method's speed)");
  if (a.run.per_second > 0 && b.run.per_second > 0) {
    const ratio = corrected(a.run.per_second / b.run.per_second);
    diffs.push({
      area: "performance",
      item: "calls/s",
      old: a.run.per_second,
      new: b.run.per_second,
      verdict: slowdownVerdict(ratio, maxSlowdown, judged),
      detail: `${b.run.per_second} vs ${a.run.per_second} calls/s: ${ratioText(ratio)}x the old cost a call${note}`,
    });
  }
  for (const [item, key] of [["p50", "p50_ms"], ["p99", "p99_ms"]] as const) {
    const [o, n] = [a.run.latency[key], b.run.latency[key]];
    if (o <= 0 || n <= 0) continue;
    const ratio = corrected(n / o);
    diffs.push({
      area: "performance",
      item: `latency ${item}`,
      old: o,
      new: n,
      verdict: slowdownVerdict(ratio, maxSlowdown, judged),
      detail: `${duration(n)} vs ${duration(o)}: ${ratioText(ratio)}x${note}`,
    });
  }
  const peak = (r: StressReport) => r.resources.peak?.rss_bytes ?? null;
  const [pa, pb] = [peak(a), peak(b)];
  if (pa !== null && pb !== null) {
    const grew = pb - pa > RSS_SLACK_BYTES && pb / pa > maxSlowdown;
    const shrank = pa - pb > RSS_SLACK_BYTES && pa / pb > maxSlowdown;
    diffs.push({
      area: "resources",
      item: "peak RSS",
      old: pa,
      new: pb,
      verdict: grew ? "regression" : shrank ? "improvement" : "same",
      detail: `${mib(pb)} vs ${mib(pa)}`,
    });
  }
  for (const [item, key] of [["threads at the end", "threads"], ["descriptors at the end", "fds"]] as const) {
    const [o, n] = [a.resources.end?.[key], b.resources.end?.[key]];
    if (o === undefined || n === undefined) continue;
    // Counted against each run's own baseline: what the plugin left, not what the process had.
    const left = (r: StressReport, v: number) => v - (r.resources.baseline?.[key] ?? v);
    const [lo, ln] = [left(a, o), left(b, n)];
    diffs.push({
      area: "resources",
      item,
      old: lo,
      new: ln,
      verdict: ln > lo ? "regression" : ln < lo ? "improvement" : "same",
      detail: `${ln} more than before the run (old: ${lo})`,
    });
  }
  const warnings = machineWarnings(a.provenance, b.provenance);
  const setting = (r: StressReport) =>
    `${r.mode}, concurrency ${r.settings.concurrency}, ${r.plugin.isolated ? "isolated" : "in process"}`;
  if (setting(a) !== setting(b)) warnings.push(`The runs had other settings (${setting(a)}; ${setting(b)}).`);
  const build = (r: StressReport) => ({
    library: r.plugin.path,
    plugin: `${r.plugin.name} ${r.plugin.version}`,
    sha256: r.provenance.plugin_sha256,
  });
  return comparison("stress", { old: build(a), new: build(b) }, maxSlowdown, diffs, warnings);
}
