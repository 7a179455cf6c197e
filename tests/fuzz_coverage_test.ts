/**
 * Coverage-guided fuzzing: plugins built with clang's SanitizerCoverage
 * (fixtures/fuzz/cov_magic.c and friends, which need clang: `.ci/run`
 * installs it) run with plugcheck's coverage runtime preloaded; new edges
 * grow the corpus, comparison operands feed the mutator. Short, seeded,
 * bounded runs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha1Hex } from "../lib/fuzz/parent/artifacts.ts";
import { appendEntry, INBOX_HEADER, readEntries } from "../lib/fuzz/inbox.ts";
import { FuzzJob } from "../lib/fuzz/parent/job.ts";
import { mergeCorpus } from "../lib/fuzz/parent/merge.ts";
import { type FuzzOptions, resolveFuzzOptions } from "../lib/fuzz/parent/options.ts";
import { prepareRun } from "../lib/fuzz/parent/prepare_run.ts";
import { type FuzzReport, FuzzReportSchema } from "../lib/fuzz/parent/report.ts";
import { runFuzz } from "../lib/fuzz/parent/run_fuzz.ts";
import { MergeReportSchema } from "../mod.ts";
import { coverageFixture, fuzzFixture, runCli, text } from "./_helpers.ts";

const enc = new TextEncoder();

async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "plugcheck-cov-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

function writeInputs(dir: string, inputs: readonly string[]): void {
  Deno.mkdirSync(dir, { recursive: true });
  for (const s of inputs) Deno.writeFileSync(join(dir, sha1Hex(enc.encode(s))), enc.encode(s));
}

/** Fuzzes a method of the cov_magic fixture (one job unless told); findings go to a temporary directory unless told. */
async function fuzzCovMagic(method: string, o: FuzzOptions): Promise<FuzzReport> {
  await using dir = await tempDir();
  return await runFuzz(coverageFixture("cov_magic"), { methods: [method], artifactsDir: dir.path, ...o });
}

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => text(Deno.readFileSync(join(dir, e.name)))).sort();
}

Deno.test('runFuzz() guided by coverage finds the crash behind memcmp(input, "FUZZ", 4) within 200,000 runs (seed 1)', async () => {
  await using dir = await tempDir();
  const report = await fuzzCovMagic("magic", { runs: 200_000, seed: 1, artifactsDir: dir.path });
  FuzzReportSchema.parse(report);
  assert.ok(report.coverage !== null, "the run is guided");
  assert.ok(report.coverage.instrumented > 0 && report.coverage.edges > 0);
  const crash = report.findings.find((f) => f.kind === "crash");
  assert.ok(crash, `a crash is found: ${JSON.stringify(report.findings.map((f) => f.kind))}`);
  assert.match(crash.location ?? "", /magic_record at .*cov_magic\.c:\d+/);
  assert.equal(text(Deno.readFileSync(crash.artifact).subarray(0, 4)), "FUZZ");
  // Children after the first leave out operands of the known bug, so it is not rebuilt at every other input.
  assert.ok(report.run.restarts <= 5, `no crash storm: ${report.run.restarts} restarts`);
});

Deno.test("runFuzz() guided with two jobs finds the bug and reports the coverage", async () => {
  const report = await fuzzCovMagic("magic", { durationMs: 1500, jobs: 2, seed: 4 });
  assert.equal(report.jobs, 2);
  assert.ok(report.coverage !== null && report.coverage.edges > 0);
  assert.equal(report.findings.filter((f) => f.kind === "crash").length, 1, "one bug, found once");
});

Deno.test("runFuzz() guided by coverage finds the abort behind a 4-byte integer compare within 200,000 runs (seed 2)", async () => {
  await using dir = await tempDir();
  const report = await fuzzCovMagic("number", { runs: 200_000, seed: 2, artifactsDir: dir.path });
  const abort = report.findings.find((f) => f.kind === "abort");
  assert.ok(abort, `an abort is found: ${JSON.stringify(report.findings.map((f) => f.kind))}`);
  const input = Deno.readFileSync(abort.artifact);
  assert.equal(new DataView(input.buffer).getUint32(0, true), 0x5eed1e55);
});

