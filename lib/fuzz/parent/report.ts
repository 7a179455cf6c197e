/**
 * The fuzz report: what `runFuzz` returns and `plugcheck fuzz --format json`
 * prints, defined once as a zod schema (the type is inferred from it), and
 * built from a finished run.
 *
 * @example
 * ```ts ignore
 * import { FuzzReportSchema } from "./report.ts";
 * const report = FuzzReportSchema.parse(JSON.parse(stdout));
 * for (const f of report.findings) console.log(f.kind, f.count, f.artifact, f.repro);
 * ```
 *
 * @module
 */
import * as z from "../../util/zod.ts";
import { type Provenance, ProvenanceSchema } from "../../load/provenance.ts";
import { FINDING_KINDS, splitAtPlugin } from "../crash/finding.ts";
import type { Finding } from "./finding_book.ts";
import type { FuzzJob } from "./job.ts";
import type { PreparedRun } from "./prepare_run.ts";
import type { TimelinePoint } from "./timeline.ts";
import { median } from "../../util/median.ts";

const Frame = z.object({
  module: z.string(),
  offset: z.string(),
  function: z.string().optional(),
  file: z.string().optional(),
  line: z.number().optional(),
});

/** One bug found. */
export const FuzzFindingSchema = z.object({
  kind: z.enum(FINDING_KINDS as [string, ...string[]]),
  method: z.string(),
  message: z.string(),
  /** What one bug shares: findings with the same key are duplicates. */
  key: z.string(),
  /** Occurrences (1 + duplicates). */
  count: z.number().int().positive(),
  signal: z.string().optional(),
  exit_code: z.number().int().optional(),
  /** The top frame inside the plugin, in words. */
  location: z.string().optional(),
  /** The crashed (or hung) thread's stack from the first frame inside the plugin on, innermost first. */
  frames: z.array(Frame).optional(),
  /** The runtime frames above it (libc's abort, the sanitizer runtime, plugcheck's helper), innermost first. */
  runtime_frames: z.array(Frame).optional(),
  /** The typed error of a finding the guard judged (PANIC status, contract). */
  error: z.record(z.string(), z.unknown()).optional(),
  /** The sanitizer's report: its kind, summary, place and (symbolized) first stack. */
  asan: z.object({
    errorType: z.string(),
    summary: z.string(),
    location: z.string().optional(),
    frames: z.array(z.string()).optional(),
  }).passthrough().optional(),
  /** The smallest input: its size, SHA-1 and first bytes (escaped). */
  input: z.object({ size: z.number().int(), sha1: z.string(), preview: z.string() }),
  artifact: z.string(),
  sidecar: z.string(),
  /** Seconds into the run it was first found, after how many executions of the job that found it, and which. */
  first_seconds: z.number(),
  first_execs: z.number().int(),
  job: z.number().int(),
  repro: z.string(),
  minimize: z.string(),
});

/** The report of a fuzz run. */
export const FuzzReportSchema = z.object({
  /** True when nothing was found, in a run that did not end early on an error (`run.stopped` "error"). */
  ok: z.boolean(),
  plugin: z.object({ path: z.string(), name: z.string().optional(), version: z.string().optional() }),
  target: z.enum(["npa", "libfuzzer"]),
  sanitizer: z.enum(["asan"]).nullable(),
  methods: z.array(z.string()),
  seed: z.number().int(),
  jobs: z.number().int(),
  max_len: z.number().int(),
  timeout_ms: z.number().int(),
  /** Whether the plugin's counters were checked for leaks after each batch. */
  leak_checks: z.boolean(),
  run: z.object({
    execs: z.number().int(),
    seconds: z.number(),
    per_second: z.number(),
    /**
     * Where the inputs ran: `fork-server` (workers forked from a native process that loaded the plugin once), or
     * `deno-child` (Deno sandbox children: `--no-fork-server`, or a plugin the fork server cannot serve, which the
     * warnings name when it is for threads the plugin left).
     */
    processes: z.enum(["fork-server", "deno-child"]),
    /** Children (or workers) started after a crash, a hang or an oom. */
    restarts: z.number().int(),
    /**
     * What a restart cost (ms): a child seen dead -> the next child's first input running; in a fork server, from
     * the batch the worker died in being sent to the next worker's first input (the crash and its report included).
     */
    restart_ms: z.object({ median: z.number(), max: z.number() }).nullable(),
    /**
     * Why the run ended: its runs or duration were spent, Ctrl-C, an error,
     * `max-findings` distinct findings, or every method `retired` (its known
     * bug ended child after child at once; the warnings say which).
     */
    stopped: z.enum(["runs", "duration", "interrupted", "error", "max-findings", "retired"]),
    /**
     * Where the start went (ms): the process before the run began (the CLI's boot, for `plugcheck fuzz`), the run's
     * preparation (the library read, runtimes found), and from then to the first input running (children or the fork
     * server started, the plugin loaded and initialized; absent when none ran).
     */
    startup: z.object({ boot_ms: z.number(), prepare_ms: z.number(), first_input_ms: z.number().optional() }),
  }),
  corpus: z.object({ size: z.number().int(), found: z.number().int(), dir: z.string().nullable() }),
  /** Dictionary words: all of them, and how many of those were read from the plugin's binary. */
  dictionary: z.object({ words: z.number().int(), from_binary: z.number().int() }),
  /**
   * Coverage guidance: null for an uninstrumented library (or with guidance
   * off); else edges hit, (edge, hit-count bucket) features and edges
   * instrumented, by the job that saw the most.
   */
  coverage: z.object({ edges: z.number().int(), features: z.number().int(), instrumented: z.number().int() })
    .nullable(),
  artifacts_dir: z.string(),
  findings: z.array(FuzzFindingSchema),
  /**
   * Progress over time, sampled every 100 ms (at most 600 points: a long run's are thinned evenly), the last at
   * the run's end: seconds since the run began, executions, exec/s over the interval, corpus size, findings, the
   * largest RSS of the running children (null when none ran), and edges and features in a guided run.
   */
  timeline: z.array(z.object({
    t_s: z.number(),
    execs: z.number().int(),
    per_second: z.number(),
    corpus: z.number().int(),
    findings: z.number().int(),
    rss_bytes: z.number().nullable(),
    edges: z.number().int().optional(),
    features: z.number().int().optional(),
  })),
  warnings: z.array(z.string()),
  /** Which plugcheck, which build of the plugin (its SHA-256), on what machine: for charting runs over time. */
  provenance: ProvenanceSchema,
});

