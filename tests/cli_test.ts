/**
 * The CLI as a user runs it (a subprocess): help, exit codes, outputs and
 * one-line messages for bad input.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256File } from "../lib/ffi/dlopen.ts";
import { LoadReportSchema } from "../mod.ts";
import { fault, REFERENCE_PLUGINS, ROOT, runCli } from "./_helpers.ts";

const RUST = REFERENCE_PLUGINS[1]!.path;
const C = REFERENCE_PLUGINS[0]!.path;

/** Exactly one non-empty line on stderr, starting with plugcheck: error: */
function oneErrorLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, /^plugcheck: error: /);
  return lines[0]!;
}

Deno.test("plugcheck --help lists commands and exit codes on stdout, exit 0", async () => {
  const r = await runCli(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage:\n {2}plugcheck <command> \[options\]/);
  assert.match(r.stdout, /load <library>/);
  assert.match(r.stdout, /invoke <library> <method>/);
  assert.match(
    r.stdout,
    /Exit codes:\n {2}0 {2}success\n {2}1 {2}the plugin failed.*\n(?: {5}.*\n)* {2}2 {2}usage error.*\n(?: {5}.*\n)* {2}3 {2}the library could not be loaded/,
  );
  assert.match(r.stdout, /\n {2}70 plugcheck itself failed: a bug/);
  assert.equal(r.stderr, "");
});

Deno.test("plugcheck with no arguments prints help on stderr, exit 2", async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /Usage:/);
});

