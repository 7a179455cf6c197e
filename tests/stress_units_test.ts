/**
 * The stress engine's parts on their own: the seeded generator, the input
 * plan and the outcome book, the RSS trend and verdict, the verdicts that
 * name leftovers, the shared deadline timer, the stopper and the batch size.
 */
import assert from "node:assert/strict";
import { Prng } from "../lib/util/prng.ts";
import { OutcomeBook, planInputs, sameBytes } from "../lib/stress/plan.ts";
import { slope } from "../lib/stress/resources.ts";
import { BATCH_TARGET_MS, MAX_BATCH, nextBatchSize, Stopper } from "../lib/stress/loops.ts";
import { leftoverVerdicts, maxInstancesVerdict, rssVerdict } from "../lib/stress/verdicts.ts";
import { Deadlines, LATE_FIRE_MS } from "../lib/util/timers.ts";
import { InvalidInputError, PluginPanicError, UsageError } from "../lib/errors/errors.ts";
import type { PluginDescription } from "../lib/plugin/describe_schema.ts";

Deno.test("Prng replays the same sequence for a seed, differs across seeds and streams, and stays in range", () => {
  const take = (p: Prng) => Array.from({ length: 8 }, () => p.next());
  assert.deepEqual(take(new Prng(42)), take(new Prng(42)));
  assert.notDeepEqual(take(new Prng(42)), take(new Prng(43)));
  assert.notDeepEqual(take(new Prng(42, 1)), take(new Prng(42, 2)));
  const p = new Prng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = p.below(5);
    assert.ok(v >= 0 && v < 5 && Number.isInteger(v));
    seen.add(v);
  }
  assert.equal(seen.size, 5);
  assert.throws(() => new Prng(-1), RangeError);
  assert.throws(() => new Prng(2 ** 32), RangeError);
});

Deno.test("Prng gives the same values as when they were recorded (a seed replays forever)", () => {
  const p = new Prng(12345);
  assert.deepEqual([p.next(), p.next(), p.next()], [2407269127, 3079606827, 3141342157]);
  const q = new Prng(1, 3);
  assert.deepEqual([q.next(), q.below(1000)], [1819224713, 287]);
});

const DESCRIPTION: PluginDescription = {
  name: "p",
  version: "1",
  thread_safe_instances: true,
  methods: [
    {
      name: "echo",
      description: "",
      input: "bytes",
      pure: true,
      examples: [{ input: "a", output: "a" }, { input: "b" }],
    },
    { name: "count", description: "", input: "json", pure: false, examples: [{ input: "1", output: "1" }] },
    { name: "bare", description: "", input: "bytes", pure: true, examples: [] },
  ],
};

Deno.test("planInputs() takes every example of every method that has some, or the given input for named methods", () => {
  const all = planInputs(DESCRIPTION, {});
  assert.deepEqual(all.map((p) => `${p.method}:${p.source}`), ["echo:example 1", "echo:example 2", "count:example 1"]);
  assert.equal(new TextDecoder().decode(all[0]!.expected!), "a");
  const given = planInputs(DESCRIPTION, { methods: ["bare", "count"], input: new Uint8Array([1, 2]) });
  assert.deepEqual(given.map((p) => [p.method, p.source, p.bytes.length]), [["bare", "given input", 2], [
    "count",
    "given input",
    2,
  ]]);
  assert.throws(() => planInputs(DESCRIPTION, { methods: ["bare"] }), UsageError);
  assert.throws(
    () => planInputs(DESCRIPTION, { methods: ["nope"] }),
    /declares no method "nope"; its methods: echo, count, bare/,
  );
});

