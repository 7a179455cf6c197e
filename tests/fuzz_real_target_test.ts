/**
 * `fuzz` on a real-world-shaped target (issue 20): `lf_dns_name_asan`, a DNS
 * name encoder with c-ares' one-byte heap overflow (CVE-2016-5180's shape),
 * built with AddressSanitizer and SanitizerCoverage, fuzzed as a libFuzzer
 * harness. Found on every seed; a seed with one job replays exactly (the
 * same first-finding execution count and artifact), also beside processes
 * burning both cores; one bug stays one finding; a crash under load is a
 * crash. Needs clang (`.ci/run` installs it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runFuzz } from "../lib/fuzz/parent/run_fuzz.ts";
import type { FuzzReport } from "../lib/fuzz/parent/report.ts";
import { deathFinding } from "../lib/fuzz/crash/finding.ts";
import { parseAsanReport } from "../lib/fuzz/crash/asan_report.ts";
import { coverageFixture, fuzzFixture, runCli } from "./_helpers.ts";

const DNS = () => coverageFixture("lf_dns_name_asan");

async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "plugcheck-fuzz-real-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Two processes that burn a core each until disposed (a loaded machine). */
function burners(): { [Symbol.asyncDispose](): Promise<void> } {
  const procs = [0, 1].map(() =>
    new Deno.Command("sh", { args: ["-c", "while :; do :; done"], stdout: "null", stderr: "null" }).spawn()
  );
  return {
    async [Symbol.asyncDispose]() {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.status));
    },
  };
}

/** The first finding of a one-job run on `seed` that stops there. */
async function firstFinding(seed: number, extra: Parameters<typeof runFuzz>[1] = {}): Promise<FuzzReport> {
  await using dir = await tempDir();
  return await runFuzz(DNS(), { runs: 300_000, seed, maxFindings: 1, artifactsDir: dir.path, ...extra });
}

Deno.test("runFuzz() finds the one-byte heap overflow in lf_dns_name_asan's encode_name on seeds 1-5", async () => {
  for (let seed = 1; seed <= 5; seed++) {
    const r = await firstFinding(seed);
    assert.equal(r.sanitizer, "asan");
    assert.equal(r.run.stopped, "max-findings", `seed ${seed}: ${r.run.execs} execs, nothing found`);
    const f = r.findings[0]!;
    assert.equal(f.kind, "crash");
    assert.match(f.message, /AddressSanitizer: heap-buffer-overflow/);
    assert.match(f.location ?? "", /encode_name .*lf_dns_name_asan\.c:\d+/);
    assert.ok(f.first_execs > 0 && f.first_execs <= r.run.execs, `first_execs ${f.first_execs} of ${r.run.execs}`);
  }
});

Deno.test("runFuzz() with one job replays a seed exactly: same first-finding execs and artifact, idle or beside two busy cores", async () => {
  const first = async () => {
    const f = (await firstFinding(3)).findings[0]!;
    return { execs: f.first_execs, sha1: f.input.sha1, key: f.key };
  };
  const a = await first();
  const b = await first();
  assert.deepEqual(b, a);
  {
    await using _load = burners();
    assert.deepEqual(await first(), a, "the same under load");
  }
});

Deno.test("runFuzz() keeps one finding for the one bug across a run of many crashes", async () => {
  await using dir = await tempDir();
  const r = await runFuzz(DNS(), { runs: 40_000, seed: 4, artifactsDir: dir.path });
  assert.equal(r.findings.length, 1, JSON.stringify(r.findings.map((f) => f.key)));
  assert.ok(r.findings[0]!.count > 1, `the bug was met more than once: ${r.findings[0]!.count}`);
});

Deno.test("runFuzz() under load names the crash a crash, with a deadline shorter than ASan's report takes", async () => {
  await using _load = burners();
  const r = await firstFinding(2, { timeoutMs: 100 });
  const f = r.findings[0]!;
  assert.equal(f.kind, "crash", `${f.kind}: ${f.message}`);
  assert.match(f.message, /heap-buffer-overflow/);
});

