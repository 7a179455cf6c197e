/**
 * `--against OLD.so` on `check` and `stress`: the release pair (fixtures/releases/: the new build answers `greet`
 * otherwise, spends ~4x as long in `work`, leaks a block a `keep` call) gives exactly those differences and exit 1; a
 * build against itself gives none, exit 0, five runs in a row beside two CPU burners; the comparison's JUnit and HTML;
 * the flags' usage errors.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
// deno-lint-ignore no-import-prefix -- test-only: an HTML5 parser that reports parse errors
import { parse } from "npm:parse5@7.3.0";
import { fault, fuzzFixture, ROOT, runCli, tempDir } from "./_helpers.ts";
import { validateJunit } from "./_schemas.ts";
import { type Comparison, ComparisonSchema } from "../mod.ts";

const OLD = join(ROOT, "build", "fixtures", "releases", "librelease_old.so");
const NEW = join(ROOT, "build", "fixtures", "releases", "librelease_new.so");

async function against(args: string[]): Promise<{ code: number; c: Comparison; stderr: string }> {
  const r = await runCli([...args, "--format", "json"], { killAfterMs: 120_000 });
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  return { code: r.code, c: ComparisonSchema.parse(JSON.parse(r.stdout)), stderr: r.stderr };
}

/** The items that are not the same, as "verdict item". */
const differing = (c: Comparison) =>
  c.differences.filter((d) => d.verdict !== "same").map((d) => `${d.verdict} ${d.item}`);

Deno.test("check --against: the release pair gives the heap check's regression and greet's changed answers, exit 1", async () => {
  const { code, c } = await against(["check", NEW, "--against", OLD, "--seed", "1"]);
  assert.equal(code, 1);
  assert.equal(c.kind, "check");
  assert.match(c.old.library, /librelease_old\.so$/);
  assert.match(c.new.library, /librelease_new\.so$/);
  const items = differing(c);
  assert.deepEqual(items.filter((i) => i.startsWith("regression")), ["regression resources.heap"]);
  const others = items.filter((i) => !i.startsWith("regression"));
  assert.ok(others.length >= 3, others.join("; "));
  for (const i of others) assert.match(i, /^change greet /, `only greet answers otherwise: ${i}`);
  const ann = c.differences.find((d) => d.item === 'greet "ann"')!;
  assert.equal(ann.detail, '"hello, ann" -> "hi, ann"');
});

Deno.test("stress --against: the release pair gives heap_growth and work's 3x speed as regressions, greet as changes", async () => {
  const { code, c } = await against(["stress", NEW, "--against", OLD, "--duration", "1s", "--seed", "1"]);
  assert.equal(code, 1);
  const regressions = differing(c).filter((i) => i.startsWith("regression"));
  assert.deepEqual(regressions.toSorted(), ["regression heap_growth", "regression work speed"]);
  const work = c.differences.find((d) => d.item === "work speed")!;
  const ratio = Number(/^([\d.]+)x the old cost/.exec(work.detail)?.[1]);
  assert.ok(ratio > 2 && ratio < 6, work.detail);
  for (const method of ["echo", "keep"]) {
    assert.equal(c.differences.find((d) => d.item === `${method} speed`)?.verdict, "same", `${method}'s speed`);
  }
  const changes = differing(c).filter((i) => i.startsWith("change"));
  // greet's answers; the whole runs' calls/s and latency, unjudged, may differ too (the new build's work is slower).
  for (const i of changes) assert.match(i, /^change (greet |calls\/s|latency p)/, i);
  assert.ok(changes.some((i) => i.startsWith("change greet")));
});

Deno.test("stress --against a build against itself: no regression and exit 0, five runs in a row beside two CPU burners", async () => {
  const burners = [0, 1].map(() => new Deno.Command("sh", { args: ["-c", "while :; do :; done"] }).spawn());
  try {
    for (let run = 1; run <= 5; run++) {
      const { code, c } = await against([
        "stress",
        OLD,
        "--against",
        OLD,
        "--duration",
        "500ms",
        "--seed",
        String(run),
      ]);
      assert.equal(code, 0, `run ${run}: ${differing(c).join("; ")}`);
      assert.equal(c.counts.regression, 0);
      assert.ok(c.differences.some((d) => d.item === "work speed"), "the methods were timed");
    }
  } finally {
    for (const b of burners) b.kill("SIGKILL");
    await Promise.all(burners.map((b) => b.status));
  }
});

