/**
 * npa plugins in the fuzz fork server (issue 20): an npa plugin's job (a
 * LADSPA library's too, through its adapter) runs in workers forked from a
 * native process that started the plugin once (`native/fuzz_server/`), judged in plugcheck's process by the same guard a
 * Deno fuzz child uses. The same seed finds the same first finding at the
 * same execution count either way; contract findings and leaks say what
 * they say in a Deno child; a plugin that prints to stdout cannot touch the
 * server's pipes; a plugin the server cannot serve (it fails to start, its
 * init changes the process, or it leaves threads running, which a forked
 * worker would lack) is fuzzed in Deno children, whose guard gives the same
 * error as ever; a hanging init costs one deadline; the report says where
 * the inputs ran.
 */
import assert from "node:assert/strict";
import { runFuzz } from "../lib/fuzz/parent/run_fuzz.ts";
import { type FuzzReport, FuzzReportSchema } from "../lib/fuzz/parent/report.ts";
import { renderFuzzReport } from "../lib/report/fuzz_text.ts";
import { plain } from "../lib/report/paint.ts";
import { join } from "node:path";
import { fault, fixture, fuzzFixture, ROOT, runCli, tempDir } from "./_helpers.ts";

/** A run of `path` in the fork server and the same run in Deno children. */
async function bothWays(
  path: string,
  o: Parameters<typeof runFuzz>[1],
): Promise<{ served: FuzzReport; child: FuzzReport }> {
  await using a = await tempDir();
  await using b = await tempDir();
  const served = await runFuzz(path, { ...o, artifactsDir: a.path });
  const child = await runFuzz(path, { ...o, artifactsDir: b.path, forkServer: false });
  return { served, child };
}

/** What must not depend on where the inputs ran. */
const gist = (r: FuzzReport) =>
  r.findings.map((f) => ({ kind: f.kind, key: f.key, method: f.method, message: f.message, input: f.input.sha1 }));

Deno.test("runFuzz() fuzzes a plain npa plugin in the fork server, and the same seed finds the same bug at the same execution either way", async () => {
  const { served, child } = await bothWays(fuzzFixture("magic_prefix"), { runs: 300_000, seed: 1, maxFindings: 1 });
  assert.equal(served.run.processes, "fork-server");
  assert.equal(child.run.processes, "deno-child");
  assert.equal(served.findings.length, 1, JSON.stringify(served.findings));
  assert.equal(served.findings[0]!.kind, "crash");
  assert.deepEqual(gist(served), gist(child));
  assert.equal(served.findings[0]!.first_execs, child.findings[0]!.first_execs);
  assert.equal(served.plugin.name, "magic_prefix");
});

Deno.test("runFuzz() in the fork server judges stopped calls as a Deno child does: contract findings and leaks, same keys and messages", async () => {
  const { served, child } = await bothWays(fuzzFixture("fuzz_findings"), { runs: 20_000, seed: 2 });
  assert.equal(served.run.processes, "fork-server");
  const kinds = new Set(served.findings.map((f) => f.kind));
  for (const k of ["contract", "leak"]) assert.ok(kinds.has(k), `no ${k} finding: ${[...kinds]}`);
  assert.deepEqual(gist(served), gist(child));
});

for (const name of ["huge_length", "bad_utf8_error", "json_not_json", "null_output", "bad_status"]) {
  Deno.test(`runFuzz() in the fork server finds what a Deno child finds on ${name} (buffers the worker took over)`, async () => {
    const { served, child } = await bothWays(fault(name), { runs: 2_000, seed: 1 });
    assert.equal(served.run.processes, "fork-server");
    assert.ok(served.findings.length > 0, `${name}: nothing found`);
    assert.deepEqual(gist(served), gist(child));
  });
}

Deno.test("runFuzz() in the fork server reports a panic status with the plugin's message", async () => {
  await using dir = await tempDir();
  const r = await runFuzz(fault("bad_status"), { runs: 2_000, seed: 1, artifactsDir: dir.path });
  assert.equal(r.run.processes, "fork-server");
  const f = r.findings.find((x) => x.kind === "contract" || x.kind === "panic");
  assert.ok(f, JSON.stringify(r.findings));
  assert.match(f.message, /status/);
});

Deno.test("runFuzz() in the fork server: a plugin printing to stdout or reading stdin leaves the server's pipes alone", async () => {
  await using dir = await tempDir();
  const r = await runFuzz(fault("stdout_print"), {
    methods: ["chatty", "slurp_stdin"],
    runs: 5_000,
    seed: 1,
    artifactsDir: dir.path,
  });
  assert.equal(r.run.processes, "fork-server");
  assert.equal(r.run.execs, 5_000);
  assert.equal(r.run.stopped, "runs");
});

