/**
 * The CLI's options and messages as a new user meets them: delays, input
 * caps, paths from where the user stands, output formats and colour, the
 * default log level, messages that say what happened and promise nothing
 * else, and the library imported from outside the clone.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { StatusLine } from "../lib/commands/status_line.ts";
import { EXIT, exitCodeFor } from "../lib/commands/exit_codes.ts";
import { HostInternalError } from "../mod.ts";
import { fault, REFERENCE_PLUGINS, ROOT, runCli, runDeno } from "./_helpers.ts";

const RUST = REFERENCE_PLUGINS[1]!.path;
const denoDir = (): Record<string, string> => {
  const d = Deno.env.get("DENO_DIR");
  return d ? { DENO_DIR: d } : {};
};
const C = REFERENCE_PLUGINS[0]!.path;

Deno.test("plugcheck refuses delays of 2^31 ms or more as a usage error, before loading anything", async () => {
  for (
    const args of [["invoke", RUST, "echo", "--timeout", "2147483648"], [
      "load",
      RUST,
      "--isolate",
      "--grace",
      "99999999999",
    ]]
  ) {
    const r = await runCli(args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /must be at most 2147483647 ms \(about 24\.8 days\)/);
    assert.equal(r.stdout, "");
  }
  const ok = await runCli(["invoke", RUST, "echo", "--input", "x", "--timeout", "2147483647"]);
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test("plugcheck invoke caps its input: /dev/zero and oversize stdin are usage errors", async () => {
  let r = await runCli(["invoke", RUST, "echo", "--input-file", "/dev/zero"], { killAfterMs: 20_000 });
  assert.equal(r.killed, false);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--input-file "\/dev\/zero" is larger than the 67108864-byte limit; raise --max-input-bytes/);
  r = await runCli(["invoke", RUST, "echo", "--stdin", "--max-input-bytes", "1000"], { stdin: new Uint8Array(1001) });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--stdin input is larger than the 1000-byte limit/);
  r = await runCli(["invoke", RUST, "echo", "--stdin", "--max-input-bytes", "1000"], { stdin: new Uint8Array(1000) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdoutBytes.length, 1000);
});

/** `deno task <args>` run in `dir` as from a user's shell: no INIT_CWD inherited from the `deno task test` running this. */
function denoTaskIn(dir: string, args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", ...args],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...denoDir() },
  }).output();
}

