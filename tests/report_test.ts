/**
 * The report room's shared parts on their own: the units every text report
 * shows numbers in, the one way colour is chosen for a stream, the progress
 * lines, and the documents of `fuzz --minimize/--replay/--merge`, `load`
 * and `harness` against their schemas and renderers.
 */
import assert from "node:assert/strict";
import { colorWanted, paintFor, plain } from "../lib/report/paint.ts";
import { compactCount, count, duration, mib, plural, rate } from "../lib/report/units.ts";
import { groupDigits } from "../lib/util/digits.ts";
import { Prng } from "../lib/util/prng.ts";
import { fuzzStatus, stressStatus } from "../lib/report/progress.ts";
import { MinimizeReportSchema, renderMinimizeReport } from "../lib/report/fuzz_minimize.ts";
import { renderReplayReport, replayReport, ReplayReportSchema, replayStderrLines } from "../lib/report/fuzz_replay.ts";
import { MergeReportSchema, renderMergeReport } from "../lib/report/fuzz_merge.ts";
import { harnessReport, HarnessReportSchema, writtenLine } from "../lib/report/harness_report.ts";
import { LoadReportSchema, renderLoadReport } from "../lib/report/load_report.ts";
import { renderCheckReport } from "../lib/report/check_report.ts";
import { renderStressReport } from "../lib/report/stress_text.ts";
import { runStress, type StressReport } from "../mod.ts";
import { REFERENCE_PLUGINS } from "./_helpers.ts";
import { sha1Hex } from "../lib/fuzz/parent/artifacts.ts";
import type { FindingCandidate } from "../lib/fuzz/crash/finding.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("count() rounds and separates thousands; plural() counts a word; rate() is per second", () => {
  shows(count, [[0, "0"], [999, "999"], [1234567, "1,234,567"], [1234.6, "1,235"]]);
  assert.equal(plural(0, "bug"), "0 bugs");
  assert.equal(plural(1, "bug"), "1 bug");
  assert.equal(plural(20_000, "call"), "20,000 calls");
  assert.equal(rate(48_210.4), "48,210/s");
});

/** Checks `format` against a table of inputs and what it must show for them. */
function shows(format: (n: number) => string, table: [number, string][]): void {
  for (const [n, want] of table) assert.equal(format(n), want, `${n}`);
}

Deno.test("compactCount() shows a count in libFuzzer's short form", () => {
  shows(compactCount, [[950, "950"], [9_999, "9999"], [10_000, "10k"], [48_210, "48k"], [1e6, "1.0M"], [
    2_540_000,
    "2.5M",
  ]]);
});

Deno.test("duration() picks us, ms or s and keeps three significant digits", () => {
  shows(duration, [
    [0, "0 ms"],
    [0.00825, "8.25 us"],
    [0.0412, "41.2 us"],
    [0.412, "412 us"],
    [0.9994, "999 us"],
    [0.9996, "1.00 ms"], // rounds up into the next unit: never 1000 us
    [1.5, "1.50 ms"],
    [12.34, "12.3 ms"],
    [250.4, "250 ms"],
    [999.6, "1.0 s"], // never 1000 ms
    [2700, "2.7 s"],
    [600_000, "600.0 s"],
  ]);
});

Deno.test("mib() shows bytes in MiB with one decimal, or as many as asked", () => {
  assert.equal(mib(0), "0.0 MiB");
  assert.equal(mib(3 * 2 ** 20), "3.0 MiB");
  assert.equal(mib(1.25 * 2 ** 20), "1.3 MiB");
  assert.equal(mib(52.4 * 2 ** 20, 0), "52 MiB");
});

Deno.test("colorWanted() colours always, never, or (auto) a terminal without NO_COLOR or TERM=dumb", () => {
  assert.equal(colorWanted("always", false, env({ NO_COLOR: "1" })), true);
  assert.equal(colorWanted("never", true, env({})), false);
  assert.equal(colorWanted("auto", true, env({})), true);
  assert.equal(colorWanted("auto", false, env({})), false);
  assert.equal(colorWanted("auto", true, env({ NO_COLOR: "1" })), false);
  assert.equal(colorWanted("auto", true, env({ NO_COLOR: "" })), true, "an empty NO_COLOR is unset");
  assert.equal(colorWanted("auto", true, env({ TERM: "dumb" })), false);
  assert.equal(colorWanted("auto", true, env({ TERM: "xterm-256color" })), true);
});

Deno.test("paintFor() styles text with ANSI codes when colour is wanted, and leaves it as it is when not", () => {
  const colour = paintFor("always", false);
  assert.equal(colour("red", "FAIL"), "\x1b[31mFAIL\x1b[39m");
  assert.equal(colour("green", "ok"), "\x1b[32mok\x1b[39m");
  assert.equal(colour("bold", "x"), "\x1b[1mx\x1b[22m");
  assert.equal(paintFor("never", true)("red", "FAIL"), "FAIL");
  assert.equal(paintFor("auto", true, env({ NO_COLOR: "1" }))("yellow", "warn"), "warn");
  assert.equal(plain("dim", "as it is"), "as it is");
});

