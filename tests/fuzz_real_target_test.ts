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
import { runFuzz } from "../lib/fuzz/parent/run_fuzz.ts";
import type { FuzzReport } from "../lib/fuzz/parent/report.ts";
import { coverageFixture } from "./_helpers.ts";

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
