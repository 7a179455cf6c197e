/**
 * The JUnit XML file of a `plugcheck check` run, for CI systems that show
 * test reports (Jenkins, GitLab, GitHub test-report actions). The shape is the
 * one the Jenkins xUnit plugin's JUnit schema accepts (a pinned copy is in
 * tests/schemas/junit.xsd):
 *
 * - one `<testsuites>` holding one `<testsuite name="plugcheck check <library>">`
 *   with `tests`, `failures`, `errors`, `skipped`, `time` and `timestamp`
 *   (no `hostname`: the file is written from the run alone), then a
 *   `<properties>` block (plugcheck's version, the library, the plugin's name
 *   and version when known);
 * - one `<testcase classname="<group>" name="<id>" time="<seconds>">` per
 *   result, times in seconds with 3 decimals;
 * - `fail` → `<failure type="fail" message="<details>">` with the evidence
 *   lines as its text; `crash` and `timeout` → `<error type="crash"|"timeout">`
 *   the same way; `skip` → `<skipped message="<reason>"/>`; `pass` → nothing;
 * - `warn` counts as passed (JUnit has no warning), and its details and
 *   evidence go to the testcase's `<system-err>`. `--strict` is applied before
 *   this writer runs, by turning each `warn` into a `fail`;
 * - a result with a repro command gets `<system-out>repro: <command></system-out>`.
 *
 * Text is escaped (`& < > " '` in attributes, `& < >` in text, and tab, line
 * feed and carriage return as character references so that they survive a
 * parser's normalisation); no CDATA is used. Characters XML 1.0 cannot carry
 * at all (C0 controls other than tab, line feed and carriage return, U+FFFE,
 * U+FFFF, lone surrogates) are dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { junitXml } from "./junit.ts";
 * const xml = junitXml({
 *   library: "build/libdemo.so", toolVersion: "0.1.0", startedAt: new Date("2024-05-01T10:00:00Z"), durationMs: 1500,
 *   results: [{
 *     id: "errors.unknown_method", group: "errors", title: "An unknown method answers UNKNOWN_METHOD",
 *     rule: "unknown-methods", status: "fail", durationMs: 12, details: "status 7 (INTERNAL)",
 *     evidence: ["invoke \"no-such-method\" -> status 7"], repro: "plugcheck invoke lib.so no-such-method --isolate",
 *   }],
 * });
 * assert.ok(xml.includes('<testsuite name="plugcheck check build/libdemo.so" tests="1" failures="1"'));
 * assert.ok(xml.includes('<failure type="fail" message="status 7 (INTERNAL)">invoke "no-such-method" -&gt; status 7</failure>'));
 * assert.ok(xml.includes("<system-out>repro: plugcheck invoke lib.so no-such-method --isolate</system-out>"));
 * ```
 *
 * @module
 */

import type { CheckResult, CheckRun } from "../check/result.ts";

// Everything outside XML 1.0's Char production. With the `u` flag a lone
// surrogate is one code point outside every allowed range, so it is matched too.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const TEXT_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;" };
const ATTRIBUTE_ESCAPES: Record<string, string> = {
  ...TEXT_ESCAPES,
  '"': "&quot;",
  "'": "&apos;",
  "\t": "&#9;",
  "\n": "&#10;",
};

/** `text` with the characters XML 1.0 forbids removed. */
function xmlChars(text: string): string {
  return text.replace(NOT_XML_CHAR, "");
}

/** `text` as element content. */
function escapeText(text: string): string {
  return xmlChars(text).replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c]!);
}

