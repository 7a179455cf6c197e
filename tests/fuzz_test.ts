/**
 * The fuzz engine through its library API (`runFuzz`, `minimizeInput`):
 * short, seeded, bounded runs against the fuzz fixtures (fixtures/fuzz/),
 * each a bug planted in a named function. `deno task build` builds them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { minimizeInput } from "../lib/fuzz/parent/minimize.ts";
import { type FuzzReport, FuzzReportSchema } from "../lib/fuzz/parent/report.ts";
import { runFuzz } from "../lib/fuzz/parent/run_fuzz.ts";
import { sha1Hex } from "../lib/fuzz/parent/artifacts.ts";
import { Prng } from "../lib/util/prng.ts";
import { fixture, fuzzFixture, runCli, text } from "./_helpers.ts";

const enc = new TextEncoder();

async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "plugcheck-fuzz-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** The files a run left in `dir` (no temporary or input files). */
function filesIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

function only<T>(items: readonly T[], what: string): T {
  assert.equal(items.length, 1, `expected one ${what}, got ${items.length}`);
  return items[0]!;
}

Deno.test("runFuzz() finds the crash behind a 2-byte magic (seed 1, at most 200,000 runs) and writes it as libFuzzer would", async () => {
  await using dir = await tempDir();
  const corpus = join(dir.path, "corpus");
  const report = await runFuzz(fuzzFixture("magic_prefix"), {
    runs: 200_000,
    seed: 1,
    artifactsDir: dir.path,
    corpus: [corpus],
  });
  FuzzReportSchema.parse(report);
  assert.equal(report.ok, false);
  assert.equal(report.run.execs, 200_000);
  const f = only(report.findings, "finding");
  assert.equal(f.kind, "crash");
  assert.equal(f.signal, "SIGSEGV");
  assert.match(f.location ?? "", /parse_record at .*magic_prefix\.c:\d+/);
  const input = Deno.readFileSync(f.artifact);
  assert.equal(text(input.subarray(0, 2)), "FZ");
  assert.equal(f.artifact, join(dir.path, `crash-${sha1Hex(input)}`), "artifacts are named crash-<sha1>");
  const sidecar = JSON.parse(Deno.readTextFileSync(`${f.artifact}.json`));
  assert.equal(sidecar.kind, "crash");
  assert.equal(sidecar.method, "parse");
  assert.equal(sidecar.count, f.count);
  assert.equal(sidecar.seed, 1);
  assert.match(
    sidecar.repro,
    /^plugcheck invoke .*libmagic_prefix\.so parse --input-file .*crash-[0-9a-f]{40} --isolate$/,
  );
  assert.deepEqual(filesIn(dir.path), ["corpus", `crash-${f.input.sha1}`, `crash-${f.input.sha1}.json`]);
  // New corpus entries went to the corpus directory, each named by the SHA-1 of its bytes.
  const entries = filesIn(corpus);
  assert.ok(entries.length > 0, "the corpus grew");
  for (const name of entries) assert.equal(name, sha1Hex(Deno.readFileSync(join(corpus, name))));
});

Deno.test("runFuzz() with the same seed and one job gives the same inputs and findings", async () => {
  const summary = async () => {
    await using dir = await tempDir();
    const r = await runFuzz(fuzzFixture("magic_prefix"), { runs: 100_000, seed: 7, artifactsDir: dir.path });
    return {
      findings: r.findings.map((f) => ({ key: f.key, sha1: f.input.sha1, count: f.count })),
      corpus: r.corpus.size,
      restarts: r.run.restarts,
    };
  };
  const a = await summary();
  const b = await summary();
  assert.ok(a.findings.length > 0, "the run finds the crash");
  assert.deepEqual(a, b);
});

Deno.test("runFuzz() counts ten crashes of one bug as one finding (smallest input kept) and two bugs as two", async () => {
  await using dir = await tempDir();
  const corpus = join(dir.path, "seeds");
  Deno.mkdirSync(corpus);
  // Ten different inputs that hit bug_null_write ('A'), two that hit bug_abort ('B').
  for (let i = 0; i < 10; i++) Deno.writeFileSync(join(corpus, `a${i}`), enc.encode(`A${"x".repeat(9 - i)}`));
  Deno.writeFileSync(join(corpus, "b0"), enc.encode("B"));
  Deno.writeFileSync(join(corpus, "b1"), enc.encode("Byy"));
  const report = await runFuzz(fuzzFixture("two_bugs"), {
    runs: 40,
    seed: 1,
    artifactsDir: join(dir.path, "out"),
    corpus: [corpus],
  });
  assert.equal(report.findings.length, 2, JSON.stringify(report.findings.map((f) => f.key)));
  const segv = report.findings.find((f) => f.signal === "SIGSEGV")!;
  const abort = report.findings.find((f) => f.signal === "SIGABRT")!;
  assert.equal(segv.kind, "crash");
  assert.ok(segv.count >= 10, `one finding for the ten crashes: count ${segv.count}`);
  assert.equal(text(Deno.readFileSync(segv.artifact)), "A", "the smallest input is kept");
  assert.match(segv.location ?? "", /bug_null_write/);
  assert.equal(abort.kind, "abort");
  assert.ok(abort.count >= 2);
  assert.equal(text(Deno.readFileSync(abort.artifact)), "B");
  assert.match(abort.location ?? "", /bug_abort/);
  assert.ok(report.run.restarts >= 11, `a fresh child after each crash: ${report.run.restarts} restarts`);
  // Only the kept artifacts are on disk (the bigger inputs they replaced were removed).
  assert.deepEqual(
    filesIn(join(dir.path, "out")),
    [
      ...[segv, abort].flatMap((f) => [`crash-${f.input.sha1}`, `crash-${f.input.sha1}.json`]),
    ].sort(),
  );
});

