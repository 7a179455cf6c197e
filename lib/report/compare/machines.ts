/**
 * What makes two reports' figures hard to compare: other machines, another
 * plugcheck, the same library file on both sides.
 *
 * @example
 * ```ts ignore
 * import { machineWarnings } from "./machines.ts";
 * console.log(machineWarnings(oldReport.provenance, newReport.provenance));
 * ```
 *
 * @module
 */
import type { Provenance } from "../../load/provenance.ts";

/**
 * Warnings about the two runs' provenance (old first). `sameFile` false leaves out the warning that both ran one
 * library file (a directory's unchanged libraries do).
 */
export function machineWarnings(a: Provenance, b: Provenance, sameFile = true): string[] {
  const out: string[] = [];
  const m = (p: Provenance) =>
    `${p.machine.cores} cores, kernel ${p.machine.kernel ?? "unknown"}, Deno ${p.machine.deno}`;
  if (m(a) !== m(b)) out.push(`The runs were made on other machines (${m(a)}; ${m(b)}): timings compare poorly.`);
  if (a.tool.version !== b.tool.version) {
    out.push(`The runs were made by other plugcheck versions (${a.tool.version}, ${b.tool.version}).`);
  }
  if (sameFile && a.plugin_sha256 !== null && a.plugin_sha256 === b.plugin_sha256) {
    out.push("Both runs are of the same library file (same SHA-256): any difference is the runs', not the builds'.");
  }
  return out;
}