Deno.test("deno task plugcheck resolves relative paths from where the user ran it, and names the path tried", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(C, join(dir, "libmine.so"));
    const task = (args: string[]) => denoTaskIn(dir, ["--config", join(ROOT, "deno.json"), "plugcheck", ...args]);
    let out = await task(["load", "./libmine.so", "--log", "off"]);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(new TextDecoder().decode(out.stdout), new RegExp(`^library {4}${dir}/libmine\\.so$`, "m"));
    out = await task(["load", "./missing.so"]);
    assert.equal(out.code, 3);
    assert.match(
      new TextDecoder().decode(out.stderr),
      new RegExp(`Cannot load plugin "${dir}/missing\\.so": file not found`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plugcheck invoke warns when a json method's output is not JSON", async () => {
  const r = await runCli(["invoke", fault("json_not_json"), "greet"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "hello");
  assert.match(
    r.stderr,
    /warning: Method "greet" is declared "json" in describe\(\), but its output is not valid JSON/,
  );
});

Deno.test("plugcheck load: a describe() schema error is said once, without a raw zod dump", async () => {
  const r = await runCli(["load", fault("describe_bad_schema")]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0]!,
    /^plugcheck: error: Cannot describe plugin: describe\(\) JSON is invalid at methods\.0\.input: /,
  );
  assert.doesNotMatch(r.stderr, /"code"|\[\{/);
});

Deno.test("plugcheck shows plugin logs from warning up by default: no info chatter", async () => {
  const r = await runCli(["invoke", RUST, "upper", "--input", "quiet"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "QUIET");
  assert.equal(r.stderr, "", "no [INF] initialized line");
  const info = await runCli(["invoke", RUST, "upper", "--input", "x", "--log", "info"]);
  assert.match(info.stderr, /\[INF\] plugin\.ref_rust: initialized/);
});

Deno.test("plugcheck messages say what happened and promise nothing that does not follow", async () => {
  const boxed = await runCli(["invoke", fault("hang_invoke"), "hang", "--isolate", "--timeout", "300"]);
  assert.equal(boxed.code, 1);
  assert.match(boxed.stderr, /no reply within 300 ms; the sandbox child was killed/);
  assert.doesNotMatch(boxed.stderr, /next call|fresh one/);
  const init = await runCli(["load", fault("hang_init"), "--timeout", "300"], { killAfterMs: 15_000 });
  assert.equal(init.code, 1);
  assert.match(
    init.stderr,
    /Cannot initialize plugin: no reply within 300 ms; the call may still be running, so the library stays loaded/,
  );
  assert.doesNotMatch(init.stderr, /instance/);
  const dep = await runCli(["load", fault("missing_dependency")]);
  assert.equal(dep.code, 3);
  assert.match(dep.stderr, /not a loadable shared library \(the file exists, but the dynamic loader refused it\)/);
  assert.match(dep.stderr, /\n {2}cause: libplugcheck_absent_dep\.so: cannot open shared object file/);
});

Deno.test("plugcheck load --timeout bounds init", async () => {
  const r = await runCli(["load", fault("hang_init"), "--timeout", "200", "--isolate"], { killAfterMs: 15_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no reply within 200 ms/);
  assert.match(
    (await runCli(["load", "--help"])).stdout,
    /--timeout MS +deadline for dlopen, init, describe, shutdown and unloading/,
  );
});

Deno.test("plugcheck --format json equals --json; bad --format and --color values are usage errors", async () => {
  const a = await runCli(["invoke", C, "sum", "--input", "[1,2]", "--format", "json"]);
  const b = await runCli(["invoke", C, "sum", "--input", "[1,2]", "--json"]);
  assert.equal(JSON.parse(a.stdout).output, 3);
  assert.equal(JSON.parse(b.stdout).output, 3);
  assert.equal((await runCli(["load", C, "--format", "xml"])).code, 2);
  const color = await runCli(["load", C, "--color", "sometimes"]);
  assert.equal(color.code, 2);
  assert.match(color.stderr, /Option --color takes auto, always or never: got "sometimes"/);
});

Deno.test("plugcheck --color always colours stderr even when it is not a terminal; never and NO_COLOR do not", async () => {
  const bad = ["invoke", C, "sum", "--input", "x"];
  const always = await runCli([...bad, "--color", "always"], { env: { NO_COLOR: "" } });
  assert.ok(always.stderr.includes("plugcheck: \x1b[31merror:\x1b[39m"), always.stderr);
  const never = await runCli([...bad, "--color", "never"], { env: { NO_COLOR: "" } });
  assert.ok(!never.stderr.includes("\x1b["), never.stderr);
  const auto = await runCli(bad); // not a terminal, NO_COLOR=1
  assert.ok(!auto.stderr.includes("\x1b["), auto.stderr);
});

Deno.test("StatusLine rewrites one terminal line at most ten times a second, and logs plain lines every few seconds", () => {
  let t = 0;
  const written: string[] = [];
  const tty = new StatusLine({ terminal: true, write: (s) => written.push(s), now: () => t });
  for (let i = 0; i < 1000; i++, t += 1) tty.update(`step ${i}`);
  assert.ok(written.length >= 9 && written.length <= 10, `${written.length} rewrites in one second`);
  assert.ok(written.every((w) => w.startsWith("\r\x1b[2K")));
  tty.done();
  assert.equal(written.at(-1), "\r\x1b[2K");
  const plain: string[] = [];
  t = 0;
  const log = new StatusLine({ terminal: false, write: (s) => plain.push(s), now: () => t });
  for (let i = 0; i < 12_000; i++, t += 1) log.update(`step ${i}\u001b[2J`);
  assert.deepEqual(plain, ["step 5000\\x1b[2J\n", "step 10000\\x1b[2J\n"]);
});

Deno.test("exitCodeFor() keeps 1 for plugin failures and gives plugcheck's own failures 70", () => {
  assert.equal(exitCodeFor(new HostInternalError("x", { operation: "op" })), EXIT.INTERNAL);
  assert.equal(exitCodeFor(new TypeError("a bug")), 70);
});

Deno.test("mod.ts imported by absolute path from a script elsewhere works with no config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = join(dir, "smoke.ts");
    await Deno.writeTextFile(
      script,
      `import { loadPlugin } from ${JSON.stringify(join(ROOT, "mod.ts"))};
await using p = await loadPlugin(${JSON.stringify(C)});
await using i = await p.createInstance();
console.log(new TextDecoder().decode(await i.invoke("upper", "outside")));
`,
    );
    const r = await runDeno(["run", "--no-config", "--allow-ffi", "--allow-read", "--allow-env", script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "OUTSIDE\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plugcheck option errors: a negative number meets the option's own check, on one line", async () => {
  for (
    const [args, said] of [
      [["stress", RUST, "--iterations", "-5"], 'Option --iterations must be a positive integer: got "-5"'],
      [["invoke", RUST, "echo", "--timeout", "-1"], 'Option --timeout must be a positive integer: got "-1"'],
      [["fuzz", RUST, "--max-len", "-1"], 'Option --max-len must be a positive integer: got "-1"'],
      [["invoke", RUST, "echo", "--input", "-x"], 'Option --input needs a value: got "-x", which reads as an option'],
    ] as const
  ) {
    const r = await runCli([...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(said), r.stderr);
    assert.ok(!r.stderr.includes("\\n"), `a literal \\n: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  }
  const dashed = await runCli(["invoke", RUST, "echo", "--input", "-5"]);
  assert.equal(dashed.code, 0, dashed.stderr);
  assert.equal(dashed.stdout, "-5");
});

Deno.test("plugcheck fuzz names its flags in errors and help: --max-len, not maxLen; --all is not called a default", async () => {
  const r = await runCli(["fuzz", RUST, "--max-len", "99999999999"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /Option --max-len must be at most 16777216: got 99999999999/);
  assert.doesNotMatch(r.stderr, /maxLen/);
  const help = await runCli(["fuzz", "--help"]);
  const all = help.stdout.slice(help.stdout.indexOf("  --all"), help.stdout.indexOf("  --runs"));
  assert.match(all, /what runs when no --method is given/);
  assert.doesNotMatch(all, /the default/);
});

Deno.test("README's way to run plugcheck from outside the clone (deno task --config) works as written", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const line = /^npx -y deno@2\.9\.6 task --config \/path\/to\/plugcheck\/deno\.json plugcheck (.+)$/m.exec(readme);
  assert.ok(line, "README shows no `task --config ... plugcheck` line");
  const args = line[1]!.split(" ");
  assert.deepEqual(args, ["load", "./libmyplugin.so"]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(C, join(dir, "libmyplugin.so"));
    const run = (config: string[]) => denoTaskIn(dir, [...config, "plugcheck", ...args]);
    const out = await run(["--config", join(ROOT, "deno.json")]);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(new TextDecoder().decode(out.stdout), new RegExp(`^library {4}${dir}/libmyplugin\\.so$`, "m"));
    // Without --config, Deno's own message (quoted in the README) is what the user sees.
    const bare = await run([]);
    assert.notEqual(bare.code, 0);
    const said = /deno task couldn't find deno\.json\(c\) or package\.json/;
    assert.match(new TextDecoder().decode(bare.stderr), said);
    assert.match(readme.replace(/\s+/g, " "), said);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
