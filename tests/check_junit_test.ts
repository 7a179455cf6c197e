/**
 * The JUnit XML writer: counts and structure read back with an XML parser,
 * escaping of hostile plugin text, and the document validated against the
 * Jenkins xUnit plugin's JUnit schema (pinned in tests/schemas/junit.xsd) with
 * libxml2 compiled to WebAssembly (xmllint-wasm).
 */
import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- a test-only dependency, pinned here rather than in deno.json
import { DOMParser } from "npm:@xmldom/xmldom@0.9.12";
// deno-lint-ignore no-import-prefix -- a test-only dependency, pinned here rather than in deno.json
import type { Document, Element } from "npm:@xmldom/xmldom@0.9.12";
import { junitXml } from "../lib/report/junit.ts";
import type { CheckResult, CheckRun, CheckStatus } from "../lib/check/result.ts";
import { checkResult } from "./_helpers.ts";
import { validateJunit as validate } from "./_schemas.ts";

/** A result whose evidence has two lines (the writer keeps each). */
function result(id: string, status: CheckStatus, extra: Partial<CheckResult> = {}): CheckResult {
  return checkResult(id, status, { evidence: [`evidence of ${id}`, `second line of ${id}`], ...extra });
}

const RUN: CheckRun = {
  library: "/tmp/build dir/libdemo.so",
  plugin: { name: "demo", version: "1.2.3" },
  toolVersion: "0.1.0",
  startedAt: new Date("2024-05-01T10:00:00.250Z"),
  durationMs: 1500,
  results: [
    result("buffers.free_null", "pass", { durationMs: 1234.5678 }),
    result("errors.unknown_method", "fail", { repro: "plugcheck invoke lib.so nope --isolate" }),
    result("lifecycle.destroy_twice", "crash", { repro: "plugcheck invoke lib.so destroy --isolate" }),
    result("threads.parallel_invoke", "timeout"),
    result("logging.levels", "warn"),
    result("stats.counters", "skip", { details: "the plugin has no stats method" }),
  ],
};

/**
 * The document of `xml`; a parser error or warning fails the test. xmldom does
 * not reject characters XML 1.0 forbids, so well-formedness is also checked
 * with libxml2 in {@link validate}.
 */
function parse(xml: string): Document {
  const problems: string[] = [];
  const doc = new DOMParser({ onError: (level, message) => void problems.push(`${level}: ${message}`) })
    .parseFromString(xml, "text/xml");
  assert.deepStrictEqual(problems, []);
  return doc;
}

function children(parent: Element | Document, name: string): Element[] {
  const nodes = Array.from({ length: parent.childNodes.length }, (_, i) => parent.childNodes.item(i)!);
  return nodes.filter((n): n is Element => n.nodeType === 1 && n.nodeName === name);
}

function only(parent: Element | Document, name: string): Element {
  const found = children(parent, name);
  assert.deepStrictEqual(found.length, 1, `one <${name}>`);
  return found[0]!;
}

Deno.test("junitXml counts each status and writes one testcase per result", () => {
  const doc = parse(junitXml(RUN));
  const suites = only(doc, "testsuites");
  assert.deepStrictEqual(suites.getAttribute("tests"), "6");
  assert.deepStrictEqual(suites.getAttribute("failures"), "1");
  assert.deepStrictEqual(suites.getAttribute("errors"), "2");
  const suite = only(suites, "testsuite");
  assert.deepStrictEqual(suite.getAttribute("name"), "plugcheck check /tmp/build dir/libdemo.so");
  assert.deepStrictEqual(suite.getAttribute("tests"), "6");
  assert.deepStrictEqual(suite.getAttribute("failures"), "1");
  assert.deepStrictEqual(suite.getAttribute("errors"), "2");
  assert.deepStrictEqual(suite.getAttribute("skipped"), "1");
  assert.deepStrictEqual(suite.getAttribute("time"), "1.500");
  assert.deepStrictEqual(suite.getAttribute("timestamp"), "2024-05-01T10:00:00Z");
  const properties = children(only(suite, "properties"), "property").map((p) => [
    p.getAttribute("name"),
    p.getAttribute("value"),
  ]);
  assert.deepStrictEqual(properties, [
    ["plugcheck.version", "0.1.0"],
    ["library", "/tmp/build dir/libdemo.so"],
    ["plugin.name", "demo"],
    ["plugin.version", "1.2.3"],
  ]);

  const cases = children(suite, "testcase");
  assert.deepStrictEqual(cases.map((c) => [c.getAttribute("classname"), c.getAttribute("name")]), [
    ["buffers", "buffers.free_null"],
    ["errors", "errors.unknown_method"],
    ["lifecycle", "lifecycle.destroy_twice"],
    ["threads", "threads.parallel_invoke"],
    ["logging", "logging.levels"],
    ["stats", "stats.counters"],
  ]);
  const [pass, fail, crash, timeout, warn, skip] = cases as [Element, Element, Element, Element, Element, Element];
  assert.deepStrictEqual(pass.getAttribute("time"), "1.235");
  assert.deepStrictEqual(fail.getAttribute("time"), "0.005");
  assert.deepStrictEqual(pass.childNodes.length, 0);

  const failure = only(fail, "failure");
  assert.deepStrictEqual(failure.getAttribute("type"), "fail");
  assert.deepStrictEqual(failure.getAttribute("message"), "details of errors.unknown_method");
  assert.deepStrictEqual(
    failure.textContent,
    "evidence of errors.unknown_method\nsecond line of errors.unknown_method",
  );
  assert.deepStrictEqual(only(fail, "system-out").textContent, "repro: plugcheck invoke lib.so nope --isolate");

  const crashed = only(crash, "error");
  assert.deepStrictEqual(crashed.getAttribute("type"), "crash");
  assert.deepStrictEqual(crashed.getAttribute("message"), "details of lifecycle.destroy_twice");
  assert.deepStrictEqual(
    crashed.textContent,
    "evidence of lifecycle.destroy_twice\nsecond line of lifecycle.destroy_twice",
  );
  assert.deepStrictEqual(only(crash, "system-out").textContent, "repro: plugcheck invoke lib.so destroy --isolate");
  assert.deepStrictEqual(only(timeout, "error").getAttribute("type"), "timeout");
  assert.deepStrictEqual(children(timeout, "system-out"), []);

  for (const name of ["failure", "error", "skipped"]) {
    assert.deepStrictEqual(children(warn, name), [], `warn has no <${name}>`);
  }
  assert.deepStrictEqual(
    only(warn, "system-err").textContent,
    "warn: details of logging.levels\nevidence of logging.levels\nsecond line of logging.levels",
  );

  assert.deepStrictEqual(only(skip, "skipped").getAttribute("message"), "the plugin has no stats method");
  assert.deepStrictEqual(only(skip, "skipped").childNodes.length, 0);
});