Deno.test("runFuzz() reports a hang as a timeout finding, with the stuck thread's frames", async () => {
  await using dir = await tempDir();
  const report = await runFuzz(fuzzFixture("hang_on_input"), {
    runs: 20_000,
    seed: 1,
    timeoutMs: 300,
    artifactsDir: dir.path,
  });
  const f = only(report.findings, "finding");
  assert.equal(f.kind, "timeout");
  assert.match(f.artifact, /\/timeout-[0-9a-f]{40}$/);
  assert.equal(text(Deno.readFileSync(f.artifact))[0], "H");
  assert.match(f.location ?? "", /wait_forever/);
  assert.match(f.repro, /--timeout 300$/);
});

Deno.test("runFuzz() reports what the child judges itself: PANIC status, broken contracts, leaks", async () => {
  await using dir = await tempDir();
  const report = await runFuzz(fuzzFixture("fuzz_findings"), { runs: 400_000, seed: 1, artifactsDir: dir.path });
  const by = Object.fromEntries(report.findings.map((f) => [f.method, f]));
  assert.deepEqual(
    Object.keys(by).sort(),
    ["bad_error", "bad_status", "leak", "not_json", "null_out", "panic_status"],
    JSON.stringify(report.findings.map((f) => [f.method, f.kind, f.message])),
  );
  assert.equal(report.findings.length, 6, "one finding per bug");
  assert.equal(by.panic_status!.kind, "panic");
  assert.equal(by.panic_status!.error?.name, "PluginPanicError");
  assert.equal(by.bad_status!.kind, "contract");
  assert.match(by.bad_status!.message, /status 42, which is not an npa status/);
  assert.match(by.bad_error!.message, /error buffer is not valid UTF-8/);
  assert.match(by.not_json!.message, /output is not valid JSON/);
  assert.ok(Deno.readFileSync(by.not_json!.artifact).includes(0x37), "the non-JSON output came from an input with a 7");
  assert.match(by.null_out!.message, /NULL output pointer with length 5/);
  assert.equal(by.leak!.kind, "leak");
  assert.match(by.leak!.artifact, /\/leak-[0-9a-f]{40}$/);
  assert.match(by.leak!.message, /live_buffers rose/);
  assert.equal(text(Deno.readFileSync(by.leak!.artifact))[0], "L");
  assert.equal(report.run.restarts, 0, "none of these kills the child");
});

Deno.test("runFuzz() fuzzes a libFuzzer harness (detected, LLVMFuzzerInitialize run first)", async () => {
  await using dir = await tempDir();
  // lf_init_crash crashes on 'X' only once LLVMFuzzerInitialize has armed it.
  const report = await runFuzz(fuzzFixture("lf_init_crash"), { runs: 30_000, seed: 1, artifactsDir: dir.path });
  assert.equal(report.target, "libfuzzer");
  assert.deepEqual(report.methods, ["LLVMFuzzerTestOneInput"]);
  const f = only(report.findings, "finding");
  assert.equal(f.signal, "SIGSEGV");
  assert.match(f.location ?? "", /lf_bug at .*lf_init_crash\.c:\d+/);
  assert.equal(text(Deno.readFileSync(f.artifact))[0], "X");
  assert.match(f.repro, /^plugcheck fuzz .*liblf_init_crash\.so --replay /);
});

Deno.test("runFuzz() runs an ASan build with the runtime preloaded and names the overflow and its file:line", async () => {
  await using dir = await tempDir();
  const report = await runFuzz(fuzzFixture("asan_overflow"), { runs: 60_000, seed: 1, artifactsDir: dir.path });
  assert.equal(report.sanitizer, "asan");
  const f = only(report.findings, "finding");
  assert.equal(f.asan?.errorType, "heap-buffer-overflow");
  assert.match(f.asan?.location ?? "", /^asan_overflow\.c:\d+$/);
  assert.match(f.message, /heap-buffer-overflow \(WRITE of size 1\) in copy_record at .*asan_overflow\.c:\d+/);
  assert.equal(text(Deno.readFileSync(f.artifact))[0], "O");
});

