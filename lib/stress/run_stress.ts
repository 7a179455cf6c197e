/**
 * `runStress`: the stress engine. Loads a plugin (in process, or in a
 * sandbox child with `isolate`), takes the baselines, runs the steady or
 * churn loops while sampling the resources of the process that holds the
 * plugin, measures the dispatch floor (the same loops on no-op instances),
 * destroys everything, compares with the baselines, shuts the plugin down,
 * and returns the report with its verdicts. Reload cycles live in
 * `reload.ts`.
 *
 * @example
 * ```ts ignore
 * import { runStress } from "./run_stress.ts";
 * const report = await runStress("build/fixtures/libref_c.so", { iterations: 10_000, seed: 1 });
 * console.log(report.ok, report.run.per_second, report.run.latency.p99_ms);
 * ```
 *
 * @module
 */
import {
  PluginCrashError,
  PluginDisabledError,
  PluginError,
  PluginTimeoutError,
  SandboxProtocolError,
} from "../errors/errors.ts";
import { ProcInfo } from "../ffi/proc_info.ts";
import { loadPlugin } from "../host/load_plugin.ts";
import type { InstanceHandle, PluginHandle } from "../plugin/handle.ts";
import { ProcessBaseline } from "../plugin/process_baseline.ts";
import { churnLoop, type Lane, Lifecycle, Phase, steadyLoop, Stopper } from "./loops.ts";
import {
  fitToMaxInstances,
  type ResolvedStressOptions,
  resolveStressOptions,
  steadyInstances,
  type StressOptions,
} from "./options.ts";
import { OutcomeBook, planInputs, type PlannedInput } from "./plan.ts";
import { runReload } from "./reload.ts";
import { baseReport, crashData, fillCounts, sampleJson, startProgress } from "./report_parts.ts";
import type { StressReport, StressResults } from "./report.ts";
import { provenance } from "../load/provenance.ts";
import { type ResourcePoint, ResourceWatch, slope } from "./resources.ts";
import { Tally } from "./tally.ts";
import { HeapMarks, heapVerdict } from "./heap_growth.ts";
import {
  crashVerdict,
  errorsVerdict,
  leakVerdicts,
  leftoverVerdicts,
  maxInstancesVerdict,
  type ProbeResult,
  rssVerdict,
  skipped,
  timeoutVerdict,
  type Verdict,
  wrongResultsVerdict,
} from "./verdicts.ts";

/** Instances beyond which the max_instances probe is skipped. */
const PROBE_LIMIT = 10_000;

/**
 * Stress-tests the plugin at `path` and returns the report. Throws
 * `UsageError` for bad options (before anything runs), the load's typed
 * error when the plugin cannot be loaded; everything the plugin does wrong
 * once loaded (crashes and hangs included) is in the report's verdicts.
 */
