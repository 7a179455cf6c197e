/**
 * The stress engine through `runStress`: the reference plugins pass every
 * mode with no verdict, in process and in a sandbox child; latency
 * percentiles agree with a method of known latency; a crash and a hang end
 * the run with their verdict; loops never share an instance that is not
 * thread-safe; progress is reported. In a sandbox child the steady loop
 * sends its calls in batches: it counts every outcome as in process, and a
 * crash or hang inside a batch names its own call. (The fault fixtures,
 * each failing with exactly its verdict, are rows of docs/faults.md:
 * tests/faults_test.ts.)
 */
import assert from "node:assert/strict";
import {
  type InstanceHandle,
  loadPlugin,
  PluginCrashError,
  PluginTimeoutError,
  runStress,
  type StressReport,
  StressReportSchema,
} from "../mod.ts";
import { type Lane, Phase, steadyLoop, Stopper } from "../lib/stress/loops.ts";
import { OutcomeBook, type PlannedInput } from "../lib/stress/plan.ts";
import { Tally } from "../lib/stress/tally.ts";
import { fault, fuzzFixture, probe, REFERENCE_PLUGINS, text } from "./_helpers.ts";

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

for (const isolate of [false, true]) {
  const where = isolate ? " in a sandbox child (each call timed in the child)" : "";
  Deno.test(`runStress() reports latency percentiles that match sleep_ms, and a floor far below them${where}`, async () => {
    await latencyMatchesSleep(isolate);
  });
}

async function latencyMatchesSleep(isolate: boolean): Promise<void> {
  const report = await runStress(REFERENCE_PLUGINS[0]!.path, {
    methods: ["sleep_ms"],
    input: "20",
    iterations: 24,
    concurrency: 4,
    seed: 1,
    isolate,
  });
  const l = report.run.latency;
  assert.equal(l.count, 24);
  assert.ok(l.min_ms >= 20, `min ${l.min_ms} ms: a 20 ms sleep cannot return sooner`);
  assert.ok(l.p50_ms < 20 + 80, `p50 ${l.p50_ms} ms`);
  assert.ok(l.min_ms <= l.p50_ms && l.p50_ms <= l.p90_ms && l.p90_ms <= l.p99_ms, JSON.stringify(l));
  assert.ok(l.p99_ms <= l.p999_ms && l.p999_ms <= l.max_ms, JSON.stringify(l));
  assert.ok(report.floor!.latency.p50_ms < 5, `floor p50 ${report.floor!.latency.p50_ms} ms`);
  assert.ok(report.run.per_second > 0 && report.run.per_second < 4 * 1000 / 20 * 1.05, `${report.run.per_second}/s`);
}

/** What a run counted, for comparing two runs of the same calls. */
const counts = (r: StressReport) => ({
  calls: r.run.calls,
  ok: r.run.ok,
  failed: r.run.failed,
  errors: Object.fromEntries(Object.entries(r.run.errors).map(([name, e]) => [name, e.count])),
  latencies: r.run.latency.count,
  checked: r.outcomes.checked,
  wrong: r.outcomes.wrong,
  unexpected: r.outcomes.unexpected,
  // rss_growth is judged only from enough samples, and a fast run may take too few: left out.
  verdicts: r.verdicts.filter((v) => v.id !== "rss_growth").map((v) => `${v.id}: ${v.status}`),
});

for (
  const [what, path, options] of [
    ["every example of ref_c", REFERENCE_PLUGINS[0]!.path, {}],
    ["an input sum refuses", REFERENCE_PLUGINS[0]!.path, { methods: ["sum", "echo"], input: "[1, oops]" }],
    ["impure_pure's format", fault("impure_pure"), { methods: ["format"] }],
  ] as const
) {
  Deno.test(`runStress() in a sandbox child counts every outcome of its batches as in process (${what})`, async () => {
    // One loop: the same calls in the same order on both sides, so every count must match.
    const run = (isolate: boolean) =>
      runStress(path, { ...options, iterations: 1500, concurrency: 1, seed: 5, isolate });
    const [local, boxed] = [await run(false), await run(true)];
    assert.deepEqual(counts(boxed), counts(local));
    assert.equal(boxed.run.calls, 1500);
    assert.ok(boxed.run.latency.p50_ms > 0 && boxed.run.latency.p50_ms <= boxed.run.latency.max_ms);
  });
}

/** An instance that records the inputs of every batch it is given. */
function recording(inst: InstanceHandle, batches: string[][]): InstanceHandle {
  return {
    get state() {
      return inst.state;
    },
    invoke: (method, input, options) => inst.invoke(method, input, options),
    invokeBatch: (method, inputs, options) => inst.invokeBatch(method, inputs, options),
    invokeCalls: (calls, options) => {
      batches.push(calls.map((c) => text(c.input)));
      return inst.invokeCalls!(calls, options);
    },
    destroy: () => inst.destroy(),
    [Symbol.asyncDispose]: () => inst.destroy(),
  };
}