Deno.test("runFuzz() without coverage guidance (or the binary's words) does not get past the same memcmp in the same budget", async () => {
  // The binary dictionary would hand the blind run "FUZZ" (binary_dictionary_test.ts): this is mutation alone.
  const report = await fuzzCovMagic("magic", { runs: 200_000, seed: 1, coverage: false, binaryDictionary: false });
  assert.equal(report.coverage, null);
  assert.deepEqual(report.findings, [], "blind mutation does not find a 4-byte magic in 200,000 runs");
});

Deno.test("runFuzz() guided grows the corpus only on new coverage, not on new answers", async () => {
  // `length` answers with the input's length as text: a new answer length at 10, 100, 1000 bytes,
  // but the same code path for every input. Blind fuzzing keeps those answers; guided does not.
  const guided = await fuzzCovMagic("length", { runs: 100_000, seed: 3, binaryDictionary: false });
  const blind = await fuzzCovMagic("length", { runs: 100_000, seed: 3, coverage: false, binaryDictionary: false });
  assert.ok(guided.coverage !== null);
  assert.ok(blind.corpus.found >= 2, `blind fuzzing keeps new answer lengths (${blind.corpus.found})`);
  assert.ok(
    guided.corpus.found <= guided.coverage.features,
    `each entry brought a new feature: ${guided.corpus.found} entries, ${guided.coverage.features} features`,
  );
  assert.ok(guided.corpus.found < blind.corpus.found, `${guided.corpus.found} < ${blind.corpus.found}`);
});

Deno.test("runFuzz() guided works with --target libfuzzer and with AddressSanitizer", async () => {
  await using dir = await tempDir();
  const harness = await runFuzz(coverageFixture("lf_cov_magic"), { runs: 100_000, seed: 1, artifactsDir: dir.path });
  assert.equal(harness.target, "libfuzzer");
  assert.ok(harness.coverage !== null && harness.coverage.edges > 0);
  assert.match(harness.findings[0]?.location ?? "", /lf_magic_bug/);
  const asan = await runFuzz(coverageFixture("cov_magic_asan"), {
    methods: ["magic"],
    runs: 100_000,
    seed: 1,
    artifactsDir: dir.path,
  });
  assert.equal(asan.sanitizer, "asan");
  assert.ok(asan.coverage !== null && asan.coverage.edges > 0);
  const crash = asan.findings.find((f) => f.kind === "crash");
  assert.match(crash?.message ?? "", /AddressSanitizer: SEGV/);
});

Deno.test("mergeCorpus() keeps a subset with all the coverage, survives a crashing input, and a second merge adds nothing", async () => {
  await using dir = await tempDir();
  const a = join(dir.path, "a"), b = join(dir.path, "b"), out = join(dir.path, "out"), again = join(dir.path, "again");
  // Two paths of `magic` (shorter than 4 bytes, and 4 or more that are not FUZZ), many inputs each, and one crash.
  writeInputs(a, ["x", "yy", "zzz", "abcd", "abcde", "abcdef"]);
  writeInputs(b, ["q", "qq", "FUZZ!", "wxyz", "hello world"]);
  const r = await mergeCorpus(coverageFixture("cov_magic"), out, [a, b], {
    methods: ["magic"],
    artifactsDir: dir.path,
  });
  assert.equal(r.candidates, 11);
  assert.ok(r.coverage !== null);
  assert.ok(r.added >= 2 && r.added < 10, `a few inputs keep the coverage: ${entries(out)}`);
  assert.ok(!entries(out).includes("FUZZ!"), "the crashing input is left out");
  assert.equal(r.findings.length, 1);
  assert.equal(r.findings[0]!.kind, "crash");
  // Smallest first: the 1-byte input stands for the short path.
  assert.ok(entries(out).some((e) => e.length === 1));
  // Everything the candidates reach, the merged corpus reaches: merging them all again adds nothing.
  const second = await mergeCorpus(coverageFixture("cov_magic"), out, [a, b], {
    methods: ["magic"],
    artifactsDir: dir.path,
  });
  assert.equal(second.added, 0);
  assert.deepEqual(second.coverage, r.coverage);
  // And the merged corpus alone has that coverage.
  const third = await mergeCorpus(coverageFixture("cov_magic"), again, [out], {
    methods: ["magic"],
    artifactsDir: dir.path,
  });
  assert.equal(third.added, r.added);
  assert.deepEqual(third.coverage, r.coverage);
});

