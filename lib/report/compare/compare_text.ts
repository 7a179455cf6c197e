/**
 * A comparison as text (what `plugcheck compare` prints) and as JUnit XML
 * (one testcase per compared item; a regression is a failure).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { comparison } from "./difference.ts";
 * import { renderComparison } from "./compare_text.ts";
 * import { plain } from "../paint.ts";
 * const build = { library: "lib.so", plugin: "p 1.0", sha256: null };
 * const c = comparison("check", { old: build, new: build }, 1.2, [
 *   { area: "checks", item: "errors.no_crash", old: "pass", new: "crash", verdict: "regression", detail: "pass -> crash" },
 * ], []);
 * assert.match(renderComparison(c, plain), /REGRESSION +checks +errors\.no_crash +pass -> crash/);
 * ```
 *
 * @module
 */
import type { Paint, Style } from "../paint.ts";
import { junitXml } from "../junit.ts";
import { TOOL_VERSION } from "../../load/provenance.ts";
import type { Comparison, Verdict } from "./difference.ts";
import { shortText } from "../../util/safe_text.ts";

const LABEL: Record<Verdict, [string, Style]> = {
  regression: ["REGRESSION", "red"],
  improvement: ["IMPROVED", "green"],
  change: ["CHANGED", "yellow"],
  same: ["same", "dim"],
};

function build(b: Comparison["old"]): string {
  const sha = b.sha256 ? `, sha256 ${b.sha256.slice(0, 12)}` : "";
  return `${b.library}${b.plugin ? ` (${shortText(b.plugin, 60)}${sha})` : sha ? ` (${sha.slice(2)})` : ""}`;
}

/** The comparison as text; items that stayed the same are counted, and listed with `all`. */
export function renderComparison(c: Comparison, paint: Paint, all = false): string {
  const out = [paint("bold", `plugcheck compare (${c.kind})`), `  old  ${build(c.old)}`, `  new  ${build(c.new)}`, ""];
  const shown = c.differences.filter((d) => all || d.verdict !== "same");
  const w = Math.max(10, ...shown.map((d) => d.area.length));
  const iw = Math.min(40, Math.max(4, ...shown.map((d) => d.item.length)));
  for (const d of shown) {
    const [label, style] = LABEL[d.verdict];
    out.push(
      `  ${paint(style, label.padEnd(10))}  ${d.area.padEnd(w)}  ${shortText(d.item, 80).padEnd(iw)}  ${
        shortText(d.detail, 300)
      }`,
    );
  }
  if (shown.length === 0) out.push("  no differences");
  const k = c.counts;
  out.push("");
  out.push(
    `${c.differences.length} items: ${k.regression} regressed, ${k.improvement} improved, ${k.change} changed, ${k.same} the same (slowdown tolerance ${c.max_slowdown}x)`,
  );
  out.push(c.ok ? paint("green", "ok: no regression") : paint("red", `FAIL: ${k.regression} regression(s)`));
  return `${out.join("\n")}\n`;
}

/** The comparison as JUnit XML: one testcase per item (class: its area), a regression failed. */
export function comparisonJunitXml(c: Comparison, startedAt: Date = new Date()): string {
  return junitXml({
    library: `${c.old.library} -> ${c.new.library}`,
    toolVersion: TOOL_VERSION,
    startedAt,
    durationMs: 0,
    results: c.differences.map((d) => ({
      id: d.item,
      group: d.area,
      title: d.item,
      rule: "compare",
      status: d.verdict === "regression" ? "fail" : "pass",
      durationMs: 0,
      details: d.detail,
      evidence: [`old: ${d.old ?? "-"}`, `new: ${d.new ?? "-"}`],
    })),
  });
}