Deno.test("runFuzz() fuzzes a plugin that leaves threads running in Deno children, and warns why", async () => {
  await using dir = await tempDir();
  const r = await runFuzz(fault("thread_per_instance"), {
    methods: ["echo"],
    runs: 2_000,
    seed: 1,
    artifactsDir: dir.path,
  });
  assert.equal(r.run.processes, "deno-child");
  assert.equal(r.run.execs, 2_000);
  assert.ok(r.warnings.some((w) => /left threads running/.test(w)), JSON.stringify(r.warnings));
});

// Not dup2_over_fds: it falls back to a Deno child too, where what a plugin does to Deno's own descriptors decides the
// outcome (mostly a panic and exit 1; once in a full suite beside the check matrix, exit 0): two runs of it do not
// agree with each other, whichever path they take.
for (const name of ["init_fails", "nonblock_all_fds", "nofile_limit"]) {
  Deno.test(`plugcheck fuzz on ${name}, which the fork server cannot start, gives the error a Deno child gives`, async () => {
    const served = await runCli(["fuzz", fault(name), "--runs", "100"]);
    const child = await runCli(["fuzz", fault(name), "--runs", "100", "--no-fork-server"]);
    assert.equal(served.code, 1, served.stderr);
    assert.equal(served.code, child.code);
    const firstLine = (t: string) => t.split("\n").find((l) => l.startsWith("plugcheck: error:"));
    assert.ok(firstLine(served.stderr), served.stderr);
    assert.equal(firstLine(served.stderr), firstLine(child.stderr));
  });
}

Deno.test("runFuzz() on a plugin whose init hangs gives up at the start deadline, once, naming the fork server", async () => {
  await using dir = await tempDir();
  await assert.rejects(
    () => runFuzz(fault("hang_init"), { runs: 100, seed: 1, startTimeoutMs: 500, artifactsDir: dir.path }),
    (e: Error) =>
      e.name === "PluginTimeoutError" && /no reply within 500 ms; the fork server was killed/.test(e.message),
  );
});

Deno.test("plugcheck fuzz text report says where the inputs ran", async () => {
  await using dir = await tempDir();
  const r = await runCli(["fuzz", fixture("ref_c"), "--method", "echo", "--runs", "1000", "--artifacts", dir.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^run +1,000 execs in .* in a fork server; stopped: runs$/m);
});

Deno.test("runFuzz() in the fork server: a plugin that kills the server is a crash, a new server goes on, and the method is retired", async () => {
  await using dir = await tempDir();
  const r = await runFuzz(fault("kills_parent"), { runs: 3_000, seed: 1, artifactsDir: dir.path });
  assert.equal(r.run.processes, "fork-server");
  assert.equal(r.run.stopped, "runs");
  assert.equal(r.run.execs, 3_000);
  assert.equal(r.findings.length, 1, JSON.stringify(r.findings));
  const f = r.findings[0]!;
  assert.equal(f.kind, "crash");
  assert.equal(f.key, "host-gone:kill_parent");
  assert.match(f.message, /fork server, the worker's parent, ended during invoke "kill_parent"/);
  assert.ok(r.warnings.some((w) => /Method "kill_parent" retired/.test(w)), JSON.stringify(r.warnings));
});

Deno.test("renderFuzzReport() says FAIL for a run that ended early on an error, even with nothing found", async () => {
  await using dir = await tempDir();
  const real = await runFuzz(fixture("ref_c"), { methods: ["echo"], runs: 100, seed: 1, artifactsDir: dir.path });
  assert.equal(real.ok, true);
  const ended = FuzzReportSchema.parse({ ...real, ok: false, run: { ...real.run, stopped: "error" } });
  const text = renderFuzzReport(ended, plain);
  assert.match(text, /^FAIL: the run ended early \(see the warning\); nothing found in 100 execs$/m);
  assert.doesNotMatch(text, /^ok:/m);
});

Deno.test("runFuzz() fuzzes a LADSPA library through its adapter in the fork server, finding what Deno children find", async () => {
  const lib = join(ROOT, "build", "fixtures", "ladspa", "libunclamped_table_index.so");
  const { served, child } = await bothWays(lib, {
    runs: 20_000,
    seed: 1,
    maxFindings: 1,
    config: '{"out_of_range":true}',
  });
  assert.equal(served.run.processes, "fork-server");
  assert.equal(served.findings.length, 1, JSON.stringify(served.findings));
  assert.equal(served.findings[0]!.kind, "crash");
  assert.deepEqual(gist(served), gist(child));
  assert.equal(served.findings[0]!.first_execs, child.findings[0]!.first_execs);
});
