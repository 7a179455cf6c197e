/**
 * Pieces every stress mode's report shares: the parts known before the run
 * (plugin, settings, inputs), resource samples as JSON, and the progress
 * ticker that feeds a status line.
 *
 * @example
 * ```ts ignore
 * const progress = startProgress(o.onProgress, "run", tally, () => watch.last);
 * // ... run ...
 * progress.stop();
 * ```
 *
 * @module
 */
import { encodeBase64 } from "../util/base64.ts";
import { toData } from "../errors/error_data.ts";
import { type InFlightRequest, PluginCrashError, type PluginError } from "../errors/errors.ts";
import { sameCall } from "../errors/host_errors.ts";
import type { ProcSample } from "../ffi/proc_info.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import { type ResolvedStressOptions, steadyInstances, type StressProgress } from "./options.ts";
import type { Lifecycle } from "./loops.ts";
import type { OutcomeBook, PlannedInput } from "./plan.ts";
import type { StressReport, StressResults } from "./report.ts";
import type { Tally, TallySummary } from "./tally.ts";
import type { Verdict } from "./verdicts.ts";

const PROGRESS_MS = 100;

/** A call as report data: its method and input (base64). */
function callData(r: InFlightRequest): { method: string; input_base64?: string } {
  const input = r.inputs?.[0];
  return { method: r.method ?? r.kind, ...input !== undefined && { input_base64: encodeBase64(input) } };
}

/**
 * The error that ended a run, as report data, with the input of the call
 * that crashed (base64) when known. With calls in flight on several lanes,
 * `request` and `input_base64` are the culprit's (the call whose thread
 * faulted) and `also_in_flight` lists the others; when no culprit is known,
 * `culprit_known` is false and `candidates` lists every call in flight
 * (each to be run alone). `may_be_earlier`: heap damage found late.
 */
export function crashData(fatal: PluginError | undefined): StressReport["crash"] {
  if (fatal === undefined) return null;
  const data: Record<string, unknown> = { ...toData(fatal) };
  if (!(fatal instanceof PluginCrashError)) return data;
  const blame = fatal.blame;
  const culprit = blame?.culprit;
  const blamed = culprit ?? (blame && blame.inFlight.length > 1 ? undefined : fatal.request);
  if (culprit !== undefined) data.request = { kind: culprit.kind, method: culprit.method };
  const input = blamed?.inputs?.[0];
  if (input !== undefined) data.input_base64 = encodeBase64(input);
  if (blame === undefined) return data;
  if (blame.mayBeEarlier) data.may_be_earlier = true;
  if (blame.outsideCall) data.outside_call = true;
  if (culprit !== undefined) {
    data.also_in_flight = blame.inFlight.filter((r) => !sameCall(r, culprit)).map(callData);
  } else if (blame.inFlight.length > 1) {
    data.culprit_known = false;
    const seen = new Set<string>();
    data.candidates = blame.inFlight.map(callData).filter((c) => {
      const key = `${c.method}\0${c.input_base64 ?? ""}`;
      return !seen.has(key) && seen.add(key);
    });
  }
  return data;
}

/** Fills in the counts every mode has: calls, instances, outcomes. */
export function fillCounts(report: StressResults, tally: Tally, lifecycle: Lifecycle, book: OutcomeBook): void {
  report.run = tally.summary();
  report.instances = {
    created: lifecycle.created,
    destroyed: lifecycle.destroyed,
    wedged: lifecycle.wedged,
    max_live: lifecycle.maxLive,
    create_latency: lifecycle.createLatency.summary(),
    destroy_latency: lifecycle.destroyLatency.summary(),
  };
  report.outcomes = {
    checked: book.checked,
    wrong: book.wrong,
    wrong_examples: book.wrongExamples,
    unexpected: book.unexpected,
    unexpected_examples: book.unexpectedExamples,
  };
  report.inputs.forEach((input, i) => {
    input.expected_failures = book.expectedFailures[i] ?? 0;
    input.first_error = book.firstError(i) ?? null;
  });
}

