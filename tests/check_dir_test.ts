/**
 * `plugcheck check DIR`: every plugin library of a directory checked, one
 * summary, one JSON document, one JUnit file and one SARIF log for all,
 * LADSPA unique IDs that collide across libraries, exit codes, and
 * LADSPA_PATH. The checks run per library are cut down with --filter: these
 * tests are about the directory machinery, not the checks.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
// deno-lint-ignore no-import-prefix -- a test-only dependency, pinned here rather than in deno.json
import { DOMParser } from "npm:@xmldom/xmldom@0.9.12";
import { CheckReportJsonSchema } from "../lib/report/check_report.ts";
import { DirectoryReportJsonSchema } from "../lib/report/check_dir_report.ts";
import { fixture, NOT_A_LIBRARY, ROOT, runCli } from "./_helpers.ts";
import { sarifValidator, validateJunit } from "./_schemas.ts";

const ladspaFixture = (name: string) => join(ROOT, "build", "fixtures", "ladspa", `lib${name}.so`);

/** Few checks per library: enough to load, read the descriptors and compare IDs across libraries. */
const FILTER = ["--filter", "^(abi\\.loads|ladspa\\.descriptors|ladspa\\.unique_ids_across)$", "--seed", "1"];

/** A temp directory holding `links` (name -> target, as symlinks) and `copies` (name -> source, as copies). */
async function pluginDir(links: Record<string, string>, copies: Record<string, string> = {}): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-dir-" });
  for (const [name, target] of Object.entries(links)) await Deno.symlink(target, join(dir, name));
  for (const [name, source] of Object.entries(copies)) await Deno.copyFile(source, join(dir, name));
  return dir;
}

