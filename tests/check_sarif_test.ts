/**
 * The SARIF writer: rules and results from a check run, and the log validated
 * against the SARIF 2.1.0 JSON schema as the SARIF SDK publishes it (JSON
 * Schema 2020-12; pinned in tests/schemas/, see its README for where it is from).
 */
import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import type { Log } from "npm:@types/sarif@2.1.7";
import { sarifLog } from "../lib/report/sarif.ts";
import type { CheckRun } from "../lib/check/result.ts";
import { checkResult } from "./_helpers.ts";
import { sarifValidator } from "./_schemas.ts";

const RUN: CheckRun = {
  library: "/tmp/build dir/libdemo.so",
  plugin: { name: "demo", version: "1.2.3" },
  toolVersion: "0.1.0",
  startedAt: new Date("2024-05-01T10:00:00.000Z"),
  durationMs: 1500,
  results: [
    checkResult("buffers.free_null", "pass"),
    checkResult("errors.unknown_method", "fail", { repro: "plugcheck invoke lib.so nope --isolate" }),
    checkResult("lifecycle.destroy_twice", "crash", { location: { file: "src/plugin.c", line: 42 } }),
    checkResult("threads.parallel_invoke", "timeout"),
    checkResult("logging.levels", "warn", { location: { file: "src/log.c" } }),
    checkResult("stats.counters", "skip"),
    checkResult("errors.unknown_method", "fail"),
  ],
};

Deno.test("sarifLog gives one rule per check id and results only for fail, crash, timeout and warn", () => {
  const log = sarifLog(RUN);
  assert.deepStrictEqual(log.version, "2.1.0");
  const run = log.runs[0]!;
  const rules = run.tool.driver.rules!;
  assert.deepStrictEqual(rules.map((r) => r.id), [
    "buffers.free_null",
    "errors.unknown_method",
    "lifecycle.destroy_twice",
    "threads.parallel_invoke",
    "logging.levels",
    "stats.counters",
  ]);
  assert.deepStrictEqual(rules[1]!.name, "ErrorsUnknownMethod");
  assert.deepStrictEqual(rules[1]!.shortDescription?.text, "title of errors.unknown_method");
  assert.deepStrictEqual(rules[1]!.helpUri, "https://github.com/plugcheck/plugcheck/blob/main/docs/abi.md#errors");
  assert.deepStrictEqual(rules[4]!.defaultConfiguration?.level, "warning");
  assert.deepStrictEqual(rules[2]!.defaultConfiguration?.level, "error");
  const results = run.results!;
  assert.deepStrictEqual(results.map((r) => [r.ruleId, r.level]), [
    ["errors.unknown_method", "error"],
    ["lifecycle.destroy_twice", "error"],
    ["threads.parallel_invoke", "error"],
    ["logging.levels", "warning"],
    ["errors.unknown_method", "error"],
  ]);
  for (const r of results) assert.deepStrictEqual(rules[r.ruleIndex!]!.id, r.ruleId);
  assert.deepStrictEqual(
    results[0]!.message.text,
    "details of errors.unknown_method\nevidence of errors.unknown_method",
  );
  assert.deepStrictEqual(results[0]!.properties?.["repro"], "plugcheck invoke lib.so nope --isolate");
  assert.deepStrictEqual(
    results[0]!.locations![0]!.physicalLocation!.artifactLocation!.uri,
    "file:///tmp/build%20dir/libdemo.so",
  );
  assert.deepStrictEqual(results[1]!.locations![0]!.physicalLocation, {
    artifactLocation: { uri: "src/plugin.c" },
    region: { startLine: 42 },
  });
  assert.deepStrictEqual(results[3]!.locations![0]!.physicalLocation, { artifactLocation: { uri: "src/log.c" } });
  assert.deepStrictEqual(run.invocations, [{
    executionSuccessful: true,
    startTimeUtc: "2024-05-01T10:00:00.000Z",
    endTimeUtc: "2024-05-01T10:00:01.500Z",
  }]);
  const custom = sarifLog(RUN, { helpBase: "https://example.org/pc/" });
  assert.deepStrictEqual(custom.runs[0]!.tool.driver.rules![0]!.helpUri, "https://example.org/pc/docs/abi.md#buffers");
});

Deno.test("sarifLog output validates against the SARIF 2.1.0 schema, and a broken log does not", () => {
  const validate = sarifValidator();
  for (const log of [sarifLog(RUN), sarifLog({ ...RUN, library: "build/libdemo.so", results: [] })]) {
    assert(validate(log), JSON.stringify(validate.errors, null, 2));
  }
  const broken = structuredClone(sarifLog(RUN));
  // @ts-expect-error: "fatal" is no SARIF level, and @types/sarif knows it.
  broken.runs[0]!.results![0]!.level = "fatal";
  assert(!validate(broken), 'a result with level "fatal" must be rejected');
  const relativeHelp: Log = sarifLog(RUN, { helpBase: "" });
  assert(!validate(relativeHelp), "a relative helpUri must be rejected");
});
