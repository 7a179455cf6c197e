/**
 * The options of a fuzz run (`runFuzz`, `plugcheck fuzz`), their defaults
 * and their checks: every check runs before anything is loaded, and a bad
 * option is a `UsageError` naming it as the caller calls it (the CLI passes
 * its flags).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveFuzzOptions } from "./options.ts";
 * const o = resolveFuzzOptions({ runs: 100_000, seed: 1 });
 * assert.ok(o.runs === 100_000 && o.durationMs === undefined && o.jobs === 1 && o.maxLen === 4096);
 * ```
 *
 * @module
 */
import { resolve } from "node:path";
import { UsageError } from "../../errors/errors.ts";
import { configBytes, type InstanceConfig } from "../../plugin/handle.ts";
import { MAX_SEED, randomSeed } from "../../util/prng.ts";
import { MAX_DELAY_MS } from "../../util/timers.ts";
import type { Finding } from "./finding_book.ts";
import type { FuzzTargetKind } from "../wire.ts";

/** Default length of a run given neither runs nor a duration. */
export const DEFAULT_FUZZ_DURATION_MS = 60_000;
/** Default longest input. */
export const DEFAULT_MAX_LEN = 4096;
/** The longest input a fuzz run may be given (its `maxLen` at most). */
export const MAX_MAX_LEN = 16 * 1024 * 1024;
/** Default deadline of one call: a call that takes longer is a hang (a timeout finding). */
export const DEFAULT_FUZZ_TIMEOUT_MS = 2000;
/** Default RSS limit of a fuzz child (MiB), as libFuzzer's. */
export const DEFAULT_RSS_LIMIT_MB = 2048;
/** Most jobs at once. */
export const MAX_JOBS = 64;

/** Progress of a running fuzz run, for a status line. */
export interface FuzzProgress {
  execs: number;
  perSecond: number;
  corpus: number;
  findings: number;
  /** The largest RSS of the running children. */
  rssBytes: number | undefined;
  /** Guided mode: edges hit and (edge, bucket) features seen, by the job that has seen most. */
  coverage?: { edges: number; features: number };
  elapsedMs: number;
}

/** Options of `runFuzz`. */
export interface FuzzOptions {
  /** Methods to fuzz (default: every method describe() lists). */
  methods?: readonly string[];
  /** What the library is: an npa plugin or a libFuzzer harness (default: detected from its symbols). */
  target?: FuzzTargetKind;
  /** Stop after this many executions in all (split over the jobs). */
  runs?: number;
  /** Stop after this long (ms; default 60 000 unless `runs`), counted from the first inputs run: fuzzing time, not start-up. */
  durationMs?: number;
  /** Stop once this many distinct findings (bugs) are recorded (default: no limit; CI wants 1, as libFuzzer). */
  maxFindings?: number;
  /** Seed of every choice the fuzzer makes (default: random, reported): with one job a seed replays the run. */
  seed?: number;
  /** Fuzz children at once (default 1). */
  jobs?: number;
  /** Corpus directories: their files seed the run; new entries are written to the first (created if needed). */
  corpus?: readonly string[];
  /** Where findings are written (default: the working directory). */
  artifactsDir?: string;
  /** Dictionary words (see `parseDictionary` for AFL-format files). */
  dictionary?: readonly Uint8Array[];
  /**
   * Add the words of the plugin's binary to the dictionary: its printable strings and the constants its code
   * compares with (`binary_dictionary.ts`; default true). Not for a plugin behind an adapter, whose inputs the
   * adapter reads.
   */
  binaryDictionary?: boolean;
  /** Longest input (default 4096). */
  maxLen?: number;
  /** A call that takes longer is a hang (ms, default 2000). */
  timeoutMs?: number;
  /** RSS of a fuzz child above which it is an out-of-memory finding (MiB, default 2048; 0 turns it off). */
  rssLimitMb?: number;
  /** Run the children with the AddressSanitizer runtime preloaded (default: when the library is an ASan build). */
  sanitizer?: "asan" | "none";
  /** Instance config (npa): an object sent as JSON, JSON text, or bytes. */
  config?: InstanceConfig;
  /**
   * Controls may leave their declared ranges (as some hosts send them):
   * `"out_of_range": true` joins the instance config (a JSON object then).
   * Only for a library whose adapter says its config takes it (describe()'s
   * `adapter.out_of_range`, as LADSPA's does); else the run is refused.
   */
  outOfRange?: boolean;
  /** Check the plugin's counters for leaks after each batch (default true when it exports npa_plugin_stats). */
  leaks?: boolean;
  /**
   * Coverage guidance for a library built with SanitizerCoverage (default
   * true): inputs that reach new edges join the corpus, comparison operands
   * feed the mutator. False fuzzes it like an uninstrumented one.
   */
  coverage?: boolean;
  /**
   * Fuzz in a fork server (default true): a native process that loads the
   * harness or npa plugin once and forks a worker per life, the engine (and
   * for an npa plugin the guard) in this process; a library of another ABI
   * (LADSPA) through its adapter. False runs it in Deno fuzz children, as a
   * plugin the server cannot serve is (the report's `run.processes` says).
   */
  forkServer?: boolean;
  /** Environment variable names passed to the children (all others are cleared). */
  env?: readonly string[];
  /**
   * The path of an adapter library (`LoadOptions.adapter`, docs/adapters.md):
   * the library is an npa target served through it.
   */
  adapter?: string;
  /** Deadline of a child's start: dlopen, init, describe (ms, default 10 000). */
  startTimeoutMs?: number;
  /** Stops the run early; the report covers what ran. */
  signal?: AbortSignal;
  /** Called about ten times a second. */
  onProgress?: (progress: FuzzProgress) => void;
  /** Called when a new bug is found (its artifact is on disk by then). */
  onFinding?: (finding: Finding) => void;
}

