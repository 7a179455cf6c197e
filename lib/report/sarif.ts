/**
 * The SARIF 2.1.0 log of a `plugcheck check` run: one rule per check id,
 * one result per check that failed, crashed, timed out or warned (one per
 * finding for a check that lists several, like fuzz.smoke; pass and skip give
 * none), for code-scanning views that read SARIF.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sarifLog } from "./sarif.ts";
 * const log = sarifLog({
 *   library: "build/libdemo.so", toolVersion: "0.1.0", startedAt: new Date(0), durationMs: 20,
 *   results: [
 *     { id: "buffers.free_null", group: "buffers", title: "Freeing NULL is a no-op", rule: "buffers",
 *       status: "pass", durationMs: 3, details: "ok", evidence: [] },
 *     { id: "errors.unknown_method", group: "errors", title: "An unknown method answers UNKNOWN_METHOD",
 *       rule: "status-codes", status: "fail", durationMs: 12, details: "status 7 (INTERNAL)",
 *       evidence: ["invoke \"no-such-method\" -> status 7"] },
 *   ],
 * });
 * assert.ok(log.runs[0]?.tool.driver.rules?.length === 2);
 * assert.ok(log.runs[0]?.results?.[0]?.ruleIndex === 1 && log.runs[0]?.results?.[0]?.level === "error");
 * ```
 *
 * @module
 */
import type {
  SarifLocation as Location,
  SarifLog as Log,
  SarifResult as Result,
  SarifRule as ReportingDescriptor,
} from "../util/deps.ts";
import type { CheckResult, CheckRun, CheckStatus } from "../check/result.ts";
import { ruleDoc } from "../check/spec.ts";

/** The URL of the official SARIF 2.1.0 JSON schema, written as the log's `$schema`. */
export const SARIF_SCHEMA_URL =
  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/** Where `helpUri` and `informationUri` point unless `helpBase` says otherwise. */
export const DEFAULT_HELP_BASE = "https://github.com/plugcheck/plugcheck/blob/main/";

/** The link to a rule's section of its document (docs/abi.md, or its group's: `ruleDoc`) under `helpBase`. */
export function ruleUri(rule: string, helpBase: string = DEFAULT_HELP_BASE, id = ""): string {
  return `${helpBase}${ruleDoc(id)}#${rule}`;
}

/** Options of {@link sarifLog}. */
export interface SarifOptions {
  /** Absolute URL that `docs/abi.md` is appended to (ends with `/`); default {@link DEFAULT_HELP_BASE}. */
  helpBase?: string;
}

const LEVELS: Partial<Record<CheckStatus, "error" | "warning">> = {
  fail: "error",
  crash: "error",
  timeout: "error",
  warn: "warning",
};

/** `errors.unknown_method` -> `ErrorsUnknownMethod`. */
function pascalCase(id: string): string {
  return id.split(/[^A-Za-z0-9]+/).filter((w) => w !== "").map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

/** A path as a SARIF uri: absolute paths become file:// URIs, relative ones stay relative references. */
function pathUri(path: string): string {
  if (path.startsWith("/")) return new URL(`file://${path.split("/").map(encodeURIComponent).join("/")}`).href;
  return path.split("/").map(encodeURIComponent).join("/");
}

function location(where: CheckResult["location"], library: string): Location {
  if (where === undefined) {
    return { physicalLocation: { artifactLocation: { uri: pathUri(library) } } };
  }
  const { file, line } = where;
  return {
    physicalLocation: {
      artifactLocation: { uri: pathUri(file) },
      ...(line !== undefined && line >= 1 ? { region: { startLine: line } } : {}),
    },
  };
}

/** The SARIF 2.1.0 log of one check run. */
export function sarifLog(run: CheckRun, options: SarifOptions = {}): Log {
  return sarifLogOfRuns([run], run, options);
}

/**
 * The SARIF 2.1.0 log of several check runs (`plugcheck check DIR`): one
 * SARIF run whose rules are every check id seen, and whose results are each
 * library's, located at that library unless the finding has a place of its
 * own; `whole` gives the tool version and the times of the whole run.
 */
export function sarifLogOfRuns(
  runs: readonly CheckRun[],
  whole: Pick<CheckRun, "toolVersion" | "startedAt" | "durationMs">,
  options: SarifOptions = {},
): Log {
  const helpBase = options.helpBase ?? DEFAULT_HELP_BASE;
  const rules: ReportingDescriptor[] = [];
  const ruleIndex = new Map<string, number>();
  for (const r of runs.flatMap((run) => run.results)) {
    const known = ruleIndex.get(r.id);
    if (known !== undefined) {
      // A check seen again whose result is an error raises its rule's default level.
      const rule = rules[known]!;
      if (LEVELS[r.status] === "error") rule.defaultConfiguration = { level: "error" };
      continue;
    }
    ruleIndex.set(r.id, rules.length);
    rules.push({
      id: r.id,
      name: pascalCase(r.id) || r.id,
      shortDescription: { text: r.title },
      helpUri: ruleUri(r.rule, helpBase, r.id),
      defaultConfiguration: { level: r.status === "warn" ? "warning" : "error" },
      properties: { group: r.group },
    });
  }
  const results: Result[] = [];
  for (const run of runs) {
    for (const r of run.results) {
      const level = LEVELS[r.status];
      if (level === undefined) continue;
      const properties = {
        status: r.status,
        durationMs: r.durationMs,
        ...(r.repro !== undefined ? { repro: r.repro } : {}),
        ...(runs.length > 1 ? { library: run.library } : {}),
      };
      const findings = r.findings?.length
        ? r.findings
        : [{ message: [r.details, ...r.evidence].join("\n"), location: r.location }];
      for (const f of findings) {
        results.push({
          ruleId: r.id,
          ruleIndex: ruleIndex.get(r.id)!,
          level,
          message: { text: f.message },
          locations: [location(f.location, run.library)],
          properties,
        });
      }
    }
  }
  const end = new Date(whole.startedAt.getTime() + whole.durationMs);
  const plugin = runs.length === 1 ? runs[0]!.plugin : undefined;
  return {
    version: "2.1.0",
    $schema: SARIF_SCHEMA_URL,
    runs: [{
      tool: {
        driver: {
          name: "plugcheck",
          version: whole.toolVersion,
          informationUri: `${helpBase}docs/abi.md`,
          rules,
        },
      },
      invocations: [{
        executionSuccessful: true,
        startTimeUtc: whole.startedAt.toISOString(),
        endTimeUtc: end.toISOString(),
      }],
      results,
      ...(plugin !== undefined ? { properties: { plugin } } : {}),
    }],
  };
}
