/**
 * What a conformance check is: an id, a one-line title, the docs/abi.md rule
 * it enforces, the stage the plugin must have reached for it to mean
 * anything, a deadline, and `run(ctx)`, which drives one of the engines
 * (a lifecycle probe, the call sweep, stress, fuzz) and judges what it saw.
 * The runner (`run_checks.ts`) gives each check its context and turns what
 * escapes it (a crash, a missed deadline) into the check's status.
 *
 * @example
 * ```ts ignore
 * import { type CheckSpec, fail, pass } from "./spec.ts";
 * export const unknownMethod: CheckSpec = {
 *   id: "errors.unknown_method", title: "An unknown method answers UNKNOWN_METHOD", rule: "status-codes",
 *   needs: "plugin", run: async (ctx) => (await sweep(ctx)).unknownOk ? pass("...") : fail("..."),
 * };
 * ```
 *
 * @module
 */
import type { PluginDescription } from "../plugin/describe_schema.ts";
import type { PluginOptions } from "../plugin/options.ts";
import type { PluginPool } from "./plugin_pool.ts";
import type { CheckStatus } from "./result.ts";

/**
 * How far a plugin gets in loading, in order: a check `needs` a stage and is
 * skipped (with the reason) when the plugin did not reach it.
 */
export const STAGES = ["file", "library", "symbols", "init", "plugin"] as const;
export type Stage = typeof STAGES[number];

/** Thresholds a config file can set (`plugcheck.json`). */
export interface Thresholds {
  /** Deadline of one call in the sweep and the probes (ms). */
  callTimeoutMs: number;
  /** Calls a stress-based check makes. */
  stressIterations: number;
  /** Load -> shutdown cycles of the reload checks. */
  reloadCycles: number;
  /**
   * Runs of the fuzz smoke test, shared by all methods; undefined (the default): its time budget instead,
   * {@link fuzzMsPerMethod} for each method (at most `SMOKE_MAX_MS` in all).
   */
  fuzzRuns: number | undefined;
  /** Fuzzing time of the smoke test per method (ms), unless `fuzzRuns` is set. */
  fuzzMsPerMethod: number;
  /** RSS growth (MiB) the resource checks allow. */
  maxRssGrowthMb: number;
}

/** What a check is given. */
export interface CheckContext {
  /** The library's real path, and as the user wrote it (for repro commands). */
  path: string;
  shown: string;
  seed: number;
  /** Plugins run in sandbox children (false with `--in-process`). */
  isolate: boolean;
  thresholds: Thresholds;
  /** describe(), when the plugin loaded. */
  description: PluginDescription | undefined;
  /** `npa_plugin_stats` is exported. */
  hasStats: boolean;
  /** How every engine loads the plugin (environment, sanitizer runtime, ...). */
  load: Omit<PluginOptions, "isolate" | "exclusive" | "shutdownCheck" | "log">;
  /** Aborted when the check's deadline passed (engines that take a signal stop). */
  signal: AbortSignal;
  /** Methods the fuzz smoke test leaves out (config `fuzz.skip_methods`, and describe() `"fuzz": false`). */
  fuzzSkip: readonly string[];
  /**
   * Work the checks of one run share, by key (see {@link sharedRun}): the call sweeps, probes and stress runs, so
   * checks that judge the same work start one set of sandbox children, not one each. Absent: nothing is shared.
   */
  shared?: Map<string, Promise<unknown>>;
  /**
   * Loaded sandboxed plugins the run's `withPlugin` checks share, one at a time (`plugin_pool.ts`). Absent (in
   * process, or a check run on its own): each loads its own.
   */
  plugins?: PluginPool;
}

/** What a check concluded (crash and timeout mostly come from the runner). */
export interface Outcome {
  status: CheckStatus;
  details: string;
  evidence?: string[];
  /** A command that shows it again; the runner fills in a default. */
  repro?: string;
  location?: { file: string; line?: number };
  /** Several findings (fuzz.smoke): SARIF gets one result each. */
  findings?: { message: string; location?: { file: string; line?: number } }[];
}

/** One check. */
export interface CheckSpec {
  /** `<group>.<name>`. */
  id: string;
  title: string;
  /** Anchor in the check's rule document ({@link ruleDoc}: docs/abi.md, or docs/ladspa.md for `ladspa.*`). */
  rule: string;
  needs: Stage;
  /** Runs with no other check at once: what it provokes may take the whole machine (`gate.ts`). */
  alone?: boolean;
  /** Among the longest checks (seconds of engine runs): started before the others, so none starts last and ends late. */
  long?: boolean;
  /** The check's own deadline (ms; default: the runner's). */
  deadlineMs?: (t: Thresholds) => number;
  run(ctx: CheckContext): Promise<Outcome>;
}

/** The documents of check groups whose rules are not npa's own, by group. */
const RULE_DOCS: Readonly<Record<string, string>> = { ladspa: "docs/ladspa.md" };

/** The file whose sections the `rule` of the check `id` names: its group's, else docs/abi.md. */
export function ruleDoc(id: string): string {
  return RULE_DOCS[id.slice(0, id.indexOf("."))] ?? "docs/abi.md";
}

/** Outcome builders. */
export const pass = (details: string, evidence: string[] = []): Outcome => ({ status: "pass", details, evidence });
export const fail = (details: string, evidence: string[] = []): Outcome => ({ status: "fail", details, evidence });
export const warn = (details: string, evidence: string[] = []): Outcome => ({ status: "warn", details, evidence });
export const skip = (details: string): Outcome => ({ status: "skip", details, evidence: [] });

/** "1 method" / "2 methods". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * The run `key` names, started by `run` unless a check of the same run already started it (`ctx.shared`): the
 * same work gives the same result. Without `ctx.shared`, `run` runs each time.
 */
export function sharedRun<T>(ctx: CheckContext, key: readonly unknown[], run: () => Promise<T>): Promise<T> {
  if (ctx.shared === undefined) return run();
  const k = JSON.stringify(key);
  let started = ctx.shared.get(k) as Promise<T> | undefined;
  if (started === undefined) {
    started = run();
    ctx.shared.set(k, started);
  }
  return started;
}