/** `text` as an attribute value (between double quotes). */
function escapeAttribute(text: string): string {
  return xmlChars(text).replace(/[&<>"'\t\n\r]/g, (c) => ATTRIBUTE_ESCAPES[c]!);
}

/** `name="value" ...`, in the given order. */
function attributes(pairs: [string, string | number][]): string {
  return pairs.map(([name, value]) => `${name}="${escapeAttribute(String(value))}"`).join(" ");
}

/** Milliseconds as seconds with 3 decimals; a negative or non-finite duration is 0. */
function seconds(ms: number): string {
  return (Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0).toFixed(3);
}

/** ISO 8601 to the second, in UTC (`2024-05-01T10:00:00Z`). */
function timestamp(date: Date): string {
  return Number.isNaN(date.getTime()) ? "" : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function element(name: string, attrs: [string, string | number][], text: string): string {
  return `<${name} ${attributes(attrs)}>${escapeText(text)}</${name}>`;
}

function testcase(result: CheckResult): string {
  const evidence = result.evidence.join("\n");
  const children: string[] = [];
  switch (result.status) {
    case "fail":
      children.push(element("failure", [["type", "fail"], ["message", result.details]], evidence));
      break;
    case "crash":
    case "timeout":
      children.push(element("error", [["type", result.status], ["message", result.details]], evidence));
      break;
    case "skip":
      children.push(`<skipped ${attributes([["message", result.details]])}/>`);
      break;
    case "pass":
    case "warn":
      break;
  }
  if (result.repro !== undefined) children.push(`<system-out>${escapeText(`repro: ${result.repro}`)}</system-out>`);
  if (result.status === "warn") {
    const lines = [`warn: ${result.details}`, ...result.evidence];
    children.push(`<system-err>${escapeText(lines.join("\n"))}</system-err>`);
  }
  const open = `<testcase ${
    attributes([["classname", result.group], ["name", result.id], ["time", seconds(result.durationMs)]])
  }`;
  return children.length === 0
    ? `    ${open}/>`
    : `    ${open}>\n${children.map((c) => `      ${c}\n`).join("")}    </testcase>`;
}

/** Counts of `results` as JUnit names them. */
function tally(results: readonly CheckResult[]): { tests: number; failures: number; errors: number; skipped: number } {
  const count = (...statuses: CheckResult["status"][]) => results.filter((r) => statuses.includes(r.status)).length;
  return { tests: results.length, failures: count("fail"), errors: count("crash", "timeout"), skipped: count("skip") };
}

/** One `<testsuite>` (its lines, indented under `<testsuites>`). */
function testsuite(run: CheckRun): string[] {
  const { tests, failures, errors, skipped } = tally(run.results);
  const properties: [string, string][] = [["plugcheck.version", run.toolVersion], ["library", run.library]];
  if (run.plugin !== undefined) {
    properties.push(["plugin.name", run.plugin.name], ["plugin.version", run.plugin.version]);
  }
  const suite: [string, string | number][] = [
    ["name", `plugcheck check ${run.library}`],
    ["tests", tests],
    ["failures", failures],
    ["errors", errors],
    ["skipped", skipped],
    ["time", seconds(run.durationMs)],
  ];
  const started = timestamp(run.startedAt);
  if (started !== "") suite.push(["timestamp", started]);
  return [
    `  <testsuite ${attributes(suite)}>`,
    `    <properties>`,
    ...properties.map(([n, v]) => `      <property ${attributes([["name", n], ["value", v]])}/>`),
    `    </properties>`,
    ...run.results.map(testcase),
    `  </testsuite>`,
  ];
}

/**
 * The JUnit XML document of several runs (`plugcheck check DIR`): one
 * `<testsuites name="<name>">` holding a `<testsuite>` per run, shaped as
 * {@link junitXml} writes its one, the totals summed over them and `time`
 * the whole run's `durationMs`.
 */
export function junitXmlOfRuns(name: string, runs: readonly CheckRun[], durationMs: number): string {
  const all = tally(runs.flatMap((r) => r.results));
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites ${
      attributes([["name", name], ["tests", all.tests], ["failures", all.failures], ["errors", all.errors], [
        "time",
        seconds(durationMs),
      ]])
    }>`,
    ...runs.flatMap(testsuite),
    `</testsuites>`,
    ``,
  ].join("\n");
}

/** The JUnit XML document of `run` (UTF-8 text, ending in a newline). */
export function junitXml(run: CheckRun): string {
  return junitXmlOfRuns(`plugcheck check ${run.library}`, [run], run.durationMs);
}
