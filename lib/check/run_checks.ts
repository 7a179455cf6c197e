/**
 * `runChecks(path, options)`: the conformance suite. Loads the plugin once
 * to learn how far it gets (the preflight: in a sandbox child unless
 * `inProcess`), then runs the selected checks, `jobs` at a time, each with
 * its own deadline and its own sandbox children (those that only run the
 * plugin share loaded ones: `plugin_pool.ts`); a check the plugin did not
 * get far enough for is skipped with the reason, one the config skips says
 * so. Whatever escapes a check becomes its status: a crash, a missed
 * deadline, a typed plugin error (fail). Returns the run, with its results
 * in catalog order, and the exit code it amounts to.
 *
 * @example
 * ```ts ignore
 * import { runChecks } from "./run_checks.ts";
 * const report = await runChecks("build/fixtures/libref_c.so", { seed: 1 });
 * for (const r of report.results) console.log(r.status, r.id, r.details);
 * console.log(report.exitCode); // 0
 * ```
 *
 * @module
 */
import { stallTimer, stallTracker } from "../ffi/stall_deadline.ts";
import { type Provenance, provenance, TOOL_VERSION } from "../load/provenance.ts";
import type { PluginDescription } from "../plugin/describe_schema.ts";
import {
  AbiMismatchError,
  LoadError,
  PluginCrashError,
  PluginDisabledError,
  PluginError,
  PluginTimeoutError,
  UsageError,
} from "../errors/errors.ts";
import { loadPlugin } from "../host/load_plugin.ts";
import type { PluginOptions } from "../plugin/options.ts";
import { MAX_SEED, randomSeed } from "../util/prng.ts";
import { shellQuote } from "../util/safe_text.ts";
import { CHECKS, groupOf, selectChecks, type Selection } from "./catalog.ts";
import { type CheckConfig, NO_CONFIG } from "./config.ts";
import { CheckGate } from "./gate.ts";
import { checkLoadOptions, errorLine } from "./check_helpers.ts";
import { PluginPool } from "./plugin_pool.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import { probe } from "./run_probe.ts";
import type { CheckResult, CheckRun } from "./result.ts";
import { type CheckContext, type CheckSpec, type Outcome, type Stage, STAGES } from "./spec.ts";

/** plugcheck's version, for the reports. */
export { TOOL_VERSION };
/** A check's deadline unless it sets its own (ms). */
export const DEFAULT_CHECK_DEADLINE_MS = 60_000;
/** Checks at once by default: a check mostly waits on its children (their start, deadlines, stress loops). */
export const DEFAULT_CHECK_JOBS = 4;

/** Options of {@link runChecks}. */
export interface CheckOptions extends Selection {
  /** Seed of every seeded engine run (default: random, reported). */
  seed?: number;
  /** Run plugins in this process instead of sandbox children (to debug a check; a crash ends the run). */
  inProcess?: boolean;
  /** Checks at once (default 4). */
  jobs?: number;
  /** Warnings count as failures. */
  strict?: boolean;
  /** The config (see `loadCheckConfig`); default none. */
  config?: CheckConfig;
  /** Runs of the fuzz smoke test (default: the config's, 50 000). */
  fuzzRuns?: number;
  /** The library as the user wrote it, for repro commands (default `path`). */
  shown?: string;
  /** How plugins are loaded: environment passed to the children, sha256, ... */
  load?: Omit<PluginOptions, "isolate" | "exclusive" | "shutdownCheck" | "log">;
  /** Called as each check starts and ends. */
  onStart?: (spec: CheckSpec) => void;
  onResult?: (result: CheckResult, done: number, of: number) => void;
  /** Stops the run: checks not started are skipped, running ones are told. */
  signal?: AbortSignal;
  /** The checks to run, already selected (the selection fields are then ignored): `runChecksOnDirectory`. */
  checks?: readonly CheckSpec[];
  /** Who may run at once, shared by the runs of several libraries at once (default: a gate of this run's own). */
  gate?: CheckGate;
}

/** A finished run: the results, what it amounts to, and how it was made. */
export interface CheckReport extends CheckRun {
  ok: boolean;
  /** 0 all passed, 1 something failed, crashed or timed out (or warned, with strict), 3 the library cannot be loaded. */
  exitCode: 0 | 1 | 3;
  seed: number;
  strict: boolean;
  configPath: string | undefined;
  /** How far the plugin got in the preflight, and why it stopped there. */
  stage: Stage;
  stageError: string | undefined;
  counts: Record<CheckResult["status"], number>;
  /** describe() of the preflight, when the plugin got that far (not in the JSON document). */
  description?: PluginDescription;
  /** Which plugcheck, which build of the plugin, on what machine. */
  provenance: Provenance;
}

interface Preflight {
  reached: Stage;
  error?: unknown;
  description?: PluginDescription;
  hasStats: boolean;
}

