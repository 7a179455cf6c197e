/**
 * `--html FILE` of `stress`, `fuzz` and `check` (one library and a directory): each page from a real run of a
 * reference plugin and of fault fixtures is one HTML5 document without parse errors, holds its plots as inline SVG,
 * shows the findings and verdicts, escapes what a hostile plugin writes (`markup_text`: `<script>` in its name, an
 * `<img onerror>` method), and renders in headless Chromium with no console error, no request and plots of non-zero
 * size. Also: the flag's usage errors, and the pieces (hex dump, timeline, nines axis).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
// deno-lint-ignore no-import-prefix -- test-only: an HTML5 parser that reports parse errors
import { parse } from "npm:parse5@7.3.0";
import { fault, fixture, fuzzFixture, runCli, tempDir } from "./_helpers.ts";
import { CHROMIUM, NO_CHROMIUM_REASON, renderPage } from "./_chromium.ts";
import { FuzzReportSchema, StressReportSchema } from "../mod.ts";
import { hexDump } from "../lib/report/html/fuzz_page.ts";
import { ninesOf } from "../lib/report/html/nines.ts";
import { MAX_POINTS, Timeline } from "../lib/fuzz/parent/timeline.ts";

const MARKUP = fault("markup_text");
const HOSTILE_NAME = "markup <script>alert(1)</script>";
const HOSTILE_METHOD = "<img/src=x/onerror=alert(2)>";

interface Node {
  nodeName: string;
  tagName?: string;
  value?: string;
  childNodes?: Node[];
  content?: Node;
}

/** The document's parse errors (none for a valid HTML5 page) and its element names and text. */
function parsed(page: string): { errors: string[]; tags: string[]; text: string } {
  const errors: string[] = [];
  const doc = parse(page, { onParseError: (e) => errors.push(`${e.code} at line ${e.startLine}`) }) as unknown as Node;
  const tags: string[] = [];
  let text = "";
  const walk = (n: Node) => {
    if (n.tagName) tags.push(n.tagName);
    if (n.nodeName === "#text") text += n.value;
    for (const c of n.childNodes ?? []) walk(c);
  };
  walk(doc);
  return { errors, tags, text };
}

/** Runs the CLI with `--html` into a fresh directory; returns the page, the JSON report and the exit code. */
async function page(
  args: string[],
  dir: string,
  name: string,
): Promise<{ html: string; json: string; code: number; path: string }> {
  const path = join(dir, `${name}.html`);
  const r = await runCli([...args, "--html", path, "--format", "json"], { killAfterMs: 120_000 });
  assert.notEqual(r.code, 2, r.stderr);
  assert.notEqual(r.code, 70, r.stderr);
  return { html: await Deno.readTextFile(path), json: r.stdout, code: r.code, path };
}

/** The count of inline SVG plots. */
const plots = (html: string) => parsed(html).tags.filter((t) => t === "svg").length;

Deno.test("stress --html: a page with the latency and resource plots and every verdict, valid HTML5", async () => {
  await using dir = await tempDir();
  const p = await page(
    [
      "stress",
      fixture("ref_c"),
      "--iterations",
      "3000",
      "--seed",
      "1",
      "--sample-interval",
      "20",
    ],
    dir.path,
    "stress",
  );
  assert.equal(p.code, 0);
  const report = StressReportSchema.parse(JSON.parse(p.json));
  const { errors, text } = parsed(p.html);
  assert.deepEqual(errors, []);
  assert.ok(plots(p.html) >= 3, `latency, RSS, threads: ${plots(p.html)} plots`);
  assert.match(p.html, /Latency by percentile/);
  assert.match(p.html, /dispatch floor/);
  for (const v of report.verdicts) assert.ok(text.includes(v.id), `verdict ${v.id} is on the page`);
  assert.ok(report.run.latency_distribution.length > 10, "the report carries the percentile distribution");
  assert.match(text, /ok: no verdict failed/);
  // Written whole: nothing else is left in the directory.
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["stress.html"]);
});

Deno.test("stress --html on a fault fixture: the failed verdicts come first, with their evidence", async () => {
  await using dir = await tempDir();
  const p = await page(
    [
      "stress",
      fault("thread_per_instance"),
      "--churn",
      "--iterations",
      "100",
      "--seed",
      "1",
    ],
    dir.path,
    "stress",
  );
  assert.equal(p.code, 1);
  const report = StressReportSchema.parse(JSON.parse(p.json));
  const failed = report.verdicts.filter((v) => v.status === "fail").map((v) => v.id);
  assert.ok(failed.includes("threads_after_destroy"), failed.join(", "));
  // The first verdict rows of the page are the failed ones.
  const rows = [...p.html.matchAll(/<tr\s+class="s-row-(\w+)"/g)].map((m) => m[1]);
  assert.deepEqual(rows.slice(0, failed.length), failed.map(() => "fail"));
  assert.match(parsed(p.html).text, /FAIL: \d+ of \d+ verdicts failed/);
});

