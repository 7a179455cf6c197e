/**
 * The CLI against plugins that attack their host or their host's output:
 * printing to stdout, reading stdin, calling exit(), hanging in a load-time
 * constructor, forking, control characters, absurd JSON; and against
 * interruption, which must take the sandbox children along.
 */
import assert from "node:assert/strict";
import {
  CLI_ARGS,
  eventually,
  fault,
  fixture,
  REFERENCE_PLUGINS,
  ROOT,
  runCli,
  runDeno,
  sandboxChildren,
  text,
} from "./_helpers.ts";
import { join } from "node:path";

const RUST = REFERENCE_PLUGINS[1]!.path;

for (const mode of [[], ["--isolate"]]) {
  const label = mode.length ? " --isolate" : "";

  Deno.test(`plugcheck invoke${label}: a plugin's stdout never reaches the results; it is counted and shown on stderr`, async () => {
    const r = await runCli([
      "invoke",
      fault("stdout_print"),
      "chatty",
      "--input",
      "hi",
      "--json",
      ...mode,
      "--verbose",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout); // nothing else on stdout
    assert.equal(doc.output_text, "hi");
    assert.ok(doc.warnings.some((w: string) => /The plugin wrote 84 bytes to stdout/.test(w)), doc.warnings);
    assert.match(r.stderr, /stdout_print: chatty called with 2 bytes/);
    assert.match(r.stderr, /raw stdout write/);
  });

  Deno.test(`plugcheck invoke${label}: a plugin that reads stdin gets nothing (it cannot steal input or frames)`, async () => {
    const r = await runCli(["invoke", fault("stdout_print"), "slurp_stdin", ...mode], {
      stdin: new TextEncoder().encode("steal me"),
      killAfterMs: 15_000,
    });
    assert.equal(r.killed, false);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "0");
  });

  Deno.test(`plugcheck invoke${label}: a plugin's forked process neither holds the output open nor survives`, async () => {
    const r = await runCli(["invoke", fault("fork_leftover"), "spawn", ...mode], { killAfterMs: 10_000 });
    assert.equal(r.killed, false, "finished without waiting for the fork's 25 s");
    assert.equal(r.code, 0, r.stderr);
    const pid = Number(r.stdout);
    assert.ok(pid > 0, r.stdout);
    assert.match(r.stderr, new RegExp(`warning: The plugin left 1 process\\(es\\) running: ${pid} `));
    assert.ok(await eventually(() => !isRunning(pid)), `process ${pid} was ended`);
  });

  Deno.test(`plugcheck invoke${label}: error details nested 2,000,000 deep are bounded, never a crash`, async () => {
    const r = await runCli(["invoke", fault("deep_details"), "deep", "--json", ...mode]);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error.name, "InternalPluginError");
    assert.equal(doc.error.details, "[details omitted: the error nests deeper than 1024 levels]");
    assert.ok(r.stderr.length < 20_000, `${r.stderr.length} bytes on stderr`);
    const text = await runCli(["invoke", fault("deep_details"), "long_message", ...mode]);
    assert.equal(text.code, 1);
    assert.match(text.stderr, /x{100}\.\.\. \[truncated: 3991808 more characters\]/);
    assert.ok(text.stderr.length < 20_000, `${text.stderr.length} bytes on stderr`);
  });

  Deno.test(`plugcheck invoke${label}: plugin text is shown with control characters escaped; JSON stays exact`, async () => {
    const r = await runCli(["invoke", fault("control_chars"), "evil", "--log", "warning", ...mode]);
    assert.equal(r.code, 1);
    assert.ok(
      // deno-lint-ignore no-control-regex -- looking for raw control characters is the point
      !/[\u0000-\u0009\u000b-\u001f\u007f]/.test(r.stderr),
      `raw control characters on stderr: ${JSON.stringify(r.stderr)}`,
    );
    assert.match(r.stderr, /plugin returned status 1 \(INVALID_INPUT\): Bad\\x1b\]0;pwned\\x07\\x1b\[2J\\r\\nfake: ok/);
    assert.match(r.stderr, /evil \\x1b\[2Jlog\\r\\n::warning::forged/);
    assert.ok(!/^(fake: ok|::)/m.test(r.stderr), "no forged line");
    const json = await runCli(["invoke", fault("control_chars"), "evil", "--json", ...mode]);
    assert.equal(JSON.parse(json.stdout).error.plugin_message, "Bad\u001b]0;pwned\u0007\u001b[2J\r\nfake: ok");
  });
}

