/**
 * Comparing two builds of a plugin from their saved reports: the room's
 * entry. `compareReports` tells which kind of report it was given (stress,
 * fuzz, check) and compares them item by item (see `difference.ts` for the
 * document and its verdicts); `renderComparison` and `comparisonJunitXml`
 * print it.
 *
 * @example
 * ```ts ignore
 * import { compareReports } from "./mod.ts";
 * const c = compareReports(JSON.parse(oldText), JSON.parse(newText), { maxSlowdown: 1.2 });
 * if (!c.ok) Deno.exitCode = 1;
 * ```
 *
 * @module
 */
import { CheckReportJsonSchema } from "../check_report.ts";
import { FuzzReportSchema } from "../../fuzz/mod.ts";
import { StressReportSchema } from "../../stress/report.ts";
import { compareChecks } from "./compare_check.ts";
import { compareDirectories } from "./compare_directory.ts";
import { DirectoryReportJsonSchema } from "../check_dir_report.ts";
import { compareFuzz } from "./compare_fuzz.ts";
import { compareStress } from "./compare_stress.ts";
import { type Comparison, DEFAULT_MAX_SLOWDOWN } from "./difference.ts";

export {
  type Comparison,
  ComparisonSchema,
  DEFAULT_MAX_SLOWDOWN,
  type Difference,
  ratioText,
  statusVerdict,
  withMore,
} from "./difference.ts";
export { comparisonJunitXml, renderComparison } from "./compare_text.ts";
export { compareChecks } from "./compare_check.ts";
export { compareDirectories } from "./compare_directory.ts";
export { compareFuzz } from "./compare_fuzz.ts";
export { compareStress } from "./compare_stress.ts";

const KINDS = [
  ["stress", StressReportSchema],
  ["fuzz", FuzzReportSchema],
  ["check", CheckReportJsonSchema],
  ["check DIR", DirectoryReportJsonSchema],
] as const;

/** Which report a document is. */
type ReportKind = (typeof KINDS)[number][0];

/** Which report a parsed JSON document is (`plugcheck stress|fuzz|check [DIR] --format json`), or null. */
export function reportKind(doc: unknown): ReportKind | null {
  for (const [kind, schema] of KINDS) if (schema.safeParse(doc).success) return kind;
  return null;
}

/** Why two documents cannot be compared, or null when they can. */
export function whyNotComparable(a: unknown, b: unknown): string | null {
  const [ka, kb] = [reportKind(a), reportKind(b)];
  if (ka === null || kb === null) {
    return `${ka === null ? "the first" : "the second"} file is not a stress, fuzz or check report (its --format json)`;
  }
  return ka === kb ? null : `a ${ka} report cannot be compared with a ${kb} report`;
}

/** Compares two reports of one kind (old first); throws when {@link whyNotComparable} says why not. */
export function compareReports(a: unknown, b: unknown, options: { maxSlowdown?: number } = {}): Comparison {
  const why = whyNotComparable(a, b);
  if (why !== null) throw new TypeError(`Cannot compare: ${why}`);
  const max = options.maxSlowdown ?? DEFAULT_MAX_SLOWDOWN;
  switch (reportKind(a)!) {
    case "stress":
      return compareStress(StressReportSchema.parse(a), StressReportSchema.parse(b), max);
    case "fuzz":
      return compareFuzz(FuzzReportSchema.parse(a), FuzzReportSchema.parse(b), max);
    case "check":
      return compareChecks(CheckReportJsonSchema.parse(a), CheckReportJsonSchema.parse(b), max);
    case "check DIR":
      return compareDirectories(DirectoryReportJsonSchema.parse(a), DirectoryReportJsonSchema.parse(b), max);
  }
}