/** Fuzz options, checked, with defaults filled in. */
export interface ResolvedFuzzOptions {
  methods: readonly string[] | undefined;
  target: FuzzTargetKind | undefined;
  runs: number | undefined;
  durationMs: number | undefined;
  maxFindings: number | undefined;
  seed: number;
  jobs: number;
  corpus: readonly string[];
  artifactsDir: string | undefined;
  dictionary: readonly Uint8Array[];
  binaryDictionary: boolean;
  maxLen: number;
  timeoutMs: number;
  rssLimitMb: number;
  sanitizer: "asan" | "none" | undefined;
  config: string | undefined;
  outOfRange: boolean;
  leaks: boolean;
  coverage: boolean;
  forkServer: boolean;
  env: readonly string[];
  /** The adapter's absolute path, when one is given. */
  adapter: string | undefined;
  startTimeoutMs: number;
  signal: AbortSignal | undefined;
  onProgress: ((progress: FuzzProgress) => void) | undefined;
  onFinding: FuzzOptions["onFinding"];
}

function integer(value: number | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}: got ${value}`);
  }
  return value;
}

/** The config text with `"out_of_range": true` added (none: only that); a config that is not a JSON object is refused. */
function withOutOfRange(config: string | undefined, name: (option: keyof FuzzOptions) => string): string {
  let doc: unknown = {};
  try {
    if (config !== undefined) doc = JSON.parse(config);
  } catch {
    // not JSON: refused below
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new UsageError(
      `${name("outOfRange")} sets "out_of_range" in the instance config, so ${name("config")} must be a JSON object`,
    );
  }
  return JSON.stringify({ ...doc, out_of_range: true });
}

/** Checks the options; throws `UsageError` naming the bad one as `name` calls it. */
export function resolveFuzzOptions(
  o: FuzzOptions = {},
  name: (option: keyof FuzzOptions) => string = (option) => option,
): ResolvedFuzzOptions {
  if (o.runs !== undefined && o.durationMs !== undefined) {
    throw new UsageError(`${name("runs")} and ${name("durationMs")} exclude each other: give one, not both`);
  }
  if (o.target !== undefined && o.target !== "npa" && o.target !== "libfuzzer") {
    throw new UsageError(`${name("target")} takes npa or libfuzzer: got ${JSON.stringify(o.target)}`);
  }
  if (o.adapter !== undefined && (typeof o.adapter !== "string" || o.adapter === "")) {
    throw new UsageError(`${name("adapter")} takes the path of an adapter library: got ${JSON.stringify(o.adapter)}`);
  }
  if (o.adapter !== undefined && o.target === "libfuzzer") {
    throw new UsageError(`${name("adapter")} serves a plugin as npa: it does not go with a libFuzzer target`);
  }
  if (o.sanitizer !== undefined && o.sanitizer !== "asan" && o.sanitizer !== "none") {
    throw new UsageError(`${name("sanitizer")} takes asan or none: got ${JSON.stringify(o.sanitizer)}`);
  }
  const runs = integer(o.runs, name("runs"), 1, Number.MAX_SAFE_INTEGER);
  const seed = integer(o.seed, name("seed"), 0, MAX_SEED) ?? randomSeed();
  let config: string | undefined;
  try {
    const bytes = configBytes(o.config);
    config = bytes === undefined ? undefined : new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    throw new UsageError(`${name("config")}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (o.outOfRange === true) config = withOutOfRange(config, name);
  return {
    methods: o.methods,
    target: o.target,
    runs,
    durationMs: runs !== undefined
      ? undefined
      : integer(o.durationMs, name("durationMs"), 1, MAX_DELAY_MS) ?? DEFAULT_FUZZ_DURATION_MS,
    maxFindings: integer(o.maxFindings, name("maxFindings"), 1, Number.MAX_SAFE_INTEGER),
    seed,
    jobs: integer(o.jobs, name("jobs"), 1, MAX_JOBS) ?? 1,
    corpus: o.corpus ?? [],
    artifactsDir: o.artifactsDir,
    dictionary: o.dictionary ?? [],
    binaryDictionary: o.binaryDictionary ?? true,
    maxLen: integer(o.maxLen, name("maxLen"), 1, MAX_MAX_LEN) ?? DEFAULT_MAX_LEN,
    timeoutMs: integer(o.timeoutMs, name("timeoutMs"), 1, MAX_DELAY_MS) ?? DEFAULT_FUZZ_TIMEOUT_MS,
    rssLimitMb: integer(o.rssLimitMb, name("rssLimitMb"), 0, 1 << 30) ?? DEFAULT_RSS_LIMIT_MB,
    sanitizer: o.sanitizer,
    config,
    outOfRange: o.outOfRange === true,
    leaks: o.leaks ?? true,
    coverage: o.coverage ?? true,
    forkServer: o.forkServer ?? true,
    env: o.env ?? [],
    adapter: o.adapter === undefined ? undefined : resolve(o.adapter),
    startTimeoutMs: integer(o.startTimeoutMs, name("startTimeoutMs"), 1, MAX_DELAY_MS) ?? 10_000,
    signal: o.signal,
    onProgress: o.onProgress,
    onFinding: o.onFinding,
  };
}
