/**
 * SIGTERM (what `timeout` and CI cancellation send) gets what SIGINT gets:
 * stress, fuzz and check stop, print the report so far and write their
 * files whole, and exit 143 (130 for SIGINT); a second signal exits at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CheckReportJsonSchema, FuzzReportSchema, StressReportSchema } from "../mod.ts";
import { fault, fixture, fuzzFixture, runCliSignalled } from "./_helpers.ts";
import { validateJunit } from "./_schemas.ts";

const REF = fixture("ref_c");
/** A status line of a run that is under way (without a terminal, one every 5 s). */
// A progress line (the first may open stderr: a check of ref_c can print one line in all).
const PROGRESS = {
  stress: /(?:^|\n)stress: .*calls/,
  fuzz: /(?:^|\n)#\d[\d,]* .*exec\/s/,
  check: /(?:^|\n)check: \d+\/\d+ done/,
};

Deno.test("takeInterrupt: SIGTERM stops stress with the report so far and exit 143", async () => {
  const r = await runCliSignalled(
    ["stress", REF, "--method", "echo", "--duration", "60s", "--seed", "1", "--json"],
    [{ when: PROGRESS.stress, signal: "SIGTERM" }],
  );
  assert.equal(r.sent, 1, r.stderr);
  assert.equal(r.code, 143, r.stderr);
  const report = StressReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(report.stopped_early, "interrupted");
  assert.ok(report.run.calls > 0);
  assert.match(r.stderr, /interrupted: finishing the report \(SIGTERM/);
});

Deno.test("takeInterrupt: SIGTERM stops fuzz with the report so far and exit 143", async () => {
  const artifacts = await Deno.makeTempDir({ prefix: "plugcheck-interrupt-" });
  try {
    const r = await runCliSignalled(
      ["fuzz", fuzzFixture("magic_prefix"), "--duration", "60s", "--seed", "1", "--artifacts", artifacts, "--json"],
      [{ when: PROGRESS.fuzz, signal: "SIGTERM" }],
    );
    assert.equal(r.sent, 1, r.stderr);
    assert.equal(r.code, 143, r.stderr);
    const report = FuzzReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(report.run.stopped, "interrupted");
    assert.ok(report.run.execs > 0);
  } finally {
    await Deno.remove(artifacts, { recursive: true });
  }
});

Deno.test("takeInterrupt: SIGTERM to its process group stops check with the report so far, whole --junit and --sarif files, exit 143", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-interrupt-" });
  try {
    const junit = join(dir, "check.xml");
    const sarif = join(dir, "check.sarif");
    const r = await runCliSignalled(
      ["check", REF, "--seed", "1", "--jobs", "1", "--junit", junit, "--sarif", sarif, "--format", "json"],
      [{ when: PROGRESS.check, signal: "SIGTERM", group: true }],
      { killAfterMs: 60_000 },
    );
    assert.equal(r.sent, 1, r.stderr);
    assert.equal(r.code, 143, r.stderr);
    const report = CheckReportJsonSchema.parse(JSON.parse(r.stdout));
    const skipped = report.results.filter((c) => c.status === "skip" && /interrupted/.test(c.details));
    assert.ok(skipped.length > 0, "the checks after the signal are skipped as interrupted");
    // Whatever was running when the signal came is no verdict on the plugin: ref_c breaks no rule.
    assert.deepEqual(
      report.results.filter((c) => !["pass", "skip"].includes(c.status)).map((c) =>
        `${c.id}: ${c.status} ${c.details}`
      ),
      [],
    );
    const xml = await Deno.readTextFile(junit);
    assert.deepEqual((await validateJunit(xml)).errors, []);
    assert.equal(JSON.parse(await Deno.readTextFile(sarif)).version, "2.1.0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("takeInterrupt: a second signal while the report waits for a hung call exits at once", async () => {
  // The run waits for its hung call (60 s deadline) before it reports: the second SIGTERM must not wait.
  const r = await runCliSignalled(
    ["stress", fault("hang_invoke"), "--method", "hang", "--input", "x", "--isolate", "--timeout", "60000", "--json"],
    [
      { when: PROGRESS.stress, signal: "SIGTERM" },
      { when: /interrupted: finishing the report/, signal: "SIGTERM" },
    ],
  );
  assert.equal(r.sent, 2, r.stderr);
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /interrupted by SIGTERM: stopped at once/);
  assert.equal(r.stdout, "");
});
