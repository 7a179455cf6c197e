/**
 * plugcheck: load native npa plugins with `Deno.dlopen`, call them behind a
 * guard that turns every plugin failure into a typed error, inspect their
 * counters and logs, stress-test them (`runStress`), fuzz them (`runFuzz`),
 * check them against every rule of the ABI (`runChecks`; a directory of
 * libraries: `runChecksOnDirectory`) and write libFuzzer
 * harnesses for them (`generateHarness`).
 * Re-exports only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileURLToPath } from "node:url";
 * import { InvalidInputError, loadPlugin } from "./mod.ts";
 *
 * // The C reference plugin, built by `deno task build`.
 * const path = fileURLToPath(new URL("./build/fixtures/libref_c.so", import.meta.url));
 * await using plugin = await loadPlugin(path);
 * await using inst = await plugin.createInstance({ counter_start: 10 });
 * assert.equal(new TextDecoder().decode(await inst.invoke("sum", "[1, 2]")), "3");
 * try {
 *   await inst.invoke("sum", "not json");
 *   assert.fail("sum takes only a JSON array of numbers");
 * } catch (e) {
 *   if (!(e instanceof InvalidInputError)) throw e;
 *   assert.equal(e.pluginMessage, "Input must be a JSON array of numbers");
 * }
 * ```
 *
 * @module
 */
export * from "./lib/errors/errors.ts";
export { loadPlugin } from "./lib/host/load_plugin.ts";
export { finishUnloads } from "./lib/host/unloads.ts";
export { Plugin } from "./lib/host/in_process/plugin.ts";
export { Instance } from "./lib/host/in_process/instance.ts";
export {
  DEFAULT_INVOKE_TIMEOUT_MS,
  DEFAULT_LIFECYCLE_TIMEOUT_MS,
  DEFAULT_MAX_OUTPUT_BYTES,
  type LoadOptions,
  type PluginOptions,
  SANDBOX_DEFAULTS,
  type SandboxOptions,
} from "./lib/plugin/options.ts";
export { HOST_ABI_VERSION } from "./lib/load/open_checked.ts";
export { MAX_DELAY_MS } from "./lib/util/timers.ts";
export type { MethodDescription, PluginDescription } from "./lib/plugin/describe_schema.ts";
export { PluginDescriptionSchema } from "./lib/plugin/describe_schema.ts";
export { callSlots, DEFAULT_CALL_SLOTS } from "./lib/plugin/call_slots.ts";
export type { LogCounters } from "./lib/ffi/host_log.ts";
export { LOG_LEVEL_NAMES, type PluginLogLevel } from "./lib/plugin/log_pump.ts";
export { STATUS_NAMES, statusName } from "./lib/errors/guard.ts";
export type * from "./lib/plugin/handle.ts";
export { type CauseData, type ErrorData, fromData, toData } from "./lib/errors/error_data.ts";
export { formatError, type FormatErrorOptions } from "./lib/errors/format_error.ts";
export { escapeControl } from "./lib/util/safe_text.ts";
export { leakCheck } from "./lib/errors/leak_check.ts";
export { SandboxedInstance, SandboxedPlugin, type SandboxHealth } from "./lib/host/isolated/plugin.ts";
export { levelFor, type LogDirectives, parseLogDirectives } from "./lib/plugin/log_directives.ts";
export { runStress } from "./lib/stress/run_stress.ts";
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_DURATION_MS,
  DEFAULT_MAX_RSS_GROWTH_MB,
  DEFAULT_STRESS_TIMEOUT_MS,
  type StressMode,
  type StressOptions,
  type StressProgress,
} from "./lib/stress/options.ts";
export { type StressReport, StressReportSchema, type StressVerdict, VerdictSchema } from "./lib/stress/report.ts";
export { VERDICT_IDS, type VerdictId } from "./lib/stress/verdicts.ts";
export type { FdInfo, ProcessSnapshot, ThreadInfo } from "./lib/ffi/proc_info.ts";
export { Prng } from "./lib/util/prng.ts";
export { runFuzz } from "./lib/fuzz/mod.ts";
export { minimizeInput, type MinimizeResult, replayInput, type ReplayResult } from "./lib/fuzz/mod.ts";
export { mergeCorpus, type MergeResult } from "./lib/fuzz/mod.ts";
export {
  DEFAULT_FUZZ_DURATION_MS,
  DEFAULT_FUZZ_TIMEOUT_MS,
  DEFAULT_MAX_LEN,
  DEFAULT_RSS_LIMIT_MB,
  type FuzzOptions,
  type FuzzProgress,
} from "./lib/fuzz/mod.ts";
export { type FuzzFinding, FuzzFindingSchema, type FuzzReport, FuzzReportSchema } from "./lib/fuzz/mod.ts";
export { FINDING_KINDS, type FindingKind } from "./lib/fuzz/mod.ts";
export { parseDictionary } from "./lib/fuzz/mod.ts";
export {
  generateHarness,
  HARNESS_BUILD_COMMAND,
  HARNESS_OSS_FUZZ_COMMAND,
  type HarnessSpec,
} from "./lib/harness/generate.ts";
export { type CheckOptions, type CheckReport, runChecks } from "./lib/check/run_checks.ts";
export type { CheckResult, CheckRun, CheckStatus } from "./lib/check/result.ts";
export {
  DEFAULT_LIBRARY_JOBS,
  type DirectoryCheckOptions,
  type DirectoryReport,
  type DirectoryTarget,
  type LibraryRun,
  runChecksOnDirectory,
} from "./lib/check/run_directory.ts";
export { ACROSS_CHECK, type UniqueIdCollision } from "./lib/check/across.ts";
export {
  directoryJunitXml,
  type DirectoryReportJson,
  DirectoryReportJsonSchema,
  directorySarifLog,
} from "./lib/report/check_dir_report.ts";
export { CHECK_IDS } from "./lib/check/catalog.ts";
export { type CheckConfig, CheckConfigSchema, loadCheckConfig, parseCheckConfig } from "./lib/check/config.ts";
export { junitXml, junitXmlOfRuns } from "./lib/report/junit.ts";
export {
  compareReports,
  type Comparison,
  comparisonJunitXml,
  ComparisonSchema,
  type Difference,
  renderComparison,
} from "./lib/report/compare/mod.ts";
export { sarifLog, sarifLogOfRuns, type SarifOptions } from "./lib/report/sarif.ts";
export { type CheckReportJson, CheckReportJsonSchema } from "./lib/report/check_report.ts";
export { type CheckListJson, CheckListJsonSchema } from "./lib/report/check_list.ts";
export { type LoadReport, LoadReportSchema } from "./lib/report/load_report.ts";
export { type HarnessReport, HarnessReportSchema } from "./lib/report/harness_report.ts";
export { type MinimizeReport, MinimizeReportSchema } from "./lib/report/fuzz_minimize.ts";
export { type ReplayReport, ReplayReportSchema } from "./lib/report/fuzz_replay.ts";
export { type MergeReport, MergeReportSchema } from "./lib/report/fuzz_merge.ts";
export { type InvokeReport, InvokeReportSchema } from "./lib/report/invoke_report.ts";
export { type Audio, isWav, readWav, wavBytes } from "./lib/audio/wav.ts";
export {
  type AudioPorts,
  audioPortsOf,
  type AudioRunOptions,
  type PortStats,
  portStats,
  runAudio,
} from "./lib/audio/run_audio.ts";
export { type AudioRun, AudioRunSchema } from "./lib/report/invoke_report.ts";
