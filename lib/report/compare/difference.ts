/**
 * What a comparison of two builds of a plugin says, item by item: the
 * document `plugcheck compare OLD.json NEW.json` prints (and `--against` will),
 * its schema, and the verdict rules every engine's comparison shares.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slowdownVerdict } from "./difference.ts";
 * assert.equal(slowdownVerdict(1.5, 1.2), "regression");
 * assert.equal(slowdownVerdict(1.1, 1.2), "same");
 * assert.equal(slowdownVerdict(0.5, 1.2), "improvement");
 * ```
 *
 * @module
 */
import * as z from "../../util/zod.ts";

/** How an item changed from the old build to the new one. */
export const VERDICTS = ["regression", "improvement", "change", "same"] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Where a difference belongs. */
export const AREAS = ["behaviour", "checks", "findings", "performance", "resources"] as const;
export type Area = (typeof AREAS)[number];

/** One compared item. */
export const DifferenceSchema = z.object({
  area: z.enum(AREAS),
  /** What was compared, e.g. `errors.no_crash`, `calls/s`, `method parse`. */
  item: z.string(),
  old: z.union([z.string(), z.number()]).nullable(),
  new: z.union([z.string(), z.number()]).nullable(),
  verdict: z.enum(VERDICTS),
  /** In words, with the figures. */
  detail: z.string(),
});
export type Difference = z.infer<typeof DifferenceSchema>;

const Build = z.object({
  /** The library's path as the report names it. */
  library: z.string(),
  /** The plugin's name and version as describe() gave them, when known. */
  plugin: z.string().nullable(),
  /** The library file's SHA-256 when the run began. */
  sha256: z.string().nullable(),
});

/** The document of a comparison. */
export const ComparisonSchema = z.object({
  /** True when nothing regressed. */
  ok: z.boolean(),
  /** Which reports were compared. */
  kind: z.enum(["stress", "fuzz", "check"]),
  old: Build,
  new: Build,
  /** Slower than this many times the old build is a regression (calls/s, latency). */
  max_slowdown: z.number(),
  counts: z.record(z.enum(VERDICTS), z.number().int()),
  /** Every compared item, regressions first. */
  differences: z.array(DifferenceSchema),
  /** What makes the comparison less sure (other machines, other settings). */
  warnings: z.array(z.string()),
});
export type Comparison = z.infer<typeof ComparisonSchema>;

/** Default tolerance of a slowdown (`--max-slowdown`). */
export const DEFAULT_MAX_SLOWDOWN = 1.2;

/**
 * `ratio` (new cost / old cost) against the tolerance: slower beyond it is a regression, faster beyond it a gain.
 * `judged` false (figures of two runs one after the other, which share no noise): beyond it either way is only a
 * change.
 */
export function slowdownVerdict(ratio: number, maxSlowdown: number, judged = true): Verdict {
  if (!Number.isFinite(ratio)) return "change";
  const verdict = ratio > maxSlowdown ? "regression" : ratio < 1 / maxSlowdown ? "improvement" : "same";
  return judged || verdict === "same" ? verdict : "change";
}

/**
 * An item that was bad (failed, crashed, an error) or not on each build: good -> bad is a regression, bad -> good an
 * improvement; otherwise the same when `unchanged`, else a change.
 */
export function statusVerdict(wasBad: boolean, isBad: boolean, unchanged: boolean): Verdict {
  if (!wasBad && isBad) return "regression";
  if (wasBad && !isBad) return "improvement";
  return unchanged ? "same" : "change";
}

/** A ratio as the comparison writes it: two decimals, or two significant digits below 0.1. */
export function ratioText(x: number): number {
  return x >= 0.1 ? Math.round(x * 100) / 100 : Number(x.toPrecision(2));
}

const ORDER: Record<Verdict, number> = { regression: 0, improvement: 1, change: 2, same: 3 };

/** The document, from the items: counted, regressions first (then improvements, changes, the same). */
export function comparison(
  kind: Comparison["kind"],
  builds: { old: Comparison["old"]; new: Comparison["new"] },
  maxSlowdown: number,
  differences: readonly Difference[],
  warnings: readonly string[],
): Comparison {
  const sorted = [...differences].sort((a, b) => ORDER[a.verdict] - ORDER[b.verdict]);
  const counts = { regression: 0, improvement: 0, change: 0, same: 0 };
  for (const d of sorted) counts[d.verdict]++;
  return {
    ok: counts.regression === 0,
    kind,
    old: builds.old,
    new: builds.new,
    max_slowdown: maxSlowdown,
    counts,
    differences: sorted,
    warnings: [...warnings],
  };
}

/** `c` with more items and warnings (another engine's, or the behaviour and speed of `--against`), counted again. */
export function withMore(c: Comparison, more: readonly Difference[], warnings: readonly string[] = []): Comparison {
  return comparison(c.kind, { old: c.old, new: c.new }, c.max_slowdown, [...c.differences, ...more], [
    ...c.warnings,
    ...warnings,
  ]);
}

/** The methods one build used (`verb`: "called", "fuzzed") and the other did not, as changes. */
export function methodChanges(old: ReadonlySet<string>, now: ReadonlySet<string>, verb: string): Difference[] {
  const only = (from: ReadonlySet<string>, other: ReadonlySet<string>) => [...from].filter((m) => !other.has(m));
  return [
    ...only(now, old).map((m): Difference => ({
      area: "behaviour",
      item: `method ${m}`,
      old: null,
      new: verb,
      verdict: "change",
      detail: `${verb} on the new build only`,
    })),
    ...only(old, now).map((m): Difference => ({
      area: "behaviour",
      item: `method ${m}`,
      old: verb,
      new: null,
      verdict: "change",
      detail: `${verb} on the old build only`,
    })),
  ];
}
