/**
 * `plugcheck stress` as a user runs it: the JSON report matches its schema,
 * exit codes say what happened, bad flags are usage errors with nothing run,
 * a hang in process ends the run on time, Ctrl-C stops the run and still
 * prints the report, and the text report names every verdict.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { StressReportSchema } from "../mod.ts";
import { CLI_ARGS, fault, fixture, ROOT, runCli } from "./_helpers.ts";

const REF = fixture("ref_c");

Deno.test("stress --format json prints one report that matches StressReportSchema, and exits 0", async () => {
  const r = await runCli(["stress", REF, "--iterations", "800", "--seed", "3", "--format", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const report = StressReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(report.ok, true);
  assert.equal(report.seed, 3);
  assert.equal(report.run.calls, 800);
  assert.ok(report.resources.points.length >= 2);
  assert.ok(report.verdicts.length >= 10);
});

Deno.test("stress --json on a failing plugin exits 1 and the report still matches the schema", async () => {
  const r = await runCli(["stress", fault("impure_pure"), "--method", "format", "--iterations", "50", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  const report = StressReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(report.ok, false);
  assert.equal(report.verdicts.find((v) => v.id === "wrong_results")?.status, "fail");
});

Deno.test("stress prints the report as text with every verdict, the floor and the seed", async () => {
  const r = await runCli(["stress", REF, "--method", "upper", "--iterations", "500", "--seed", "9"]);
  assert.equal(r.code, 0, r.stderr);
  for (
    const line of [
      "plugin     ref_c",
      "seed 9",
      "latency    p50",
      "floor      p50",
      "verdicts",
      "ok: no verdict failed",
    ]
  ) {
    assert.ok(r.stdout.includes(line), `missing ${JSON.stringify(line)} in:\n${r.stdout}`);
  }
  for (const id of ["crash", "timeouts", "errors", "wrong_results", "leaked_buffers", "threads_after_destroy"]) {
    assert.match(r.stdout, new RegExp(`pass  ${id} `));
  }
});

Deno.test("stress refuses bad flags with exit 2 and runs nothing", async () => {
  const cases: [string[], RegExp][] = [
    [["--churn", "--reload", "2"], /--churn and --reload/],
    [["--churn", "--instances", "2"], /--instances applies/],
    [["--duration", "5x"], /--duration takes a duration/],
    [["--duration", "1s", "--iterations", "5"], /--duration and --iterations exclude each other/],
    [["--iterations", "0"], /--iterations must be a positive integer/],
    [["--concurrency", "99"], /--concurrency must be an integer from 1 to 16/],
    [["--input", "x"], /--method/],
    [["--seed", "99999999999"], /--seed must be at most/],
    [["--max-rss-growth", "lots"], /--max-rss-growth must be a positive number/],
    [["--reload", "2", "--iterations", "5"], /--reload runs/],
    [["--method", "nope", "--iterations", "5"], /declares no method "nope"/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(["stress", REF, ...args, "--json"]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.ok, false);
    assert.equal(doc.error.name, "UsageError");
    assert.match(doc.error.message, message, args.join(" "));
  }
});

Deno.test("stress exits 3 when the library cannot be loaded", async () => {
  const r = await runCli(["stress", join(ROOT, "fixtures/faults/not_a_library.so"), "--iterations", "5"]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /not a loadable shared library/);
});

Deno.test("stress in process ends on time when calls hang: a timeouts verdict, leaks not judged", async () => {
  const r = await runCli([
    "stress",
    fault("hang_invoke"),
    "--method",
    "hang",
    "--input",
    "",
    "--timeout",
    "300",
    "--duration",
    "1s",
    "--concurrency",
    "2",
    "--json",
  ], { killAfterMs: 20_000 });
  assert.equal(r.killed, false, "plugcheck must end by itself");
  assert.equal(r.code, 1, r.stderr);
  const report = StressReportSchema.parse(JSON.parse(r.stdout));
  assert.deepEqual(report.verdicts.filter((v) => v.status === "fail").map((v) => v.id), ["timeouts"]);
  assert.ok(report.run.timeouts >= 2);
  assert.ok(report.instances.wedged >= 1);
  assert.equal(report.verdicts.find((v) => v.id === "leaked_buffers")?.status, "skip");
});

Deno.test("stress --isolate names the call that crashed inside a batch and prints the line that reproduces it", async () => {
  // echo or crash, one loop: the calls go in batches of 1, 2, 4, ...; with seed 94 the first crash is call 6,
  // the third of a batch of four.
  const lib = fault("segfault");
  const args = ["stress", lib, "--method", "echo", "--method", "crash", "--input", "boom", "--concurrency", "1"];
  const r = await runCli([...args, "--iterations", "5000", "--seed", "94", "--isolate"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /FAIL {2}crash +the plugin crashed its process \(killed by SIGSEGV\) during invoke "crash"/);
  assert.ok(
    r.stdout.includes(`reproduce  plugcheck invoke ${lib} crash --input boom --isolate`),
    `no reproduce line in:\n${r.stdout}`,
  );
  const json = await runCli([...args, "--iterations", "5000", "--seed", "94", "--isolate", "--json"]);
  const report = StressReportSchema.parse(JSON.parse(json.stdout));
  assert.equal((report.crash?.request as { method?: string }).method, "crash");
  assert.equal(report.crash?.input_base64, btoa("boom"));
  assert.equal(report.run.errors.PluginCrashError?.count, 1);
  assert.equal(report.run.ok, report.run.calls - 1, "the calls of the batches before the crash's, all judged ok");
});

Deno.test("stress --isolate finds the crash of a plugin that logs through a bad pointer, though its logs are off", async () => {
  // invoke shows logs and crashes in the host's log function; stress filters every level out, and must crash too.
  const args = ["stress", fault("log_bad_pointer"), "--method", "note", "--input", "x", "--iterations", "50"];
  const r = await runCli([...args, "--isolate", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  const report = StressReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(report.ok, false);
  assert.ok((report.run.errors.PluginCrashError?.count ?? 0) >= 1, JSON.stringify(report.run.errors));
  assert.equal((report.crash?.request as { method?: string }).method, "note");
});

Deno.test("stress stops on Ctrl-C and still prints the report, with exit 130", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...CLI_ARGS,
      "stress",
      REF,
      "--method",
      "echo",
      "--duration",
      "60s",
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  await new Promise((r) => setTimeout(r, 2500)); // running by now (the 1 s baseline wait included)
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const out = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 130, stderr);
  const report = StressReportSchema.parse(JSON.parse(new TextDecoder().decode(out.stdout)));
  assert.equal(report.stopped_early, "interrupted");
  assert.ok(report.run.calls > 0);
  assert.match(stderr, /interrupted: finishing the report/);
});

Deno.test("stress --help teaches the modes, the verdicts and the flags", async () => {
  const r = await runCli(["stress", "--help"]);
  assert.equal(r.code, 0);
  for (
    const text of [
      "--churn",
      "--reload K",
      "--concurrency N",
      "--duration D",
      "dispatch",
      "thread_safe_instances",
      "Exit codes:",
    ]
  ) {
    assert.ok(r.stdout.includes(text), text);
  }
  const top = await runCli(["--help"]);
  assert.match(top.stdout, /stress <library> +call a plugin hard/);
});

for (const isolate of [false, true]) {
  Deno.test(`stress judges a plugin that uses up the process's descriptors${isolate ? " (--isolate)" : ""}: fds_after_destroy, exit 1, never an internal error`, async () => {
    // fd_per_call leaks one descriptor per call: under `ulimit -n 200`, 400 calls run the process out of them.
    const args = [
      ...CLI_ARGS,
      "stress",
      fault("fd_per_call"),
      "--method",
      "probe",
      "--iterations",
      "400",
      "--seed",
      "1",
    ];
    const quoted = [Deno.execPath(), ...args, ...(isolate ? ["--isolate"] : []), "--json"].map((a) => `'${a}'`);
    const out = await new Deno.Command("sh", {
      args: ["-c", `ulimit -n 200 && exec ${quoted.join(" ")}`],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    const report = StressReportSchema.parse(JSON.parse(new TextDecoder().decode(out.stdout)));
    const failed = report.verdicts.filter((v) => v.status === "fail").map((v) => v.id);
    assert.deepEqual(failed, ["fds_after_destroy"]);
    assert.ok(report.resources.end!.fds > report.resources.baseline!.fds + 100, JSON.stringify(report.resources.end));
    const fds = report.verdicts.find((v) => v.id === "fds_after_destroy")!;
    assert.match(fds.summary, /at its descriptor limit \(200\)/);
  });
}