Deno.test("OutcomeBook counts wrong results of pure methods and failures an input did not give before", () => {
  const plan = planInputs(DESCRIPTION, {});
  const book = new OutcomeBook(plan);
  const bytes = (s: string) => new TextEncoder().encode(s);
  book.ok(0, bytes("a")); // matches the example's output
  book.ok(0, bytes("x")); // differs from the example's output
  book.ok(1, bytes("first")); // no expected output: remembered
  book.ok(1, bytes("first"));
  book.ok(1, bytes("second")); // differs from the first output
  book.ok(2, bytes("1"));
  book.ok(2, bytes("2")); // impure: not compared, not even with an example output
  assert.equal(book.wrong, 2);
  assert.equal(book.checked, 4);
  assert.match(book.wrongExamples[1]!.expected, /the first output for this input/);
  const invalid = new InvalidInputError("Cannot invoke: bad", { code: "INVALID_INPUT", status: 1 } as never);
  book.failed(2, invalid); // succeeded before: unexpected
  assert.equal(book.unexpected, 1);
  const fresh = new OutcomeBook(plan);
  fresh.failed(2, invalid); // first outcome: a failure, remembered
  fresh.failed(2, invalid); // the same failure again: expected
  assert.equal(fresh.unexpected, 0);
  fresh.failed(2, new PluginPanicError("boom", { code: "PANIC", status: 4 } as never)); // always wrong
  assert.equal(fresh.unexpected, 1);
});

Deno.test("OutcomeBook.expectedFailures counts by input the failures that repeat its first call's, and firstError() names it", () => {
  const plan = planInputs(DESCRIPTION, {});
  const book = new OutcomeBook(plan);
  const invalid = new InvalidInputError("Cannot invoke: bad", { code: "INVALID_INPUT", status: 1 } as never);
  book.failed(2, invalid);
  book.failed(2, invalid);
  book.failed(2, new PluginPanicError("boom", { code: "PANIC", status: 4 } as never)); // unexpected, not counted
  book.ok(1, new TextEncoder().encode("x"));
  book.failed(1, invalid); // succeeded first: unexpected, not counted
  assert.deepEqual(book.expectedFailures, [0, 0, 2]);
  assert.equal(book.firstError(2), "InvalidInputError");
  assert.equal(book.firstError(1), undefined);
  assert.equal(book.firstError(0), undefined);
  assert.equal(book.unexpected, 2);
});

Deno.test("sameBytes() compares word by word and byte by byte alike", () => {
  const a = new Uint8Array(100).map((_, i) => i);
  assert.ok(sameBytes(a, a.slice()));
  const b = a.slice();
  b[97] = 0;
  assert.ok(!sameBytes(a, b));
  b[97] = 97;
  b[3] = 0;
  assert.ok(!sameBytes(a, b));
  assert.ok(!sameBytes(a, a.subarray(0, 99)));
  assert.ok(sameBytes(a.subarray(1, 41), a.slice(1, 41))); // unaligned view
});

Deno.test("slope() fits a least-squares line, and rssVerdict() fails only growth beyond the limit that still grows", () => {
  assert.equal(slope([[0, 5], [1, 7], [2, 9], [3, 11]]), 2);
  assert.equal(slope([[0, 5], [1, 5]]), 0); // too few points
  assert.equal(slope([[1, 1], [1, 2], [1, 3]]), 0); // no spread in x
  const big = 200 * 2 ** 20;
  assert.equal(rssVerdict({ growthBytes: big, slopePer10k: 1024, maxMb: 64, per: "10k calls" }).status, "fail");
  assert.equal(rssVerdict({ growthBytes: big, slopePer10k: -1, maxMb: 64, per: "10k calls" }).status, "pass");
  assert.equal(
    rssVerdict({ growthBytes: 10 * 2 ** 20, slopePer10k: 9999, maxMb: 64, per: "10k calls" }).status,
    "pass",
  );
});