export async function runStress(path: string, options: StressOptions = {}): Promise<StressReport> {
  const o = resolveStressOptions(options);
  // The library as it was when the run began: read beside the load, waited for at the end.
  const made = provenance(path);
  made.catch(() => {});
  if (o.mode === "reload") return { ...await runReload(path, o), provenance: await made };
  const plugin = await loadPlugin(path, {
    ...o.load,
    isolate: o.isolate,
    exclusive: o.exclusive,
    shutdownCheck: true,
    trackHeap: o.heap,
  });
  try {
    return { ...await runLoaded(plugin, o), provenance: await made };
  } finally {
    await plugin.close().catch(() => {}); // closed already unless something threw
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

async function runLoaded(plugin: PluginHandle, asked: ResolvedStressOptions): Promise<StressResults> {
  const d = plugin.describe();
  // Never more live instances than the plugin allows: fewer instances (or churn loops), and the report says so.
  const o = fitToMaxInstances(asked, d);
  const plan = planInputs(d, o);
  const steady = o.mode === "steady";
  const lanesCount = steady ? steadyInstances(o, d.thread_safe_instances) : o.concurrency;
  const proc = ProcInfo.get();
  const started = performance.now();

  // Baselines: before any instance exists.
  const statsBefore = await plugin.readStats();
  const pid = plugin.processId;
  const base = await ProcessBaseline.take(() => plugin.snapshot());

  const tally = new Tally();
  const book = new OutcomeBook(plan);
  const lifecycle = new Lifecycle();
  const stop = new Stopper({ durationMs: o.durationMs, calls: o.iterations }, o.signal);
  const phase = new Phase({
    plugin,
    plan,
    book,
    tally,
    stop,
    timeoutMs: o.timeoutMs,
    seed: o.seed,
    config: o.config,
    lifecycle,
  });
  const stats = plugin.capabilities.stats ? () => plugin.readStats() : undefined;
  const watch = new ResourceWatch(proc, () => plugin.processId, o.sampleIntervalMs, () => tally.calls, stats);
  const lanes: Lane[] = [];
  let probe: ProbeResult = { kind: "undeclared" };
  if (!phase.fatal) {
    try {
      if (steady) {
        for (const _ of range(lanesCount)) {
          lanes.push({ instance: await lifecycle.create(plugin, o.config, phase.call) });
        }
      }
      // Instances that lived before the run (another handle of a shared library) count against the limit too.
      const before = statsBefore?.live_instances ?? 0;
      probe = await probeMaxInstances(plugin, d.max_instances, before + (steady ? lanesCount : 0), o, lifecycle, book);
    } catch (error) {
      await phase.failed(error, -1, 0, undefined);
    }
  }

  // The heap's marks: now, and once every instance is destroyed.
  const heap = phase.fatal ? undefined : await HeapMarks.begin(plugin);
  watch.start();
  const progress = startProgress(o.onProgress, "run", tally, () => watch.last);
  tally.restart();
  await Promise.all(
    range(o.concurrency).map((k) => steady ? steadyLoop(phase, k, lanes[k % lanes.length]!) : churnLoop(phase, k)),
  );
  tally.stop();
  progress.stop();
  watch.stop();
  const mainPoints = watch.points.slice();
  // The floor comes after the run, with every code path warm, so the two compare like for like.
  const floor = o.floor && !phase.fatal
    ? await runFloor(plugin, plan, o, steady ? lanesCount : o.concurrency)
    : undefined;
  if (floor?.fatal) phase.fatal = floor.fatal;

  // The end: destroy what is live, then compare with the baselines.
  if (!phase.fatal) {
    for (const lane of lanes) {
      if (lane.instance.state !== "live") continue;
      try {
        await lifecycle.destroy(lane.instance);
      } catch (error) {
        await phase.failed(error, -1, undefined, undefined);
      }
    }
  }
  const stuck = lifecycle.wedged > 0 || tally.timeouts > 0;
  const judged = !phase.fatal && !stuck;
  const statsAfter = judged ? await plugin.readStats() : null;
  const compared = judged ? await base?.compare() : undefined;
  const end = judged ? watch.sampleNow() : undefined;
  const heapLeft = judged ? await heap?.residue() : undefined; // before close: a sandbox child ends with it
  const warnings: string[] = [];
  await plugin.close().catch((e) => warnings.push(`closing the plugin failed: ${e instanceof Error ? e.message : e}`));
  warnings.unshift(...plugin.contractWarnings);
  const shutdown = plugin.shutdownReport;
  if (shutdown && shutdown.leftThreads.length > 0) {
    warnings.push("the plugin left threads running after its shutdown: run with --reload to judge its lifecycle");
  }

  const notJudged = phase.fatal
    ? `not judged: the run ended with ${phase.fatal.name}`
    : `not judged: ${
      lifecycle.wedged || tally.timeouts
    } call(s) never returned, so not every instance could be destroyed`;
  // The first tenth of the calls is the warm-up (JIT, heap, buffers): RSS is judged from its end.
  const first = mainPoints.find((p) => p.calls >= tally.calls / 10) ?? mainPoints[0];
  const last = mainPoints.at(-1);
  const growth = first && last ? last.rss_bytes - first.rss_bytes : 0;
  const slope = watch.rssSlopePer10k(first?.calls ?? 0);
  const judgedPoints = mainPoints.filter((p) => p.calls >= (first?.calls ?? 0)).length;
  const verdicts: Verdict[] = [
    crashVerdict(phase.fatal),
    timeoutVerdict(tally.timeouts, o.timeoutMs, phase.fatal),
    errorsVerdict(book, tally.judgedFailures()),
    wrongResultsVerdict(book),
    phase.fatal && probe.kind === "undeclared" && d.max_instances !== undefined
      ? skipped("max_instances", notJudged)
      : maxInstancesVerdict(probe),
    ...judged
      ? leakVerdicts(statsBefore, statsAfter, "after every instance was destroyed", counterTrends(mainPoints))
      : [
        skipped("leaked_instances", notJudged),
        skipped("leaked_buffers", notJudged),
      ],
    ...compared
      ? leftoverVerdicts(["threads_after_destroy", "fds_after_destroy"], compared, "after every instance was destroyed")
      : [skipped("threads_after_destroy", notJudged), skipped("fds_after_destroy", notJudged)],
    judgedPoints >= 3
      ? rssVerdict({ growthBytes: growth, slopePer10k: slope, maxMb: o.maxRssGrowthMb, per: "10k calls" })
      : skipped("rss_growth", "too few resource samples (the run was too short, or sampling was off)"),
    await heapVerdict(heap, heapLeft, judged ? undefined : notJudged, tally.calls),
  ];

  const report = baseReport(plugin, o, plan, started, verdicts, warnings);
  fillCounts(report, tally, lifecycle, book);
  report.floor = floor ? floor.tally.summary() : null;
  report.resources = {
    pid: pid ?? null,
    interval_ms: watch.intervalMs,
    baseline: sampleJson(base?.snapshot),
    peak: sampleJson(watch.peak),
    end: sampleJson(compared?.after ?? end),
    rss_growth_bytes: growth,
    rss_slope_bytes: Math.round(slope),
    rss_slope_per: "10k calls",
    points: thin(mainPoints, 200),
  };
  report.stats = statsBefore && statsAfter ? { before: statsBefore, after: statsAfter } : null;
  report.crash = crashData(phase.fatal);
  report.stopped_early = stop.reason ?? null;
  return report;
}

/** The floor: the steady loop on no-op instances, a tenth of the run (0.1 to 1 s, or 100 to 20 000 calls). */
async function runFloor(
  plugin: PluginHandle,
  plan: readonly PlannedInput[],
  o: ResolvedStressOptions,
  lanesCount: number,
): Promise<{ tally: Tally; fatal: PluginError | undefined; reason: string | undefined }> {
  const tally = new Tally();
  const limit = o.iterations !== undefined
    ? { calls: clamp(Math.round(o.iterations / 10), 100, 20_000) }
    : { durationMs: clamp((o.durationMs ?? 1000) / 10, 100, 1000) };
  const stop = new Stopper(limit, o.signal);
  const phase = new Phase({
    plugin,
    plan,
    book: undefined,
    tally,
    stop,
    timeoutMs: o.timeoutMs,
    seed: o.seed,
    config: undefined,
  });
  try {
    const lanes: Lane[] = [];
    for (const _ of range(lanesCount)) lanes.push({ instance: await plugin.noopInstance() });
    const progress = startProgress(o.onProgress, "floor", tally, () => undefined);
    tally.restart();
    await Promise.all(range(o.concurrency).map((k) => steadyLoop(phase, k, lanes[k % lanes.length]!)));
    tally.stop();
    progress.stop();
    for (const lane of lanes) await lane.instance.destroy().catch(() => {});
  } catch (error) {
    await phase.failed(error, -1, 0, undefined);
  }
  return { tally, fatal: phase.fatal, reason: stop.reason };
}

/** Fills the plugin up to its max_instances, asks for one more, and destroys the extras. */
async function probeMaxInstances(
  plugin: PluginHandle,
  max: number | undefined,
  held: number,
  o: ResolvedStressOptions,
  lifecycle: Lifecycle,
  book: OutcomeBook,
): Promise<ProbeResult> {
  if (max === undefined) return { kind: "undeclared" };
  if (max > PROBE_LIMIT) return { kind: "too_many", max };
  const extra: InstanceHandle[] = [];
  let result: ProbeResult | undefined;
  let failure: unknown;
  try {
    for (let live = held; live <= max && result === undefined; live++) {
      try {
        extra.push(await lifecycle.create(plugin, o.config, { timeoutMs: o.timeoutMs }));
      } catch (error) {
        if (!(error instanceof PluginError) || ends(error)) throw error;
        result = live < max
          ? { kind: "refused_early", max, live, error: error.name }
          : { kind: "refused", max, error: error.name };
      }
    }
  } catch (error) {
    failure = error;
  }
  for (const inst of extra) {
    try {
      await lifecycle.destroy(inst);
    } catch (error) {
      if (!(error instanceof PluginError)) throw error;
      book.lifecycleFailed(error);
    }
  }
  if (failure !== undefined) throw failure;
  return result ?? { kind: "accepted", max };
}

/** The slope of each plugin counter per 10k calls over the sampled points that carry it. */
function counterTrends(points: readonly ResourcePoint[]): Partial<Record<"live_instances" | "live_buffers", number>> {
  const out: Partial<Record<"live_instances" | "live_buffers", number>> = {};
  for (const key of ["live_instances", "live_buffers"] as const) {
    const xy = points.filter((p) => p[key] !== null).map((p) => [p.calls, p[key]!] as const);
    if (xy.length >= 3) out[key] = slope(xy) * 10_000;
  }
  return out;
}

/** Errors that end a run rather than answer a create. */
function ends(error: PluginError): boolean {
  return error instanceof PluginCrashError || error instanceof PluginTimeoutError ||
    error instanceof PluginDisabledError || error instanceof SandboxProtocolError;
}

/** At most `max` points, evenly spread, first and last kept. */
function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return points.slice();
  const step = (points.length - 1) / (max - 1);
  return range(max).map((i) => points[Math.round(i * step)]!);
}