/** How far the plugin at `path` gets: dlopen, symbols, init, describe. */
async function preflight(base: Omit<CheckContext, "signal">): Promise<Preflight> {
  const read = (plugin: PluginHandle) => ({ description: plugin.describe(), hasStats: plugin.capabilities.stats });
  try {
    // Sandboxed, the preflight's plugin is the first the checks share.
    if (base.plugins !== undefined) {
      return { reached: "plugin", ...await base.plugins.use({}, new AbortController().signal, read) };
    }
    const plugin = await loadPlugin(base.path, checkLoadOptions(base));
    const found = read(plugin);
    await plugin.close().catch(() => {});
    return { reached: "plugin", ...found };
  } catch (error) {
    return { reached: await stageOf(error, base), error, hasStats: false };
  }
}

/** The last stage a load that failed with `error` got through. */
async function stageOf(error: unknown, base: Omit<CheckContext, "signal">): Promise<Stage> {
  if (error instanceof AbiMismatchError) return "library";
  if (error instanceof LoadError) return /missing required symbol/.test(error.message) ? "library" : "file";
  if (!(error instanceof PluginError)) throw error;
  if (error.operation === "describe plugin") return "init";
  if (error.operation === "initialize plugin") return "symbols";
  if (/^(load plugin|start sandboxed plugin)/.test(error.operation)) {
    // A child that died or hung in its start: in dlopen (a constructor), or in init? The abi probe only dlopens.
    try {
      const abi = await probe({ ...base, signal: new AbortController().signal }, "abi");
      return abi.loadError === undefined && abi.missing?.length === 0 ? "symbols" : "file";
    } catch {
      return "file";
    }
  }
  return "symbols";
}

const STAGE_WORDS: Record<Stage, string> = {
  file: "the library did not load",
  library: "the library's symbols or ABI version are wrong",
  symbols: "npa_plugin_init failed",
  init: "describe() failed",
  plugin: "",
};

/** What escaped a check, as its outcome (a bug of plugcheck's own is rethrown). */
function outcomeOf(error: unknown): Outcome {
  if (error instanceof PluginCrashError || error instanceof PluginDisabledError) {
    return { status: "crash", details: errorLine(error), evidence: tail(error) };
  }
  if (error instanceof PluginTimeoutError) return { status: "timeout", details: errorLine(error), evidence: [] };
  if (error instanceof PluginError) return { status: "fail", details: errorLine(error), evidence: [errorLine(error)] };
  throw error;
}

/** The last lines of a crashed child's stderr. */
function tail(error: PluginError): string[] {
  const stderr = (error as { stderrTail?: string }).stderrTail;
  return typeof stderr === "string" ? stderr.trimEnd().split("\n").slice(-5) : [];
}

/** Runs the conformance suite on the plugin at `path`. Throws UsageError for bad options. */
export async function runChecks(path: string, options: CheckOptions = {}): Promise<CheckReport> {
  const started = new Date();
  const t0 = performance.now();
  const config = options.config ?? NO_CONFIG;
  const thresholds = { ...config.thresholds, ...options.fuzzRuns !== undefined && { fuzzRuns: options.fuzzRuns } };
  const seed = options.seed ?? randomSeed();
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new UsageError(`seed must be an integer from 0 to ${MAX_SEED}: got ${seed}`);
  }
  const jobs = options.jobs ?? DEFAULT_CHECK_JOBS;
  if (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > 16) throw new UsageError(`jobs must be 1 to 16: got ${jobs}`);
  const selected = options.checks ?? selectChecks(CHECKS, options);
  const shown = options.shown ?? path;
  const base: Omit<CheckContext, "signal"> = {
    path,
    shown,
    seed,
    isolate: options.inProcess !== true,
    thresholds,
    description: undefined,
    hasStats: false,
    load: options.load ?? {},
    fuzzSkip: config.fuzzSkipMethods,
    shared: new Map(),
  };
  const isolate = base.isolate;
  if (isolate) {
    base.plugins = new PluginPool((extra) => loadPlugin(path, { ...checkLoadOptions(base, extra), isolate }));
  }
  // The library as it was when the run began (a missing file is the preflight's to report).
  const made = provenance(path);
  made.catch(() => {});
  try {
    return { ...await runSelected(base, selected, options, { config, jobs, started, t0 }), provenance: await made };
  } finally {
    await base.plugins?.close();
  }
}

