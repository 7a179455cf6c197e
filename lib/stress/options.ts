/**
 * The options of a stress run (`runStress`, `plugcheck stress`), their
 * defaults, and their checks. Every check runs before anything is loaded; a
 * bad option is a `UsageError` naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveStressOptions } from "./options.ts";
 * const o = resolveStressOptions({ iterations: 1000, seed: 7 });
 * assert.ok(o.mode === "steady" && o.concurrency === 4 && o.durationMs === undefined);
 * ```
 *
 * @module
 */
import { callSlots } from "../plugin/call_slots.ts";
import { UsageError } from "../errors/errors.ts";
import type { PluginOptions } from "../plugin/options.ts";
import { configBytes, inputBytes, type InstanceConfig } from "../plugin/handle.ts";
import { MAX_SEED, randomSeed } from "../util/prng.ts";
import { MAX_DELAY_MS } from "../util/timers.ts";

/** Default calls at once. */
export const DEFAULT_CONCURRENCY = 4;
/** Default length of a run without `iterations`. */
export const DEFAULT_DURATION_MS = 10_000;
/** Default deadline of one call in a stress run: a call that takes longer is a hang. */
export const DEFAULT_STRESS_TIMEOUT_MS = 5_000;
/** Default RSS growth allowed before a growing RSS is a leak (MiB). */
export const DEFAULT_MAX_RSS_GROWTH_MB = 64;
/** Default time between two resource samples. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 100;

/** What a stress run does. */
export type StressMode = "steady" | "churn" | "reload";

/** Progress of a running stress run, for a status line. */
export interface StressProgress {
  phase: "floor" | "run" | "reload" | "finish";
  calls: number;
  callsPerSecond: number;
  p99Ms: number;
  errors: number;
  rssBytes: number | undefined;
  /** Reload: cycles done of all. */
  cycle?: { done: number; of: number };
}

/** Options of `runStress`. */
export interface StressOptions {
  /** Methods to call (default: every method with examples in describe()). */
  methods?: readonly string[];
  /** The input for every method in `methods` (default: each method's describe() examples). */
  input?: Uint8Array | string;
  /** Instance config: an object sent as JSON, JSON text, or bytes. */
  config?: InstanceConfig;
  /** Calls at once (default 4; at most the call slot limit, 16). */
  concurrency?: number;
  /** Steady mode: live instances the loops share (default 1 with `thread_safe_instances`, else one per loop). */
  instances?: number;
  /** How long the run goes on (ms; default 10 000 unless `iterations`). */
  durationMs?: number;
  /** How many calls the run makes (instead of a duration). */
  iterations?: number;
  /** Deadline of each call (ms, default 5000): a call that takes longer is a hang. */
  timeoutMs?: number;
  /** Create -> invoke -> destroy cycles from every loop instead of calls on long-lived instances. */
  churn?: boolean;
  /** K cycles of load -> init -> create/invoke/destroy -> shutdown -> unload instead. */
  reload?: number;
  /** Run the plugin in a sandbox child (a fresh child per cycle with `reload`). */
  isolate?: boolean;
  /** Seed of the input order (default: a random one, reported so the run can be replayed). */
  seed?: number;
  /** RSS growth (MiB) beyond which a growing RSS is a leak (default 64). */
  maxRssGrowthMb?: number;
  /** In process: a private copy of the library, shared with no other handle (reload always uses one). */
  exclusive?: boolean;
  /** Time between resource samples (ms, default 100); 0 samples only at the start and the end. */
  sampleIntervalMs?: number;
  /** Measure the dispatch floor first (default true). */
  floor?: boolean;
  /**
   * Count the heap the plugin's own code holds (`LoadOptions.trackHeap`) and
   * judge it (`heap_growth`); default true. Costs a lock and a table update
   * per allocation the plugin makes.
   */
  heap?: boolean;
  /** Stops the run early; the report covers what ran. */
  signal?: AbortSignal;
  /** Called about ten times a second while the run goes on. */
  onProgress?: (progress: StressProgress) => void;
  /** How the plugin is loaded (log directives, sandbox environment, grace, ...). */
  load?: Omit<PluginOptions, "isolate" | "exclusive" | "shutdownCheck">;
}

/** Stress options, checked and with defaults filled in. */
export interface ResolvedStressOptions {
  mode: StressMode;
  methods: readonly string[] | undefined;
  input: Uint8Array | undefined;
  config: Uint8Array | undefined;
  concurrency: number;
  instances: number | undefined;
  durationMs: number | undefined;
  iterations: number | undefined;
  timeoutMs: number;
  reload: number;
  isolate: boolean;
  seed: number;
  maxRssGrowthMb: number;
  exclusive: boolean;
  sampleIntervalMs: number;
  floor: boolean;
  heap: boolean;
  signal: AbortSignal | undefined;
  onProgress: ((progress: StressProgress) => void) | undefined;
  load: Omit<PluginOptions, "isolate" | "exclusive" | "shutdownCheck">;
  /** How the run was fitted to the plugin's `max_instances` (see {@link fitToMaxInstances}), if it was. */
  adapted?: string;
}