Deno.test("fuzz --html: progress plots with each finding marked, its frames, hex dump and repro", async () => {
  await using dir = await tempDir();
  const p = await page(
    [
      "fuzz",
      fuzzFixture("two_bugs"),
      "--duration",
      "1500ms",
      "--seed",
      "1",
      "--artifacts",
      dir.path,
    ],
    dir.path,
    "fuzz",
  );
  assert.equal(p.code, 1);
  const report = FuzzReportSchema.parse(JSON.parse(p.json));
  assert.ok(report.findings.length >= 1);
  assert.ok(report.timeline.length >= 5, `${report.timeline.length} timeline points`);
  const last = report.timeline.at(-1)!;
  assert.equal(last.execs, report.run.execs, "the timeline ends at the run's end");
  const { errors, text } = parsed(p.html);
  assert.deepEqual(errors, []);
  assert.ok(plots(p.html) >= 3, `exec/s, corpus, RSS: ${plots(p.html)} plots`);
  for (const [i, f] of report.findings.entries()) {
    assert.ok(text.includes(`#${i + 1} ${f.kind}`), `finding ${i + 1} is marked on the plots`);
    assert.ok(text.includes(f.repro), "its repro command");
    assert.ok(text.includes(f.key), "its key");
  }
  const input = await Deno.readFile(report.findings[0]!.artifact);
  assert.ok(text.includes(hexDump(input).split("\n")[0]!), "the first finding's input as a hex dump");
});

Deno.test("check --html: checks by group, failures first, with evidence, repro and the status filter", async () => {
  await using dir = await tempDir();
  const p = await page(["check", fault("segfault"), "--seed", "1", "--filter", "^errors\\."], dir.path, "check");
  assert.equal(p.code, 1);
  const { errors, text, tags } = parsed(p.html);
  assert.deepEqual(errors, []);
  const rows = [...p.html.matchAll(/<tr\s+class="r-(\w+)"/g)].map((m) => m[1]);
  assert.equal(rows[0], "crash", "the crashed check leads");
  assert.ok(rows.includes("pass"));
  assert.match(text, /errors\.no_crash/);
  assert.match(text, /plugcheck invoke .*libsegfault\.so crash/);
  assert.equal(tags.filter((t) => t === "input").length, 3, "three status filters");
  assert.ok(!tags.includes("script"), "no script: the filters are CSS");
});

Deno.test("check DIR --html: the libraries' summary with the failed one first, and each library's checks", async () => {
  await using dir = await tempDir();
  const libs = join(dir.path, "libs");
  await Deno.mkdir(libs);
  await Deno.copyFile(fixture("ref_c"), join(libs, "libaaa_ref.so"));
  await Deno.copyFile(fault("segfault"), join(libs, "libzzz_segfault.so"));
  const p = await page(["check", libs, "--seed", "1", "--filter", "^errors\\.no_crash$"], dir.path, "dir");
  assert.equal(p.code, 1);
  const { errors, text } = parsed(p.html);
  assert.deepEqual(errors, []);
  const first = text.indexOf("libzzz_segfault.so"), other = text.indexOf("libaaa_ref.so");
  assert.ok(first >= 0 && other > first, "the failed library is listed first");
  assert.match(text, /FAIL: 1 of 2 libraries failed/);
  assert.match(text, /errors\.no_crash/);
});

Deno.test("--html pages of a hostile plugin show its markup as text: no script, no image, in all three engines", async () => {
  await using dir = await tempDir();
  const pages = [
    await page(["stress", MARKUP, "--iterations", "500", "--seed", "1"], dir.path, "stress"),
    await page(["fuzz", MARKUP, "--runs", "20000", "--seed", "1", "--artifacts", dir.path], dir.path, "fuzz"),
    await page(["check", MARKUP, "--seed", "1", "--filter", "^(metadata|fuzz)\\."], dir.path, "check"),
  ];
  for (const p of pages) {
    const { errors, tags, text } = parsed(p.html);
    assert.deepEqual(errors, [], p.path);
    assert.ok(
      !tags.includes("script") && !tags.includes("img") && !tags.includes("iframe") && !tags.includes("b"),
      `${p.path}: ${[...new Set(tags)].join(" ")}`,
    );
    assert.ok(text.includes(HOSTILE_NAME) || text.includes(HOSTILE_METHOD), `${p.path} shows the plugin's text`);
    assert.ok(!p.html.includes("<script") && !p.html.includes("<img"), p.path);
  }
  // The fuzz page names the method that crashed, as text, in its finding and its repro command.
  assert.ok(parsed(pages[1]!.html).text.includes(`in ${HOSTILE_METHOD}`));
});

