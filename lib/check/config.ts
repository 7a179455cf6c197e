/**
 * `plugcheck.json`, the check configuration: found by walking up from the
 * working directory (or given with `--config FILE`), validated with zod.
 * It can skip checks, each with a reason, leave methods out of the fuzz
 * smoke test, and set the thresholds.
 *
 * ```json
 * {
 *   "check": {
 *     "skip": { "resources.reload": "the plugin is linked nodelete on purpose" },
 *     "fuzz": { "skip_methods": ["fail_with"] },
 *     "thresholds": { "call_timeout_ms": 2000, "fuzz_ms_per_method": 250 }
 *   }
 * }
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCheckConfig } from "./config.ts";
 * const c = parseCheckConfig('{"check":{"thresholds":{"fuzz_runs":1000}}}', "plugcheck.json");
 * assert.ok(c.thresholds.fuzzRuns === 1000 && c.thresholds.callTimeoutMs === 2000);
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import * as z from "../util/zod.ts";
import { UsageError } from "../errors/errors.ts";
import { CHECK_IDS } from "./catalog.ts";
import type { Thresholds } from "./spec.ts";

/** The config file's name. */
export const CONFIG_FILE = "plugcheck.json";

/** Thresholds unless the config sets them. */
export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = {
  callTimeoutMs: 2_000,
  stressIterations: 300,
  reloadCycles: 2,
  fuzzRuns: undefined,
  fuzzMsPerMethod: 250,
  maxRssGrowthMb: 64,
};

const positive = z.int().positive();

/** The schema of plugcheck.json (unknown keys are errors: a typo must not pass silently). */
export const CheckConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  check: z.strictObject({
    skip: z.record(z.string(), z.string().min(1, "give the reason")).default({}),
    fuzz: z.strictObject({ skip_methods: z.array(z.string().min(1)).default([]) }).default({ skip_methods: [] }),
    thresholds: z.strictObject({
      call_timeout_ms: positive.max(600_000).optional(),
      stress_iterations: positive.max(10_000_000).optional(),
      reload_cycles: positive.max(1_000).optional(),
      fuzz_runs: positive.max(1_000_000_000).optional(),
      fuzz_ms_per_method: positive.max(600_000).optional(),
      max_rss_growth_mb: z.number().positive().optional(),
    }).default({}),
  }).default({ skip: {}, fuzz: { skip_methods: [] }, thresholds: {} }),
});

/** The config, resolved. */
export interface CheckConfig {
  /** Where it was read from (undefined: none found). */
  path: string | undefined;
  skip: Readonly<Record<string, string>>;
  fuzzSkipMethods: readonly string[];
  thresholds: Thresholds;
}

/** The config of no file. */
export const NO_CONFIG: CheckConfig = {
  path: undefined,
  skip: {},
  fuzzSkipMethods: [],
  thresholds: { ...DEFAULT_THRESHOLDS },
};

/** Parses and checks a config's text; UsageError naming the file and the bad field. */
export function parseCheckConfig(text: string, path: string): CheckConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not JSON: ${(e as Error).message}`);
  }
  const parsed = CheckConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    throw new UsageError(`${path} is invalid${where}: ${issue.message}`);
  }
  const c = parsed.data.check;
  const unknown = Object.keys(c.skip).filter((id) => !CHECK_IDS.includes(id));
  if (unknown.length > 0) {
    throw new UsageError(
      `${path} skips ${unknown.map((u) => JSON.stringify(u)).join(", ")}: no such check (see plugcheck check --list)`,
    );
  }
  const t = c.thresholds;
  return {
    path,
    skip: c.skip,
    fuzzSkipMethods: c.fuzz.skip_methods,
    thresholds: {
      callTimeoutMs: t.call_timeout_ms ?? DEFAULT_THRESHOLDS.callTimeoutMs,
      stressIterations: t.stress_iterations ?? DEFAULT_THRESHOLDS.stressIterations,
      reloadCycles: t.reload_cycles ?? DEFAULT_THRESHOLDS.reloadCycles,
      fuzzRuns: t.fuzz_runs ?? DEFAULT_THRESHOLDS.fuzzRuns,
      fuzzMsPerMethod: t.fuzz_ms_per_method ?? DEFAULT_THRESHOLDS.fuzzMsPerMethod,
      maxRssGrowthMb: t.max_rss_growth_mb ?? DEFAULT_THRESHOLDS.maxRssGrowthMb,
    },
  };
}

/** The nearest plugcheck.json from `dir` up to the root, or undefined. */
export async function findCheckConfig(dir: string): Promise<string | undefined> {
  for (let d = dir;; d = dirname(d)) {
    const candidate = join(d, CONFIG_FILE);
    try {
      if ((await Deno.stat(candidate)).isFile) return candidate;
    } catch {
      // not here
    }
    if (dirname(d) === d) return undefined;
  }
}

/** Reads the config at `path` (given), or the one found from `cwd`, or none. */
export async function loadCheckConfig(path: string | undefined, cwd: string): Promise<CheckConfig> {
  const file = path ?? await findCheckConfig(cwd);
  if (file === undefined) return NO_CONFIG;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new UsageError(`Cannot read the config ${file}: ${(e as Error).message}`);
  }
  return parseCheckConfig(text, file);
}
