/**
 * A known bug's budget and what findings leave on disk: a method that hangs
 * on every input is one timeout finding and is retired instead of costing a
 * deadline per input (`budget.ts`, `watchdog.ts`); `--max-findings` stops a
 * run; two findings never share an artifact (`finding_book.ts`); a crash in
 * the host's log function on the plugin's bad pointer is found by fuzz even
 * though the fuzz child keeps logs off; a stack overflow is one bug.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FuzzReportSchema } from "../mod.ts";
import { DeathBudget, QUICK_EXECS, RETIRE_AFTER } from "../lib/fuzz/parent/budget.ts";
import { FindingBook } from "../lib/fuzz/parent/finding_book.ts";
import { runFuzz } from "../lib/fuzz/parent/run_fuzz.ts";
import { dyingMs, knownHangMs } from "../lib/fuzz/parent/watchdog.ts";
import { deathFinding, type FindingCandidate } from "../lib/fuzz/crash/finding.ts";
import { fault, fuzzFixture, runCli, tempDir, text } from "./_helpers.ts";

const enc = new TextEncoder();

Deno.test("runFuzz() on a method that hangs on every input: one timeout finding, the method retired, a bounded run", async () => {
  await using dir = await tempDir();
  const report = await runFuzz(fault("segv_handler_refaults"), {
    runs: 20_000,
    seed: 1,
    timeoutMs: 1000,
    artifactsDir: dir.path,
  });
  FuzzReportSchema.parse(report);
  // The hang is caught at two places (the store, the handler it re-enters): still one finding.
  assert.equal(report.findings.length, 1, JSON.stringify(report.findings.map((f) => f.key)));
  const f = report.findings[0]!;
  assert.equal(f.kind, "timeout");
  assert.equal(f.method, "refault");
  assert.equal(f.key, "timeout:refault");
  assert.ok(f.count >= 2, `later hangs are counted: ${f.count}`);
  assert.match(f.message, /within 1000 ms$/, "the kept input hung for the whole timeout");
  // Every hang costs a child; without the budget each of the 20,000 inputs of refault would.
  assert.ok(report.run.restarts <= RETIRE_AFTER + 2, `${report.run.restarts} restarts`);
  assert.ok(report.warnings.some((w) => /"refault" retired/.test(w)), report.warnings.join("\n"));
  // The other method goes on with the rest of the runs.
  assert.equal(report.run.stopped, "runs");
  assert.equal(report.run.execs, 20_000);
  const sidecar = JSON.parse(Deno.readTextFileSync(f.sidecar));
  assert.equal(sidecar.key, "timeout:refault");
  assert.equal(sidecar.count, f.count);
});

Deno.test("runFuzz() retires every method: the run ends early, stopped: retired", async () => {
  await using dir = await tempDir();
  const report = await runFuzz(fault("segv_handler_refaults"), {
    methods: ["refault"],
    runs: 1_000_000,
    seed: 1,
    timeoutMs: 300,
    artifactsDir: dir.path,
  });
  assert.equal(report.findings.length, 1);
  assert.equal(report.run.stopped, "retired");
  assert.ok(report.run.execs < 1_000_000);
  assert.ok(report.warnings.some((w) => /nothing is left to fuzz/.test(w)), report.warnings.join("\n"));
});

Deno.test("knownHangMs() gives a method that hung a tenth of the timeout (100 ms to the timeout); dyingMs() more", () => {
  assert.equal(knownHangMs(2000), 200);
  assert.equal(knownHangMs(500), 100);
  assert.equal(knownHangMs(50), 50);
  // A child visibly dying of something else (an ASan report being symbolized) gets longer, never less.
  assert.equal(dyingMs(2000), 10_000);
  assert.equal(dyingMs(5000), 15_000);
});

Deno.test("DeathBudget retires a method after RETIRE_AFTER quick repeats in a row, not for fresh seeds or slow ones", () => {
  const quick = { method: 0, repeat: true, freshSeed: false, fuzzedExecs: 3 };
  const b = new DeathBudget();
  for (let i = 1; i < RETIRE_AFTER; i++) assert.equal(b.death(quick), false);
  // A user's seed that crashes like a known bug neither counts nor clears.
  assert.equal(b.death({ ...quick, freshSeed: true }), false);
  assert.equal(b.death(quick), true);
  // A repeat found after real fuzzing (a rare input found again) clears the strikes.
  const c = new DeathBudget();
  for (let i = 1; i < RETIRE_AFTER; i++) c.death(quick);
  assert.equal(c.death({ ...quick, fuzzedExecs: QUICK_EXECS }), false);
  assert.equal(c.death(quick), false);
  // A new bug is no strike.
  const d = new DeathBudget();
  for (let i = 0; i < 2 * RETIRE_AFTER; i++) assert.equal(d.death({ ...quick, repeat: false }), false);
});

Deno.test("plugcheck fuzz --max-findings 1 stops at the first distinct finding (exit 1)", async () => {
  await using dir = await tempDir();
  const corpus = join(dir.path, "seeds");
  Deno.mkdirSync(corpus);
  // Two bugs on two seeds: 'A' (SIGSEGV), then 'B' (SIGABRT).
  Deno.writeFileSync(join(corpus, "a"), enc.encode("A"));
  Deno.writeFileSync(join(corpus, "b"), enc.encode("B"));
  const args = ["fuzz", fuzzFixture("two_bugs"), "--runs", "2000", "--seed", "1", "--corpus", corpus, "--json"];
  const all = await runCli([...args, "--artifacts", join(dir.path, "all")]);
  assert.equal(all.code, 1, all.stderr);
  assert.equal(FuzzReportSchema.parse(JSON.parse(all.stdout)).findings.length, 2);
  const one = await runCli([...args, "--artifacts", join(dir.path, "one"), "--max-findings", "1"]);
  assert.equal(one.code, 1, one.stderr);
  const report = FuzzReportSchema.parse(JSON.parse(one.stdout));
  assert.equal(report.findings.length, 1);
  assert.equal(report.run.stopped, "max-findings");
  assert.ok(report.run.execs < 2000);
  const bad = await runCli([...args, "--max-findings", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-findings/);
});

function candidate(key: string, input: Uint8Array, extra: Partial<FindingCandidate> = {}): FindingCandidate {
  return { kind: "crash", method: "m", input, key, message: key, execs: 1, job: 0, ...extra };
}

Deno.test("FindingBook.add() never gives two findings one artifact or sidecar, even for one input", async () => {
  await using dir = await tempDir();
  const book = new FindingBook(dir.path, () => ({}));
  const input = enc.encode("deep");
  // One input, two keys (a stack overflow that faulted at two depths).
  const a = book.add(candidate("crash:SIGSEGV:lib.so+0x10", input)).finding;
  const b = book.add(candidate("crash:SIGSEGV:lib.so+0x24", input)).finding;
  assert.notEqual(a.artifact, b.artifact);
  assert.notEqual(a.sidecar, b.sidecar);
  for (const f of [a, b]) {
    assert.equal(text(Deno.readFileSync(f.artifact)), "deep");
    assert.equal(JSON.parse(Deno.readTextFileSync(f.sidecar)).key, f.key, "each sidecar is its own finding's");
  }
  assert.equal(a.artifact, join(dir.path, `crash-${a.sha1}`), "the first keeps libFuzzer's name");
  // A smaller duplicate of b moves b's files; a third bug on that smaller input gets its own.
  const small = enc.encode("d");
  book.add(candidate("crash:SIGSEGV:lib.so+0x24", small));
  const c = book.add(candidate("crash:SIGSEGV:lib.so+0x99", small)).finding;
  const paths = book.all.flatMap((f) => [f.artifact, f.sidecar]);
  assert.equal(new Set(paths).size, 6, paths.join("\n"));
  for (const f of book.all) assert.equal(JSON.parse(Deno.readTextFileSync(f.sidecar)).key, f.key);
  assert.ok(c.artifact.startsWith(join(dir.path, "crash-")));
  // Nothing else is on disk: b's first artifact was removed, a's was not.
  assert.equal([...Deno.readDirSync(dir.path)].length, 6);
});

Deno.test("runFuzz() finds the crash of a plugin that logs through a bad pointer, with logs off, in the plugin's call", async () => {
  await using dir = await tempDir();
  const report = await runFuzz(fault("log_bad_pointer"), {
    methods: ["note"],
    runs: 2000,
    seed: 1,
    artifactsDir: dir.path,
  });
  const f = report.findings.find((x) => x.method === "note");
  assert.ok(f, JSON.stringify(report.findings));
  assert.equal(f.kind, "crash");
  assert.equal(f.signal, "SIGSEGV");
  assert.match(f.location ?? "", /log_bad_pointer/, "located in the plugin, not in plugcheck's log function");
});

Deno.test("deathFinding() keys a stack overflow by its recursion, whatever instruction and depth it faulted at", () => {
  const lib = "/x/libdeep.so";
  const context = {
    pluginPath: lib,
    hostModule: "/x/libnpa_host.so",
    methods: ["nest"],
    job: 0,
    execs: 1,
    timeoutMs: 1000,
    rssLimitMb: 0,
    parseAsan: () => undefined,
  };
  const death = (top: number, depth: number) =>
    deathFinding({
      signal: "SIGSEGV",
      current: { bytes: enc.encode("[".repeat(depth)), method: 0, inCall: true },
      crash: {
        signal: 11,
        siCode: 1,
        address: 0x7ffd0000n,
        tid: 1,
        loopThread: true,
        frames: [
          { module: lib, offset: top },
          ...Array.from({ length: 40 }, () => ({ module: lib, offset: 0x11cd })),
        ],
      },
      hangFrames: [],
      stderrTail: "",
    }, context)!;
  const a = death(0x119f, 5000), b = death(0x11a8, 7000);
  assert.equal(a.key, b.key);
  assert.equal(a.key, "signal:recursion:libdeep.so+0x11cd");
  // Without a repeated frame, the top frames still tell two crashes apart.
  const flat = (top: number) =>
    deathFinding({
      signal: "SIGSEGV",
      current: { bytes: enc.encode("x"), method: 0, inCall: true },
      crash: { signal: 11, siCode: 1, address: 0n, tid: 1, loopThread: true, frames: [{ module: lib, offset: top }] },
      hangFrames: [],
      stderrTail: "",
    }, context)!;
  assert.notEqual(flat(0x10).key, flat(0x20).key);
  // A crash in a shallow recursion (plugcheck's loop is in the record: no overflow) keeps its top frames.
  const shallow = (top: number) =>
    deathFinding({
      signal: "SIGSEGV",
      current: { bytes: enc.encode("[["), method: 0, inCall: true },
      crash: {
        signal: 11,
        siCode: 1,
        address: 0n,
        tid: 1,
        loopThread: true,
        frames: [
          { module: lib, offset: top },
          { module: lib, offset: 0x11cd },
          { module: lib, offset: 0x11cd },
          { module: context.hostModule, offset: 0x500 },
        ],
      },
      hangFrames: [],
      stderrTail: "",
    }, context)!;
  assert.notEqual(shallow(0x10).key, shallow(0x20).key);
});
