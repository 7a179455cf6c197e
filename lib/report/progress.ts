/**
 * What a long run says on stderr while it runs: the status line of `stress`
 * and of `fuzz` (libFuzzer's shape: `#execs  cov:  exec/s:  corp:`), and the
 * line `fuzz` prints the moment it finds a new bug. Plugin text is escaped;
 * the status line escapes what it shows on its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fuzzStatus, stressStatus } from "./progress.ts";
 * const fuzz = fuzzStatus({ execs: 120000, perSecond: 48210, corpus: 31, findings: 1, rssBytes: 52 * 2 ** 20, elapsedMs: 2500 });
 * assert.ok(fuzz === "#120,000  exec/s: 48k  corp: 31  findings: 1  rss: 52 MiB  elapsed: 2s");
 * const stress = stressStatus({ phase: "run", calls: 20000, callsPerSecond: 81234, p99Ms: 0.0412, errors: 0, rssBytes: undefined });
 * assert.ok(stress === "stress: 20,000 calls, 81,234/s, p99 41.2 us, 0 failed");
 * ```
 *
 * @module
 */
import { basename } from "node:path";
import type { Finding, FuzzProgress } from "../fuzz/mod.ts";
import type { StressProgress } from "../stress/options.ts";
import { escapeControl } from "../util/safe_text.ts";
import type { Paint } from "./paint.ts";
import { compactCount, count, duration, mib, rate } from "./units.ts";

/** The status line of a fuzz run. */
export function fuzzStatus(p: FuzzProgress): string {
  const rss = p.rssBytes === undefined ? "" : `  rss: ${mib(p.rssBytes, 0)}`;
  const cov = p.coverage === undefined ? "" : `  cov: ${p.coverage.edges}  ft: ${p.coverage.features}`;
  return `#${count(p.execs)}${cov}  exec/s: ${
    compactCount(p.perSecond)
  }  corp: ${p.corpus}  findings: ${p.findings}${rss}  elapsed: ${Math.floor(p.elapsedMs / 1000)}s`;
}

/** The line a fuzz run prints when it finds a new bug: when, the artifact, what and where. */
export function fuzzFindingLine(f: Finding, paint: Paint): string {
  const what = f.signal ?? (f.exitCode !== undefined ? `exit code ${f.exitCode}` : "");
  return `#${count(f.execs)}  ${paint("red", "NEW")} ${basename(f.artifact)}  ${f.kind}${what ? ` (${what})` : ""} in ${
    escapeControl(JSON.stringify(f.method))
  }: ${escapeControl(f.message)}`;
}

/** The status line of a stress run. */
export function stressStatus(p: StressProgress): string {
  if (p.phase === "floor") return `stress: measuring the dispatch floor (${count(p.calls)} calls)`;
  const rss = p.rssBytes === undefined ? "" : `, rss ${mib(p.rssBytes, 0)}`;
  const cycle = p.cycle ? `cycle ${p.cycle.done + 1}/${p.cycle.of}, ` : "";
  return `stress: ${cycle}${count(p.calls)} calls, ${rate(p.callsPerSecond)}, p99 ${
    duration(p.p99Ms)
  }, ${p.errors} failed${rss}`;
}