Deno.test("runFuzz() with a dictionary tries its words: the magic is found within 2,000 runs", async () => {
  await using dir = await tempDir();
  const report = await runFuzz(fuzzFixture("magic_prefix"), {
    runs: 2_000,
    seed: 1,
    artifactsDir: dir.path,
    dictionary: [enc.encode("FZ")],
  });
  assert.equal(only(report.findings, "finding").kind, "crash");
});

Deno.test("runFuzz() on a correct plugin finds nothing and says how fast it ran", async () => {
  await using dir = await tempDir();
  const report = await runFuzz(fixture("ref_c"), {
    methods: ["echo", "upper", "sum"],
    runs: 30_000,
    seed: 1,
    artifactsDir: dir.path,
  });
  assert.equal(report.ok, true, JSON.stringify(report.findings));
  assert.equal(report.run.execs, 30_000);
  assert.ok(report.run.per_second > 0);
  assert.equal(report.leak_checks, true);
  assert.deepEqual(filesIn(dir.path), [], "nothing left behind");
});

Deno.test("runFuzz() splits the runs over --jobs children", async () => {
  await using dir = await tempDir();
  const report: FuzzReport = await runFuzz(fixture("ref_c"), {
    methods: ["echo"],
    runs: 20_001,
    jobs: 2,
    seed: 3,
    artifactsDir: dir.path,
  });
  assert.equal(report.jobs, 2);
  assert.equal(report.run.execs, 20_001);
});

Deno.test("minimizeInput() shrinks a padded crashing input to its essential bytes", async () => {
  await using dir = await tempDir();
  const padded = enc.encode(`FZ${"-".repeat(300)}`);
  const r = await minimizeInput(fuzzFixture("magic_prefix"), padded, { artifactsDir: dir.path });
  assert.equal(r.reproduced, true);
  assert.equal(text(r.input), "FZ");
  assert.match(r.key ?? "", /^signal:/);
});

Deno.test("minimizeInput() says so when the input does not reproduce", async () => {
  await using dir = await tempDir();
  const r = await minimizeInput(fuzzFixture("magic_prefix"), enc.encode("hello"), { artifactsDir: dir.path });
  assert.equal(r.reproduced, false);
  assert.equal(text(r.input), "hello");
});

Deno.test("a finding's repro command reproduces it", async () => {
  await using dir = await tempDir();
  const report = await runFuzz(fuzzFixture("two_bugs"), {
    runs: 5_000,
    seed: 1,
    artifactsDir: dir.path,
    dictionary: [enc.encode("A")],
  });
  const f = report.findings.find((x) => x.signal === "SIGSEGV")!;
  assert.ok(f, "found the crash");
  const words = f.repro.split(" ");
  assert.equal(words[0], "plugcheck");
  const r = await runCli([...words.slice(1), "--format", "json"]);
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.error.name, "PluginCrashError");
  assert.equal(doc.error.signal, "SIGSEGV");
});

for (
  const [where, forkServer, mb] of [["a Deno fuzz child", false, 10], ["a fork server's worker", true, 1]] as const
) {
  Deno.test(`runFuzz() reports ${where} over --rss-limit as an oom finding (oom-<sha1>)`, async () => {
    await using dir = await tempDir();
    // Any Deno child is over 10 MiB, any worker (forked from a server that loaded the plugin) over 1 MiB: every
    // process is an out-of-memory finding of the same bug.
    const report = await runFuzz(fixture("ref_c"), {
      methods: ["echo"],
      durationMs: 1500,
      rssLimitMb: mb,
      timeoutMs: 100,
      seed: 1,
      artifactsDir: dir.path,
      forkServer,
    });
    const f = only(report.findings, "finding");
    assert.equal(f.kind, "oom");
    assert.match(f.artifact, /\/oom-[0-9a-f]{40}$/);
    assert.match(f.message, new RegExp(`RSS went over ${mb} MiB`));
    assert.ok(Deno.statSync(f.artifact).isFile);
  });
}

Deno.test("runFuzz() counts durationMs from the first inputs run, not from the start of its child", async () => {
  // A sandbox child takes ~0.2 s to start: counted from the run's start, 100 ms would stop it before any input ran.
  const artifactsDir = Deno.makeTempDirSync();
  try {
    const report = await runFuzz(fixture("ref_c"), { methods: ["echo"], durationMs: 100, seed: 1, artifactsDir });
    assert.equal(report.run.stopped, "duration");
    assert.ok(report.run.execs > 100, `${report.run.execs} execs`);
  } finally {
    Deno.removeSync(artifactsDir, { recursive: true });
  }
});

Deno.test("sha1Hex names inputs as node:crypto's SHA-1 does, at every length around the block edges and beyond", async () => {
  const { createHash } = await import("node:crypto");
  const prng = new Prng(11);
  for (const n of [0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 70_000]) {
    const bytes = new Uint8Array(n).map(() => prng.next() & 0xff);
    assert.equal(sha1Hex(bytes), createHash("sha1").update(bytes).digest("hex"), `${n} bytes`);
  }
  // FIPS 180 test vectors.
  assert.equal(sha1Hex(new Uint8Array(0)), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  const two = new TextEncoder().encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  assert.equal(sha1Hex(two), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
});