/** `n` inputs a method answers by echoing them (pure, with their expected output), and `bad` at index `at`. */
function planWith(method: string, n: number, bad: string, at: number): PlannedInput[] {
  const enc = new TextEncoder();
  const plan = Array.from({ length: n }, (_, i): PlannedInput => {
    const bytes = enc.encode(`input-${i}`);
    return { method, bytes, expected: bytes, pure: true, source: `input ${i}` };
  });
  plan[at] = { method, bytes: enc.encode(bad), expected: undefined, pure: true, source: "the bad one" };
  return plan;
}

/** Runs one steady loop on `path` in a sandbox child over `plan`; returns the phase, its batches and its time. */
async function loopOnce(path: string, plan: PlannedInput[], timeoutMs: number) {
  await using plugin = await loadPlugin(path, { isolate: true });
  const tally = new Tally();
  const book = new OutcomeBook(plan);
  const stop = new Stopper({ calls: 20_000 });
  const phase = new Phase({ plugin, plan, book, tally, stop, timeoutMs, seed: 3, config: undefined });
  const batches: string[][] = [];
  const lane: Lane = { instance: recording(await plugin.createInstance(), batches) };
  const t0 = performance.now();
  await steadyLoop(phase, 0, lane);
  return { phase, tally, book, batches, ms: performance.now() - t0 };
}

Deno.test("steadyLoop() in a sandbox child names the call that crashed inside a batch, and counts the calls before it", async () => {
  const { phase, tally, book, batches } = await loopOnce(
    fuzzFixture("two_bugs"),
    planWith("process", 40, "A-17", 23),
    5000,
  );
  assert.ok(phase.fatal instanceof PluginCrashError, `${phase.fatal}`);
  assert.equal(phase.fatal.signal, "SIGSEGV");
  assert.deepEqual(phase.fatal.request, {
    kind: "invoke",
    method: "process",
    inputs: [new TextEncoder().encode("A-17")],
  });
  const last = batches.at(-1)!;
  const at = last.indexOf("A-17");
  assert.ok(batches.length > 1 && last.length > 1 && at > 0, `the crash came inside a batch: ${last}`);
  // Every call of the earlier batches was judged (and right); the crash is one failed call; the calls after it
  // in its batch never ran, and those before it died with the child unjudged.
  const before = batches.slice(0, -1).reduce((n, b) => n + b.length, 0);
  assert.equal(tally.ok, before);
  assert.equal(tally.calls, before + 1);
  assert.equal(tally.errors.get("PluginCrashError")?.count, 1);
  assert.equal(book.checked, before);
  assert.equal(book.wrong, 0);
});

Deno.test("steadyLoop() in a sandbox child times out a hang inside a batch after its call's own deadline", async () => {
  const plan = planWith("wait", 40, "Hang", 31);
  const { phase, tally, batches, ms } = await loopOnce(fuzzFixture("hang_on_input"), plan, 400);
  assert.ok(phase.fatal instanceof PluginTimeoutError, `${phase.fatal}`);
  assert.equal(phase.fatal.timeoutMs, 400);
  assert.match(phase.fatal.message, /^Cannot invoke "wait": no reply within 400 ms; the sandbox child was killed$/);
  const last = batches.at(-1)!;
  assert.ok(last.length > 1 && last.indexOf("Hang") >= 0, `the hang came inside a batch: ${last}`);
  assert.equal(tally.timeouts, 1);
  assert.equal(tally.ok, batches.slice(0, -1).reduce((n, b) => n + b.length, 0));
  // The one call's deadline (and a look every 100 ms), not the batch's length times it.
  assert.ok(ms < 400 + 100 + 1500, `${ms} ms`);
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

Deno.test("runStress() fits its instances and churn loops to a plugin's max_instances 1 and says so", async () => {
  // single_instance enforces max_instances 1: a second live instance is RESOURCE_LIMIT, which would fail the run.
  const steady = await runStress(fault("single_instance"), { iterations: 60, seed: 1 });
  assert.deepEqual(failed(steady), []);
  assert.equal(steady.settings.instances, 1);
  assert.equal(steady.settings.concurrency, 4);
  assert.match(steady.settings.adapted ?? "", /max_instances is 1: 4 loops take turns on 1 instance instead of 4/);
  assert.equal(steady.verdicts.find((v) => v.id === "max_instances")?.status, "pass");
  assert.equal(steady.run.ok, 60);
  const churn = await runStress(fault("single_instance"), { churn: true, iterations: 40, seed: 1 });
  assert.deepEqual(failed(churn), []);
  assert.equal(churn.settings.concurrency, 1);
  assert.match(churn.settings.adapted ?? "", /1 churn loop instead of 4/);
  const fits = await runStress(fault("single_instance"), { iterations: 10, instances: 1, seed: 1 });
  assert.equal(fits.settings.adapted, null, "nothing to say when the run fits");
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