Deno.test("junitXml escapes markup, keeps ]]> and drops characters XML 1.0 forbids", async () => {
  const hostile = `<tag> & "quotes" 'apos' ]]> tab\there\r\nnext`;
  const forbidden = "\u0001\u001b\uffff\ufffe\ud800";
  const run: CheckRun = {
    ...RUN,
    library: `lib ${hostile}${forbidden}.so`,
    plugin: { name: `name ${hostile}`, version: `v${forbidden}1` },
    results: [
      result(`odd.id ${hostile}`, "fail", {
        group: `group ${hostile}`,
        details: `details ${hostile}${forbidden}`,
        evidence: [`evidence ${hostile}`, `bell\u0007${forbidden}end`, "]]>]]>", "emoji \u{1f600} stays"],
        repro: `plugcheck invoke 'lib.so' "<m>" ]]> &${forbidden}`,
      }),
      result("odd.warn", "warn", { details: `warn ${hostile}`, evidence: [`\udfff${hostile}`] }),
      result("odd.skip", "skip", { details: `skip ${hostile}\u0000` }),
    ],
  };
  const xml = junitXml(run);
  // deno-lint-ignore no-control-regex -- checking no forbidden character is left
  assert(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(xml), "no forbidden C0 or noncharacter");
  assert(!/\p{Surrogate}/u.test(xml.replace(/\u{1f600}/gu, "")), "no lone surrogate");
  assert(!xml.includes("<![CDATA["));
  assert.deepStrictEqual((await validate(xml)).errors, [], "well-formed and valid");

  const suite = only(only(parse(xml), "testsuites"), "testsuite");
  assert.deepStrictEqual(suite.getAttribute("name"), `plugcheck check lib ${hostile}.so`);
  const props = children(only(suite, "properties"), "property").map((p) => p.getAttribute("value"));
  assert.deepStrictEqual(props, ["0.1.0", `lib ${hostile}.so`, `name ${hostile}`, "v1"]);

  const [fail, warn, skip] = children(suite, "testcase") as [Element, Element, Element];
  assert.deepStrictEqual(fail.getAttribute("classname"), `group ${hostile}`);
  assert.deepStrictEqual(fail.getAttribute("name"), `odd.id ${hostile}`);
  const failure = only(fail, "failure");
  assert.deepStrictEqual(failure.getAttribute("message"), `details ${hostile}`);
  assert.deepStrictEqual(
    failure.textContent,
    [`evidence ${hostile}`, "bellend", "]]>]]>", "emoji \u{1f600} stays"].join("\n"),
  );
  assert.deepStrictEqual(only(fail, "system-out").textContent, `repro: plugcheck invoke 'lib.so' "<m>" ]]> &`);
  assert.deepStrictEqual(only(warn, "system-err").textContent, `warn: warn ${hostile}\n${hostile}`);
  assert.deepStrictEqual(only(skip, "skipped").getAttribute("message"), `skip ${hostile}`);
});

Deno.test("junitXml output validates against the Jenkins xUnit JUnit schema", async () => {
  const empty: CheckRun = {
    library: "lib.so",
    toolVersion: "0.1.0",
    startedAt: new Date(0),
    durationMs: 0,
    results: [],
  };
  const slow: CheckRun = {
    ...RUN,
    durationMs: 123_456_789.4,
    results: [result("slow.one", "timeout", { durationMs: 98_765_432.1, evidence: [] })],
  };
  for (const run of [RUN, empty, slow]) {
    const xml = junitXml(run);
    assert.deepStrictEqual(await validate(xml), { valid: true, errors: [] }, xml);
  }

  // The validator does reject what the schema does not allow.
  const bogus = junitXml(RUN).replace("<testcase ", '<testcase bogus="1" ');
  const rejected = await validate(bogus);
  assert.deepStrictEqual(rejected.valid, false);
  assert(rejected.errors.some((e) => e.includes("'bogus'")), rejected.errors.join("\n"));
  const skippedOnSuites = junitXml(RUN).replace("<testsuites ", '<testsuites skipped="1" ');
  assert.deepStrictEqual((await validate(skippedOnSuites)).valid, false, "the schema has no skipped on <testsuites>");
});