Deno.test("fuzz --merge on the CLI: exit 0, JSON summary; a merge of several methods is a usage error", async () => {
  await using dir = await tempDir();
  const a = join(dir.path, "a"), out = join(dir.path, "out");
  writeInputs(a, ["x", "abcd", "abce"]);
  const lib = coverageFixture("cov_magic");
  const art = ["--artifacts", dir.path];
  const ok = await runCli(["fuzz", lib, "--merge", out, a, "--method", "length", "--format", "json", ...art]);
  assert.equal(ok.code, 0, ok.stderr);
  const doc = MergeReportSchema.parse(JSON.parse(ok.stdout));
  assert.equal(doc.candidates, 3);
  assert.equal(doc.added, entries(out).length);
  const many = await runCli(["fuzz", lib, "--merge", out, a, ...art]);
  assert.equal(many.code, 2);
  assert.match(many.stderr, /A merge runs one method/);
  const lone = await runCli(["fuzz", lib, "--merge", out, ...art]);
  assert.equal(lone.code, 2);
  const stray = await runCli(["fuzz", lib, a, ...art]);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /need --merge/);
});

Deno.test("appendEntry()/readEntries() carry inputs through an inbox, never a partial entry", () => {
  const inbox = new Uint8Array(64);
  let used = 0;
  for (const [s, m] of [["abc", 0], ["", 1], ["hello", 2]] as const) {
    const e = appendEntry(enc.encode(s), m, used, inbox.length)!;
    inbox.set(e.bytes, INBOX_HEADER + used);
    used = e.used;
  }
  assert.equal(appendEntry(new Uint8Array(40), 0, used, inbox.length), undefined, "a full inbox refuses");
  // The count covers two entries: the third is not read yet.
  const second = 8 + 4 + 8;
  new DataView(inbox.buffer).setUint32(0, second, true);
  const first = readEntries(inbox, 0);
  assert.deepEqual(first.entries.map((e) => [text(e.input), e.method]), [["abc", 0], ["", 1]]);
  new DataView(inbox.buffer).setUint32(0, used, true);
  const rest = readEntries(inbox, first.cursor);
  assert.deepEqual(rest.entries.map((e) => [text(e.input), e.method]), [["hello", 2]]);
});

Deno.test("FuzzJob.share() hands a running child another job's entry, which it runs", async () => {
  // Blind (coverage and the binary's words off), the child cannot find the 4-byte value; handed the input, it runs
  // it and aborts.
  await using dir = await tempDir();
  const o = resolveFuzzOptions({
    methods: ["number"],
    seed: 1,
    artifactsDir: dir.path,
    coverage: false,
    binaryDictionary: false,
  });
  const run = await prepareRun(coverageFixture("cov_magic"), o);
  const job = new FuzzJob(0, run.session);
  const fuzzing = job.fuzz(null);
  try {
    const started = Date.now();
    while (job.execs < 1000 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(run.book.all.length, 0, "nothing found blind");
    const magic = new Uint8Array(4);
    new DataView(magic.buffer).setUint32(0, 0x5eed1e55, true);
    job.share(magic, 0);
    while (run.book.all.length === 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(run.book.all[0]?.kind, "abort");
  } finally {
    run.session.stopping = true;
    job.stop();
    await fuzzing;
  }
});

Deno.test("invoke loads an instrumented plugin in process (the coverage runtime goes first) and isolated", async () => {
  const lib = coverageFixture("cov_magic");
  for (const extra of [[], ["--isolate"]]) {
    const r = await runCli(["invoke", lib, "length", "--input", "hello", ...extra]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "5");
  }
  // An uninstrumented plugin does not get the runtime (nothing else changes).
  const plain = await runCli(["invoke", fuzzFixture("magic_prefix"), "parse", "--input", "hello"]);
  assert.equal(plain.code, 0, plain.stderr);
});