Deno.test("rssVerdict() reads in MiB: a pass gives no slope extrapolated from a short run, a failure its slope in the unit that fits", () => {
  const pass = rssVerdict({ growthBytes: 8.1 * 2 ** 20, slopePer10k: 200_497.5 * 1024, maxMb: 64, per: "10k calls" });
  assert.equal(pass.summary, "RSS grew 8.1 MiB; limit 64 MiB");
  assert.equal(pass.evidence.slope_bytes, Math.round(200_497.5 * 1024));
  const big = rssVerdict({ growthBytes: 200 * 2 ** 20, slopePer10k: 3 * 2 ** 20, maxMb: 64, per: "10k calls" });
  assert.equal(big.summary, "RSS grew 200.0 MiB (more than 64 MiB) and was still growing (+3.0 MiB per 10k calls)");
  const small = rssVerdict({ growthBytes: 200 * 2 ** 20, slopePer10k: 512, maxMb: 64, per: "cycle" });
  assert.match(small.summary, /\(\+0\.5 KiB per cycle\)$/);
});

Deno.test("leftoverVerdicts() name the threads and the kinds of descriptors left", () => {
  const [threads, fds] = leftoverVerdicts(["threads_after_destroy", "fds_after_destroy"], {
    before: { threads: 10, fds: 5 },
    after: { threads: 12, fds: 8 },
    leftThreads: [{ tid: 101, name: "flusher" }, { tid: 102, name: "flusher" }],
    leftFds: [{ fd: 6, target: "/dev/null" }, { fd: 7, target: "/dev/null" }, { fd: 8, target: "pipe:[4242]" }],
  }, "after every instance was destroyed");
  assert.equal(threads!.status, "fail");
  assert.match(threads!.summary, /2 more thread\(s\).*"flusher" x2 \(tids 101, 102\)/);
  assert.equal(fds!.status, "fail");
  assert.match(fds!.summary, /3 more open descriptor\(s\).*\/dev\/null x2, pipe/);
  const [ok] = leftoverVerdicts(["threads_after_shutdown", "fds_after_shutdown"], {
    before: { threads: 10, fds: 5 },
    after: { threads: 10, fds: 5 },
    leftThreads: [],
    leftFds: [],
  }, "after shutdown");
  assert.equal(ok!.status, "pass");
});

Deno.test("leftoverVerdicts() with attributed threads count only the plugin's: 32 more threads of Deno's are not blamed", () => {
  // Deno's blocking pool grew by 32 threads meanwhile; the helper recorded none of them as the plugin's.
  const [clean] = leftoverVerdicts(["threads_after_shutdown", "fds_after_shutdown"], {
    before: { threads: 10, fds: 5 },
    after: { threads: 42, fds: 5 },
    leftThreads: [],
    leftFds: [],
    attributed: true,
  }, "after npa_plugin_shutdown returned");
  assert.equal(clean!.status, "pass", clean!.summary);
  assert.equal(clean!.summary, "no thread the plugin started still runs after npa_plugin_shutdown returned");
  const spinner = { tid: 7, name: "spinner", module: "/x/libspin.so", start: "", cpuMs: 950, ageMs: 1000 };
  const [left] = leftoverVerdicts(["threads_after_destroy", "fds_after_destroy"], {
    before: { threads: 10, fds: 5 },
    after: { threads: 10, fds: 5 }, // a Deno thread ended meanwhile: the count alone would miss the plugin's
    leftThreads: [spinner],
    leftFds: [],
    attributed: true,
  }, "after every instance was destroyed");
  assert.equal(left!.status, "fail");
  assert.match(
    left!.summary,
    /1 more thread\(s\) the plugin started .*"spinner" \(tid 7, libspin\.so, 950 ms CPU in 1000 ms, 95% of a core\)/,
  );
});

Deno.test("maxInstancesVerdict() passes only RESOURCE_LIMIT for the instance beyond the limit", () => {
  assert.equal(maxInstancesVerdict({ kind: "refused", max: 4, error: "ResourceLimitError" }).status, "pass");
  assert.equal(maxInstancesVerdict({ kind: "refused", max: 4, error: "InternalPluginError" }).status, "fail");
  assert.equal(maxInstancesVerdict({ kind: "accepted", max: 4 }).status, "fail");
  assert.equal(
    maxInstancesVerdict({ kind: "refused_early", max: 4, live: 2, error: "ResourceLimitError" }).status,
    "fail",
  );
  assert.equal(maxInstancesVerdict({ kind: "undeclared" }).status, "skip");
});

