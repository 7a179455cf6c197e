/**
 * Blame for a crash with calls in flight on several lanes: the call whose
 * thread faulted is the culprit, the others are named as also in flight, and
 * the repro line is the culprit's (one per candidate, each run alone, when
 * no culprit is known); heap damage found late may come from an earlier call.
 */
import assert from "node:assert/strict";
import { PluginCrashError, runStress } from "../mod.ts";
import { blameOf } from "../lib/sandbox/child_end.ts";
import { crashError } from "../lib/errors/host_errors.ts";
import { deathFinding } from "../lib/fuzz/crash/finding.ts";
import { crashData } from "../lib/stress/report_parts.ts";
import { crashVerdict } from "../lib/stress/verdicts.ts";
import { plain } from "../lib/report/paint.ts";
import { renderStressReport } from "../lib/report/stress_text.ts";
import { fault, REFERENCE_PLUGINS, runCli } from "./_helpers.ts";

const LIB = fault("crash_beside_echo");
const enc = (s: string) => new TextEncoder().encode(s);

/** The words of a repro line (plugcheck invoke LIB METHOD --input TEXT --isolate), quotes removed. */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

Deno.test("stress --isolate blames crash_beside_echo's bad (its thread faulted), never the ok calls beside it", async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const args = ["stress", LIB, "--method", "ok", "--method", "bad", "--input", "abc", "--isolate"];
    const r = await runCli([...args, "--concurrency", "4", "--duration", "5s", "--seed", String(seed), "--json"], {
      killAfterMs: 60_000,
    });
    assert.equal(r.code, 1, r.stderr);
    const crash = JSON.parse(r.stdout).crash;
    assert.equal(crash.signal, "SIGSEGV");
    assert.equal(crash.request?.method, "bad", `seed ${seed}: ${JSON.stringify(crash)}`);
    assert.equal(crash.input_base64, "YWJj");
    assert.match(crash.message, /^Cannot invoke "bad"/, "the culprit's own error is the one reported");
    assert.ok(Array.isArray(crash.also_in_flight), `seed ${seed}: the other calls in flight are listed`);
    assert.ok(crash.also_in_flight.every((c: { method: string }) => c.method === "ok"), JSON.stringify(crash));
  }
});

Deno.test("stress --isolate's repro line for crash_beside_echo is the culprit's, and it reproduces the crash", async () => {
  const args = ["stress", LIB, "--method", "ok", "--method", "bad", "--input", "abc", "--isolate"];
  const r = await runCli([...args, "--concurrency", "4", "--duration", "5s", "--seed", "7"], { killAfterMs: 60_000 });
  assert.equal(r.code, 1, r.stderr);
  const line = /^reproduce\s+(plugcheck .*)$/m.exec(r.stdout)?.[1];
  assert.ok(line !== undefined, r.stdout);
  assert.match(r.stdout, /^culprit\s+invoke "bad" \(its thread faulted\)$/m);
  const repro = await runCli([...words(line).slice(1), "--json"], { killAfterMs: 60_000 });
  assert.equal(repro.code, 1, repro.stderr);
  const error = JSON.parse(repro.stdout).error;
  assert.equal(error.name, "PluginCrashError");
  assert.equal(error.signal, "SIGSEGV");
});

Deno.test("check blames crash_beside_echo's bad in its stress checks, never the ok calls beside it", async () => {
  const filter = "^(threads\\.shared_instance|threads\\.distinct_instances|buffers\\.balanced)$";
  const r = await runCli(["check", LIB, "--filter", filter, "--seed", "1", "--format", "json"], {
    killAfterMs: 120_000,
  });
  assert.equal(r.code, 1, r.stderr);
  const results = JSON.parse(r.stdout).results as { id: string; status: string; details: string }[];
  assert.equal(results.length, 3, r.stdout);
  for (const c of results) {
    assert.equal(c.status, "crash", JSON.stringify(c));
    assert.match(c.details, /during invoke "bad" \(its thread faulted; \d+ other call\(s\) in flight\)/, c.details);
  }
});

const call = (method: string, input: string) => ({ kind: "invoke", method, inputs: [enc(input)] });
const SEGV = { signal: "SIGSEGV", stderrTail: "" };

