/**
 * `plugcheck fuzz` as a user runs it: flags checked before anything loads
 * (exit 2, nothing written), libraries that cannot be fuzzed (exit 3), the
 * text and JSON reports, exit codes 0 and 1, minimization and replay, and
 * findings that are on disk even when plugcheck itself is killed right after
 * one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FuzzReportSchema, MinimizeReportSchema, ReplayReportSchema } from "../mod.ts";
import { sha1Hex } from "../lib/fuzz/parent/artifacts.ts";
import { CLI_ARGS, fault, fixture, fuzzFixture, runCli, tempDir, text } from "./_helpers.ts";

Deno.test("plugcheck fuzz --help teaches the flags, the findings and the exit codes", async () => {
  const r = await runCli(["fuzz", "--help"]);
  assert.equal(r.code, 0);
  const flags = ["--runs", "--duration", "--max-findings", "--seed", "--jobs", "--corpus", "--artifacts", "--dict"];
  flags.push("--max-len", "--timeout", "--rss-limit", "--target", "--sanitizer", "--minimize", "--replay", "--format");
  for (const flag of flags) assert.ok(r.stdout.includes(flag), flag);
  assert.match(r.stdout, /crash-<sha1>/);
  assert.match(r.stdout, /Exit codes:/);
  const top = await runCli(["--help"]);
  assert.match(top.stdout, /fuzz <library>/);
});

Deno.test("plugcheck fuzz refuses bad flags with exit 2 before anything is loaded or written", async () => {
  await using dir = await tempDir();
  const dict = join(dir.path, "bad.dict");
  Deno.writeTextFileSync(dict, 'ok="x"\nbroken="y\n');
  const lib = fuzzFixture("magic_prefix");
  const cases: [string[], RegExp][] = [
    [["--runs", "0"], /--runs must be a positive integer/],
    [["--runs", "ten"], /--runs must be a positive integer/],
    [["--duration", "5x"], /--duration takes a duration/],
    [["--runs", "10", "--duration", "1s"], /--runs and --duration exclude each other/],
    [["--target", "afl"], /--target takes npa or libfuzzer/],
    [["--sanitizer", "msan"], /--sanitizer takes asan or none/],
    [["--jobs", "0"], /--jobs must be a positive integer/],
    [["--max-len", "0"], /--max-len must be a positive integer/],
    [["--timeout", "0"], /--timeout must be a positive integer/],
    [["--seed", "-1"], /--seed/],
    [["--dict", join(dir.path, "none.dict")], /Cannot read --dict .*file not found/],
    [["--dict", dict], /Dictionary line 2/],
    [["--method", "parse", "--all"], /--method and --all exclude each other/],
    [["--config", "[1]"], /--config must be a JSON object/],
    [["--minimize", join(dir.path, "missing")], /Cannot read --minimize .*file not found/],
    [["--bogus"], /Unknown option/],
  ];
  for (const [flags, message] of cases) {
    const r = await runCli(["fuzz", lib, "--artifacts", join(dir.path, "out"), ...flags]);
    assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, flags.join(" "));
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), ["bad.dict"], "nothing written");
});

Deno.test("plugcheck fuzz names a method the plugin lacks (exit 2) and refuses what is no plugin (exit 3)", async () => {
  await using dir = await tempDir();
  const r = await runCli(["fuzz", fuzzFixture("magic_prefix"), "--method", "nope", "--artifacts", dir.path]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /magic_prefix has no method "nope"; its methods: parse/);
  const notLib = await runCli(["fuzz", fault("not_a_library"), "--runs", "10", "--artifacts", dir.path]);
  assert.equal(notLib.code, 3, notLib.stderr);
  const missing = await runCli(["fuzz", join(dir.path, "nothing.so"), "--runs", "10", "--artifacts", dir.path]);
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /file not found/);
  const harness = await runCli(["fuzz", fuzzFixture("lf_near_empty"), "--method", "x", "--artifacts", dir.path]);
  assert.equal(harness.code, 2, harness.stderr);
  assert.match(harness.stderr, /libFuzzer harness with one entry point/);
});

Deno.test("plugcheck fuzz --format json on a correct plugin: exit 0, a report the schema accepts, nothing found", async () => {
  await using dir = await tempDir();
  const r = await runCli([
    "fuzz",
    fixture("ref_rust"),
    "--method",
    "sum",
    "--method",
    "upper",
    "--runs",
    "20000",
    "--seed",
    "5",
    "--artifacts",
    dir.path,
    "--format",
    "json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const report = FuzzReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(report.ok, true);
  assert.deepEqual(report.methods, ["sum", "upper"]);
  assert.equal(report.seed, 5);
  assert.equal(report.run.execs, 20_000);
  assert.deepEqual(report.findings, []);
});

Deno.test("plugcheck fuzz prints each finding as it is found and a summary with repro commands; exit 1", async () => {
  await using dir = await tempDir();
  const r = await runCli([
    "fuzz",
    fuzzFixture("magic_prefix"),
    "--runs",
    "300000",
    "--seed",
    "1",
    "--artifacts",
    dir.path,
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /#[\d,]+ {2}NEW crash-[0-9a-f]{40} {2}crash \(SIGSEGV\) in "parse"/);
  assert.match(r.stdout, /^plugin +magic_prefix 1\.0\.0/m);
  assert.match(r.stdout, /crash +parse +x\d+ +SIGSEGV/);
  assert.match(r.stdout, /at parse_record at .*magic_prefix\.c:\d+/);
  // Time and executions to the finding, the same count the NEW line gave.
  const execs = /#([\d,]+) {2}NEW crash-/.exec(r.stderr)![1]!;
  assert.match(r.stdout, new RegExp(`^ +first +after [\\d.]+ m?s and ${execs} execs?$`, "m"));
  assert.match(r.stdout, /reproduce +plugcheck invoke .* parse --input-file .*crash-[0-9a-f]{40} --isolate/);
  assert.match(r.stdout, /^FAIL: 1 bug found/m);
});

Deno.test("plugcheck fuzz --minimize writes minimized-from-<sha1>; --replay says what an input does", async () => {
  await using dir = await tempDir();
  const input = new TextEncoder().encode(`FZ${"#".repeat(200)}`);
  const file = join(dir.path, "crash-padded");
  Deno.writeFileSync(file, input);
  const m = await runCli(["fuzz", fuzzFixture("magic_prefix"), "--minimize", file, "--format", "json"]);
  assert.equal(m.code, 0, m.stderr);
  const doc = MinimizeReportSchema.parse(JSON.parse(m.stdout));
  assert.ok(doc.reproduced);
  assert.equal(doc.minimized.size, 2);
  assert.equal(doc.minimized.path, join(dir.path, `minimized-from-${sha1Hex(input)}`));
  assert.equal(text(Deno.readFileSync(doc.minimized.path)), "FZ");
  const crash = await runCli(["fuzz", fuzzFixture("magic_prefix"), "--replay", doc.minimized.path]);
  assert.equal(crash.code, 1, crash.stderr);
  assert.match(crash.stdout, /crash in "parse": killed by SIGSEGV/);
  const crashJson = await runCli([
    "fuzz",
    fuzzFixture("magic_prefix"),
    "--replay",
    doc.minimized.path,
    "--format",
    "json",
  ]);
  assert.equal(crashJson.code, 1, crashJson.stderr);
  const replayed = ReplayReportSchema.parse(JSON.parse(crashJson.stdout));
  assert.equal(replayed.ok, false);
  assert.equal(replayed.finding?.kind, "crash");
  assert.deepEqual(replayed.input, { size: 2, sha1: sha1Hex(new TextEncoder().encode("FZ")) });
  Deno.writeTextFileSync(join(dir.path, "fine"), "hello");
  const fine = await runCli(["fuzz", fuzzFixture("magic_prefix"), "--replay", join(dir.path, "fine")]);
  assert.equal(fine.code, 0, fine.stderr);
  assert.match(fine.stdout, /ok: 5 bytes ran cleanly/);
});

Deno.test("a finding is on disk before the child is replaced: kill plugcheck right after it and the files are there", async () => {
  await using dir = await tempDir();
  const seeds = join(dir.path, "seeds");
  Deno.mkdirSync(seeds);
  Deno.writeTextFileSync(join(seeds, "a"), "A crashes bug_null_write");
  const out = join(dir.path, "out");
  const child = new Deno.Command(Deno.execPath(), {
    args: [...CLI_ARGS, "fuzz", fuzzFixture("two_bugs"), "--corpus", seeds, "--artifacts", out, "--duration", "60s"],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let seen = "";
  const reader = child.stderr.getReader();
  let line: RegExpMatchArray | null = null;
  const deadline = Date.now() + 30_000;
  while (line === null && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += text(value);
    line = seen.match(/NEW (crash-[0-9a-f]{40})/);
  }
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stderr.cancel();
  assert.ok(line, `no finding line in:\n${seen}`);
  const artifact = join(out, line[1]!);
  assert.equal(Deno.readTextFileSync(artifact), "A crashes bug_null_write");
  assert.equal(JSON.parse(Deno.readTextFileSync(`${artifact}.json`)).signal, "SIGSEGV");
  // The parent never cleaned up: its children's input files are still in the artifacts directory.
  const inputs = [...Deno.readDirSync(out)].filter((e) => e.name.startsWith(".plugcheck-input-"));
  assert.ok(inputs.length > 0, "the input files stay when the parent dies");
});
