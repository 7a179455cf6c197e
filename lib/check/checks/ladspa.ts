/**
 * The `ladspa` checks: the rules of LADSPA 1.1 (docs/ladspa.md) for a
 * library plugcheck serves through its LADSPA adapter. Two read what the
 * adapter says of the library (`descriptors`, `ranges`); the others run its
 * plugins (`sample_rates`, `processing`, `independence`, `denormals`,
 * `hard_rt`, and `inplace`, `run_adding`, `reset`, `block_size`:
 * ladspa_modes.ts). A
 * library that is not LADSPA skips them all.
 *
 * @example
 * ```ts ignore
 * import { LADSPA_CHECKS } from "./ladspa.ts";
 * ```
 *
 * @module
 */
import {
  type CheckContext,
  type CheckSpec,
  fail,
  type Outcome,
  pass,
  plural,
  skip,
  type Thresholds,
  warn,
} from "../spec.ts";
import { type LadspaLibrary, ladspaLibrary, usablePlugins } from "./ladspa_doc.ts";
import { independence } from "./ladspa_independence.ts";
import { denormals } from "./ladspa_denormals.ts";
import { hardRt } from "./ladspa_hard_rt.ts";
import { blockSize, inplace, reset, runAdding } from "./ladspa_modes.ts";
import { descriptorFindings, type Findings, rangeFindings } from "./ladspa_rules.ts";
import {
  judgeRuns,
  MAX_STOPS,
  type PlanRun,
  processingPlan,
  runPlan,
  SAMPLE_RATES,
  sampleRatePlan,
} from "./ladspa_runs.ts";
import { withPlugin } from "../check_helpers.ts";

/** A crash or hang is one plugin's: the run goes on in a new sandbox child (see runPlan). */
const RESTARTS = { restartCap: MAX_STOPS + 1 };

/** Runs `judge` on the library's LADSPA part: skips a library that is not LADSPA, fails a malformed part. */
function onLadspa(ctx: CheckContext, judge: (lib: LadspaLibrary) => Outcome | Promise<Outcome>): Promise<Outcome> {
  const lib = ladspaLibrary(ctx.description);
  if (lib === undefined) return Promise.resolve(skip("not a LADSPA library"));
  if (typeof lib === "string") {
    return Promise.resolve(fail(`the adapter's describe() document is malformed: ${lib}`, [lib]));
  }
  return Promise.resolve(judge(lib));
}

/** Findings as an outcome: failures fail, else warnings warn, else it passes with `passed`. */
function verdict(found: Findings, passed: string): Outcome {
  if (found.fails.length > 0) {
    return fail(`${plural(found.fails.length, "broken rule")}: ${found.fails[0]}`, [...found.fails, ...found.warns]);
  }
  if (found.warns.length > 0) return warn(`${plural(found.warns.length, "warning")}: ${found.warns[0]}`, found.warns);
  return pass(passed);
}

const portCount = (lib: LadspaLibrary) => lib.plugins.reduce((n, p) => n + p.ports.length, 0);

/** The deadline of a check that runs a library's plugins: a minute, and four calls that hang. */
const RUN_DEADLINE = (t: Thresholds) => 60_000 + 4 * t.callTimeoutMs;

/** A check that runs the plugins of a LADSPA library with `judge` (a library of another ABI skips it). */
function runsPlugins(
  id: string,
  title: string,
  rule: string,
  judge: (ctx: CheckContext, lib: LadspaLibrary) => Promise<Outcome>,
): CheckSpec {
  return {
    id,
    title,
    rule,
    needs: "plugin",
    deadlineMs: RUN_DEADLINE,
    run: (ctx) => onLadspa(ctx, (lib) => judge(ctx, lib)),
  };
}

