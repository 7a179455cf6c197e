/**
 * What one conformance check of `plugcheck check` concluded, and the run
 * they belong to: the data the text table, the JSON document, the JUnit
 * file and the SARIF file are all written from (issue 10).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CheckResult } from "./result.ts";
 * const r: CheckResult = {
 *   id: "errors.unknown_method", group: "errors", title: "An unknown method answers UNKNOWN_METHOD",
 *   rule: "unknown-methods", status: "fail", durationMs: 12, details: "status 7 (INTERNAL)",
 *   evidence: ["invoke \"no-such-method\" -> status 7"], repro: "plugcheck invoke lib.so no-such-method --isolate",
 * };
 * assert.ok(r.status === "fail");
 * ```
 *
 * @module
 */

/** How a check ended. `warn` fails only with `--strict`; `skip` carries its reason in `details`. */
export type CheckStatus = "pass" | "fail" | "crash" | "timeout" | "skip" | "warn";

/** One check's outcome. */
export interface CheckResult {
  /** Stable dotted id, `<group>.<name>` (e.g. `buffers.free_null`). */
  id: string;
  group: string;
  /** One line: what the check requires. */
  title: string;
  /** The anchor of the rule in docs/abi.md it enforces (`docs/abi.md#<rule>`). */
  rule: string;
  status: CheckStatus;
  durationMs: number;
  /** One line: why it ended so (for skip: the reason). */
  details: string;
  /** What was seen, line by line (plugin text already escaped). */
  evidence: string[];
  /** A command that shows the problem again, when there is one. */
  repro?: string;
  /** For findings with a place: a file of the plugin's sources and a line (SARIF locations). */
  location?: { file: string; line?: number };
  /** Several findings of one check (fuzz.smoke's bugs): SARIF gets one result each. */
  findings?: { message: string; location?: { file: string; line?: number } }[];
}

/** A finished run of checks on one library. */
export interface CheckRun {
  library: string;
  plugin?: { name: string; version: string };
  /** plugcheck's version, for the reports' tool fields. */
  toolVersion: string;
  startedAt: Date;
  durationMs: number;
  results: CheckResult[];
}