function positiveInt(value: number | undefined, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new UsageError(`${name} must be an integer from 1 to ${max}: got ${value}`);
  }
  return value;
}

/**
 * Checks the options; throws `UsageError` naming the bad one, as `name`
 * calls it (the CLI passes its flags: `--duration` for `durationMs`).
 */
export function resolveStressOptions(
  o: StressOptions = {},
  name: (option: keyof StressOptions) => string = (option) => option,
): ResolvedStressOptions {
  if (o.churn && o.reload !== undefined) {
    throw new UsageError(`${name("churn")} and ${name("reload")} are two modes: choose one`);
  }
  const mode: StressMode = o.reload !== undefined ? "reload" : o.churn ? "churn" : "steady";
  if (mode !== "steady" && o.instances !== undefined) {
    throw new UsageError(`${name("instances")} applies to the steady mode (${mode} makes its own instances)`);
  }
  if (mode === "reload" && (o.durationMs !== undefined || o.iterations !== undefined)) {
    throw new UsageError(`${name("reload")} runs its K cycles; a duration or iteration count does not apply`);
  }
  if (o.durationMs !== undefined && o.iterations !== undefined) {
    throw new UsageError(`${name("durationMs")} and ${name("iterations")} exclude each other: give one, not both`);
  }
  if (o.input !== undefined && !o.methods?.length) {
    throw new UsageError("An input needs the method(s) to call with it (methods, or --method NAME)");
  }
  const concurrency = positiveInt(o.concurrency, name("concurrency"), callSlots.limit) ?? DEFAULT_CONCURRENCY;
  const maxRss = o.maxRssGrowthMb ?? DEFAULT_MAX_RSS_GROWTH_MB;
  if (typeof maxRss !== "number" || !(maxRss > 0) || !Number.isFinite(maxRss)) {
    throw new UsageError(`${name("maxRssGrowthMb")} must be a positive number of MiB: got ${maxRss}`);
  }
  const sample = o.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
  if (!Number.isSafeInteger(sample) || sample < 0 || sample > 60_000) {
    throw new UsageError(`${name("sampleIntervalMs")} must be an integer from 0 to 60000: got ${sample}`);
  }
  const seed = o.seed ?? randomSeed();
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new UsageError(`${name("seed")} must be an integer from 0 to ${MAX_SEED}: got ${seed}`);
  }
  let input: Uint8Array | undefined;
  let config: Uint8Array | undefined;
  try {
    input = o.input === undefined ? undefined : inputBytes(o.input);
    config = configBytes(o.config);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const iterations = positiveInt(o.iterations, name("iterations"));
  return {
    mode,
    methods: o.methods,
    input,
    config,
    concurrency,
    instances: positiveInt(o.instances, name("instances"), 100_000),
    durationMs: mode === "reload" || iterations !== undefined
      ? undefined
      : positiveInt(o.durationMs, name("durationMs"), MAX_DELAY_MS) ?? DEFAULT_DURATION_MS,
    iterations,
    timeoutMs: positiveInt(o.timeoutMs, name("timeoutMs"), MAX_DELAY_MS) ?? DEFAULT_STRESS_TIMEOUT_MS,
    reload: positiveInt(o.reload, name("reload"), 100_000) ?? 0,
    isolate: o.isolate ?? false,
    seed,
    maxRssGrowthMb: maxRss,
    exclusive: o.exclusive ?? false,
    sampleIntervalMs: sample,
    floor: o.floor ?? true,
    heap: o.heap ?? true,
    signal: o.signal,
    onProgress: o.onProgress,
    load: o.load ?? {},
  };
}

/**
 * The instances a steady run keeps: as asked, else one for all loops when
 * the plugin declares `thread_safe_instances` (the hardest test of that
 * claim), else one per loop.
 */
export function steadyInstances(o: ResolvedStressOptions, threadSafeInstances: boolean): number {
  return o.instances ?? (threadSafeInstances ? 1 : o.concurrency);
}

/**
 * The options fitted to a plugin's `max_instances`: a steady run keeps at
 * most that many instances (its loops take turns on them, or share them when
 * they are thread-safe), a churn run has at most that many loops (each holds
 * one live instance at a time). `adapted` says what changed, so the report
 * can say so; the options are returned as they are when they fit.
 */
export function fitToMaxInstances(
  o: ResolvedStressOptions,
  d: { thread_safe_instances: boolean; max_instances?: number | undefined },
): ResolvedStressOptions {
  const max = d.max_instances;
  if (max === undefined || o.mode === "reload") return o;
  if (o.mode === "steady") {
    const wanted = steadyInstances(o, d.thread_safe_instances);
    if (wanted <= max) return o;
    const how = d.thread_safe_instances ? "share" : "take turns on";
    return {
      ...o,
      instances: max,
      adapted: `the plugin's max_instances is ${max}: ${o.concurrency} loops ${how} ${max} instance${
        max === 1 ? "" : "s"
      } instead of ${wanted}`,
    };
  }
  if (o.concurrency <= max) return o;
  return {
    ...o,
    concurrency: max,
    adapted: `the plugin's max_instances is ${max}: ${max} churn loop${
      max === 1 ? "" : "s"
    } instead of ${o.concurrency}, each holding one live instance`,
  };
}