Deno.test({
  name: `--html pages render in headless Chromium: plots drawn, no console error, nothing fetched${NO_CHROMIUM_REASON}`,
  ignore: CHROMIUM === undefined,
  fn: async () => {
    await using dir = await tempDir();
    const pages = [
      { p: await page(["stress", fixture("ref_c"), "--iterations", "2000", "--seed", "1"], dir.path, "s"), svgs: 3 },
      {
        p: await page(
          ["fuzz", fuzzFixture("cov_magic"), "--duration", "1s", "--seed", "1", "--artifacts", dir.path],
          dir.path,
          "f",
        ),
        svgs: 3,
      },
      { p: await page(["check", fault("segfault"), "--seed", "1", "--filter", "^errors\\."], dir.path, "c"), svgs: 0 },
      {
        p: await page(["fuzz", MARKUP, "--runs", "20000", "--seed", "1", "--artifacts", dir.path], dir.path, "m"),
        svgs: 2,
      },
    ];
    // A comparison's page (`compare --html`, as `--against ... --html` writes it).
    const report = join(dir.path, "check.json"), compared = join(dir.path, "compare.html");
    await Deno.writeTextFile(report, pages[2]!.p.json);
    const c = await runCli(["compare", report, report, "--html", compared]);
    assert.equal(c.code, 0, c.stderr);
    pages.push({ p: { html: "", json: "", code: 0, path: compared }, svgs: 0 });
    for (const { p, svgs } of pages) {
      const seen = await renderPage(p.path, { selectors: ["svg", "table"], height: 1600 });
      assert.deepEqual(seen.consoleErrors, [], p.path);
      assert.deepEqual(seen.requests, [], `${p.path} fetches nothing`);
      assert.ok(seen.nonBlank, `${p.path}: the screenshot is not blank`);
      assert.ok(seen.elements.svg!.count >= svgs, `${p.path}: ${seen.elements.svg!.count} plots`);
      for (const s of seen.elements.svg!.sizes) {
        assert.ok(s.width > 100 && s.height > 100, `${p.path}: ${JSON.stringify(s)}`);
      }
      if (svgs === 0) assert.ok(seen.elements.table!.count > 0, `${p.path}: the checks' tables`);
    }
  },
});

Deno.test("--html: a missing directory is a usage error before the run; --html with --minimize or --merge too", async () => {
  await using dir = await tempDir();
  const missing = join(dir.path, "no", "page.html");
  for (
    const args of [
      ["stress", fixture("ref_c"), "--iterations", "10"],
      ["fuzz", fuzzFixture("magic_prefix"), "--runs", "10"],
      ["check", fixture("ref_c")],
    ]
  ) {
    const r = await runCli([...args, "--html", missing]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--html .*: the directory .* does not exist/);
  }
  const r = await runCli([
    "fuzz",
    fuzzFixture("magic_prefix"),
    "--minimize",
    join(dir.path, "x"),
    "--html",
    join(dir.path, "p.html"),
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--html goes with a fuzz run/);
  const m = await runCli([
    "fuzz",
    fuzzFixture("magic_prefix"),
    "--merge",
    dir.path,
    dir.path,
    "--html",
    join(dir.path, "p.html"),
  ]);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /--merge excludes/);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing written");
});

Deno.test("hexDump shows offsets, hex and text, at most 512 bytes and how many more", () => {
  const bytes = new TextEncoder().encode("FUZZ\x00\x01 ok");
  assert.equal(hexDump(bytes), `00000000  46 55 5a 5a 00 01 20 6f 6b${" ".repeat(23)}FUZZ.. ok`);
  const big = new Uint8Array(600);
  const lines = hexDump(big).split("\n");
  assert.equal(lines.length, 33);
  assert.equal(lines.at(-1), "... 88 more bytes");
  assert.equal(hexDump(big.subarray(0, 16), 20).split("\n").at(-1), "... 4 more bytes");
});

Deno.test("Timeline keeps at most 600 points however long the run, evenly, and always its last sample", () => {
  const t = new Timeline();
  const at = (i: number) => ({
    execs: i * 100,
    perSecond: 0,
    corpus: i,
    findings: 0,
    rssBytes: 1 << 20,
    elapsedMs: i * 100,
  });
  for (let i = 1; i <= 5000; i++) t.add(at(i));
  const points = t.points();
  assert.ok(points.length <= MAX_POINTS && points.length > MAX_POINTS / 4, `${points.length}`);
  assert.equal(points.at(-1)!.execs, 500_000);
  const gaps = new Set(points.slice(1, -1).map((p, i) => Math.round((p.t_s - points[i]!.t_s) * 10)));
  assert.equal(gaps.size, 1, `even spacing: ${[...gaps]}`);
  assert.equal(points[5]!.per_second, 1000, "exec/s over each interval");
});

Deno.test("ninesOf puts each further nine one step along the percentile axis", () => {
  assert.equal(ninesOf(0), 0);
  assert.equal(ninesOf(90), 1);
  assert.equal(ninesOf(99.9), 3);
  assert.equal(ninesOf(100), 5);
});
