/**
 * Reload cycles: K times load -> init -> create -> invoke every input ->
 * destroy -> shutdown -> unload, each with a library handle of its own (a
 * private copy in process, a fresh sandbox child with `isolate`). Each cycle
 * counts the threads and descriptors of the process that holds the plugin
 * before the library is opened and after its shutdown (`shutdownCheck`), so
 * a thread that outlives shutdown is caught before its code is unmapped
 * (plugcheck keeps that library mapped rather than crash); `npa_plugin_stats`
 * before create and after destroy catch leaks per cycle; pure outputs must
 * stay the same from cycle to cycle (no state surviving a reload).
 *
 * @example
 * ```ts ignore
 * const report = await runReload("build/fixtures/libref_c.so", resolveStressOptions({ reload: 5 }));
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginError, PluginTimeoutError } from "../errors/errors.ts";
import { ProcInfo } from "../ffi/proc_info.ts";
import { loadPlugin } from "../host/load_plugin.ts";
import type { PluginHandle, ShutdownReport } from "../plugin/handle.ts";
import { Prng } from "../util/prng.ts";
import { Lifecycle, Phase, Stopper } from "./loops.ts";
import type { ResolvedStressOptions } from "./options.ts";
import { OutcomeBook, planInputs, type PlannedInput } from "./plan.ts";
import { baseReport, crashData, fillCounts, startProgress } from "./report_parts.ts";
import type { StressReport, StressResults } from "./report.ts";
import { slope } from "./resources.ts";
import { Tally } from "./tally.ts";
import {
  crashVerdict,
  errorsVerdict,
  leftoverVerdicts,
  rssVerdict,
  skipped,
  timeoutVerdict,
  type Verdict,
  wrongResultsVerdict,
} from "./verdicts.ts";

type Cycle = StressReport["reload"] extends infer R ? R extends { per_cycle: (infer C)[] } ? C : never : never;

/** Runs the reload cycles of `o` on the plugin at `path`. */
export async function runReload(path: string, o: ResolvedStressOptions): Promise<StressResults> {
  const started = performance.now();
  const tally = new Tally();
  const lifecycle = new Lifecycle();
  const stop = new Stopper({}, o.signal);
  const cycles: Cycle[] = [];
  const warnings = new Set<string>();
  let first: { plugin: PluginHandle; plan: PlannedInput[]; book: OutcomeBook } | undefined;
  let fatal: PluginError | undefined;
  const progress = startProgress(o.onProgress, "reload", tally, () => undefined, () => ({
    done: cycles.length,
    of: o.reload,
  }));
  try {
    for (let c = 1; c <= o.reload && stop.take(); c++) {
      let plugin: PluginHandle;
      try {
        // Each cycle unloads for real (the next one loads again): nothing is put off here.
        plugin = await loadPlugin(path, {
          ...o.load,
          isolate: o.isolate,
          exclusive: true,
          shutdownCheck: true,
          deferUnload: false,
        });
      } catch (error) {
        if (first === undefined || !(error instanceof PluginError)) throw error; // cycle 1: cannot load at all
        if (error instanceof PluginCrashError || error instanceof PluginTimeoutError) fatal = error;
        else first.book.lifecycleFailed(error);
        stop.stop(`cycle ${c} could not load the plugin: ${error.name}`);
        break;
      }
      if (first === undefined) {
        const plan = planInputs(plugin.describe(), o);
        first = { plugin, plan, book: new OutcomeBook(plan) };
      }
      const phase = new Phase({
        plugin,
        plan: first.plan,
        book: first.book,
        tally,
        stop,
        timeoutMs: o.timeoutMs,
        seed: o.seed,
        config: o.config,
        lifecycle,
      });
      const cycle = await runCycle(phase, c, new Prng(o.seed, c));
      for (const w of plugin.contractWarnings) warnings.add(w);
      cycles.push(cycle);
      if (phase.fatal) {
        fatal = phase.fatal;
        break;
      }
      if (tally.timeouts > 0) {
        stop.stop("a call hung; its library cannot be unloaded, so the cycles stop");
        break;
      }
    }
  } finally {
    progress.stop();
  }
  if (first === undefined) throw new Error("no reload cycle ran"); // o.reload >= 1 and cycle 1 throws on failure
  tally.stop();

  const book = first.book;
  const verdicts: Verdict[] = [
    crashVerdict(fatal),
    timeoutVerdict(tally.timeouts, o.timeoutMs, fatal),
    errorsVerdict(book, tally.judgedFailures()),
    wrongResultsVerdict(book),
    ...leakVerdictsOverCycles(cycles),
    ...shutdownVerdicts(cycles),
    rssOverCycles(cycles, o),
  ];
  const report = baseReport(first.plugin, o, first.plan, started, verdicts, [...warnings]);
  fillCounts(report, tally, lifecycle, book);
  // Cycle 1 is the warm-up (the code loaded for the first time): RSS is judged from its end.
  const rss = cycles.filter((c) => c.rss_bytes !== null && c.cycle > 1);
  report.resources.rss_slope_per = "cycle";
  report.resources.rss_growth_bytes = rss.length > 1 ? rss.at(-1)!.rss_bytes! - rss[0]!.rss_bytes! : 0;
  report.resources.rss_slope_bytes = Math.round(slope(rss.map((c) => [c.cycle, c.rss_bytes!])));
  report.reload = { cycles: o.reload, completed: cycles.length, per_cycle: cycles };
  report.crash = crashData(fatal);
  report.stopped_early = stop.reason ?? null;
  return report;
}