Deno.test("runChecksOnDirectory via check DIR: a row per library, the unique-ID collision, one JSON, JUnit and SARIF report", async () => {
  const dir = await pluginDir({
    "libladspa_ref.so": ladspaFixture("ladspa_ref"),
    "libduplicate_unique_id.so": ladspaFixture("duplicate_unique_id"),
    "libref_c.so": fixture("ref_c"),
    "not_a_library.so": NOT_A_LIBRARY,
  }, { "libladspa_ref_copy.so": ladspaFixture("ladspa_ref") });
  // Neither is a library of the directory: a file not named *.so, and a library in a subdirectory.
  await Deno.writeTextFile(join(dir, "README.txt"), "not a plugin\n");
  await Deno.mkdir(join(dir, "sub"));
  await Deno.symlink(fixture("ref_c"), join(dir, "sub", "libnested.so"));
  const out = await Deno.makeTempDir({ prefix: "plugcheck-dir-out-" });
  try {
    const junit = join(out, "check.xml");
    const sarif = join(out, "check.sarif");
    const r = await runCli(["check", dir, ...FILTER, "--format", "json", "--junit", junit, "--sarif", sarif], {
      killAfterMs: 120_000,
    });
    assert.equal(r.code, 1, r.stderr);
    const doc = DirectoryReportJsonSchema.parse(JSON.parse(r.stdout));
    const rows = Object.fromEntries(doc.summary.rows.map((row) => [row.library.slice(dir.length + 1), row]));
    assert.deepEqual(Object.keys(rows), [
      "libduplicate_unique_id.so",
      "libladspa_ref.so",
      "libladspa_ref_copy.so",
      "libref_c.so",
      "not_a_library.so",
    ]);
    // Not a library: one failed row (abi.loads), not an error of the run.
    assert.equal(rows["not_a_library.so"]!.first_failure?.id, "abi.loads");
    assert.equal(rows["not_a_library.so"]!.exit_code, 3);
    assert.equal(rows["libduplicate_unique_id.so"]!.first_failure?.id, "ladspa.descriptors");
    for (const good of ["libladspa_ref.so", "libladspa_ref_copy.so", "libref_c.so"]) {
      assert.equal(rows[good]!.failed, 0, good);
      assert.equal(rows[good]!.first_failure, null, good);
    }
    assert.equal(rows["libladspa_ref.so"]!.plugins, 2);
    assert.deepEqual([doc.summary.libraries, doc.summary.passed, doc.summary.failed], [5, 3, 2]);
    // ladspa_ref's two IDs are declared by it and by its copy; duplicate_unique_id's 4207 twice in one library only.
    assert.deepEqual(
      doc.collisions.map((c) => [c.unique_id, c.plugins.map((p) => `${p.library.slice(dir.length + 1)}:${p.label}`)]),
      [
        [4101, ["libladspa_ref.so:ref_gain", "libladspa_ref_copy.so:ref_gain"]],
        [4102, ["libladspa_ref.so:ref_lowpass", "libladspa_ref_copy.so:ref_lowpass"]],
      ],
    );
    assert.deepEqual(doc.across.map((x) => [x.id, x.status]), [["ladspa.unique_ids_across", "fail"]]);
    assert.match(doc.across[0]!.details, /2 unique IDs declared by more than one library/);
    // Each library's report as `check LIB --format json` prints it.
    assert.equal(doc.libraries.length, 5);
    for (const lib of doc.libraries) CheckReportJsonSchema.parse(lib);

    const xml = await Deno.readTextFile(junit);
    assert.deepEqual(await validateJunit(xml), { valid: true, errors: [] });
    const parsed = new DOMParser().parseFromString(xml, "text/xml");
    const suites = Array.from(parsed.getElementsByTagName("testsuite")).map((s) => s.getAttribute("name"));
    assert.equal(suites.length, 6, "a testsuite per library and one for the rule across them");
    assert.ok(suites.includes(`plugcheck check ${join(dir, "not_a_library.so")}`), suites.join("\n"));
    const across = Array.from(parsed.getElementsByTagName("testcase"))
      .find((t) => t.getAttribute("name") === "ladspa.unique_ids_across");
    assert.equal(across?.getElementsByTagName("failure").length, 1);

    const log = JSON.parse(await Deno.readTextFile(sarif));
    const validate = sarifValidator();
    assert.ok(validate(log), JSON.stringify(validate.errors));
    assert.equal(log.runs.length, 1);
    const located = new Set(
      log.runs[0].results.map((x: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }) =>
        decodeURIComponent(x.locations[0]!.physicalLocation.artifactLocation.uri)
      ),
    );
    assert.ok(located.has(`file://${join(dir, "not_a_library.so")}`), [...located].join("\n"));
    assert.ok(located.has(`file://${join(dir, "libduplicate_unique_id.so")}`), [...located].join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("check DIR: a directory of good libraries prints the summary table and exits 0", async () => {
  const dir = await pluginDir({ "libladspa_ref.so": ladspaFixture("ladspa_ref"), "libref_c.so": fixture("ref_c") });
  try {
    // logging.after_shutdown reads the library in a sandbox child allowed to read its real path: links are followed.
    const filter = "^(abi\\.loads|ladspa\\.descriptors|ladspa\\.unique_ids_across|logging\\.after_shutdown)$";
    const r = await runCli(["check", dir, "--filter", filter, "--seed", "1"], { killAfterMs: 90_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /library +plugins +passed +failed \(\+warned\) +time +first failure/);
    assert.match(r.stdout, /\n {2}libladspa_ref\.so +2 +3 +0 /);
    assert.match(r.stdout, /\n {2}libref_c\.so +\d+ +2 +0 /);
    assert.match(r.stdout, /SKIP +ladspa\.unique_ids_across +1 LADSPA library: nothing to compare/);
    assert.match(r.stdout, /2 libraries: 2 passed, 0 failed; \d+ checks: .* \(\d/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check DIR: a missing or empty directory, or --in-process, is a usage error (exit 2)", async () => {
  const empty = await Deno.makeTempDir({ prefix: "plugcheck-dir-empty-" });
  try {
    await Deno.writeTextFile(join(empty, "notes.txt"), "no library here\n");
    const none = await runCli(["check", empty]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /no plugin library in /);
    const missing = await runCli(["check", join(empty, "no-such-dir")]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /No such file/);
    // In process, one crash would end the run of every library.
    const inProcess = await runCli(["check", empty, "--in-process"]);
    assert.equal(inProcess.code, 2, inProcess.stderr);
    assert.match(inProcess.stderr, /--in-process takes one library, not a directory/);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("check with no path checks the directories of LADSPA_PATH, leaving out those that do not exist", async () => {
  const dir = await pluginDir({ "libladspa_ref.so": ladspaFixture("ladspa_ref") });
  const gone = join(dir, "gone");
  try {
    const r = await runCli(["check", ...FILTER, "--format", "json"], {
      env: { LADSPA_PATH: `${gone}::${dir}` },
      killAfterMs: 90_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const doc = DirectoryReportJsonSchema.parse(JSON.parse(r.stdout));
    assert.deepEqual(doc.directories, [gone, dir]);
    assert.deepEqual(doc.missing_directories, [gone]);
    assert.deepEqual(doc.summary.rows.map((row) => row.library), [join(dir, "libladspa_ref.so")]);
    // Only missing directories: nothing to check.
    const nothing = await runCli(["check"], { env: { LADSPA_PATH: gone } });
    assert.equal(nothing.code, 2, nothing.stderr);
    assert.match(nothing.stderr, /no plugin library in /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runChecksOnDirectory() from mod.ts: a library and its copy collide on both unique IDs; without the rule selected, none is reported", async () => {
  const { runChecksOnDirectory } = await import("../mod.ts");
  const dir = await pluginDir({ "a.so": ladspaFixture("ladspa_ref") }, { "b.so": ladspaFixture("ladspa_ref") });
  try {
    const report = await runChecksOnDirectory(dir, {
      seed: 1,
      filter: ["^ladspa\\.(descriptors|unique_ids_across)$"],
    });
    assert.deepEqual(report.libraries.map((l) => [l.name, l.ok, l.plugins]), [["a.so", true, 2], ["b.so", true, 2]]);
    assert.deepEqual(report.collisions.map((c) => c.uniqueId), [4101, 4102]);
    assert.deepEqual(report.across.map((x) => x.status), ["fail"]);
    assert.equal(report.exitCode, 1);
    const without = await runChecksOnDirectory(dir, { seed: 1, filter: ["^ladspa\\.descriptors$"] });
    assert.deepEqual([without.collisions, without.across, without.exitCode], [[], [], 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check --help teaches the directory target: the row across libraries, --jobs, LADSPA_PATH, examples", async () => {
  const r = await runCli(["check", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /A directory is a target/);
  assert.match(r.stdout, /ladspa\.unique_ids_across/);
  assert.match(r.stdout, /LADSPA_PATH/);
  assert.match(r.stdout, /\n {2}plugcheck check \/usr\/lib\/ladspa\n/);
  assert.match(r.stdout, /\n {2}plugcheck check \/usr\/lib\/ladspa --jobs 2 --junit \S+/);
});