Deno.test("runFuzz() in the fork server keeps fuzzing through a crash storm: one finding, a worker per crash", async () => {
  await using dir = await tempDir();
  const r = await runFuzz(coverageFixture("lf_crash_third_asan"), { runs: 600, seed: 1, artifactsDir: dir.path });
  assert.equal(r.run.stopped, "runs");
  assert.equal(r.run.execs, 600);
  assert.equal(r.findings.length, 1, JSON.stringify(r.findings.map((f) => f.key)));
  const f = r.findings[0]!;
  // A new worker after each crash (none after one that spent the budget).
  assert.ok(
    f.count >= 100 && r.run.restarts >= f.count - 1 && r.run.restarts <= f.count,
    `${f.count} crashes, ${r.run.restarts} restarts`,
  );
  assert.match(
    f.message,
    /heap-buffer-overflow \(WRITE of size 1\) in overflow_by_one at .*lf_crash_third_asan\.c:\d+/,
  );
  assert.equal(f.key, `memory:liblf_crash_third_asan.so+${/\+(0x[0-9a-f]+)\)$/.exec(f.location ?? "")?.[1]}`);
  // The plugin's first frame leads the stack; libc's abort and ASan's runtime are the runtime frames above it.
  assert.match(f.frames?.[0]?.module ?? "", /liblf_crash_third_asan\.so$/);
  assert.equal(f.frames?.[0]?.function, "overflow_by_one");
  assert.ok(f.runtime_frames?.some((fr) => /libc\.so/.test(fr.module)), JSON.stringify(f.runtime_frames));
});

Deno.test("runFuzz() in a Deno fuzz child (forkServer: false) replays the fork server's run: same first finding", async () => {
  const served = (await firstFinding(2)).findings[0]!;
  const child = (await firstFinding(2, { forkServer: false })).findings[0]!;
  assert.deepEqual([child.first_execs, child.input.sha1, child.key], [
    served.first_execs,
    served.input.sha1,
    served.key,
  ]);
});

Deno.test("runFuzz() reports heap damage glibc found once, with glibc's words, without a sanitizer", async () => {
  await using dir = await tempDir();
  const r = await runFuzz(fuzzFixture("lf_heap_corrupt"), { runs: 20_000, seed: 1, artifactsDir: dir.path });
  assert.equal(r.sanitizer, null);
  assert.equal(r.findings.length, 1, JSON.stringify(r.findings.map((f) => [f.key, f.message])));
  const f = r.findings[0]!;
  assert.equal(f.kind, "abort");
  assert.ok(f.count > 1, `met more than once: ${f.count}`);
  assert.match(f.message, /killed by SIGABRT .*: (?:free|malloc|realloc|munmap_chunk|double free|corrupted)[^;]*/);
});

Deno.test("deathFinding() calls a child killed at the deadline while dying of a crash a crash, not a hang", () => {
  const context = {
    pluginPath: "/x/libp.so",
    hostModule: "/x/libnpa_host.so",
    methods: ["m"],
    job: 0,
    execs: 5,
    timeoutMs: 100,
    rssLimitMb: 0,
    parseAsan: parseAsanReport,
  };
  const base = {
    signal: "SIGKILL",
    killedFor: "timeout" as const,
    current: { bytes: new Uint8Array([1]), method: 0, inCall: true },
    crash: undefined,
    hangFrames: [],
    stderrTail: "",
  };
  assert.equal(deathFinding(base, context)?.kind, "timeout");
  const report = [
    "==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6 at pc 0x5 bp 0x7 sp 0x7",
    "WRITE of size 1 at 0x6 thread T0",
    "    #0 0x5 (/x/libp.so+0x2e49)",
    "",
    "SUMMARY: AddressSanitizer: heap-buffer-overflow (/x/libp.so+0x2e49)",
    "Shadow bytes around the buggy address:",
  ].join("\n");
  const asan = deathFinding({ ...base, stderrTail: report }, context);
  assert.equal(asan?.kind, "crash");
  assert.equal(asan?.key, "memory:libp.so+0x2e49");
  // ASan names the same write by where the buffer ends: another label, the same bug.
  const relabelled = deathFinding(
    { ...base, stderrTail: report.replaceAll("heap-buffer-overflow", "unknown-crash") },
    context,
  );
  assert.equal(relabelled?.key, asan?.key);
  // A report cut off before its SUMMARY is no proof: a hang that began one is still a hang.
  assert.equal(
    deathFinding({ ...base, stderrTail: report.split("\n").slice(0, 3).join("\n") }, context)?.kind,
    "timeout",
  );
  const recorded = deathFinding({
    ...base,
    crash: {
      signal: 11,
      siCode: 1,
      address: 0n,
      tid: 1,
      loopThread: true,
      frames: [{ module: "/x/libp.so", offset: 16 }],
    },
  }, context);
  assert.deepEqual([recorded?.kind, recorded?.signal, recorded?.key], ["crash", "SIGSEGV", "signal:libp.so+0x10"]);
});