/** Runs the preflight and then the selected checks, `jobs` at a time. */
async function runSelected(
  base: Omit<CheckContext, "signal">,
  selected: readonly CheckSpec[],
  options: CheckOptions,
  run: { config: CheckConfig; jobs: number; started: Date; t0: number },
): Promise<Omit<CheckReport, "provenance">> {
  const { config, jobs, started, t0 } = run;
  const { shown, seed } = base;
  const pre = await preflight(base);
  base.description = pre.description;
  base.hasStats = pre.hasStats;
  const results: (CheckResult | undefined)[] = selected.map(() => undefined);
  // Long checks start first (results stay in catalog order): a long one started last would end the run late.
  const order = [...selected.keys()].sort((a, b) =>
    Number(selected[b]!.long === true) - Number(selected[a]!.long === true)
  );
  let next = 0;
  let done = 0;
  const gate = options.gate ?? new CheckGate();
  const worker = async () => {
    while (next < order.length) {
      const i = order[next++]!;
      const spec = selected[i]!;
      const alone = spec.alone === true;
      await gate.enter(alone);
      options.onStart?.(spec);
      let result: CheckResult;
      try {
        result = await runOne(spec, base, pre, config, options.signal);
      } finally {
        gate.leave(alone);
      }
      results[i] = result;
      options.onResult?.(result, ++done, selected.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, selected.length) }, worker));
  const all = results as CheckResult[];
  const counts = { pass: 0, fail: 0, crash: 0, timeout: 0, skip: 0, warn: 0 };
  for (const r of all) counts[r.status]++;
  const cannotLoad = pre.error instanceof LoadError || pre.error instanceof AbiMismatchError;
  const failed = counts.fail + counts.crash + counts.timeout + (options.strict ? counts.warn : 0) > 0;
  const exitCode = cannotLoad ? 3 : failed ? 1 : 0;
  return {
    library: shown,
    ...pre.description && { plugin: { name: pre.description.name, version: pre.description.version } },
    toolVersion: TOOL_VERSION,
    startedAt: started,
    durationMs: performance.now() - t0,
    results: all,
    ok: exitCode === 0,
    exitCode,
    seed,
    strict: options.strict === true,
    configPath: config.path,
    stage: pre.reached,
    stageError: pre.error === undefined ? undefined : errorLine(pre.error),
    counts,
    ...pre.description && { description: pre.description },
  };
}

async function runOne(
  spec: CheckSpec,
  base: Omit<CheckContext, "signal">,
  pre: Preflight,
  config: CheckConfig,
  signal: AbortSignal | undefined,
): Promise<CheckResult> {
  const t0 = performance.now();
  const head = { id: spec.id, group: groupOf(spec.id), title: spec.title, rule: spec.rule };
  const finish = (o: Outcome): CheckResult => ({
    ...head,
    status: o.status,
    durationMs: Math.round(performance.now() - t0),
    details: o.details,
    evidence: o.evidence ?? [],
    ...(o.status === "fail" || o.status === "crash" || o.status === "timeout" || o.status === "warn") &&
      { repro: o.repro ?? defaultRepro(base, spec.id) },
    ...o.location && { location: o.location },
    ...o.findings && { findings: o.findings },
  });
  const reason = config.skip[spec.id];
  if (reason !== undefined) return finish({ status: "skip", details: `skipped by ${config.path}: ${reason}` });
  if (signal?.aborted) return finish({ status: "skip", details: "the run was interrupted first" });
  if (STAGES.indexOf(spec.needs) > STAGES.indexOf(pre.reached)) {
    const why = pre.error === undefined ? "" : `: ${errorLine(pre.error)}`;
    return finish({ status: "skip", details: `${STAGE_WORDS[pre.reached]}${why}` });
  }
  const deadline = spec.deadlineMs?.(base.thresholds) ?? DEFAULT_CHECK_DEADLINE_MS;
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener("abort", onAbort);
  let cancel = () => {};
  const late = new Promise<Outcome>((resolve) => {
    // Time this process waited for a CPU (a loaded machine) does not count against the check.
    cancel = stallTimer(deadline, stallTracker(() => [Deno.pid]), () => {
      ac.abort();
      resolve({ status: "timeout", details: `the check did not finish within ${deadline} ms` });
    });
  });
  try {
    const outcome = await Promise.race([spec.run({ ...base, signal: ac.signal }).catch(outcomeOf), late]);
    // Interrupted while it ran: whatever it saw since (a sandbox child the signal reached too, an engine
    // stopped early) is no verdict on the plugin.
    if (signal?.aborted) return finish({ status: "skip", details: `interrupted while it ran (${outcome.status})` });
    return finish(outcome);
  } finally {
    cancel();
    signal?.removeEventListener("abort", onAbort);
  }
}

/** `plugcheck check <lib> --filter '^id$' --seed S`: the check alone, again. */
function defaultRepro(base: Omit<CheckContext, "signal">, id: string): string {
  const args = [
    "plugcheck",
    "check",
    base.shown,
    "--filter",
    `^${id.replaceAll(".", "\\.")}$`,
    "--seed",
    String(base.seed),
    ...base.load.adapter !== undefined ? ["--adapter", base.load.adapter] : [],
  ];
  return args.map(shellQuote).join(" ");
}