Deno.test("plugcheck load: describe() text with control characters is escaped", async () => {
  const r = await runCli(["load", fault("control_chars")]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Returns \\x1b\[31mcontrol\\x1b\[0m characters/);
  assert.ok(!r.stdout.includes("\u001b"));
});

Deno.test("plugcheck invoke: a plugin calling exit() inside a call fails with the call and the status named", async () => {
  const r = await runCli(["invoke", fault("exit_in_call"), "quit", "--input", "7"]);
  assert.equal(r.code, 1, "a failure, not the plugin's status 7");
  assert.match(r.stderr, /^plugcheck: error: Cannot invoke "quit": the plugin called exit\(7\) during the call/);
  const zero = await runCli(["invoke", fault("exit_in_call"), "quit", "--json"]);
  assert.equal(zero.code, 1, "exit(0) inside a call is not a success");
  const doc = JSON.parse(zero.stdout);
  assert.equal(doc.ok, false);
  assert.equal(doc.error.name, "PluginCrashError");
  assert.equal(doc.error.exit_code, 0);
});

Deno.test("plugcheck load and invoke: a load-time constructor that hangs is ended by the watchdog", async () => {
  for (const cmd of [["load"], ["invoke"]]) {
    const args = [...cmd, fault("hang_constructor"), ...(cmd[0] === "invoke" ? ["echo"] : []), "--timeout", "300"];
    const r = await runCli(args, { killAfterMs: 15_000 });
    assert.equal(r.killed, false, `${cmd}: ended by itself`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot load plugin ".*libhang_constructor\.so": no return within 300 ms/);
  }
});

function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

for (const signal of ["SIGKILL", "SIGTERM", "SIGINT"] as const) {
  Deno.test(`plugcheck killed by ${signal} during a sandboxed call takes its sandbox child along`, async () => {
    const cli = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(ROOT, "cli.ts"),
        "invoke",
        fault("hang_invoke"),
        "hang",
        "--isolate",
        "--timeout",
        "60000",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      assert.ok(await eventually(() => sandboxChildren(cli.pid).length === 1, 15_000), "the child started");
      const [child] = sandboxChildren(cli.pid);
      await new Promise((r) => setTimeout(r, 300)); // inside the hanging call
      cli.kill(signal);
      const status = await cli.status;
      if (signal !== "SIGKILL") assert.equal(status.code, signal === "SIGINT" ? 130 : 143);
      assert.ok(await eventually(() => !isRunning(child!)), `sandbox child ${child} is gone`);
    } finally {
      try {
        cli.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

Deno.test("plugcheck invoke --repeat reports percentiles from a histogram", async () => {
  const r = await runCli(["invoke", RUST, "echo", "--input", "x", "--repeat", "200", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const t = JSON.parse(r.stdout).timing;
  assert.equal(t.calls, 200);
  for (const k of ["min_ms", "median_ms", "p90_ms", "p99_ms", "max_ms"]) assert.equal(typeof t[k], "number", k);
  assert.ok(t.min_ms <= t.median_ms && t.median_ms <= t.p90_ms && t.p90_ms <= t.p99_ms && t.p99_ms <= t.max_ms);
  // Each figure in the unit that reads best (report/units.ts duration): us, ms or s.
  const d = String.raw`[\d.]+ (?:us|ms|s)`;
  assert.match(r.stderr, new RegExp(`200 calls: min ${d}, median ${d}, max ${d} \\(p90 ${d}, p99 ${d}\\)`));
});

Deno.test("ProcessGuard.writeAll() waits on a results descriptor someone made O_NONBLOCK: all 16 MiB arrive", async () => {
  // A plugin may set O_NONBLOCK on every descriptor; a full pipe then answers EAGAIN instead of waiting.
  const code = `
    import { ProcessGuard } from ${JSON.stringify(join(ROOT, "lib/ffi/process_guard.ts"))};
    const guard = ProcessGuard.get();
    const { output } = guard.guardStdio();
    const libc = Deno.dlopen("libc.so.6", { fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" } });
    const F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0o4000;
    libc.symbols.fcntl(output, F_SETFL, libc.symbols.fcntl(output, F_GETFL, 0) | O_NONBLOCK);
    guard.writeAll(output, new Uint8Array(16 << 20).fill(120));
    Deno.exit(0);
  `;
  const r = await runDeno(["eval", "--config", join(ROOT, "deno.json"), "--ext=ts", code], { killAfterMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdoutBytes.length, 16 << 20);
  assert.ok(r.stdoutBytes.every((b) => b === 120));
});

/** The state letter of a process (`R`, `S`, `T` stopped, ...), or undefined when it is gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

Deno.test("watchdog: a plugin that stops plugcheck (SIGSTOP) is named once it continues, and the call still succeeds", async () => {
  const cli = new Deno.Command(Deno.execPath(), {
    args: [...CLI_ARGS, "invoke", fault("stop_self"), "stop", "--timeout", "300", "--json"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    assert.ok(await eventually(() => processState(cli.pid) === "T", 15_000), "the plugin stopped plugcheck");
    await new Promise((r) => setTimeout(r, 600)); // twice the call's deadline, stopped
    Deno.kill(cli.pid, "SIGCONT");
    const out = await cli.output();
    const stderr = text(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(JSON.parse(text(out.stdout)).ok, true);
    assert.match(
      stderr,
      /the process was stopped \(SIGSTOP or SIGTSTP\) during invoke "stop" and continued \d+ ms later/,
    );
    assert.match(stderr, /--isolate/);
  } finally {
    try {
      cli.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

Deno.test("ProcessGuard.endDescendants() spares plugcheck's own sandbox children, which it would kill and blame", async () => {
  // What \`CommandContext.close()\` does after an in-process plugin: sweep every descendant (what the plugin forked or
  // daemonized). A sandbox child of plugcheck's own, alive at that moment (e.g. closed with deferUnload and still
  // unloading), was killed too, and its end blamed on its plugin ("killed by SIGKILL after it had unloaded").
  const code = (spare: boolean) => `
    import { ProcessGuard } from ${JSON.stringify(join(ROOT, "lib/ffi/process_guard.ts"))};
    import { loadPlugin } from ${JSON.stringify(join(ROOT, "mod.ts"))};
    import { sandboxProcessIds } from ${JSON.stringify(join(ROOT, "lib/sandbox/live_children.ts"))};
    const guard = ProcessGuard.get();
    const plugin = await loadPlugin(${JSON.stringify(fixture("ref_c"))}, { isolate: true });
    const stray = new Deno.Command("sleep", { args: ["30"] }).spawn();
    const child = plugin.processId;
    const ended = guard.endDescendants(${spare ? "sandboxProcessIds()" : "[]"});
    await stray.status;
    let after = "answered";
    try {
      await using instance = await plugin.createInstance();
      await instance.invoke("echo", new TextEncoder().encode("x"));
    } catch (e) {
      after = e.name;
    }
    await plugin.close().catch(() => {});
    console.log(JSON.stringify({ ended: ended.map((p) => p.pid), stray: stray.pid, child, after }));
  `;
  const run = async (spare: boolean) => {
    const r = await runDeno(["eval", "--config", join(ROOT, "deno.json"), "--ext=ts", code(spare)], {
      killAfterMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { ended: number[]; stray: number; child: number; after: string };
  };
  const spared = await run(true);
  assert.deepEqual(spared.ended, [spared.stray], "only the stray process is ended");
  assert.equal(spared.after, "answered", "the sandbox child still answers");
  // A sweep that spares nothing ends the child too: its plugin then looks crashed.
  const all = await run(false);
  assert.ok(all.ended.includes(all.stray) && all.ended.includes(all.child), JSON.stringify(all));
  assert.notEqual(all.after, "answered");
});