Deno.test("Deadlines fire each due deadline once, in order, and never one that was met", async () => {
  const d = new Deadlines();
  const fired: string[] = [];
  d.add(60, () => fired.push("60"));
  const met = d.add(20, () => fired.push("met"));
  d.add(30, () => fired.push("30"));
  d.remove(met);
  d.remove(met); // twice is harmless
  assert.equal(d.size, 2);
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(fired, ["30", "60"]);
  assert.equal(d.size, 0);
  assert.equal(d.add(Infinity, () => fired.push("never")), -1);
});

Deno.test("Deadlines that fire far too late (a stopped process, a starved event loop) start again; a real hang still expires", async () => {
  const d = new Deadlines();
  const fired: number[] = [];
  const t0 = performance.now();
  d.add(50, () => fired.push(performance.now() - t0));
  // The event loop is held past the deadline by more than LATE_FIRE_MS, as a SIGSTOP holds the whole process.
  while (performance.now() - t0 < 50 + LATE_FIRE_MS + 100) { /* busy */ }
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(fired, [], "the held-up time is not the deadline's");
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(fired.length, 1, "it expires 50 ms after the process ran again");
});

Deno.test("Stopper stops after its calls, at its end time, on abort, or when told", () => {
  const byCalls = new Stopper({ calls: 2 });
  assert.deepEqual([byCalls.take(), byCalls.take(), byCalls.take()], [true, true, false]);
  const byTime = new Stopper({ durationMs: 50 });
  assert.equal(byTime.take(performance.now() + 60), false);
  const abort = new AbortController();
  const bySignal = new Stopper({}, abort.signal);
  assert.equal(bySignal.take(), true);
  abort.abort();
  assert.equal(bySignal.take(), false);
  assert.equal(bySignal.reason, "interrupted");
  const told = new Stopper({});
  told.stop("crashed");
  assert.equal(told.take(), false);
});

Deno.test("Stopper.takeUpTo() grants at most the calls left, and giveBack() returns calls that never started", () => {
  const s = new Stopper({ calls: 10 });
  assert.equal(s.takeUpTo(4), 4);
  assert.equal(s.takeUpTo(8), 6);
  assert.equal(s.takeUpTo(8), 0);
  s.giveBack(3); // a batch cut short: 3 of its calls never ran
  assert.equal(s.takeUpTo(2), 2);
  assert.equal(s.takeUpTo(2), 1);
  assert.equal(s.take(), false);
  const timed = new Stopper({ durationMs: 50 });
  assert.equal(timed.takeUpTo(256), 256);
  assert.equal(timed.takeUpTo(256, performance.now() + 60), 0);
  const told = new Stopper({});
  told.stop("crashed");
  assert.equal(told.takeUpTo(5), 0);
});

Deno.test("nextBatchSize() doubles a quick batch up to MAX_BATCH, halves a slow one, and follows a cut-short reply", () => {
  const quick = BATCH_TARGET_MS / 2, slow = BATCH_TARGET_MS * 3;
  assert.equal(nextBatchSize(1, 1, 1, quick), 2);
  assert.equal(nextBatchSize(MAX_BATCH, MAX_BATCH, MAX_BATCH, quick), MAX_BATCH);
  assert.equal(nextBatchSize(64, 64, 64, slow), 32);
  assert.equal(nextBatchSize(1, 1, 1, slow), 1, "a slow method stays one call per round trip");
  assert.equal(nextBatchSize(16, 16, 16, BATCH_TARGET_MS * 1.5), 16);
  assert.equal(nextBatchSize(64, 64, 10, quick), 10, "its outputs filled the reply at 10 calls");
  assert.equal(nextBatchSize(64, 3, 3, quick), 64, "the phase's last calls say nothing of the size");
});
