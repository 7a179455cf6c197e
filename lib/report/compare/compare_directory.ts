/**
 * Two `check DIR` reports compared library by library (matched by file
 * name): each library's checks as `compareChecks` compares them, its items
 * named `<library>: <check>`; a library only one report has is a change.
 *
 * @example
 * ```ts ignore
 * import { compareDirectories } from "./compare_directory.ts";
 * console.log(compareDirectories(before, after).counts);
 * ```
 *
 * @module
 */
import { basename } from "node:path";
import type { DirectoryReportJson } from "../check_dir_report.ts";
import { compareChecks } from "./compare_check.ts";
import { type Comparison, comparison, DEFAULT_MAX_SLOWDOWN, type Difference } from "./difference.ts";
import { machineWarnings } from "./machines.ts";

/** The document comparing two directory reports (old first). */
export function compareDirectories(
  a: DirectoryReportJson,
  b: DirectoryReportJson,
  maxSlowdown = DEFAULT_MAX_SLOWDOWN,
): Comparison {
  const byName = (r: DirectoryReportJson) => new Map(r.libraries.map((l) => [basename(l.library), l]));
  const [before, after] = [byName(a), byName(b)];
  const diffs: Difference[] = [];
  const warnings = new Set<string>();
  for (const [name, n] of after) {
    const o = before.get(name);
    if (o === undefined) {
      diffs.push({
        area: "behaviour",
        item: name,
        old: null,
        new: "checked",
        verdict: "change",
        detail: "only in the new directory",
      });
      continue;
    }
    const c = compareChecks(o, n, maxSlowdown);
    for (const d of c.differences) diffs.push({ ...d, item: `${name}: ${d.item}` });
    for (const w of machineWarnings(o.provenance, n.provenance, false)) warnings.add(w);
  }
  for (const name of before.keys()) {
    if (!after.has(name)) {
      diffs.push({
        area: "behaviour",
        item: name,
        old: "checked",
        new: null,
        verdict: "change",
        detail: "only in the old directory",
      });
    }
  }
  const build = (r: DirectoryReportJson) => ({ library: r.directories.join(":"), plugin: null, sha256: null });
  return comparison("check", { old: build(a), new: build(b) }, maxSlowdown, diffs, [...warnings]);
}
