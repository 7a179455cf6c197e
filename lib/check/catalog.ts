/**
 * Every check of `plugcheck check`, in the order they are listed and run,
 * and the selection of a run: `--filter` and `--exclude` regular
 * expressions over the ids, then `--shard I/N`, a deterministic
 * round-robin split whose N parts are disjoint and together the whole
 * selection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHECKS, selectChecks } from "./catalog.ts";
 * const errors = selectChecks(CHECKS, { filter: ["^errors\\."] });
 * assert.ok(errors.every((c) => c.id.startsWith("errors.")));
 * ```
 *
 * @module
 */
import { UsageError } from "../errors/errors.ts";
import { ABI_CHECKS } from "./checks/abi.ts";
import { BUFFER_CHECKS } from "./checks/buffers.ts";
import { ERROR_CHECKS } from "./checks/errors.ts";
import { FUZZ_CHECKS } from "./checks/fuzz_smoke.ts";
import { ISOLATION_CHECKS } from "./checks/isolation.ts";
import { LADSPA_CHECKS } from "./checks/ladspa.ts";
import { LIFECYCLE_CHECKS } from "./checks/lifecycle.ts";
import { LIMIT_CHECKS } from "./checks/limits.ts";
import { LOGGING_CHECKS } from "./checks/logging.ts";
import { METADATA_CHECKS } from "./checks/metadata.ts";
import { OUTPUT_CHECKS } from "./checks/outputs.ts";
import { RESOURCE_CHECKS } from "./checks/resources.ts";
import { STDIO_CHECKS } from "./checks/stdio.ts";
import { THREAD_CHECKS } from "./checks/threads.ts";
import { TIMEOUT_CHECKS } from "./checks/timeouts.ts";
import type { CheckSpec } from "./spec.ts";

/** All checks, grouped, in order. */
export const CHECKS: readonly CheckSpec[] = [
  ...ABI_CHECKS,
  ...METADATA_CHECKS,
  ...LIFECYCLE_CHECKS,
  ...BUFFER_CHECKS,
  ...ERROR_CHECKS,
  ...OUTPUT_CHECKS,
  ...THREAD_CHECKS,
  ...ISOLATION_CHECKS,
  ...TIMEOUT_CHECKS,
  ...LOGGING_CHECKS,
  ...STDIO_CHECKS,
  ...LIMIT_CHECKS,
  ...RESOURCE_CHECKS,
  ...FUZZ_CHECKS,
  ...LADSPA_CHECKS,
];

/** The ids of all checks. */
export const CHECK_IDS: readonly string[] = CHECKS.map((c) => c.id);

/** A check's group: its id up to the first dot. */
export const groupOf = (id: string): string => id.slice(0, id.indexOf("."));

/** Which checks a run takes. */
export interface Selection {
  /** Keep the checks whose id matches any of these (default: all). */
  filter?: readonly string[];
  /** Then drop those whose id matches any of these. */
  exclude?: readonly string[];
  /** Then keep part `index` (1-based) of `count` parts. */
  shard?: { index: number; count: number };
}

function regexes(sources: readonly string[] | undefined, flag: string): RegExp[] {
  return (sources ?? []).map((s) => {
    try {
      return new RegExp(s);
    } catch (e) {
      throw new UsageError(`${flag} ${JSON.stringify(s)} is not a regular expression: ${(e as Error).message}`);
    }
  });
}

/** `--shard I/N`, parsed; UsageError when malformed. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--shard must be I/N with 1 <= I <= N (e.g. 2/4): got ${JSON.stringify(text)}`);
  }
  return { index, count };
}

/** The checks a selection keeps, in catalog order. UsageError for a bad regex or a filter that matches nothing. */
export function selectChecks(all: readonly CheckSpec[], s: Selection): CheckSpec[] {
  const keep = regexes(s.filter, "--filter");
  const drop = regexes(s.exclude, "--exclude");
  for (const r of keep) {
    if (!all.some((c) => r.test(c.id))) {
      throw new UsageError(`--filter ${JSON.stringify(r.source)} matches no check (see plugcheck check --list)`);
    }
  }
  const chosen = all.filter((c) =>
    (keep.length === 0 || keep.some((r) => r.test(c.id))) && !drop.some((r) => r.test(c.id))
  );
  if (s.shard === undefined) return chosen;
  const { index, count } = s.shard;
  return chosen.filter((_, i) => i % count === index - 1);
}
