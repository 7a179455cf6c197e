/**
 * The page of a comparison (`compare --html`, `--against ... --html`): both
 * builds, the counts, and every compared item, regressions first, with the
 * status filter of the check page.
 *
 * @example
 * ```ts ignore
 * import { comparisonPage } from "./compare_page.ts";
 * await Deno.writeTextFile("compare.html", comparisonPage(comparison));
 * ```
 *
 * @module
 */
import type { Comparison } from "../compare/mod.ts";
import { facts, htmlPage, markup, rowFilters, type Section, table } from "./page.ts";

const CLASS = { regression: "fail", improvement: "pass", change: "warn", same: "skip" } as const;

/** The verdict filter (verdicts are shown as statuses: see CLASS). */
const FILTERS = rowFilters([
  { id: "all", label: "all", hides: [] },
  { id: "problems", label: "what differs", hides: ["tr.r-skip"] },
  { id: "failed", label: "regressions only", hides: ["tr.r-skip", "tr.r-warn", "tr.r-pass"] },
]);

/** The page of a comparison. */
export function comparisonPage(c: Comparison): string {
  const build = (b: Comparison["old"]) =>
    markup`<code>${b.library}</code>${b.plugin ? markup` · ${b.plugin}` : ""}${
      b.sha256 ? markup` · SHA-256 <code>${b.sha256}</code>` : ""
    }`;
  const sections: Section[] = [
    {
      id: "builds",
      title: "Builds",
      body: facts([
        ["old", build(c.old)],
        ["new", build(c.new)],
        ["tolerance", `${c.max_slowdown}x slower (or bigger) before a regression`],
        [
          "items",
          `${c.counts.regression} regressed, ${c.counts.improvement} improved, ${c.counts.change} changed, ${c.counts.same} the same`,
        ],
      ]),
    },
    {
      id: "items",
      title: `Items (${c.differences.length})`,
      body: markup`${FILTERS.buttons}${
        table(
          ["verdict", "area", "item", "old", "new", "detail"],
          c.differences.map((d) => [
            markup`<span class="status s-${CLASS[d.verdict]}">${d.verdict}</span>`,
            d.area,
            markup`<code>${d.item}</code>`,
            d.old ?? "-",
            d.new ?? "-",
            d.detail,
          ]),
          { rowClass: (i) => `r-${CLASS[c.differences[i]!.verdict]}` },
        )
      }`,
    },
  ];
  if (c.warnings.length > 0) {
    sections.push({
      id: "warnings",
      title: "Warnings",
      body: markup`<ul>${c.warnings.map((w) => markup`<li>${w}</li>`)}</ul>`,
    });
  }
  return htmlPage({
    title: `plugcheck compare (${c.kind})`,
    heading: markup`${c.kind}: the new build against the old`,
    verdict: {
      ok: c.ok,
      text: c.ok ? "ok: no regression" : `FAIL: ${c.counts.regression} regression(s)`,
    },
    sections,
  }, FILTERS.style);
}