/** The ladspa group. */
export const LADSPA_CHECKS: readonly CheckSpec[] = [
  {
    id: "ladspa.descriptors",
    title: "Every descriptor is usable and complete: labels and unique IDs unique, ports well-formed and named",
    rule: "descriptors",
    needs: "plugin",
    run: (ctx) =>
      onLadspa(ctx, (lib) =>
        verdict(
          descriptorFindings(lib),
          `${plural(lib.plugins.length, "plugin")}, ${
            plural(portCount(lib), "port")
          }: every descriptor keeps the rules`,
        )),
  },
  {
    id: "ladspa.ranges",
    title: "Range hints are consistent: lower <= upper, defaults have their bounds and lie inside them",
    rule: "ranges",
    needs: "plugin",
    run: (ctx) =>
      onLadspa(
        ctx,
        (lib) =>
          verdict(rangeFindings(lib), `${plural(portCount(lib), "port")} of ${plural(lib.plugins.length, "plugin")}`),
      ),
  },
  {
    id: "ladspa.sample_rates",
    title: "Every plugin instantiates and runs at 8000 to 192000 Hz",
    rule: "sample-rates",
    needs: "plugin",
    deadlineMs: RUN_DEADLINE,
    run: (ctx) =>
      onLadspa(ctx, async (lib) => {
        const plan = sampleRatePlan(lib);
        if (plan.length === 0) return skip("no plugin the adapter can run");
        const runs: { config: Record<string, unknown>; run: PlanRun }[] = [];
        await withPlugin(ctx, async (plugin) => {
          const dead = new Set<string>(); // a plugin that crashed or hung at one rate is not run at the next
          for (const rate of SAMPLE_RATES) {
            const config = { sample_rate: rate };
            const run = await runPlan(ctx, plugin, config, plan, dead);
            runs.push({ config, run });
            if (run.cut) break;
          }
        }, RESTARTS);
        const n = usablePlugins(lib).length;
        return judgeRuns(ctx, runs, `${plural(n, "plugin")} at ${SAMPLE_RATES.join(", ")} Hz, every output finite`);
      }),
  },
  {
    id: "ladspa.processing",
    title: "Controls at their bounds, defaults and middles, with silence, noise and an impulse: every output finite",
    rule: "processing",
    needs: "plugin",
    deadlineMs: (t) => 120_000 + 4 * t.callTimeoutMs,
    run: (ctx) =>
      onLadspa(ctx, async (lib) => {
        const plan = processingPlan(lib, ctx.seed);
        if (plan.length === 0) return skip("no plugin the adapter can run");
        const config = { max_block: 4096 };
        const run = await withPlugin(ctx, (plugin) => runPlan(ctx, plugin, config, plan), RESTARTS);
        const n = usablePlugins(lib).length;
        return judgeRuns(ctx, [{ config, run }], `${plural(n, "plugin")}, every output finite and within the bound`);
      }),
  },
  runsPlugins(
    "ladspa.independence",
    "Two instances fed the same inputs give the same outputs: in turn, interleaved, block by block and at once",
    "independence",
    independence,
  ),
  runsPlugins(
    "ladspa.denormals",
    "After an impulse, no output decays into subnormal floats (a warning)",
    "denormals",
    denormals,
  ),
  runsPlugins(
    "ladspa.hard_rt",
    "A plugin declaring HARD_RT_CAPABLE does not allocate, free, lock, sleep or do I/O in run",
    "hard-rt",
    hardRt,
  ),
  runsPlugins(
    "ladspa.inplace",
    "Unless INPLACE_BROKEN is declared, outputs sharing the inputs' buffers give the same outputs",
    "inplace",
    inplace,
  ),
  runsPlugins(
    "ladspa.run_adding",
    "run_adding with a gain adds gain x the run output to what the output buffer held",
    "run-adding",
    runAdding,
  ),
  runsPlugins(
    "ladspa.reset",
    "After audio, deactivate + activate gives a fresh instance's output; cleanup without activate works",
    "reset",
    reset,
  ),
  runsPlugins(
    "ladspa.block_size",
    "The same audio gives the same outputs in one block and in smaller ones (a warning)",
    "block-size",
    blockSize,
  ),
];
