/**
 * The report room's shared parts on their own: the units every text report
 * shows numbers in, the one way colour is chosen for a stream, and the
 * progress lines.
 */
import assert from "node:assert/strict";
import { colorWanted, paintFor, plain } from "../lib/report/paint.ts";
import { compactCount, count, duration, mib, plural, rate } from "../lib/report/units.ts";
import { fuzzStatus, stressStatus } from "../lib/report/progress.ts";

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
});
