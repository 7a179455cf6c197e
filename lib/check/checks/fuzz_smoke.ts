/**
 * The `fuzz.smoke` check: a short seeded fuzz run of every method (the fuzz
 * engine, in its own sandbox children) finds nothing. The run is budgeted by
 * fuzzing time, not runs: {@link DEFAULT_THRESHOLDS}' 250 ms a method (at most
 * {@link SMOKE_MAX_MS} in all), because runs cost what the plugin costs: 50,000
 * runs took 0.3 s of a fast plugin and 4.8 s of an FFT-based LADSPA one. 250 ms
 * is ten times what a 2-byte magic prefix of a fast plugin took on the worst of 5
 * seeds by mutation and its answers alone (`magic_prefix`: 14,000-164,000 runs,
 * 0.02-0.12 s), and a prefix behind compare constants is met at once by the
 * binary's words. A config's `fuzz_runs` (or `--fuzz-runs`) runs that many
 * instead, for a run that repeats exactly. Methods a plugin marks
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
import { type CheckSpec, pass, plural, skip, type Thresholds } from "../spec.ts";
import { groupDigits } from "../../util/digits.ts";

/**
 * The check whose rule a fuzz finding breaks, the one a plugin author looks up (docs/faults.md, "Which check owns a
 * bug"): what the call sweep would report, had one of its inputs met the bug.
 */
export function ownerOf(f: { kind: string; message: string }): string | undefined {
  switch (f.kind) {
    case "crash":
    case "abort":
    case "exit":
    case "panic":
      return "errors.no_crash";
    case "timeout":
      return "timeouts.calls";
    case "leak":
      return /live_instances/.test(f.message) ? "resources.churn" : "buffers.balanced";
    case "contract":
      if (/which is not an npa status/.test(f.message)) return "errors.statuses";
      if (/error buffer/.test(f.message)) return "errors.error_buffer";
      if (/not (valid )?JSON/.test(f.message)) return "outputs.json";
      return "buffers.well_formed";
  }
  return undefined;
}

/** The most fuzzing time the smoke test takes in all, however many methods (ms). */
export const SMOKE_MAX_MS = 5_000;

/** The smoke test's fuzzing time for `methods` methods (ms). */
export function smokeMs(t: Thresholds, methods: number): number {
  return Math.min(t.fuzzMsPerMethod * methods, Math.max(t.fuzzMsPerMethod, SMOKE_MAX_MS));
}

/** The fuzz group. */
export const FUZZ_CHECKS: readonly CheckSpec[] = [
  {
    id: "fuzz.smoke",
    title: "A short seeded fuzz run of every method finds nothing",
    rule: "how-plugcheck-checks-this",
    needs: "plugin",
    long: true,
    deadlineMs: (t) =>
      60_000 + (t.fuzzRuns !== undefined ? t.fuzzRuns / 10 : Math.max(t.fuzzMsPerMethod, SMOKE_MAX_MS)),
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
        ...ctx.thresholds.fuzzRuns !== undefined
          ? { runs: ctx.thresholds.fuzzRuns }
          : { durationMs: smokeMs(ctx.thresholds, methods.length) },
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
      const rate = report.run.seconds > 0 ? ` (${groupDigits(report.run.per_second)} exec/s)` : "";
      const runs = `${groupDigits(report.run.execs)} runs of ${plural(methods.length, "method")}${rate}${left}`;
      if (report.findings.length === 0) {
        await Deno.remove(artifactsDir, { recursive: true });
        return pass(runs);
      }
      const first = report.findings[0]!;
      return {
        status: "fail",
        details: `${plural(report.findings.length, "finding")} in ${runs}; artifacts in ${artifactsDir}`,
        evidence: report.findings.map((f) => {
          const owner = ownerOf(f);
          return `${f.kind} in ${shown(f.method)}: ${shortText(f.message, 300)}${
            owner === undefined ? "" : ` [breaks the rule of ${owner}]`
          } (${f.artifact})`;
        }),
        repro: first.repro,
        findings: report.findings.map((f) => {
          const frame = f.frames?.find((fr) => fr.file !== undefined);
          const owner = ownerOf(f);
          return {
            message: `${f.kind} in ${f.method}: ${f.message}${owner === undefined ? "" : ` [${owner}]`}`,
            ...frame?.file !== undefined &&
              { location: { file: frame.file, ...frame.line !== undefined && { line: frame.line } } },
          };
        }),
      };
    },
  },
];