Deno.test("crashData() with no culprit known lists every call in flight, and the text has one repro per call, each alone", async () => {
  const blame = blameOf({ reason: "crashed" }, undefined, [call("ok", "abc"), call("bad", "x"), call("ok", "abc")], "");
  assert.deepEqual(blame?.inFlight.map((c) => c.method), ["ok", "bad", "ok"]);
  assert.equal(blame?.culprit, undefined);
  const error = crashError('invoke "ok"', SEGV, call("ok", "abc"), blame);
  assert.match(error.message, /; 3 calls were in flight, which one faulted is not known$/);
  const data = crashData(error)!;
  assert.equal(data.culprit_known, false);
  assert.deepEqual(data.candidates, [{ method: "ok", input_base64: "YWJj" }, { method: "bad", input_base64: "eA==" }]);
  assert.equal(data.input_base64, undefined, "no single input is blamed");
  assert.match(crashVerdict(error).summary, /with 3 calls in flight, the faulting one not known/);
  const report = await runStress(REFERENCE_PLUGINS[0]!.path, { methods: ["echo"], iterations: 10, seed: 1 });
  report.crash = data;
  const text = renderStressReport(report, plain);
  assert.match(text, /^in flight {2}2 calls \(ok, bad\); which one faulted is not known$/m);
  assert.match(text, /^reproduce {2}plugcheck invoke \S+ ok --input abc --isolate {3}# alone$/m);
  assert.match(text, /^ {11}plugcheck invoke \S+ bad --input x --isolate {3}# alone$/m);
});

Deno.test("blameOf() says heap damage found late may come from an earlier call, and a fault outside any invoke names no culprit", () => {
  const tail = "free(): invalid pointer\n";
  const late = blameOf(
    { reason: "crashed" },
    { signal: "SIGABRT", call: call("ok", "abc") },
    [call("ok", "abc")],
    tail,
  );
  assert.equal(late?.mayBeEarlier, true);
  const error = crashError('invoke "ok"', { signal: "SIGABRT", stderrTail: tail }, call("ok", "abc"), late);
  assert.match(error.message, /heap damage found late: it may come from an earlier call/);
  assert.match(crashVerdict(error).summary, /it may come from an earlier call/);
  assert.equal(crashData(error)!.may_be_earlier, true);
  const outside = blameOf({ reason: "crashed" }, { signal: "SIGSEGV" }, [call("ok", "a"), call("bad", "b")], "");
  assert.equal(outside?.outsideCall, true);
  assert.equal(outside?.culprit, undefined);
  assert.match(crashError('invoke "ok"', SEGV, call("ok", "a"), outside).message, /the faulting thread ran no invoke/);
  assert.equal(blameOf({ reason: "timed_out" }, { signal: "SIGSEGV" }, [call("ok", "a")], ""), undefined);
  assert.ok(crashError("x", SEGV) instanceof PluginCrashError);
});

Deno.test("deathFinding() says a crash on another thread than the call's, or heap damage found late, may come from an earlier input", () => {
  const context = {
    pluginPath: "/x/lib.so",
    hostModule: "/x/libnpa_host.so",
    methods: ["parse"],
    job: 0,
    execs: 1,
    timeoutMs: 1000,
    rssLimitMb: 0,
    parseAsan: () => undefined,
  };
  const death = (loopThread: boolean, signal: string, stderrTail: string) =>
    deathFinding({
      signal,
      current: { bytes: enc("x"), method: 0, inCall: true },
      crash: { signal: 11, siCode: 1, address: 0n, tid: 2, loopThread, frames: [] },
      hangFrames: [],
      stderrTail,
    }, context)!.message;
  assert.equal(death(true, "SIGSEGV", ""), 'killed by SIGSEGV during invoke "parse"');
  assert.match(death(false, "SIGSEGV", ""), /on a thread other than the call's .*: it may come from an earlier input$/);
  assert.match(
    death(true, "SIGABRT", "double free or corruption (out)\n"),
    /^killed by SIGABRT during invoke "parse": double free or corruption \(out\); heap damage found late: it may come from an earlier input$/,
  );
});