Deno.test("plugcheck fuzz and --replay show an ASan finding's summary and the plugin's frames, never the legend", async () => {
  await using dir = await tempDir();
  const run = await runCli(["fuzz", DNS(), "--seed", "1", "--max-findings", "1", "--artifacts", dir.path]);
  assert.equal(run.code, 1, run.stderr);
  // The report shows the sanitizer's stack too, symbolized, from the plugin's frame.
  assert.match(run.stdout, /^ +stack +#0 encode_name at .*lf_dns_name_asan\.c:\d+/m);
  const f = { artifact: /^ +artifact +(\S+)$/m.exec(run.stdout)![1]! };
  const out = await runCli(["fuzz", DNS(), "--replay", f.artifact]);
  assert.equal(out.code, 1, out.stderr);
  assert.match(
    out.stdout,
    /^ {2}SUMMARY: AddressSanitizer: heap-buffer-overflow in encode_name at .*lf_dns_name_asan\.c:\d+/m,
  );
  assert.match(out.stdout, /^ {4}#0 encode_name at .*lf_dns_name_asan\.c:\d+/m);
  assert.doesNotMatch(out.stdout + out.stderr, /Shadow byte legend/);
  const json = JSON.parse((await runCli(["fuzz", DNS(), "--replay", f.artifact, "--format", "json"])).stdout);
  assert.match(json.finding.location, /^encode_name at /);
});

/** A corpus directory holding `inputs`, one file each. */
function corpusOf(dir: string, inputs: string[]): string {
  const path = `${dir}/seeds`;
  Deno.mkdirSync(path);
  inputs.forEach((s, i) => Deno.writeTextFileSync(`${path}/${i}`, s));
  return path;
}

Deno.test("runFuzz() in the fork server names a hang asleep and a hang computing, each with its frames", async () => {
  for (const [seed, fn] of [["H", "sleep_forever"], ["S", "spin_forever"]]) {
    await using dir = await tempDir();
    const corpus = corpusOf(dir.path, [seed!]);
    const r = await runFuzz(fuzzFixture("lf_slow_or_hang"), {
      runs: 50,
      seed: 1,
      timeoutMs: 300,
      maxFindings: 1,
      corpus: [corpus],
      artifactsDir: dir.path,
    });
    const f = r.findings[0];
    assert.equal(f?.kind, "timeout", JSON.stringify(r.findings));
    assert.match(f.location ?? "", new RegExp(fn!), f.location);
  }
});

Deno.test("runFuzz() does not call a slow call a hang when every core is busy: the deadline counts its CPU", async () => {
  await using dir = await tempDir();
  // 150 ms of CPU a call, a 250 ms deadline; beside three processes burning the two cores, a call takes ~300 ms of
  // wall time (a deadline on the clock alone would call each a hang), and under 4 x 250 ms.
  const corpus = corpusOf(dir.path, ["W", "Wa", "Wb"]);
  const load = [0, 1, 2].map(() =>
    new Deno.Command("sh", { args: ["-c", "while :; do :; done"], stdout: "null", stderr: "null" }).spawn()
  );
  try {
    const r = await runFuzz(fuzzFixture("lf_slow_or_hang"), {
      runs: 3,
      seed: 1,
      timeoutMs: 250,
      corpus: [corpus],
      artifactsDir: join(dir.path, "out"),
    });
    assert.deepEqual(r.findings.map((f) => f.kind), []);
    assert.equal(r.run.execs, 3);
  } finally {
    for (const p of load) p.kill("SIGKILL");
    await Promise.all(load.map((p) => p.status));
  }
});
