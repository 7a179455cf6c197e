/**
 * The stress report: what `runStress` returns and what `plugcheck stress
 * --format json` prints, defined once as a zod schema (the type is inferred
 * from it), so scripts and CI can validate what they read.
 *
 * @example
 * ```ts ignore
 * import { StressReportSchema } from "./report.ts";
 * const report = StressReportSchema.parse(JSON.parse(stdout));
 * if (!report.ok) console.log(report.verdicts.filter((v) => v.status === "fail"));
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { ProvenanceSchema } from "../load/provenance.ts";
import { VERDICT_IDS } from "./verdicts.ts";

const Latency = z.object({
  count: z.number(),
  min_ms: z.number(),
  p50_ms: z.number(),
  p90_ms: z.number(),
  p99_ms: z.number(),
  p999_ms: z.number(),
  max_ms: z.number(),
});

const Tally = z.object({
  calls: z.number(),
  /** How long the phase ran (ms). */
  duration_ms: z.number(),
  ok: z.number(),
  failed: z.number(),
  per_second: z.number(),
  latency: Latency,
  /** The latency (ms) below which each percentile of the calls fall, from 0 to 100: the HDR percentile plot's points. */
  latency_distribution: z.array(z.object({ percentile: z.number(), ms: z.number() })),
  /** Failures by error class, with the first message of each. */
  errors: z.record(z.string(), z.object({ count: z.number(), first: z.string() })),
  timeouts: z.number(),
  /** Calls answered RESOURCE_LIMIT (a plugin may shed load: counted, not failed). */
  resource_limit: z.number(),
});

const Sample = z.object({ rss_bytes: z.number(), threads: z.number(), fds: z.number() });
/** A thread; one the helper recorded as the plugin's also has its start routine, module, CPU and age (ms). */
const Thread = z.object({
  tid: z.number(),
  name: z.string(),
  start: z.string().optional(),
  module: z.string().optional(),
  cpuMs: z.number().optional(),
  ageMs: z.number().optional(),
});
const Example = z.object({ method: z.string(), source: z.string(), expected: z.string(), got: z.string() });

/** One verdict: pass, fail, or skip (with why), and its evidence. */
export const VerdictSchema = z.object({
  id: z.enum(VERDICT_IDS),
  status: z.enum(["pass", "fail", "skip"]),
  summary: z.string(),
  evidence: z.record(z.string(), z.unknown()),
});

/** One reload cycle. */
export const ReloadCycleSchema = z.object({
  cycle: z.number(),
  init_ms: z.number(),
  calls: z.number(),
  stats: z.object({ before: z.record(z.string(), z.number()), after: z.record(z.string(), z.number()) }).nullable(),
  /** Threads and descriptors of the process before the library was opened and after its shutdown. */
  shutdown: z.object({
    before: z.object({ threads: z.number(), fds: z.number() }),
    after: z.object({ threads: z.number(), fds: z.number() }),
    left_threads: z.array(Thread),
    left_fds: z.array(z.object({ fd: z.number(), target: z.string() })),
    unloaded: z.boolean(),
    /** True when left_threads are the plugin's own (recorded by the helper), not a count of the process's. */
    attributed: z.boolean().optional(),
  }).nullable(),
  rss_bytes: z.number().nullable(),
});

/** The whole report. */
export const StressReportSchema = z.object({
  /** True when no verdict failed. */
  ok: z.boolean(),
  mode: z.enum(["steady", "churn", "reload"]),
  seed: z.number(),
  plugin: z.object({
    path: z.string(),
    name: z.string(),
    version: z.string(),
    isolated: z.boolean(),
    thread_safe_instances: z.boolean(),
    max_instances: z.number().nullable(),
  }),
  settings: z.object({
    concurrency: z.number(),
    instances: z.number().nullable(),
    duration_ms: z.number().nullable(),
    iterations: z.number().nullable(),
    timeout_ms: z.number(),
    reload: z.number().nullable(),
    max_rss_growth_mb: z.number(),
    exclusive: z.boolean(),
    /** How the run was fitted to the plugin's max_instances (fewer instances or loops), or null. */
    adapted: z.string().nullable(),
  }),
  inputs: z.array(z.object({
    method: z.string(),
    source: z.string(),
    bytes: z.number(),
    pure: z.boolean(),
    expected_output: z.boolean(),
    /** Calls of this input that failed as its first call did: failures the input always gives, so expected. */
    expected_failures: z.number(),
    /** The error class of this input's first call when it failed (its later calls are held to it), else null. */
    first_error: z.string().nullable(),
  })),
  elapsed_ms: z.number(),
  /** The calls of the run (reload: of every cycle). */
  run: Tally,
  /** The same loop on a no-op native function: what a call costs without the plugin. */
  floor: Tally.nullable(),
  instances: z.object({
    created: z.number(),
    destroyed: z.number(),
    /** Given up after a call on them timed out. */
    wedged: z.number(),
    max_live: z.number(),
    create_latency: Latency,
    destroy_latency: Latency,
  }),
  outcomes: z.object({
    checked: z.number(),
    wrong: z.number(),
    wrong_examples: z.array(Example),
    unexpected: z.number(),
    unexpected_examples: z.array(Example),
  }),
  resources: z.object({
    pid: z.number().nullable(),
    interval_ms: z.number(),
    /** Before the instances were created. */
    baseline: Sample.nullable(),
    peak: Sample.nullable(),
    /** After every instance was destroyed. */
    end: Sample.nullable(),
    /** From the end of the warm-up (the first tenth of the calls; reload: cycle 1) to the end. */
    rss_growth_bytes: z.number(),
    /** Least-squares slope of RSS (bytes) per 10k calls (reload: per cycle), over the same stretch. */
    rss_slope_bytes: z.number(),
    rss_slope_per: z.enum(["10k calls", "cycle"]),
    points: z.array(z.object({
      t_ms: z.number(),
      calls: z.number(),
      rss_bytes: z.number(),
      threads: z.number(),
      fds: z.number(),
      live_instances: z.number().nullable(),
      live_buffers: z.number().nullable(),
    })),
  }),
  stats: z.object({ before: z.record(z.string(), z.number()), after: z.record(z.string(), z.number()) }).nullable(),
  reload: z.object({ cycles: z.number(), completed: z.number(), per_cycle: z.array(ReloadCycleSchema) }).nullable(),
  /** The crash (or killed hang) that ended the run, as error data. */
  crash: z.record(z.string(), z.unknown()).nullable(),
  /** Why the run ended early (interrupted, crashed, ...), or null. */
  stopped_early: z.string().nullable(),
  verdicts: z.array(VerdictSchema),
  warnings: z.array(z.string()),
  /** Which plugcheck, which build of the plugin (its SHA-256), on what machine: for charting runs over time. */
  provenance: ProvenanceSchema,
});

/** The report of a stress run. */
export type StressReport = z.infer<typeof StressReportSchema>;
/** The report as a mode makes it; `runStress` adds the provenance. */
export type StressResults = Omit<StressReport, "provenance">;
/** One verdict of a report. */
export type StressVerdict = z.infer<typeof VerdictSchema>;