Deno.test("fuzzStatus() and stressStatus() show progress in the report units", () => {
  assert.equal(
    fuzzStatus({
      execs: 1_234_567,
      perSecond: 2_540_000,
      corpus: 31,
      findings: 2,
      rssBytes: undefined,
      coverage: { edges: 40, features: 77 },
      elapsedMs: 61_900,
    }),
    "#1,234,567  cov: 40  ft: 77  exec/s: 2.5M  corp: 31  findings: 2  elapsed: 61s",
  );
  assert.equal(
    stressStatus({
      phase: "reload",
      calls: 1500,
      callsPerSecond: 3000,
      p99Ms: 2.5,
      errors: 1,
      rssBytes: 40 * 2 ** 20,
      cycle: { done: 2, of: 5 },
    }),
    "stress: cycle 3/5, 1,500 calls, 3,000/s, p99 2.50 ms, 1 failed, rss 40 MiB",
  );
  assert.equal(
    stressStatus({ phase: "floor", calls: 20_000, callsPerSecond: 0, p99Ms: 0, errors: 0, rssBytes: undefined }),
    "stress: measuring the dispatch floor (20,000 calls)",
  );
  assert.equal(
    stressStatus({ phase: "run", calls: 8211, callsPerSecond: 16568, p99Ms: 5.03, errors: 1182, rssBytes: undefined }),
    "stress: 8,211 calls, 16,568/s, p99 5.03 ms, 1,182 failed",
  );
});

Deno.test("MinimizeReportSchema takes a shrunk finding or an input that found nothing, and nothing else", () => {
  const doc = {
    ok: true,
    reproduced: true,
    key: "crash|SIGSEGV|parse_record",
    kind: "crash",
    method: "parse",
    message: "killed by SIGSEGV",
    original: { path: "/tmp/crash-padded", size: 202 },
    minimized: { path: "/tmp/minimized-from-ab", size: 2, sha1: "cd" },
    tried: 40,
    children: 3,
    repro: "plugcheck invoke lib.so parse --input-file /tmp/minimized-from-ab --isolate",
  };
  const parsed = MinimizeReportSchema.parse(doc);
  assert.ok(parsed.reproduced);
  assert.equal(
    renderMinimizeReport(parsed),
    "minimized  202 -> 2 bytes (40 candidates, 3 children)\n" +
      "bug        crash|SIGSEGV|parse_record\n" +
      "written    /tmp/minimized-from-ab\n" +
      "reproduce  plugcheck invoke lib.so parse --input-file /tmp/minimized-from-ab --isolate\n",
  );
  assert.equal(MinimizeReportSchema.parse({ ok: false, reproduced: false, input: { size: 5 } }).ok, false);
  assert.equal(MinimizeReportSchema.safeParse({ ...doc, kind: "meltdown" }).success, false);
  assert.equal(MinimizeReportSchema.safeParse({ ok: true, reproduced: false, input: { size: 5 } }).success, false);
});

Deno.test("replayReport() says what an input did; renderReplayReport() and replayStderrLines() show it escaped", () => {
  const input = new TextEncoder().encode("FZ");
  const clean = replayReport(input, undefined);
  assert.deepEqual(clean, { ok: true, input: { size: 2, sha1: sha1Hex(input) } });
  assert.equal(JSON.stringify(clean), JSON.stringify(ReplayReportSchema.parse(clean)));
  assert.equal(renderReplayReport(clean, plain), "ok: 2 bytes ran cleanly\n");
  const finding: FindingCandidate = {
    kind: "crash",
    method: "par\u001bse",
    input,
    key: "crash|SIGSEGV|x",
    message: "killed by SIGSEGV\r\nfake: ok",
    execs: 1,
    job: 0,
  };
  const crash = ReplayReportSchema.parse(replayReport(input, finding));
  assert.deepEqual(crash.finding, {
    kind: "crash",
    method: "par\u001bse",
    message: "killed by SIGSEGV\r\nfake: ok",
    key: "crash|SIGSEGV|x",
    stack: [],
    runtime_frames: 0,
  });
  assert.equal(crash.ok, false);
  assert.equal(renderReplayReport(crash, plain), 'crash in "par\\u001bse": killed by SIGSEGV\\r\\nfake: ok\n');
  // With words: the place, the stack from the first plugin frame, how many runtime frames were above it.
  const words = {
    message: "killed by SIGSEGV",
    location: "f at x.c:3 (libx.so+0x10)",
    stack: ["#0 f"],
    runtimeFrames: 3,
  };
  const said = renderReplayReport(ReplayReportSchema.parse(replayReport(input, finding, words)), plain);
  assert.match(
    said,
    /\n {2}at f at x\.c:3 \(libx\.so\+0x10\)\n {2}stack \(from the first plugin frame; 3 runtime frames above\):\n {4}#0 f\n$/,
  );
  assert.deepEqual(replayStderrLines(undefined), []);
  const tail = Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n") + "\n";
  const lines = replayStderrLines({ stderrTail: tail });
  assert.equal(lines.length, 20);
  assert.equal(lines[0], "  | line 10");
  assert.equal(lines.at(-1), "  | line 29");
  // A sanitizer's report is shown by its summary and stack, never by its tail (the shadow-byte legend).
  const asan = { errorType: "heap-buffer-overflow", summary: "AddressSanitizer: heap-buffer-overflow", frames: [] };
  assert.deepEqual(replayStderrLines({ stderrTail: tail, asan }), []);
});

