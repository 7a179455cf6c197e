/**
 * `--against OLD.so`: the same run on the old and the new build of a plugin,
 * compared. `check` runs the suite on both; `stress` runs the stress on both
 * and then times every method on both, interleaved (`speed.ts`); `fuzz`
 * fuzzes the old build, then the new one seeded with what the old run found;
 * all then give the two builds the same inputs (`behaviour.ts`). The result is one
 * comparison document (`lib/report/compare/`), the reports of both runs
 * beside it.
 *
 * @example
 * ```ts ignore
 * import { checkAgainst } from "./run_against.ts";
 * const { comparison } = await checkAgainst("new/libp.so", "old/libp.so", { seed: 1 }, { maxSlowdown: 1.2, seed: 1 });
 * if (!comparison.ok) console.log("regressed");
 * ```
 *
 * @module
 */
import { loadPlugin } from "../host/load_plugin.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import type { PluginOptions } from "../plugin/options.ts";
import { type CheckOptions, type CheckReport, runChecks } from "../check/run_checks.ts";
import { runStress } from "../stress/run_stress.ts";
import type { StressOptions } from "../stress/options.ts";
import type { StressReport } from "../stress/report.ts";
import { checkReportJson } from "../report/check_report.ts";
import { compareChecks, compareFuzz, compareStress, type Comparison, withMore } from "../report/compare/mod.ts";
import { type FuzzOptions, type FuzzReport, runFuzz } from "../fuzz/mod.ts";
import { join } from "node:path";
import { compareBehaviour } from "./behaviour.ts";
import { compareSpeed } from "./speed.ts";

/** What every `--against` run takes besides its engine's options. */
export interface AgainstOptions {
  /** Slower (or bigger) than this many times the old build is a regression. */
  maxSlowdown: number;
  /** Seed of the speed comparison's bootstrap. */
  seed: number;
  /** Timing rounds of the speed comparison (stress); default 9. */
  rounds?: number;
  /** How both builds are loaded for the behaviour and speed comparison (always in sandbox children). */
  load?: Omit<PluginOptions, "isolate">;
  /** How the old build's path is shown in its report (default: the path). */
  oldShown?: string;
  /** Told what runs now (for a status line). */
  onStep?: (step: string) => void;
}

/** Both builds, each in a sandbox child, for `body`; closed after it, whatever it does. */
async function withBoth<T>(
  oldPath: string,
  newPath: string,
  load: Omit<PluginOptions, "isolate"> | undefined,
  body: (a: PluginHandle, b: PluginHandle) => Promise<T>,
): Promise<T> {
  // Unloaded when closed, here: the command's own deferred unloads are for the plugin its report is about.
  const a = await loadPlugin(oldPath, { ...load, isolate: true, deferUnload: false });
  try {
    const b = await loadPlugin(newPath, { ...load, isolate: true, deferUnload: false });
    try {
      return await body(a, b);
    } finally {
      await b.close().catch(() => {});
    }
  } finally {
    await a.close().catch(() => {});
  }
}

/** `check --against`: the suite on both builds, then the same inputs to both. */
export async function checkAgainst(
  newPath: string,
  oldPath: string,
  options: CheckOptions,
  against: AgainstOptions,
): Promise<{ comparison: Comparison; old: CheckReport; new: CheckReport }> {
  against.onStep?.("the old build's checks");
  const oldReport = await runChecks(oldPath, { ...options, shown: against.oldShown ?? oldPath });
  against.onStep?.("the new build's checks");
  const newReport = await runChecks(newPath, options);
  let c = compareChecks(checkReportJson(oldReport), checkReportJson(newReport), against.maxSlowdown);
  if (oldReport.stage === "plugin" && newReport.stage === "plugin" && !options.signal?.aborted) {
    against.onStep?.("the same inputs to both builds");
    c = withMore(c, await withBoth(oldPath, newPath, against.load, (a, b) => compareBehaviour(a, b)));
  }
  return { comparison: c, old: oldReport, new: newReport };
}

/** `stress --against`: the stress on both builds, the methods timed on both, interleaved, and the same inputs to both. */
export async function stressAgainst(
  newPath: string,
  oldPath: string,
  options: StressOptions,
  against: AgainstOptions,
): Promise<{ comparison: Comparison; old: StressReport; new: StressReport }> {
  against.onStep?.("the old build's stress");
  const oldReport = await runStress(oldPath, options);
  against.onStep?.("the new build's stress");
  const newReport = await runStress(newPath, options);
  let c = compareStress(oldReport, newReport, against.maxSlowdown, { judgeSpeed: false });
  if (!options.signal?.aborted) {
    c = withMore(
      c,
      await withBoth(oldPath, newPath, against.load, async (a, b) => {
        against.onStep?.("both builds' methods timed, interleaved");
        const speed = await compareSpeed(a, b, {
          seed: against.seed,
          maxSlowdown: against.maxSlowdown,
          ...against.rounds !== undefined && { rounds: against.rounds },
          ...options.methods !== undefined && options.methods.length > 0 && { methods: options.methods },
        });
        against.onStep?.("the same inputs to both builds");
        return [...speed, ...await compareBehaviour(a, b)];
      }),
    );
  }
  return { comparison: c, old: oldReport, new: newReport };
}

/**
 * `fuzz --against`: the old build fuzzed first (its corpus and findings kept in a temporary directory), then the new
 * build with the same options, seeded with the old build's corpus and the inputs of its findings (so the new run
 * replays them first: a bug of the old build that the new one still has is found again at once); then, for an npa
 * plugin, the same inputs to both builds.
 */
export async function fuzzAgainst(
  newPath: string,
  oldPath: string,
  options: FuzzOptions,
  against: AgainstOptions,
): Promise<{ comparison: Comparison; old: FuzzReport; new: FuzzReport }> {
  const scratch = await Deno.makeTempDir({ prefix: "plugcheck-against-" });
  try {
    const oldCorpus = join(scratch, "corpus");
    const oldFindings = join(scratch, "findings");
    await Deno.mkdir(oldFindings);
    against.onStep?.("the old build's fuzz run");
    // The old build's findings are not announced as they come: they are the comparison's reference.
    const { onFinding: _announced, ...quiet } = options;
    const oldReport = await runFuzz(oldPath, {
      ...quiet,
      corpus: [oldCorpus, ...options.corpus ?? []],
      artifactsDir: oldFindings,
    });
    // The findings' inputs join the seeds (bytes only: a corpus file says nothing of its method).
    const seeds = join(scratch, "seeds");
    await Deno.mkdir(seeds);
    for (const f of oldReport.findings) await Deno.copyFile(f.artifact, join(seeds, f.input.sha1)).catch(() => {});
    against.onStep?.("the new build's fuzz run, seeded with the old build's corpus and findings");
    const newReport = await runFuzz(newPath, {
      ...options,
      corpus: [...options.corpus ?? [], oldCorpus, seeds],
    });
    const npa = newReport.target === "npa" && oldReport.target === "npa";
    let c = compareFuzz(oldReport, newReport, against.maxSlowdown, { judgeSpeed: false, methods: !npa });
    if (npa && !options.signal?.aborted) {
      against.onStep?.("the same inputs to both builds");
      c = withMore(c, await withBoth(oldPath, newPath, against.load, (a, b) => compareBehaviour(a, b)));
    }
    return { comparison: c, old: oldReport, new: newReport };
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}
