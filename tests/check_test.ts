/**
 * `plugcheck check` and `runChecks`: both reference plugins pass every check
 * (and their JUnit and SARIF files validate), the selection (filters,
 * shards), the config file, `--list`, the report files, `--strict`,
 * `--in-process` and the exit codes. The fault fixtures' results are
 * `check_matrix_test.ts`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CHECK_IDS, CHECKS, parseShard, selectChecks } from "../lib/check/catalog.ts";
import { findCheckConfig, parseCheckConfig } from "../lib/check/config.ts";
import { CheckGate } from "../lib/check/gate.ts";
import { ruleDoc } from "../lib/check/spec.ts";
import { junitXml } from "../lib/report/junit.ts";
import { sarifLog } from "../lib/report/sarif.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { CheckListJsonSchema, CheckReportJsonSchema, runChecks } from "../mod.ts";
import { fault, REFERENCE_PLUGINS, ROOT, runCli, tempDir } from "./_helpers.ts";
import { sarifValidator, validateJunit } from "./_schemas.ts";

const REF_C = REFERENCE_PLUGINS[0]!.path;

for (const ref of REFERENCE_PLUGINS) {
  Deno.test(`runChecks() on the ${ref.lang} reference plugin: every check passes, JUnit and SARIF validate`, async () => {
    const report = await runChecks(ref.path, { seed: 1, fuzzRuns: 20_000 });
    // The LADSPA group skips an npa plugin; every other check passes.
    const ladspa = (id: string) => id.startsWith("ladspa.");
    const notPassed = report.results.filter((r) => r.status !== "pass" && !(ladspa(r.id) && r.status === "skip"))
      .map((r) => `${r.id}: ${r.status} ${r.details}`);
    assert.deepEqual(notPassed, []);
    assert.ok(report.results.filter((r) => ladspa(r.id)).every((r) => r.details === "not a LADSPA library"));
    assert.deepEqual(report.results.map((r) => r.id), CHECK_IDS);
    assert.equal(report.exitCode, 0);
    assert.deepEqual(report.plugin, { name: ref.name, version: "1.0.0" });
    const fuzz = report.results.find((r) => r.id === "fuzz.smoke")!;
    assert.match(fuzz.details, /left out: sleep_ms, fail_with/, 'methods marked "fuzz": false are left out');
    assert.deepEqual((await validateJunit(junitXml(report))).errors, []);
    const validate = sarifValidator();
    assert.ok(validate(sarifLog(report)), JSON.stringify(validate.errors));
  });
}

Deno.test("every check names a rule that is a heading of its rule document (docs/abi.md, docs/ladspa.md)", async () => {
  for (const file of new Set(CHECKS.map((c) => ruleDoc(c.id)))) {
    const doc = await Deno.readTextFile(join(ROOT, file));
    // GitHub's anchors: lower case, punctuation dropped, spaces to dashes.
    const anchors = new Set(
      [...doc.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^a-z0-9 -]/g, "").replaceAll(" ", "-")),
    );
    for (const c of CHECKS.filter((c) => ruleDoc(c.id) === file)) {
      assert.ok(anchors.has(c.rule), `${c.id}: #${c.rule} is not a heading of ${file}`);
    }
  }
  assert.equal(new Set(CHECK_IDS).size, CHECK_IDS.length, "ids are unique");
  for (const id of CHECK_IDS) assert.match(id, /^[a-z]+\.[a-z_]+$/);
});

Deno.test("selectChecks() filters by regex, excludes, and splits into disjoint shards whose union is the selection", () => {
  const errors = selectChecks(CHECKS, { filter: ["^errors\\."], exclude: ["unknown"] }).map((c) => c.id);
  assert.ok(errors.length >= 4 && errors.every((id) => id.startsWith("errors.") && !id.includes("unknown")));
  for (const count of [1, 2, 3, 4, 7, CHECKS.length, CHECKS.length + 3]) {
    const parts = Array.from({ length: count }, (_, i) => selectChecks(CHECKS, { shard: { index: i + 1, count } }));
    const ids = parts.flat().map((c) => c.id);
    assert.equal(ids.length, new Set(ids).size, `shards of ${count} are pairwise disjoint`);
    assert.deepEqual([...ids].sort(), [...CHECK_IDS].sort(), `shards of ${count} cover the suite`);
    assert.deepEqual(
      parts.map((p) => p.map((c) => c.id)),
      Array.from(
        { length: count },
        (_, i) => selectChecks(CHECKS, { shard: { index: i + 1, count } }).map((c) => c.id),
      ),
      "deterministic",
    );
  }
  assert.throws(() => selectChecks(CHECKS, { filter: ["("] }), UsageError);
  assert.throws(() => selectChecks(CHECKS, { filter: ["^nothing\\."] }), /matches no check/);
  assert.deepEqual(parseShard("2/4"), { index: 2, count: 4 });
  for (const bad of ["0/4", "5/4", "1/0", "x", "1/2/3"]) assert.throws(() => parseShard(bad), UsageError, bad);
});

Deno.test("CheckGate runs ordinary checks together and an alone check with no other, without starving it", async () => {
  const gate = new CheckGate();
  const log: string[] = [];
  let running = 0;
  let most = 0;
  const run = async (name: string, alone: boolean, ms: number) => {
    await gate.enter(alone);
    running++;
    most = Math.max(most, running);
    if (alone) assert.equal(running, 1, `${name} runs alone`);
    log.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, ms));
    running--;
    gate.leave(alone);
  };
  const a = run("a", false, 30);
  const b = run("b", false, 30);
  await new Promise((r) => setTimeout(r, 5));
  const x = run("x", true, 10);
  const c = run("c", false, 5); // asks after x: waits for it
  await Promise.all([a, b, x, c]);
  assert.deepEqual(log, ["start a", "start b", "start x", "start c"]);
  assert.equal(most, 2);
});

Deno.test("parseCheckConfig() fills in defaults and refuses unknown keys, unknown checks and bad thresholds", () => {
  const c = parseCheckConfig(
    '{"check":{"skip":{"fuzz.smoke":"too slow here"},"fuzz":{"skip_methods":["boom"]},"thresholds":{"fuzz_runs":7}}}',
    "plugcheck.json",
  );
  assert.deepEqual(c.skip, { "fuzz.smoke": "too slow here" });
  assert.deepEqual(c.fuzzSkipMethods, ["boom"]);
  assert.equal(c.thresholds.fuzzRuns, 7);
  assert.equal(c.thresholds.callTimeoutMs, 2000);
  assert.equal(parseCheckConfig("{}", "p.json").thresholds.stressIterations, 300);
  for (
    const [text, message] of [
      ["{", /is not JSON/],
      ['{"chek":{}}', /invalid/],
      ['{"check":{"skip":{"no.such":"x"}}}', /no such check/],
      ['{"check":{"skip":{"fuzz.smoke":""}}}', /at check\.skip\.fuzz\.smoke/],
      ['{"check":{"thresholds":{"fuzz_runs":-1}}}', /at check\.thresholds\.fuzz_runs/],
      ['{"check":{"thresholds":{"timeout":5}}}', /at check\.thresholds/],
    ] as const
  ) {
    assert.throws(() => parseCheckConfig(text, "p.json"), message, text);
  }
});

Deno.test("findCheckConfig() walks up from the working directory to the nearest plugcheck.json", async () => {
  await using dir = await tempDir();
  const nested = join(dir.path, "a", "b");
  await Deno.mkdir(nested, { recursive: true });
  await Deno.writeTextFile(join(dir.path, "plugcheck.json"), "{}");
  assert.equal(await findCheckConfig(nested), join(dir.path, "plugcheck.json"));
  await Deno.writeTextFile(join(dir.path, "a", "plugcheck.json"), "{}");
  assert.equal(await findCheckConfig(nested), join(dir.path, "a", "plugcheck.json"));
});

Deno.test("plugcheck check --list shows every check with its rule; with filters and --format json", async () => {
  const r = await runCli(["check", "--list"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.deepEqual(lines.map((l) => l.split(/\s+/)[0]), CHECK_IDS);
  assert.match(r.stdout, /errors\.unknown_method\s+#status-codes\s+An unknown method answers UNKNOWN_METHOD/);
  const j = await runCli(["check", "--list", "--filter", "^buffers\\.", "--format", "json"]);
  const doc = CheckListJsonSchema.parse(JSON.parse(j.stdout));
  assert.deepEqual(doc.map((c) => c.id), CHECK_IDS.filter((id) => id.startsWith("buffers.")));
  assert.match(doc[0]!.help_uri, /^https:\/\/.*docs\/abi\.md#buffers$/);
});

Deno.test("plugcheck check: exit 1 and the failing check's evidence and repro for a plugin that breaks a rule", async () => {
  await using dir = await tempDir();
  const junit = join(dir.path, "check.xml");
  const sarif = join(dir.path, "check.sarif");
  const r = await runCli([
    "check",
    fault("bad_status"),
    "--filter",
    "^errors\\.(statuses|unknown_method)$",
    "--seed",
    "3",
    "--junit",
    junit,
    "--sarif",
    sarif,
  ], { killAfterMs: 60_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /FAIL\s+errors\.statuses .*returned a status outside 0\.\.7/);
  assert.match(r.stdout, /\| odd\(""\): ContractViolationError: .*status 42, which is not an npa status/);
  assert.match(r.stdout, /repro: plugcheck check .*libbad_status\.so --filter '\^errors\\\.statuses\$' --seed 3/);
  assert.match(r.stdout, /PASS\s+errors\.unknown_method/);
  assert.match(r.stdout, /2 checks: 1 passed; 1 failed/);
  const xml = await Deno.readTextFile(junit);
  assert.deepEqual((await validateJunit(xml)).errors, []);
  assert.match(xml, /<testcase [^>]*name="errors\.statuses"[^>]*>\s*<failure /);
  const log = JSON.parse(await Deno.readTextFile(sarif));
  const validate = sarifValidator();
  assert.ok(validate(log), JSON.stringify(validate.errors));
  assert.deepEqual(log.runs[0].results.map((x: { ruleId: string }) => x.ruleId), ["errors.statuses"]);
  assert.match(log.runs[0].tool.driver.rules[0].helpUri, /docs\/abi\.md#status-codes$/);
});

Deno.test("plugcheck check --format json: the document says the seed, the counts and each result", async () => {
  const r = await runCli(["check", REF_C, "--filter", "^lifecycle\\.", "--seed", "9", "--format", "json"], {
    killAfterMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  CheckReportJsonSchema.parse(doc);
  assert.equal(doc.ok, true);
  assert.equal(doc.seed, 9);
  assert.deepEqual(doc.counts, { pass: 5, fail: 0, crash: 0, timeout: 0, skip: 0, warn: 0 });
  assert.deepEqual(doc.results.map((x: { id: string }) => x.id), CHECK_IDS.filter((id) => id.startsWith("lifecycle.")));
  assert.deepEqual(Object.keys(doc.results[0]).slice(0, 8), [
    "id",
    "group",
    "title",
    "rule",
    "help_uri",
    "status",
    "duration_ms",
    "details",
  ]);
});

Deno.test("plugcheck check: exit 3 for a library that cannot be loaded; the abi check says why, the rest skip", async () => {
  const r = await runCli(["check", fault("wrong_abi_major"), "--exclude", "^(fuzz|threads|resources)\\."], {
    killAfterMs: 60_000,
  });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /FAIL\s+abi\.version .*it speaks npa ABI 2\.0/);
  assert.match(r.stdout, /SKIP\s+lifecycle\.init .*the library's symbols or ABI version are wrong: AbiMismatchError/);
  assert.match(r.stdout, /the library cannot be loaded/);
});

Deno.test("plugcheck check --strict fails on a warning that passes without it", async () => {
  const args = ["check", fault("stdout_print"), "--filter", "^stdio\\."];
  const plain = await runCli(args, { killAfterMs: 60_000 });
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /WARN\s+stdio\.stdout .*bytes to stdout/);
  const strict = await runCli([...args, "--strict"], { killAfterMs: 60_000 });
  assert.equal(strict.code, 1, strict.stderr);
  assert.match(strict.stdout, /, strict/);
});

Deno.test("plugcheck check: a plugcheck.json found upwards skips a check with its reason and sets thresholds", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    join(dir.path, "plugcheck.json"),
    JSON.stringify({ check: { skip: { "errors.statuses": "a known bug, issue 12" } } }),
  );
  const nested = join(dir.path, "ci");
  await Deno.mkdir(nested);
  const r = await runCli(["check", fault("bad_status"), "--filter", "^errors\\.statuses$"], {
    env: { PLUGCHECK_CWD: nested },
    killAfterMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /SKIP\s+errors\.statuses .*skipped by .*plugcheck\.json: a known bug, issue 12/);
  const bad = join(dir.path, "bad.json");
  await Deno.writeTextFile(bad, '{"check":{"skip":{"errors.nope":"x"}}}');
  const refused = await runCli(["check", fault("bad_status"), "--config", bad]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /skips "errors\.nope": no such check/);
});

Deno.test("plugcheck check: usage errors exit 2 before anything runs, and no report file is written", async () => {
  await using dir = await tempDir();
  const junit = join(dir.path, "missing-dir", "check.xml");
  for (
    const [args, message] of [
      [["check"], /Missing <library>/],
      [["check", REF_C, REF_C], /Expected one <library>/],
      [["check", "no-such.so"], /No such file/],
      [["check", REF_C, "--filter", "("], /is not a regular expression/],
      [["check", REF_C, "--shard", "3/2"], /--shard must be I\/N/],
      [["check", REF_C, "--jobs", "0"], /--jobs/],
      [["check", REF_C, "--junit", junit], /the directory .*missing-dir does not exist/],
      [["check", REF_C, "--bogus"], /Unknown option '--bogus'/],
    ] as const
  ) {
    const r = await runCli([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stdout, "");
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("plugcheck check --in-process runs the checks in this process and gives the same verdicts", async () => {
  const r = await runCli(["check", REF_C, "--in-process", "--filter", "^(lifecycle|errors|buffers\\.free_null)"], {
    killAfterMs: 60_000,
  });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /13 checks: 12 passed, 1 skipped; none failed/);
  const bad = await runCli(["check", fault("bad_status"), "--in-process", "--filter", "^errors\\.statuses$"], {
    killAfterMs: 60_000,
  });
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /FAIL\s+errors\.statuses/);
});

Deno.test("plugcheck check --help teaches the flags, the config file and the exit codes", async () => {
  const r = await runCli(["check", "--help"]);
  assert.equal(r.code, 0);
  for (const flag of ["--filter", "--exclude", "--list", "--shard", "--seed", "--jobs", "--fuzz-runs", "--strict"]) {
    assert.ok(r.stdout.includes(flag), flag);
  }
  for (const flag of ["--in-process", "--config", "--junit", "--sarif", "--format"]) {
    assert.ok(r.stdout.includes(flag), flag);
  }
  assert.match(r.stdout, /plugcheck\.json/);
  assert.match(r.stdout, /Exit codes:/);
  const top = await runCli(["--help"]);
  assert.match(top.stdout, /check <library>/);
});

Deno.test("plugcheck check: a plugin name with terminal escapes is escaped in the header and the describe_schema line", async () => {
  // control_chars is named "control_chars\u001b]0;pwned\u0007\u001b[5m": it would set the terminal title and blink.
  const r = await runCli(["check", fault("control_chars"), "--filter", "^metadata\\.describe_schema$", "--seed", "1"], {
    killAfterMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  // Raw control characters are what the test looks for.
  // deno-lint-ignore no-control-regex
  const raw = /[\u0000-\u0009\u000b-\u001f\u007f]/;
  assert.ok(
    !raw.test(r.stdout),
    `raw control characters: ${JSON.stringify(r.stdout)}`,
  );
  const name = String.raw`control_chars\x1b]0;pwned\x07\x1b[5m 1.0.0`;
  assert.ok(r.stdout.includes(`(${name}, seed 1)`), r.stdout);
  assert.ok(r.stdout.includes(`metadata.describe_schema`) && r.stdout.includes(`${name}: 2 methods`), r.stdout);
  const json = await runCli([
    "check",
    fault("control_chars"),
    "--filter",
    "^metadata\\.describe_schema$",
    "--format",
    "json",
  ], {
    killAfterMs: 60_000,
  });
  assert.equal(JSON.parse(json.stdout).plugin.name, "control_chars\u001b]0;pwned\u0007\u001b[5m", "JSON stays exact");
});

Deno.test("runChecks() on a plugin whose describe() breaks a limit: describe_schema fails quickly, nothing times out", async () => {
  for (
    const [name, message] of [
      ["huge_description", /describe\(\) JSON is 10,000,195 bytes, over the limit of 1,048,576 \(1 MiB\)/],
      ["long_method_name", /invalid at methods\.1\.name: 4,998 bytes long, over the limit of 256/],
    ] as const
  ) {
    const report = await runChecks(fault(name), { seed: 1, fuzzRuns: 100 });
    const by = (id: string) => report.results.find((x) => x.id === id)!;
    assert.equal(report.exitCode, 1, name);
    assert.equal(by("metadata.describe_schema").status, "fail", name);
    assert.match(by("metadata.describe_schema").details, message);
    assert.ok(by("metadata.describe_schema").details.length < 200, "the limit named, the text not repeated");
    assert.equal(report.counts.timeout + report.counts.crash, 0, `${name}: ${JSON.stringify(report.counts)}`);
    assert.equal(report.stage, "init", "the plugin got as far as describe()");
  }
});

Deno.test("plugcheck check --strict passes a clean plugin that enforces max_instances 1: every engine fits it and says so", async () => {
  const report = await runChecks(fault("single_instance"), { seed: 1, strict: true, fuzzRuns: 500 });
  const bad = report.results.filter((x) => x.status !== "pass" && x.status !== "skip");
  assert.deepEqual(bad.map((x) => `${x.id}: ${x.details}`), []);
  assert.equal(report.exitCode, 0);
  const churn = report.results.find((x) => x.id === "resources.churn")!;
  assert.match(churn.details, /max_instances is 1: 1 churn loop instead of 4/);
  assert.equal(report.results.find((x) => x.id === "limits.max_instances")!.status, "pass");
});

Deno.test("writeWhole: check --in-process writes --junit and --sarif with normal modes after the plugin set umask 0777", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-umask-" });
  try {
    const [junit, sarif] = [join(dir, "check.xml"), join(dir, "check.sarif")];
    const r = await runCli([
      "check",
      fault("umask_all"),
      "--in-process",
      "--filter",
      "^lifecycle\\.signals$",
      "--seed",
      "1",
      "--junit",
      junit,
      "--sarif",
      sarif,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /changed the process umask from \d+ to 0777/);
    const mode = 0o666 & ~Deno.umask(); // what the CLI, started with this umask, must give its files
    for (const file of [junit, sarif]) assert.equal((await Deno.stat(file)).mode! & 0o777, mode, file);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runChecks: a check the run's signal interrupts is skipped as interrupted, not judged on what it saw since", async () => {
  // timeouts.calls on a method that never returns ends `timeout` when left alone; interrupted, it is no verdict.
  const abort = new AbortController();
  const report = await runChecks(fault("hang_invoke"), {
    filter: ["^timeouts\\.calls$"],
    seed: 1,
    onStart: () => setTimeout(() => abort.abort(), 300),
    signal: abort.signal,
  });
  assert.equal(report.results.length, 1);
  assert.equal(report.results[0]!.status, "skip", report.results[0]!.details);
  assert.match(report.results[0]!.details, /^interrupted while it ran \(timeout\)$/);
});

Deno.test("sweep() and probe() share one run among the checks of a run that ask the same, and run again for other options", async () => {
  const { sweep } = await import("../lib/check/sweep.ts");
  const { probe } = await import("../lib/check/run_probe.ts");
  const { DEFAULT_THRESHOLDS } = await import("../lib/check/config.ts");
  const ctx = {
    path: REF_C,
    shown: REF_C,
    seed: 1,
    isolate: false,
    thresholds: DEFAULT_THRESHOLDS,
    description: undefined,
    hasStats: false,
    load: {},
    signal: new AbortController().signal,
    fuzzSkip: [],
    shared: new Map<string, Promise<unknown>>(),
  };
  const a = sweep(ctx, { badInputs: true });
  // Another check's context of the same run: a copy with its own signal, the same `shared`.
  const b = sweep({ ...ctx, signal: new AbortController().signal }, { badInputs: true });
  const c = sweep(ctx);
  assert.equal(a, b);
  assert.notEqual(a, c);
  const [ra, rc] = await Promise.all([a, c]);
  assert.ok(ra.calls.some((call) => call.kind === "bad_input"));
  assert.ok(!rc.calls.some((call) => call.kind === "bad_input"));
  assert.equal(probe(ctx, "abi"), probe(ctx, "abi"));
  await probe(ctx, "abi");
  // Without `shared` (a check run on its own context), nothing is shared.
  const { shared: _, ...alone } = ctx;
  const [x, y] = [sweep(alone, { methods: [] }), sweep(alone, { methods: [] })];
  assert.notEqual(x, y);
  await Promise.all([x, y]);
});

Deno.test("smokeMs(): 250 ms of fuzzing a method by default, at most 5 s in all (one method may ask for more)", async () => {
  const { smokeMs, SMOKE_MAX_MS } = await import("../lib/check/checks/fuzz_smoke.ts");
  const { DEFAULT_THRESHOLDS } = await import("../lib/check/config.ts");
  assert.equal(DEFAULT_THRESHOLDS.fuzzRuns, undefined);
  assert.equal(smokeMs(DEFAULT_THRESHOLDS, 1), 250);
  assert.equal(smokeMs(DEFAULT_THRESHOLDS, 4), 1_000);
  assert.equal(smokeMs(DEFAULT_THRESHOLDS, 40), SMOKE_MAX_MS);
  assert.equal(smokeMs({ ...DEFAULT_THRESHOLDS, fuzzMsPerMethod: 8_000 }, 3), 8_000);
  const c = parseCheckConfig('{"check":{"thresholds":{"fuzz_ms_per_method":40}}}', "plugcheck.json");
  assert.equal(c.thresholds.fuzzMsPerMethod, 40);
  assert.equal(c.thresholds.fuzzRuns, undefined);
});

Deno.test("fuzz.smoke runs for its time budget by default and says how many runs at what rate; fuzzRuns makes it runs", async () => {
  const timed = await runChecks(REF_C, { seed: 1, filter: ["^fuzz\\.smoke$"] });
  const t = timed.results[0]!;
  assert.equal(t.status, "pass", t.details);
  const m = /^([\d,]+) runs of (\d+) methods \(([\d,]+) exec\/s\)/.exec(t.details);
  assert.ok(m, t.details);
  assert.ok(Number(m[1]!.replaceAll(",", "")) > 1_000, t.details);
  const counted = await runChecks(REF_C, { seed: 1, filter: ["^fuzz\\.smoke$"], fuzzRuns: 3_000 });
  assert.match(counted.results[0]!.details, /^3,000 runs of /);
});

Deno.test("ownerOf() names the check whose rule a fuzz finding breaks, and fuzz.smoke's evidence says it", async () => {
  const { ownerOf } = await import("../lib/check/checks/fuzz_smoke.ts");
  const owner = (kind: string, message = "") => ownerOf({ kind, message });
  assert.equal(owner("crash"), "errors.no_crash");
  assert.equal(owner("exit"), "errors.no_crash");
  assert.equal(owner("timeout"), "timeouts.calls");
  assert.equal(owner("leak", "live_buffers 1 -> 2"), "buffers.balanced");
  assert.equal(owner("leak", "live_instances 1 -> 2"), "resources.churn");
  assert.equal(owner("contract", "plugin returned status 42, which is not an npa status"), "errors.statuses");
  assert.equal(owner("contract", "plugin output is not valid JSON"), "outputs.json");
  assert.equal(owner("contract", "its error buffer is not valid UTF-8"), "errors.error_buffer");
  assert.equal(owner("contract", "claims 1099511627776 bytes"), "buffers.well_formed");
  assert.equal(owner("oom"), undefined);
  // A fixed run count (the finding came at run ~2,300 on seed 1): on a loaded machine a time budget may stop short.
  const report = await runChecks(fault("status_on_empty"), { seed: 1, filter: ["^fuzz\\.smoke$"], fuzzRuns: 20_000 });
  assert.equal(report.results[0]!.status, "fail");
  assert.match(report.results[0]!.evidence[0]!, /status 42.*\[breaks the rule of errors\.statuses\]/);
});