/** A fuzz report. */
export type FuzzReport = z.infer<typeof FuzzReportSchema>;
/** One finding of a report. */
export type FuzzFinding = z.infer<typeof FuzzFindingSchema>;

const PREVIEW = 48;

/** The first bytes, printable ASCII as it is and every other byte as \xNN. */
function preview(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes.subarray(0, PREVIEW)) {
    out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return out + (bytes.length > PREVIEW ? "..." : "");
}

function findingOf(run: PreparedRun, f: Finding): FuzzFinding {
  const { runtime, plugin: frames } = splitAtPlugin(f.located ?? f.frames ?? [], run.pluginPath);
  const hex = (fr: { module: string; offset: number }) => ({ ...fr, offset: `0x${fr.offset.toString(16)}` });
  return {
    kind: f.kind,
    method: f.method,
    message: f.message,
    key: f.key,
    count: f.count,
    ...f.signal !== undefined && { signal: f.signal },
    ...f.exitCode !== undefined && { exit_code: f.exitCode },
    ...f.location !== undefined && { location: f.location },
    ...frames.length > 0 && { frames: frames.map(hex) },
    ...runtime.length > 0 && { runtime_frames: runtime.map(hex) },
    ...f.error !== undefined && { error: f.error as Record<string, unknown> },
    ...f.asan && { asan: f.asan },
    input: { size: f.input.length, sha1: f.sha1, preview: preview(f.input) },
    artifact: f.artifact,
    sidecar: f.sidecar,
    first_seconds: Math.round(f.seconds * 1000) / 1000,
    first_execs: f.firstExecs,
    job: f.job,
    repro: run.reproFor(f),
    minimize: run.minimizeFor(f),
  };
}

/** The report of a finished run. */
export function buildReport(
  run: PreparedRun,
  jobs: readonly FuzzJob[],
  end: {
    seconds: number;
    stopped: FuzzReport["run"]["stopped"];
    startup: { boot_ms: number; prepare_ms: number; first_input_ms?: number };
    provenance: Provenance;
    timeline: TimelinePoint[];
  },
): FuzzReport {
  const s = run.session;
  const execs = jobs.reduce((n, j) => n + j.execs, 0);
  const restartMs = jobs.flatMap((j) => j.restartMs);
  const findings = s.book.all.map((f) => findingOf(run, f));
  return {
    ok: findings.length === 0 && end.stopped !== "error",
    plugin: { path: run.pluginPath, ...s.plugin },
    target: run.target,
    sanitizer: run.sanitizer ?? null,
    methods: [...(s.acceptedMethods ?? [])],
    seed: run.options.seed,
    jobs: jobs.length,
    max_len: run.options.maxLen,
    timeout_ms: run.options.timeoutMs,
    leak_checks: s.leaks && run.target === "npa",
    run: {
      execs,
      seconds: Math.round(end.seconds * 1000) / 1000,
      per_second: end.seconds > 0 ? Math.round(execs / end.seconds) : 0,
      processes: s.forkServer ? "fork-server" : "deno-child",
      restarts: jobs.reduce((n, j) => n + j.restarts, 0),
      restart_ms: restartMs.length === 0
        ? null
        : { median: Math.round(median(restartMs) * 10) / 10, max: Math.round(Math.max(...restartMs) * 10) / 10 },
      stopped: end.stopped,
      startup: {
        boot_ms: Math.round(end.startup.boot_ms * 10) / 10,
        prepare_ms: Math.round(end.startup.prepare_ms * 10) / 10,
        ...end.startup.first_input_ms !== undefined &&
          { first_input_ms: Math.round(end.startup.first_input_ms * 10) / 10 },
      },
    },
    corpus: { size: s.corpusSize, found: s.corpusFound, dir: s.corpusDir ?? null },
    dictionary: { words: s.dictionary.length, from_binary: s.dictionaryFromBinary },
    coverage: s.guided ? { ...bestCoverage(jobs), instrumented: s.instrumentedEdges } : null,
    artifacts_dir: run.artifactsDir,
    findings,
    timeline: end.timeline,
    warnings: [...s.warnings],
    provenance: end.provenance,
  };
}

/** The coverage of the job that has seen the most features (guided mode). */
export function bestCoverage(jobs: readonly FuzzJob[]): { edges: number; features: number } {
  let best = { edges: 0, features: 0 };
  for (const j of jobs) {
    const c = j.coverage();
    if (c.features > best.features) best = c;
  }
  return best;
}
