/**
 * The fuzz wing's entry: what the rest of plugcheck (the `fuzz` command, the
 * check suite's fuzz smoke, the report room, `mod.ts`) uses of it. Behind it
 * the wing has four sub-rooms, named for the process that runs them:
 * `parent/` (the run, its jobs and their supervision, findings, minimize,
 * replay, merge), `child/` (the fuzz loop inside a sandbox child), `mutate/`
 * (the mutators) and `crash/` (what a finding is, ASan reports, symbols);
 * `wire.ts` and `inbox.ts` are what the two processes share.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_LEN, FINDING_KINDS, parseDictionary } from "./mod.ts";
 * assert.ok(FINDING_KINDS.includes("crash") && DEFAULT_MAX_LEN > 0);
 * assert.deepEqual([...parseDictionary('kw="FZ"\n')[0]!], [70, 90]);
 * ```
 *
 * @module
 */
export { runFuzz } from "./parent/run_fuzz.ts";
export { minimizeInput, type MinimizeResult, replayInput, type ReplayResult } from "./parent/minimize.ts";
export { describeFinding, type FindingWords } from "./parent/describe_finding.ts";
export { mergeCorpus, type MergeResult } from "./parent/merge.ts";
export {
  DEFAULT_FUZZ_DURATION_MS,
  DEFAULT_FUZZ_TIMEOUT_MS,
  DEFAULT_MAX_LEN,
  DEFAULT_RSS_LIMIT_MB,
  type FuzzOptions,
  type FuzzProgress,
  MAX_JOBS,
  MAX_MAX_LEN,
} from "./parent/options.ts";
export { type FuzzFinding, FuzzFindingSchema, type FuzzReport, FuzzReportSchema } from "./parent/report.ts";
export type { Finding } from "./parent/finding_book.ts";
export { sha1Hex, writeWhole } from "./parent/artifacts.ts";
export { RETIRE_AFTER } from "./parent/budget.ts";
export { FINDING_KINDS, type FindingCandidate, type FindingKind } from "./crash/finding.ts";
export { parseDictionary } from "./mutate/dictionary.ts";