/** One cycle on a freshly loaded plugin: create, every input once (in a seeded order), destroy, close. */
async function runCycle(phase: Phase, c: number, rng: Prng): Promise<Cycle> {
  const { plugin, plan, tally, book, lifecycle } = phase;
  const before = await plugin.readStats();
  let after: Record<string, number> | null = null;
  let rss: number | null = null;
  try {
    const inst = await lifecycle.create(plugin, phase.config, phase.call);
    const order = plan.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const i of order) {
      const p = plan[i]!;
      const s = performance.now();
      try {
        const out = await inst.invoke(p.method, p.bytes, phase.call);
        tally.succeeded(performance.now() - s);
        book!.ok(i, out);
      } catch (error) {
        if (!await phase.failed(error, i, performance.now() - s, undefined)) break;
        if (inst.state !== "live") break;
      }
    }
    if (inst.state === "live") {
      await lifecycle.destroy(inst);
      after = await plugin.readStats();
    } else if (!phase.fatal) {
      lifecycle.lost();
    }
    const pid = plugin.processId;
    rss = !plugin.isolated && pid !== undefined ? ProcInfo.get().sample(pid)?.rssBytes ?? null : null;
  } catch (error) {
    await phase.failed(error, -1, undefined, undefined);
  }
  try {
    await plugin.close();
  } catch (error) {
    if (error instanceof PluginCrashError) phase.fatal ??= error;
    else if (error instanceof PluginError) book!.lifecycleFailed(error);
    else throw error;
  }
  return {
    cycle: c,
    init_ms: Math.round(plugin.initMs * 1000) / 1000,
    calls: plan.length,
    stats: before && after ? { before, after } : null,
    shutdown: shutdownJson(plugin.shutdownReport),
    rss_bytes: rss,
  };
}

function shutdownJson(r: ShutdownReport | undefined): Cycle["shutdown"] {
  if (r === undefined) return null;
  return {
    before: r.before,
    after: r.after,
    left_threads: r.leftThreads,
    left_fds: r.leftFds,
    unloaded: r.unloaded,
    attributed: r.attributed === true,
  };
}

function leakVerdictsOverCycles(cycles: readonly Cycle[]): Verdict[] {
  const measured = cycles.filter((c) => c.stats !== null);
  return (["live_instances", "live_buffers"] as const).map((counter) => {
    const id = counter === "live_instances" ? "leaked_instances" : "leaked_buffers";
    if (measured.length === 0) {
      return skipped(
        id,
        "not judged: no cycle read npa_plugin_stats before create and after destroy (the plugin does not export it, or no cycle got that far)",
      );
    }
    const leaking = measured.filter((c) => (c.stats!.after[counter] ?? 0) > (c.stats!.before[counter] ?? 0));
    if (leaking.length === 0) {
      return {
        id,
        status: "pass",
        summary: `${counter} back to its count before create in all ${measured.length} cycles`,
        evidence: { cycles: measured.length },
      } as Verdict;
    }
    const f = leaking[0]!;
    return {
      id,
      status: "fail",
      summary:
        `${counter} not back after destroy in ${leaking.length} of ${measured.length} cycles (cycle ${f.cycle}: ${
          f.stats!.before[counter] ?? 0
        } -> ${f.stats!.after[counter] ?? 0})`,
      evidence: {
        counter,
        cycles: leaking.map((c) => c.cycle),
        before: f.stats!.before[counter] ?? 0,
        after: f.stats!.after[counter] ?? 0,
      },
    } as Verdict;
  });
}

function shutdownVerdicts(cycles: readonly Cycle[]): Verdict[] {
  const measured = cycles.filter((c) => c.shutdown !== null);
  if (measured.length === 0) {
    const why = "not judged: no cycle reached a clean shutdown";
    return [skipped("threads_after_shutdown", why), skipped("fds_after_shutdown", why)];
  }
  const worseThreads = (c: Cycle) =>
    c.shutdown!.attributed
      ? c.shutdown!.left_threads.length > 0
      : c.shutdown!.after.threads > c.shutdown!.before.threads;
  const worseFds = (c: Cycle) => c.shutdown!.after.fds > c.shutdown!.before.fds;
  // Each verdict shows the first cycle that left something, else the last cycle.
  const judge = (worse: (c: Cycle) => boolean, k: 0 | 1) => {
    const bad = measured.filter(worse);
    const c = bad[0] ?? measured.at(-1)!;
    const s = c.shutdown!;
    const v = leftoverVerdicts(
      ["threads_after_shutdown", "fds_after_shutdown"],
      {
        before: s.before,
        after: s.after,
        leftThreads: s.left_threads,
        leftFds: s.left_fds,
        attributed: s.attributed === true,
      },
      "after npa_plugin_shutdown returned",
      bad.length > 0 ? c.cycle : undefined,
    )[k]!;
    if (bad.length > 0) v.summary += `, in ${bad.length} of ${measured.length} cycles`;
    return v;
  };
  return [judge(worseThreads, 0), judge(worseFds, 1)];
}

function rssOverCycles(cycles: readonly Cycle[], o: ResolvedStressOptions): Verdict {
  if (o.isolate) return skipped("rss_growth", "each cycle runs in a fresh sandbox child: no memory carries over");
  const rss = cycles.filter((c) => c.rss_bytes !== null && c.cycle > 1);
  if (rss.length < 3) return skipped("rss_growth", "fewer than 3 cycles measured after the first (the warm-up)");
  return rssVerdict({
    growthBytes: rss.at(-1)!.rss_bytes! - rss[0]!.rss_bytes!,
    slopePer10k: slope(rss.map((c) => [c.cycle, c.rss_bytes!])),
    maxMb: o.maxRssGrowthMb,
    per: "cycle",
  });
}
