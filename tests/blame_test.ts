/**
 * Blame for a crash with calls in flight on several lanes: the call whose
 * thread faulted is the culprit, the others are named as also in flight, and
 * the repro line is the culprit's (one per candidate, each run alone, when
 * no culprit is known); heap damage found late may come from an earlier call.
 */
import assert from "node:assert/strict";
import { PluginCrashError } from "../mod.ts";
import { blameOf } from "../lib/sandbox/child_end.ts";
import { crashData } from "../lib/stress/report_parts.ts";
import { fault, runCli } from "./_helpers.ts";

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