Deno.test("MergeReportSchema and renderMergeReport(): what was added, the coverage, each finding left out", () => {
  const doc = MergeReportSchema.parse({
    ok: true,
    into: "/c/min",
    base: 4,
    candidates: 9,
    added: 3,
    coverage: null,
    findings: [{ kind: "timeout", method: "parse", message: "no reply", artifact: "/a/timeout-1" }],
    children: 2,
    seconds: 1.25,
  });
  assert.equal(
    renderMergeReport(doc),
    'merged     3 of 9 new inputs into /c/min (4 there before)\nleft out   timeout in "parse": /a/timeout-1\n',
  );
  assert.match(renderMergeReport({ ...doc, coverage: { edges: 5, features: 8 } }), /; coverage 5 edges, 8 features\n/);
});

Deno.test("harnessReport() holds the harness and its build; writtenLine() says where it went", () => {
  const base = { harness: "int x;", library: "/l.so", method: "parse", build: "clang h.c" };
  const printed = HarnessReportSchema.parse(harnessReport({ ...base, output: undefined }, ["w"]));
  assert.deepEqual(Object.keys(printed), ["ok", "harness", "library", "method", "build", "output", "warnings"]);
  assert.equal(printed.output, null);
  assert.equal(writtenLine(printed), undefined);
  const written = harnessReport({ ...base, output: "/out/h.c" }, []);
  assert.equal(writtenLine(written), 'wrote /out/h.c: fuzzes "parse"; build: clang h.c');
});

Deno.test("LoadReportSchema and renderLoadReport(): a row per finding of the load, a row per method, plugin text escaped", () => {
  const doc = LoadReportSchema.parse({
    ok: true,
    path: "/opt/libdemo.so",
    isolated: true,
    abi_version: "1.2",
    host_abi_version: "1.0",
    symbols: { required: ["a", "b", "c"], optional: ["npa_plugin_stats"] },
    capabilities: { stats: true },
    init_ms: 12.345,
    description: {
      name: "de\u001bmo",
      version: "2.0",
      thread_safe_instances: false,
      max_instances: 4,
      methods: [{ name: "parse", description: "Parses\r\nfake: ok", input: "json", pure: false }],
    },
    stats: { live_instances: 0 },
    warnings: ["w"],
  });
  assert.equal(
    renderLoadReport(doc),
    [
      "plugin     de\\x1bmo 2.0",
      "library    /opt/libdemo.so",
      "abi        1.2 (host 1.0)",
      "symbols    3/3 required; optional: npa_plugin_stats",
      "init       12.3 ms",
      "instances  one call at a time, at most 4",
      "stats      live_instances=0",
      "methods    1",
      "  parse  json   impure  Parses\\r\\nfake: ok",
      "",
    ].join("\n"),
  );
  assert.equal(LoadReportSchema.safeParse({ ...doc, ok: false }).success, false);
});

Deno.test("renderLoadReport() lines methods up without padding every row to one very long name", () => {
  const long = "x".repeat(200); // within describe()'s 256-byte limit, shown shortened
  const doc = LoadReportSchema.parse({
    ok: true,
    path: "/opt/libdemo.so",
    isolated: false,
    abi_version: "1.0",
    host_abi_version: "1.0",
    symbols: { required: ["a"], optional: [] },
    capabilities: { stats: false },
    init_ms: 1,
    description: {
      name: "demo",
      version: "1.0",
      thread_safe_instances: true,
      methods: [
        { name: "echo", description: "Echoes", input: "bytes", pure: true },
        { name: long, description: "Long", input: "json", pure: false },
        { name: "upper", description: "Uppercases", input: "bytes", pure: true },
      ],
    },
    stats: null,
    warnings: [],
  });
  const text = renderLoadReport(doc);
  assert.ok(text.includes("  echo   bytes  pure    Echoes\n"), text.slice(0, 600));
  assert.ok(text.includes("  upper  bytes  pure    Uppercases\n"));
  assert.ok(text.includes(`  ${"x".repeat(48)}... [152 more characters]  json   impure  Long\n`), text);
});