Deno.test("check and fuzz --against a build against itself: no regression, five runs in a row beside two CPU burners", async () => {
  await using dir = await tempDir();
  const burners = [0, 1].map(() => new Deno.Command("sh", { args: ["-c", "while :; do :; done"] }).spawn());
  try {
    for (let run = 1; run <= 5; run++) {
      const check = await against([
        "check",
        OLD,
        "--against",
        OLD,
        "--seed",
        String(run),
        "--filter",
        "^(abi|metadata|errors|buffers|outputs)\\.",
      ]);
      assert.equal(check.code, 0, `check, run ${run}: ${differing(check.c).join("; ")}`);
      const fuzz = await against([
        "fuzz",
        OLD,
        "--against",
        OLD,
        "--runs",
        "3000",
        "--seed",
        String(run),
        "--artifacts",
        dir.path,
      ]);
      assert.equal(fuzz.code, 0, `fuzz, run ${run}: ${differing(fuzz.c).join("; ")}`);
    }
  } finally {
    for (const b of burners) b.kill("SIGKILL");
    await Promise.all(burners.map((b) => b.status));
  }
});

Deno.test("fuzz --against: a crash only the new build has regresses; a bug both have is found again from the old run's input", async () => {
  await using dir = await tempDir();
  const crashing = await against([
    "fuzz",
    fault("segfault"),
    "--against",
    OLD,
    "--runs",
    "3000",
    "--seed",
    "1",
    "--artifacts",
    dir.path,
  ]);
  assert.equal(crashing.code, 1);
  const regressions = differing(crashing.c).filter((i) => i.startsWith("regression"));
  assert.ok(regressions.some((i) => /^regression signal:libsegfault\.so/.test(i)), regressions.join("; "));
  for (const m of ["greet", "work", "keep"]) assert.ok(regressions.includes(`regression method ${m}`), m);
  // The same bug on both sides: the old run finds magic_prefix's planted crash, the new run is seeded with its input.
  const magic = fuzzFixture("magic_prefix");
  const same = await against([
    "fuzz",
    magic,
    "--against",
    magic,
    "--runs",
    "300000",
    "--seed",
    "1",
    "--artifacts",
    dir.path,
  ]);
  assert.equal(same.code, 0, differing(same.c).join("; "));
  const finding = same.c.differences.find((d) => d.area === "findings")!;
  assert.equal(finding.verdict, "same");
  assert.match(finding.detail, /^found on both: crash/);
});

Deno.test("check DIR --against OLD_DIR: each library's checks compared, matched by file name", async () => {
  await using dir = await tempDir();
  const before = join(dir.path, "before"), after = join(dir.path, "after");
  for (const d of [before, after]) await Deno.mkdir(d);
  await Deno.copyFile(OLD, join(before, "librelease.so"));
  await Deno.copyFile(NEW, join(after, "librelease.so"));
  const { code, c } = await against([
    "check",
    after,
    "--against",
    before,
    "--seed",
    "1",
    "--filter",
    "^resources\\.heap$",
  ]);
  assert.equal(code, 1);
  assert.deepEqual(differing(c), ["regression librelease.so: resources.heap"]);
  assert.equal(c.old.library, before);
  assert.equal(c.new.library, after);
});

Deno.test("check --against writes the comparison as JUnit (valid) and HTML (valid HTML5, both builds named)", async () => {
  await using dir = await tempDir();
  const junit = join(dir.path, "c.xml"), html = join(dir.path, "c.html");
  const r = await runCli([
    "check",
    NEW,
    "--against",
    OLD,
    "--seed",
    "1",
    "--filter",
    "^resources\\.heap$",
    "--junit",
    junit,
    "--html",
    html,
  ], {
    killAfterMs: 120_000,
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /REGRESSION +checks +resources\.heap/);
  const xml = await Deno.readTextFile(junit);
  const v = await validateJunit(xml);
  assert.ok(v.valid, v.errors.join("\n"));
  assert.match(xml, /<testcase classname="checks" name="resources\.heap"[^>]*>\s*<failure/);
  const page = await Deno.readTextFile(html);
  const errors: string[] = [];
  parse(page, { onParseError: (e) => errors.push(e.code) });
  assert.deepEqual(errors, []);
  assert.ok(page.includes("librelease_old.so") && page.includes("librelease_new.so"));
  assert.match(page, /FAIL: 1 regression/);
});

Deno.test("--against: a missing library, a directory, --max-slowdown or stress --junit alone are usage errors (exit 2)", async () => {
  await using dir = await tempDir();
  const cases: [string[], RegExp][] = [
    [["check", NEW, "--against", join(dir.path, "none.so")], /--against .*: no such library file/],
    [["check", dir.path, "--against", OLD], /--against .*: no such directory/],
    [["check", NEW, "--against", dir.path], /--against .*: no such library file/],
    [["check", NEW, "--max-slowdown", "2"], /--max-slowdown goes with --against/],
    [["check", NEW, "--against", OLD, "--sarif", join(dir.path, "x.sarif")], /--sarif does not go with --against/],
    [["stress", NEW, "--junit", join(dir.path, "x.xml")], /--junit goes with --against/],
    [["stress", NEW, "--against", OLD, "--max-slowdown", "0.9"], /--max-slowdown must be at least 1/],
    [["fuzz", NEW, "--against", OLD, "--replay", join(dir.path, "x")], /--against goes with a fuzz run/],
    [["fuzz", NEW, "--junit", join(dir.path, "x.xml")], /--junit goes with --against/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing written");
});