/** A sample as the report shows it. */
export function sampleJson(s: ProcSample | undefined): StressReport["resources"]["baseline"] {
  return s === undefined ? null : { rss_bytes: s.rssBytes, threads: s.threads, fds: s.fds };
}

const EMPTY_TALLY: TallySummary = {
  calls: 0,
  duration_ms: 0,
  ok: 0,
  failed: 0,
  per_second: 0,
  latency: { count: 0, min_ms: 0, p50_ms: 0, p90_ms: 0, p99_ms: 0, p999_ms: 0, max_ms: 0 },
  latency_distribution: [],
  errors: {},
  timeouts: 0,
  resource_limit: 0,
};

/** The report with what is known before the run, and its verdicts; the mode fills in the rest. */
export function baseReport(
  plugin: PluginHandle,
  o: ResolvedStressOptions,
  plan: readonly PlannedInput[],
  started: number,
  verdicts: Verdict[],
  warnings: string[],
): StressResults {
  const d = plugin.describe();
  return {
    ok: verdicts.every((v) => v.status !== "fail"),
    mode: o.mode,
    seed: o.seed,
    plugin: {
      path: plugin.path,
      name: d.name,
      version: d.version,
      isolated: plugin.isolated,
      thread_safe_instances: d.thread_safe_instances,
      max_instances: d.max_instances ?? null,
    },
    settings: {
      concurrency: o.concurrency,
      instances: o.mode === "steady" ? steadyInstances(o, d.thread_safe_instances) : null,
      duration_ms: o.durationMs ?? null,
      iterations: o.iterations ?? null,
      timeout_ms: o.timeoutMs,
      reload: o.mode === "reload" ? o.reload : null,
      max_rss_growth_mb: o.maxRssGrowthMb,
      exclusive: o.exclusive || o.mode === "reload",
      adapted: o.adapted ?? null,
    },
    inputs: plan.map((p) => ({
      method: p.method,
      source: p.source,
      bytes: p.bytes.length,
      pure: p.pure,
      expected_output: p.expected !== undefined,
      expected_failures: 0,
      first_error: null,
    })),
    elapsed_ms: Math.round(performance.now() - started),
    run: EMPTY_TALLY,
    floor: null,
    instances: {
      created: 0,
      destroyed: 0,
      wedged: 0,
      max_live: 0,
      create_latency: EMPTY_TALLY.latency,
      destroy_latency: EMPTY_TALLY.latency,
    },
    outcomes: { checked: 0, wrong: 0, wrong_examples: [], unexpected: 0, unexpected_examples: [] },
    resources: {
      pid: null,
      interval_ms: o.sampleIntervalMs,
      baseline: null,
      peak: null,
      end: null,
      rss_growth_bytes: 0,
      rss_slope_bytes: 0,
      rss_slope_per: "10k calls",
      points: [],
    },
    stats: null,
    reload: null,
    crash: null,
    stopped_early: null,
    verdicts,
    warnings,
  };
}

/** Calls `onProgress` about ten times a second with the phase's figures; `stop()` ends it. */
export function startProgress(
  onProgress: ((p: StressProgress) => void) | undefined,
  phase: StressProgress["phase"],
  tally: Tally,
  sample: () => ProcSample | undefined,
  cycle?: () => { done: number; of: number },
): { stop(): void } {
  if (onProgress === undefined) return { stop() {} };
  let lastCalls = tally.calls;
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const calls = tally.calls;
    onProgress({
      phase,
      calls,
      callsPerSecond: Math.round(((calls - lastCalls) * 1000) / Math.max(1, now - lastAt)),
      p99Ms: tally.latency.count > 0 ? tally.latency.summary().p99_ms : 0,
      errors: tally.calls - tally.ok,
      rssBytes: sample()?.rssBytes,
      ...cycle && { cycle: cycle() },
    });
    lastCalls = calls;
    lastAt = now;
  }, PROGRESS_MS);
  Deno.unrefTimer(timer);
  return { stop: () => clearInterval(timer) };
}
