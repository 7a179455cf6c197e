/**
 * The stress engine through `runStress`: the reference plugins pass every
 * mode with no verdict, in process and in a sandbox child; latency
 * percentiles agree with a method of known latency; a crash and a hang end
 * the run with their verdict; loops never share an instance that is not
 * thread-safe; progress is reported. (The fault fixtures, each failing with
 * exactly its verdict, are rows of docs/faults.md: tests/faults_test.ts.)
 */
import assert from "node:assert/strict";
import { runStress, type StressReport, StressReportSchema } from "../mod.ts";
import { fault, probe, REFERENCE_PLUGINS } from "./_helpers.ts";

const failed = (r: StressReport) => r.verdicts.filter((v) => v.status === "fail").map((v) => `${v.id}: ${v.summary}`);

for (const isolate of [false, true]) {
  const where = isolate ? "in a sandbox child" : "in process";
  for (const { name, path } of REFERENCE_PLUGINS) {
    for (const mode of ["steady", "churn", "reload"] as const) {
      Deno.test(`runStress() passes ${name} in ${mode} mode ${where} with no verdict`, async () => {
        const report = await runStress(path, {
          isolate,
          seed: 11,
          ...mode === "reload" ? { reload: 3 } : { iterations: isolate ? 600 : 2000, churn: mode === "churn" },
        });
        StressReportSchema.parse(report);
        assert.deepEqual(failed(report), [], JSON.stringify(report.verdicts, null, 1));
        assert.equal(report.ok, true);
        assert.equal(report.mode, mode);
        assert.equal(report.plugin.isolated, isolate);
        if (mode === "reload") {
          assert.equal(report.reload?.completed, 3);
          for (const c of report.reload!.per_cycle) assert.equal(c.shutdown?.left_threads.length, 0);
        } else {
          assert.equal(report.run.calls, isolate ? 600 : 2000);
          // Every example of every method ran, and pure outputs were compared.
          assert.ok(report.outcomes.checked > 0);
          assert.equal(report.verdicts.find((v) => v.id === "max_instances")?.status, "pass");
          assert.ok(report.floor !== null && report.floor.calls > 0);
        }
        assert.ok(
          report.verdicts.every((v) => v.status !== "skip" || v.id === "rss_growth"),
          JSON.stringify(report.verdicts),
        );
      });
    }
  }
}

Deno.test("runStress() reports latency percentiles that match sleep_ms, and a floor far below them", async () => {
  const report = await runStress(REFERENCE_PLUGINS[0]!.path, {
    methods: ["sleep_ms"],
    input: "20",
    iterations: 24,
    concurrency: 4,
    seed: 1,
  });
  const l = report.run.latency;
  assert.equal(l.count, 24);
  assert.ok(l.min_ms >= 20, `min ${l.min_ms} ms: a 20 ms sleep cannot return sooner`);
  assert.ok(l.p50_ms < 20 + 80, `p50 ${l.p50_ms} ms`);
  assert.ok(l.min_ms <= l.p50_ms && l.p50_ms <= l.p90_ms && l.p90_ms <= l.p99_ms, JSON.stringify(l));
  assert.ok(l.p99_ms <= l.p999_ms && l.p999_ms <= l.max_ms, JSON.stringify(l));
  assert.ok(report.floor!.latency.p50_ms < 5, `floor p50 ${report.floor!.latency.p50_ms} ms`);
  assert.ok(report.run.per_second > 0 && report.run.per_second < 4 * 1000 / 20 * 1.05, `${report.run.per_second}/s`);
});

Deno.test("runStress() ends the run on a crash in the sandbox child and reports it with the call that crashed", async () => {
  const report = await runStress(fault("segfault"), {
    isolate: true,
    methods: ["crash"],
    input: "",
    iterations: 50,
    seed: 1,
  });
  StressReportSchema.parse(report);
  assert.deepEqual(report.verdicts.filter((v) => v.status === "fail").map((v) => v.id), ["crash"]);
  assert.equal(report.crash?.signal, "SIGSEGV");
  assert.equal((report.crash?.request as { method?: string } | undefined)?.method, "crash");
  assert.match(report.stopped_early ?? "", /crash/);
  assert.ok(report.run.calls < 50);
  for (const id of ["leaked_instances", "leaked_buffers", "threads_after_destroy", "fds_after_destroy"]) {
    assert.equal(report.verdicts.find((v) => v.id === id)?.status, "skip", id);
  }
});

Deno.test("runStress() ends the run on a hang in the sandbox child with a timeout verdict", async () => {
  const report = await runStress(fault("hang_invoke"), {
    isolate: true,
    methods: ["hang"],
    input: "",
    durationMs: 30_000,
    timeoutMs: 300,
    seed: 1,
  });
  assert.deepEqual(report.verdicts.filter((v) => v.status === "fail").map((v) => v.id), ["timeouts"]);
  assert.equal(report.crash?.name, "PluginTimeoutError");
  assert.ok(report.elapsed_ms < 15_000, `${report.elapsed_ms} ms: the hang must end the run, not the 30 s duration`);
});

Deno.test("runStress() never lets two loops into one instance of a plugin without thread_safe_instances", async () => {
  // serial_probe's `enter` fails if two calls are inside one instance at once.
  const report = await runStress(probe("serial_probe"), {
    methods: ["enter"],
    input: "1",
    instances: 1,
    concurrency: 4,
    iterations: 80,
    seed: 1,
  });
  assert.deepEqual(failed(report), []);
  assert.equal(report.settings.instances, 1);
  assert.equal(report.run.ok, 80);
});

Deno.test("runStress() gives a plugin without thread_safe_instances one instance per loop by default", async () => {
  const report = await runStress(probe("serial_probe"), { methods: ["enter"], input: "0", iterations: 40, seed: 1 });
  assert.equal(report.settings.instances, report.settings.concurrency);
  assert.deepEqual(failed(report), []);
});

Deno.test("runStress() reports progress while it runs, and stops early when its signal aborts", async () => {
  const seen: string[] = [];
  const abort = new AbortController();
  const report = await runStress(REFERENCE_PLUGINS[0]!.path, {
    methods: ["echo"],
    durationMs: 60_000,
    seed: 1,
    signal: abort.signal,
    onProgress: (p) => {
      seen.push(p.phase);
      if (p.phase === "run" && p.calls > 0) abort.abort();
    },
  });
  assert.ok(seen.includes("run"));
  assert.equal(report.stopped_early, "interrupted");
  assert.ok(report.elapsed_ms < 30_000);
  assert.deepEqual(failed(report), []);
});

Deno.test("runStress() refuses bad options with a UsageError before loading anything", async () => {
  const path = REFERENCE_PLUGINS[0]!.path;
  const cases: [Parameters<typeof runStress>[1], RegExp][] = [
    [{ churn: true, reload: 2 }, /churn and reload/],
    [{ churn: true, instances: 2 }, /instances applies/],
    [{ reload: 2, iterations: 10 }, /reload runs/],
    [{ durationMs: 100, iterations: 10 }, /not both/],
    [{ concurrency: 17 }, /concurrency must be an integer from 1 to 16/],
    [{ seed: -1 }, /seed/],
    [{ maxRssGrowthMb: 0 }, /maxRssGrowthMb/],
    [{ input: "x" }, /--method/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(
      runStress("/nonexistent/libnothing.so", options),
      { name: "UsageError", message },
      JSON.stringify(options),
    );
  }
  await assert.rejects(runStress(path, { methods: ["nope"], iterations: 10 }), {
    name: "UsageError",
    message: /declares no method "nope"/,
  });
});
