/**
 * `plugcheck compare OLD.json NEW.json` and `compareReports`: saved check, stress and fuzz reports of two builds,
 * compared item by item. Real reports from real runs (a reference plugin and fault fixtures); where a figure must be
 * one a run cannot be made to give on demand (a build 3x slower), a real report with that figure changed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fault, fixture, fuzzFixture, runCli, tempDir } from "./_helpers.ts";
import { validateJunit } from "./_schemas.ts";
// deno-lint-ignore no-import-prefix -- test-only: an HTML5 parser that reports parse errors
import { parse } from "npm:parse5@7.3.0";
import { compareReports, ComparisonSchema, type StressReport, StressReportSchema } from "../mod.ts";

/** Runs `plugcheck <args> --format json` and saves its report; returns the path and the parsed document. */
async function saved(args: string[], path: string): Promise<unknown> {
  const r = await runCli([...args, "--format", "json"], { killAfterMs: 120_000 });
  assert.ok(r.code === 0 || r.code === 1, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
  await Deno.writeTextFile(path, r.stdout);
  return JSON.parse(r.stdout);
}

Deno.test("plugcheck compare of two check reports: a check that passed and now crashes is a regression, exit 1", async () => {
  await using dir = await tempDir();
  const [a, b] = [join(dir.path, "old.json"), join(dir.path, "new.json")];
  await saved(["check", fixture("ref_c"), "--seed", "1", "--filter", "^errors\\."], a);
  await saved(["check", fault("segfault"), "--seed", "1", "--filter", "^errors\\."], b);
  const r = await runCli(["compare", a, b, "--format", "json"]);
  assert.equal(r.code, 1, r.stderr);
  const c = ComparisonSchema.parse(JSON.parse(r.stdout));
  assert.equal(c.kind, "check");
  const regressed = c.differences.filter((d) => d.verdict === "regression").map((d) => d.item);
  assert.deepEqual(regressed, ["errors.no_crash"]);
  assert.equal(c.differences[0]!.verdict, "regression", "regressions first");
  // Backwards, the same difference is a fix, and nothing regressed.
  const back = await runCli(["compare", b, a]);
  assert.equal(back.code, 0, back.stdout);
  assert.match(back.stdout, /IMPROVED +checks +errors\.no_crash +crash -> pass/);
  assert.match(back.stdout, /ok: no regression/);
});

Deno.test("plugcheck compare of a report with itself: nothing differs, exit 0, and a warning that it is one build", async () => {
  await using dir = await tempDir();
  const a = join(dir.path, "a.json");
  await saved(["check", fixture("ref_c"), "--seed", "1", "--filter", "^(abi|metadata)\\."], a);
  const r = await runCli(["compare", a, a]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /0 regressed, 0 improved, 0 changed/);
  assert.match(r.stderr, /same library file/);
  const junit = join(dir.path, "c.xml"), html = join(dir.path, "c.html");
  const j = await runCli(["compare", a, a, "--junit", junit, "--html", html]);
  assert.equal(j.code, 0);
  const v = await validateJunit(await Deno.readTextFile(junit));
  assert.ok(v.valid, v.errors.join("\n"));
  const errors: string[] = [];
  const page = await Deno.readTextFile(html);
  parse(page, { onParseError: (e) => errors.push(e.code) });
  assert.deepEqual(errors, []);
  assert.match(page, /ok: no regression/);
});

/** A real stress report of the reference plugin. */
async function stressReport(): Promise<StressReport> {
  const r = await runCli(["stress", fixture("ref_c"), "--iterations", "2000", "--seed", "1", "--format", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return StressReportSchema.parse(JSON.parse(r.stdout));
}

/** A copy of `a` with `edit` applied. */
function edited(a: StressReport, edit: (r: StressReport) => void): StressReport {
  const b = structuredClone(a);
  edit(b);
  return b;
}

Deno.test("compareReports on stress reports: 3x the cost a call regresses, unless the floor slowed as much (the machine)", async () => {
  const a = await stressReport();
  const slow = edited(a, (b) => {
    b.run.per_second = Math.round(b.run.per_second / 3);
    b.run.latency.p50_ms *= 3;
    b.run.latency.p99_ms *= 3;
    b.provenance.plugin_sha256 = "0".repeat(64);
  });
  const c = compareReports(a, slow);
  assert.deepEqual(
    c.differences.filter((d) => d.verdict === "regression").map((d) => d.item),
    ["calls/s", "latency p50", "latency p99"],
  );
  assert.ok(!c.ok);
  // The same slowdown with the floor 3x slower too: a slower machine, not a slower plugin.
  const machine = edited(slow, (b) => (b.floor!.per_second = Math.round(b.floor!.per_second / 3)));
  const m = compareReports(a, machine);
  assert.ok(m.ok, JSON.stringify(m.differences.filter((d) => d.verdict === "regression")));
  // Within the tolerance: 1.1x is the same; --max-slowdown moves the line.
  const bit = edited(a, (b) => (b.run.per_second = Math.round(b.run.per_second / 1.1)));
  const callsPerSecond = (max?: number) =>
    compareReports(a, bit, max === undefined ? {} : { maxSlowdown: max }).differences.find((d) =>
      d.item === "calls/s"
    )!;
  assert.equal(callsPerSecond().verdict, "same");
  assert.equal(callsPerSecond(1.05).verdict, "regression");
});

Deno.test("compareReports on stress reports: a verdict that now fails and threads left after the run regress", async () => {
  await using dir = await tempDir();
  const a = await saved(
    ["stress", fault("thread_per_instance"), "--churn", "--iterations", "50", "--seed", "1"],
    join(dir.path, "a"),
  );
  const b = structuredClone(a) as StressReport;
  const old = structuredClone(a) as StressReport;
  // The old build: the same run without the leaked threads (its verdict passed, nothing left at the end).
  const v = old.verdicts.find((x) => x.id === "threads_after_destroy")!;
  assert.equal(v.status, "fail");
  v.status = "pass";
  old.resources.end!.threads = old.resources.baseline!.threads;
  const c = compareReports(old, b);
  const regressed = c.differences.filter((d) => d.verdict === "regression").map((d) => d.item);
  assert.ok(regressed.includes("threads_after_destroy"), regressed.join(", "));
  assert.ok(regressed.includes("threads at the end"), regressed.join(", "));
});

Deno.test("plugcheck compare of two fuzz reports: a finding only the new run made is a regression", async () => {
  await using dir = await tempDir();
  const [a, b] = [join(dir.path, "old.json"), join(dir.path, "new.json")];
  // The same fixture, the same seed: a run too short to reach the planted crash, and one long enough.
  await saved([
    "fuzz",
    fuzzFixture("magic_prefix"),
    "--runs",
    "10",
    "--seed",
    "1",
    "--no-binary-dict",
    "--artifacts",
    dir.path,
  ], a);
  await saved(["fuzz", fuzzFixture("magic_prefix"), "--runs", "300000", "--seed", "1", "--artifacts", dir.path], b);
  const r = await runCli(["compare", a, b]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /REGRESSION +findings +\S+ +new: crash in/);
  assert.match(r.stderr, /runs differ/);
});

Deno.test("plugcheck compare of two check DIR reports: each library's checks, matched by file name", async () => {
  await using dir = await tempDir();
  const before = join(dir.path, "before"), after = join(dir.path, "after");
  for (const d of [before, after]) await Deno.mkdir(d);
  await Deno.copyFile(fixture("ref_c"), join(before, "libone.so"));
  await Deno.copyFile(fixture("ref_c"), join(before, "libtwo.so"));
  await Deno.copyFile(fixture("ref_c"), join(after, "libone.so"));
  await Deno.copyFile(fault("segfault"), join(after, "libtwo.so"));
  await Deno.copyFile(fixture("ref_rust"), join(after, "libthree.so"));
  const [a, b] = [join(dir.path, "a.json"), join(dir.path, "b.json")];
  const only = ["--seed", "1", "--filter", "^errors\\.no_crash$"];
  await saved(["check", before, ...only], a);
  await saved(["check", after, ...only], b);
  const r = await runCli(["compare", a, b, "--format", "json"]);
  assert.equal(r.code, 1, r.stderr);
  const c = ComparisonSchema.parse(JSON.parse(r.stdout));
  assert.deepEqual(
    c.differences.filter((d) => d.verdict !== "same").map((d) => `${d.verdict} ${d.item}`),
    ["regression libtwo.so: errors.no_crash", "change libthree.so"],
  );
  const mixed = await runCli(["compare", a, join(dir.path, "none.json")]);
  assert.equal(mixed.code, 2);
});

Deno.test("plugcheck compare: files that are missing, not JSON, not reports or of two kinds are usage errors (exit 2)", async () => {
  await using dir = await tempDir();
  const check = join(dir.path, "check.json"), fuzz = join(dir.path, "fuzz.json"), junk = join(dir.path, "junk.json");
  await saved(["check", fixture("ref_c"), "--seed", "1", "--filter", "^abi\\."], check);
  await saved(["fuzz", fuzzFixture("magic_prefix"), "--runs", "10", "--seed", "1", "--artifacts", dir.path], fuzz);
  await Deno.writeTextFile(junk, '{"ok": true}');
  const cases: [string[], RegExp][] = [
    [[check, join(dir.path, "none.json")], /Cannot read new report .*file not found/],
    [[check, fixture("ref_c")], /is not JSON/],
    [[check, junk], /the second file is not a stress, fuzz or check report/],
    [[check, fuzz], /a check report cannot be compared with a fuzz report/],
    [[check, check, "--max-slowdown", "0.5"], /--max-slowdown must be at least 1/],
    [[check], /Missing <new.json>/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(["compare", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