Deno.test("plugcheck <command> --help teaches each command with examples", async () => {
  for (const cmd of ["load", "invoke"]) {
    const r = await runCli([cmd, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^plugcheck ${cmd} — `));
    assert.match(r.stdout, /Examples:\n {2}plugcheck /);
    assert.match(r.stdout, /Exit codes:/);
  }
  const viaHelp = await runCli(["help", "invoke"]);
  assert.match(viaHelp.stdout, /--input-file PATH/);
});

Deno.test("plugcheck --version prints the version from deno.json", async () => {
  const { version } = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const r = await runCli(["--version"]);
  assert.equal(r.stdout, `plugcheck ${version}\n`);
});

Deno.test("plugcheck rejects an unknown command or flag with one line, exit 2", async () => {
  let r = await runCli(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.match(oneErrorLine(r.stderr), /Unknown command "frobnicate"; commands: load, invoke/);
  r = await runCli(["load", RUST, "--bogus"]);
  assert.equal(r.code, 2);
  assert.match(oneErrorLine(r.stderr), /Unknown option '--bogus' \(see 'plugcheck load --help'\)$/);
  r = await runCli(["invoke", RUST]);
  assert.equal(r.code, 2);
  assert.match(oneErrorLine(r.stderr), /Missing <method>/);
  r = await runCli(["invoke", RUST, "echo", "--timeout", "soon"]);
  assert.equal(r.code, 2);
  assert.match(oneErrorLine(r.stderr), /Option --timeout must be a positive integer: got "soon"/);
  r = await runCli(["invoke", RUST, "echo", "--input", "a", "--stdin"]);
  assert.equal(r.code, 2);
  assert.match(oneErrorLine(r.stderr), /exclude each other/);
  r = await runCli(["load", RUST, "--sha256", "xyz"]);
  assert.equal(r.code, 2);
  assert.match(oneErrorLine(r.stderr), /Option --sha256 must be 64 hex digits/);
});

Deno.test("plugcheck invoke: a missing --input-file or bad --config JSON is exit 2, nothing on stdout", async () => {
  let r = await runCli(["invoke", RUST, "echo", "--input-file", "/nonexistent/in.bin"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.equal(
    oneErrorLine(r.stderr),
    'plugcheck: error: Cannot read --input-file "/nonexistent/in.bin": file not found',
  );
  r = await runCli(["invoke", RUST, "echo", "--config", "{nope"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(oneErrorLine(r.stderr), /Option --config is not valid JSON: /);
  r = await runCli(["invoke", RUST, "echo", "--config", "[1]"]);
  assert.equal(r.code, 2);
  assert.match(oneErrorLine(r.stderr), /Option --config must be a JSON object/);
});

Deno.test("plugcheck load: each way a library fails to load is exit 3 with one line", async () => {
  const cases: [string[], RegExp][] = [
    [["/nonexistent/lib.so"], /Cannot load plugin "\/nonexistent\/lib.so": file not found$/],
    [[join(ROOT, "README.md")], /not a loadable shared library/],
    [[fault("missing_symbol")], /missing required symbol npa_instance_invoke$/],
    [[fault("wrong_abi_major")], /it speaks npa ABI 2\.0, this host speaks 1\.0/],
    [[RUST, "--sha256", "0".repeat(64)], /sha256 mismatch: expected 0{64}, file has [0-9a-f]{64}$/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(["load", ...args]);
    assert.equal(r.code, 3, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    const line = r.stderr.trim().split("\n")[0]!;
    assert.match(line, pattern);
  }
});

Deno.test("plugcheck load --sha256 loads when the pin matches", async () => {
  const r = await runCli(["load", C, "--sha256", await sha256File(C), "--log", "off"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^plugin {5}ref_c 1\.0\.0$/m);
});

Deno.test("plugcheck load shows the same metadata for the C and Rust reference plugins", async () => {
  const [c, rust] = await Promise.all([C, RUST].map((p) => runCli(["load", p, "--json"])));
  assert.equal(c!.code, 0);
  assert.equal(rust!.code, 0);
  const cj = JSON.parse(c!.stdout);
  const rj = JSON.parse(rust!.stdout);
  for (const doc of [cj, rj]) LoadReportSchema.parse(doc);
  assert.equal(cj.ok, true);
  assert.equal(cj.abi_version, "1.0");
  assert.deepEqual(cj.symbols.optional, ["npa_plugin_stats"]);
  assert.equal(cj.stats.init_calls, 1);
  assert.equal(typeof cj.init_ms, "number");
  assert.deepEqual({ ...cj.description, name: "" }, { ...rj.description, name: "" });
  const text = await runCli(["load", RUST, "--log", "off"]);
  assert.match(text.stdout, /^abi {8}1\.0 \(host 1\.0\)$/m);
  assert.match(text.stdout, /^symbols {4}8\/8 required; optional: npa_plugin_stats$/m);
  assert.match(text.stdout, /^ {2}sum {8}json {3}pure {4}Adds a JSON array of numbers$/m);
});

Deno.test("plugcheck invoke prints raw output bytes on stdout, exit 0", async () => {
  let r = await runCli(["invoke", RUST, "upper", "--input", "hello", "--log", "off"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "HELLO");
  assert.equal(r.stderr, "");
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
  r = await runCli(["invoke", C, "echo", "--stdin", "--log", "off"], { stdin: bytes });
  assert.equal(r.code, 0);
  assert.deepEqual(r.stdoutBytes, bytes);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(join(dir, "in.bin"), bytes);
    r = await runCli(["invoke", RUST, "echo", "--input-file", join(dir, "in.bin"), "--log", "off"]);
    assert.deepEqual(r.stdoutBytes, bytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plugcheck invoke --json parses json outputs and reports typed errors", async () => {
  let r = await runCli(["invoke", C, "sum", "--input", "[1, 2, 3.5]", "--json"]);
  assert.equal(r.code, 0);
  const ok = JSON.parse(r.stdout);
  assert.equal(ok.ok, true);
  assert.equal(ok.output, 6.5);
  assert.equal(ok.timing.calls, 1);
  r = await runCli(["invoke", RUST, "echo", "--stdin", "--json"], { stdin: new Uint8Array([0xff, 0x00]) });
  assert.equal(JSON.parse(r.stdout).output_base64, "/wA=");
  r = await runCli(["invoke", RUST, "sum", "--input", "oops", "--json", "--log", "off"]);
  assert.equal(r.code, 1);
  const err = JSON.parse(r.stdout);
  assert.deepEqual(err, {
    ok: false,
    error: {
      code: "INVALID_INPUT",
      name: "InvalidInputError",
      message: 'Cannot invoke "sum": plugin returned status 1 (INVALID_INPUT): Input must be a JSON array of numbers',
      operation: 'invoke "sum"',
      status: 1,
      plugin_message: "Input must be a JSON array of numbers",
    },
  });
});

Deno.test("plugcheck invoke: a plugin failure is exit 1 with the typed error, details and a hint", async () => {
  let r = await runCli([
    "invoke",
    RUST,
    "fail_with",
    "--input",
    '{"status":3,"message":"disk on fire"}',
    "--log",
    "off",
  ]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.deepEqual(r.stderr.trim().split("\n"), [
    'plugcheck: error: Cannot invoke "fail_with": plugin returned status 3 (INTERNAL): disk on fire',
    '  details: {"requested_status":3}',
  ]);
  r = await runCli(["invoke", C, "nope", "--log", "off"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /status 2 \(UNKNOWN_METHOD\): Unknown method "nope"/);
  assert.match(r.stderr, /hint: methods of ref_c: echo, upper, sum, sleep_ms, counter, log, fail_with/);
  r = await runCli(["invoke", C, "fail_with", "--input", '{"status":99,"message":"x"}', "--log", "off"]);
  assert.equal(r.code, 1, "a contract violation is exit 1");
  assert.match(r.stderr, /status 99, which is not an npa status/);
});

Deno.test("plugcheck invoke --verbose shows the stack; without it no stack trace", async () => {
  const quiet = await runCli(["invoke", RUST, "sum", "--input", "x", "--log", "off"]);
  assert.doesNotMatch(quiet.stderr, /\n\s+at /);
  const loud = await runCli(["invoke", RUST, "sum", "--input", "x", "--log", "off", "--verbose"]);
  assert.match(loud.stderr, /InvalidInputError: Cannot invoke "sum"/);
  assert.match(loud.stderr, /\n\s+at /);
});

Deno.test("plugcheck invoke --config and --repeat call one instance N times", async () => {
  const r = await runCli(["invoke", RUST, "counter", "--config", '{"counter_start": 100}', "--repeat", "5"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "105");
  assert.match(r.stderr, /5 calls: min [\d.]+ (?:us|ms|s), median [\d.]+ (?:us|ms|s), max [\d.]+ (?:us|ms|s)/);
});

Deno.test("plugcheck invoke shows plugin logs on stderr at the --log level", async () => {
  const r = await runCli(["invoke", C, "log", "--input", '"hey"', "--log", "debug"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "4");
  assert.match(r.stderr, /\[ERR\] plugin\.ref_c\.worker: hey \(error\)/);
  assert.match(r.stderr, /\[DBG\] plugin\.ref_c\.worker: hey \(debug\)/);
  assert.doesNotMatch(r.stderr, /\(trace\)/);
  const off = await runCli(["invoke", C, "log", "--log", "off"]);
  assert.equal(off.stdout, "0");
  assert.equal(off.stderr, "");
  const bad = await runCli(["invoke", C, "log", "--log", "loud"]);
  assert.equal(bad.code, 2);
  assert.equal(
    oneErrorLine(bad.stderr),
    'plugcheck: error: Option --log: Invalid log directive "loud": level must be one of off, error, warning, info, debug, trace',
  );
});

Deno.test("scripts/install.ts writes a plugcheck command that runs without deno on PATH", async () => {
  const root = await Deno.makeTempDir();
  try {
    const inst = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-env", join(ROOT, "scripts/install.ts"), "--root", root],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(inst.code, 0, new TextDecoder().decode(inst.stderr));
    const bin = join(root, "bin", "plugcheck");
    assert.equal((await Deno.stat(bin)).mode! & 0o111, 0o111, "executable");
    const out = await new Deno.Command(bin, {
      args: ["invoke", C, "upper", "--input", "shim", "--log", "off"],
      cwd: root,
      env: { PATH: "/usr/bin:/bin" }, // no deno on PATH, as on a fresh machine
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout), "SHIM", new TextDecoder().decode(out.stderr));
    assert.equal(out.code, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("plugcheck load and invoke refuse sandbox-only flags without --isolate, and bad --env names", async () => {
  let r = await runCli(["load", C, "--env", "HOME"]);
  assert.equal(r.code, 2);
  assert.equal(oneErrorLine(r.stderr), "plugcheck: error: Option --env needs --isolate");
  r = await runCli(["invoke", C, "echo", "--env", "HOME", "--grace", "10"]);
  assert.equal(r.code, 2);
  assert.equal(oneErrorLine(r.stderr), "plugcheck: error: Options --env and --grace need --isolate");
  for (const cmd of [["load", C], ["invoke", C, "echo"]]) {
    r = await runCli([...cmd, "--isolate", "--env", "A=B"]);
    assert.equal(r.code, 2);
    assert.equal(oneErrorLine(r.stderr), 'plugcheck: error: Option --env takes a variable name: got "A=B"');
  }
});

Deno.test("the plugcheck task, the demo and the installed command turn Deno's update check off (its DNS socket is no plugin's)", async () => {
  // Deno looks for a newer version with a DNS lookup mid-run: a socket that stress --reload in process counted as
  // fds_after_shutdown of the plugin (thread_after_shutdown, 1 run in 12).
  const tasks = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks;
  for (const name of ["plugcheck", "demo"]) assert.match(tasks[name].command, /DENO_NO_UPDATE_CHECK=1 /, name);
  const { shim } = await import("../scripts/install.ts");
  assert.match(shim("/usr/bin/deno", "/opt/plugcheck"), /^export DENO_NO_UPDATE_CHECK=1$/m);
});
