/**
 * The `fuzz.smoke` check: a short seeded fuzz run of every method (the fuzz
 * engine, in its own sandbox children) finds nothing. Methods a plugin marks
 * `"fuzz": false` in describe() (they fail or block on request, by design)
 * and those the config names are left out. The run stops at its first
 * finding, which is kept in a directory of artifacts the evidence names,
 * with its repro command.
 *
 * @example
 * ```ts ignore
 * import { FUZZ_CHECKS } from "./fuzz_smoke.ts";
 * ```
 *
 * @module
 */
import { runFuzz } from "../../fuzz/mod.ts";
import { shortText } from "../../util/safe_text.ts";
import { METHOD_SHOWN } from "../check_helpers.ts";
import { type CheckSpec, pass, plural, skip } from "../spec.ts";

/** The fuzz group. */
export const FUZZ_CHECKS: readonly CheckSpec[] = [
  {
    id: "fuzz.smoke",
    title: "A short seeded fuzz run of every method finds nothing",
    rule: "how-plugcheck-checks-this",
    needs: "plugin",
    long: true,
    deadlineMs: (t) => 60_000 + t.fuzzRuns / 10,
    run: async (ctx) => {
      const d = ctx.description!;
      const skipped = new Set([...ctx.fuzzSkip, ...d.methods.filter((m) => m.fuzz === false).map((m) => m.name)]);
      const methods = d.methods.map((m) => m.name).filter((m) => !skipped.has(m));
      if (methods.length === 0) return skip("every method is left out of fuzzing");
      const artifactsDir = await Deno.makeTempDir({ prefix: "plugcheck-check-fuzz-" });
      // A smoke test fails on its first finding: no crash storm of a method that crashes on every input.
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      ctx.signal.addEventListener("abort", onAbort);
      const report = await runFuzz(ctx.path, {
        methods,
        runs: ctx.thresholds.fuzzRuns,
        seed: ctx.seed,
        artifactsDir,
        timeoutMs: ctx.thresholds.callTimeoutMs,
        signal: stop.signal,
        onFinding: () => stop.abort(),
        ...ctx.load.env && { env: ctx.load.env },
        ...ctx.load.adapter !== undefined && { adapter: ctx.load.adapter },
      });
      ctx.signal.removeEventListener("abort", onAbort);
      const shown = (m: string) => shortText(m, METHOD_SHOWN);
      const left = skipped.size > 0 ? ` (left out: ${[...skipped].map(shown).join(", ")})` : "";
      const runs = `${report.run.execs.toLocaleString("en-US")} runs of ${plural(methods.length, "method")}${left}`;
      if (report.findings.length === 0) {
        await Deno.remove(artifactsDir, { recursive: true });
        return pass(runs);
      }
      const first = report.findings[0]!;
      return {
        status: "fail",
        details: `${plural(report.findings.length, "finding")} in ${runs}; artifacts in ${artifactsDir}`,
        evidence: report.findings.map((f) =>
          `${f.kind} in ${shown(f.method)}: ${shortText(f.message, 300)} (${f.artifact})`
        ),
        repro: first.repro,
        findings: report.findings.map((f) => {
          const frame = f.frames?.find((fr) => fr.file !== undefined);
          return {
            message: `${f.kind} in ${f.method}: ${f.message}`,
            ...frame?.file !== undefined &&
              { location: { file: frame.file, ...frame.line !== undefined && { line: frame.line } } },
          };
        }),
      };
    },
  },
];