Deno.test("renderCheckReport() shows a warning's message once when its evidence only repeats it", () => {
  const message = "The plugin wrote 84 bytes to stdout";
  const result = (evidence: string[]) => ({
    library: "libdemo.so",
    plugin: { name: "demo", version: "1.0.0" },
    toolVersion: "0.1.0",
    startedAt: new Date(0),
    durationMs: 10,
    ok: true,
    exitCode: 0 as const,
    seed: 1,
    strict: false,
    configPath: undefined,
    stage: "plugin" as const,
    stageError: undefined,
    counts: { pass: 0, fail: 0, crash: 0, timeout: 0, skip: 0, warn: 1 },
    provenance: {
      tool: { name: "plugcheck" as const, version: "0.1.0" },
      plugin_sha256: null,
      machine: { os: "linux", arch: "x86_64", cores: 2, kernel: null, deno: "2.9.6" },
    },
    results: [{
      id: "stdio.stdout",
      group: "stdio",
      title: "Nothing to stdout",
      rule: "stdio",
      status: "warn" as const,
      durationMs: 5,
      details: message,
      evidence,
      repro: "plugcheck check libdemo.so --filter '^stdio\\.stdout$' --seed 1",
    }],
  });
  const once = renderCheckReport(result([message]), plain);
  assert.equal(once.split(message).length - 1, 1, once);
  assert.ok(once.includes("repro: plugcheck check"), once);
  const more = renderCheckReport(result([message, "fd 1: 84 bytes"]), plain);
  assert.ok(more.includes("          | fd 1: 84 bytes\n"), more);
});

Deno.test("renderStressReport() says which failures were expected, reads a duration in seconds, and a share too small to measure", async () => {
  const report: StressReport = await runStress(REFERENCE_PLUGINS[1]!.path, {
    methods: ["echo", "fail_with"],
    iterations: 400,
    concurrency: 1,
    seed: 3,
  });
  const failing = report.inputs.find((i) => i.method === "fail_with")!;
  assert.equal(failing.first_error, "InvalidInputError");
  assert.equal(failing.expected_failures, report.run.failed);
  assert.ok(report.run.failed > 0);
  const text = renderStressReport(report, plain);
  assert.ok(
    text.includes(
      `failures   ${
        count(report.run.failed)
      } expected, from inputs that fail every call as on their first: fail_with example 1 (InvalidInputError ${
        count(report.run.failed)
      })\n`,
    ),
    text,
  );
  assert.doesNotMatch(text, /not expected/);
  const timed: StressReport = structuredClone(report);
  timed.settings.iterations = null;
  timed.settings.duration_ms = 2000;
  assert.match(renderStressReport(timed, plain), /^stress {5}steady, 1 loop over 1 instance, 2\.0 s, in process/m);
  const floor = report.floor!;
  const even: StressReport = {
    ...report,
    run: { ...report.run, latency: { ...report.run.latency, p50_ms: floor.latency.p50_ms + 1e-12 } },
  };
  const evenText = renderStressReport(even, plain);
  assert.match(evenText, /on a no-op: the plugin adds nothing measurable to p50\)/);
  assert.doesNotMatch(evenText, /0\.00 us/);
  const slower: StressReport = {
    ...report,
    run: { ...report.run, latency: { ...report.run.latency, p50_ms: floor.latency.p50_ms + 0.0012 } },
  };
  assert.match(renderStressReport(slower, plain), /the plugin's share of p50 is 1\.20 us\)/);
});

Deno.test('groupDigits writes what toLocaleString("en-US") writes, integers and fractions, signs and non-finite numbers included (but -0 as 0)', () => {
  const prng = new Prng(7);
  const samples = [
    0,
    1,
    12,
    999,
    1000,
    -1000,
    123456789,
    Number.MAX_SAFE_INTEGER,
    1234.5,
    -0.25,
    1e20,
    Infinity,
    -Infinity,
    NaN,
  ];
  for (let i = 0; i < 2000; i++) {
    samples.push(Math.floor((prng.next() / 2 ** 32) * 10 ** (1 + (i % 15))) * (i % 3 === 0 ? -1 : 1) + 0); // + 0: no -0
  }
  for (const n of samples) {
    assert.equal(groupDigits(n), n.toLocaleString("en-US", { maximumFractionDigits: 20 }), String(n));
  }
  assert.equal(groupDigits(-0), "0"); // toLocaleString writes "-0" (count(-0.2) did)
});
