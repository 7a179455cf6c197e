/**
 * Processes a plugin starts cannot escape plugcheck, and the plugin cannot
 * end plugcheck: a daemon (double fork + setsid) is found, ended and
 * reported, in process and with --isolate, by invoke and stress, and does not
 * hold plugcheck's stdout open; a sandbox child whose plugin ignores SIGTERM
 * still dies with plugcheck (kill -9); and a plugin that kills its host's
 * parent ends only the sandbox launcher, never plugcheck.
 *
 * A fixture's processes are found by its library's path in their command
 * line: plugcheck's, the sandbox child's, and every fork of either.
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { CLI_ARGS, eventually, fault, liveProcesses, ROOT, text } from "./_helpers.ts";

// Private copies, under names no other process uses: these tests find a fixture's processes by the library's path
// on their command lines, and the check matrix (run beside the rest of the suite) checks the same fixtures.
const COPIES = Deno.makeTempDirSync({ prefix: "plugcheck-escape-" });
globalThis.addEventListener("unload", () => Deno.removeSync(COPIES, { recursive: true }));

/** A private copy of fault fixture `name` (see {@link COPIES}). */
function ownCopy(name: string): string {
  const path = join(COPIES, basename(fault(name)));
  Deno.copyFileSync(fault(name), path);
  return path;
}

const DAEMON = ownCopy("daemonize_escape");

/** Live processes (this one aside) whose command line names `lib`. */
function marked(lib: string): number[] {
  return liveProcesses().filter((p) => p.pid !== Deno.pid && p.args.some((a) => a.includes(lib))).map((p) => p.pid);
}

/**
 * The daemons of `lib` that are running: the fixture's first fork calls
 * `setsid()` and forks the daemon, which is thus in a new session it does not
 * lead. Its first parent (which leads that session) and plugcheck (in this
 * process's session) are marked too, but are not daemons.
 */
function daemons(lib: string): number[] {
  const all = liveProcesses();
  const ours = all.find((p) => p.pid === Deno.pid)!.sid;
  return all.filter((p) => p.sid !== ours && p.sid !== p.pid && p.args.some((a) => a.includes(lib))).map((p) => p.pid);
}

/** Kills what a failed test left (by pid: only processes of this fixture's library). */
function cleanUp(lib: string): void {
  for (const pid of marked(lib)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * Runs the CLI and reads its stdout to the end, as `plugcheck … | cat` does:
 * a process that kept the stdout pipe holds that end back. `eof` is false
 * when stdout was still open `ms` after plugcheck had exited.
 */
async function runToEof(args: string[], ms = 20_000): Promise<{ code: number; stdout: string; eof: boolean }> {
  const cli = new Deno.Command(Deno.execPath(), {
    args: [...CLI_ARGS, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const chunks: Uint8Array[] = [];
  const read = (async () => {
    for await (const c of cli.stdout) chunks.push(c);
    return true;
  })();
  const status = await cli.status;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const eof = await Promise.race([read, new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  if (!eof) cleanUp(args[1]!); // lets the read end
  await read;
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
  return { code: status.code, stdout: text(all), eof };
}

for (const mode of [[], ["--isolate"]]) {
  const label = mode.length ? " --isolate" : " in process";

  Deno.test(`invoke${label}: a daemon the plugin started (double fork + setsid) is ended, reported, and holds no pipe open`, async () => {
    try {
      const r = await runToEof(["invoke", DAEMON, "daemonize", "--json", ...mode]);
      assert.ok(r.eof, "plugcheck's stdout closed when it exited (plugcheck invoke … | cat ends)");
      assert.equal(r.code, 0);
      const doc = JSON.parse(r.stdout);
      const daemon = Number(doc.output_text);
      assert.ok(daemon > 0, r.stdout);
      const warning = doc.warnings.find((w: string) => w.includes("left 1 process(es) running"));
      assert.ok(warning?.includes(`${daemon} (`), `the daemon ${daemon} is named: ${doc.warnings}`);
      assert.ok(await eventually(() => marked(DAEMON).length === 0), `left running: ${marked(DAEMON)}`);
    } finally {
      cleanUp(DAEMON);
    }
  });

  Deno.test(`stress${label}: every daemon the plugin started is ended and counted`, async () => {
    try {
      const args = ["--method", "daemonize", "--input", "x", "--iterations", "24", "--concurrency", "2"];
      const r = await runToEof(["stress", DAEMON, ...args, "--format", "json", ...mode]);
      assert.ok(r.eof, "plugcheck's stdout closed when it exited");
      // The fixture starts a daemon in each of its first 16 calls in a process (one here: plugcheck or its child).
      const warnings: string[] = JSON.parse(r.stdout).warnings;
      assert.ok(warnings.some((w) => w.includes("left 16 process(es) running")), `${warnings}`);
      assert.ok(await eventually(() => marked(DAEMON).length === 0), `left running: ${marked(DAEMON)}`);
    } finally {
      cleanUp(DAEMON);
    }
  });
}

Deno.test("sandbox launcher: kill -9 of plugcheck ends a sandbox child whose plugin ignores SIGTERM", async () => {
  const lib = ownCopy("ignores_sigterm");
  const cli = new Deno.Command(Deno.execPath(), {
    args: [...CLI_ARGS, "invoke", lib, "linger", "--input", "60000", "--timeout", "90000", "--isolate"],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    // The sandbox child, once the plugin has set SIGTERM (signal 15: bit 14 of SigIgn) to SIG_IGN in it.
    const ignoring = () =>
      marked(lib).some((pid) => {
        try {
          const mask = /SigIgn:\s*([0-9a-f]+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1] ?? "0";
          return (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n;
        } catch {
          return false;
        }
      });
    assert.ok(await eventually(ignoring, 20_000), "the plugin ignores SIGTERM in the sandbox child");
    cli.kill("SIGKILL");
    await cli.status;
    assert.ok(await eventually(() => marked(lib).length === 0, 5_000), `left running: ${marked(lib)}`);
  } finally {
    try {
      cli.kill("SIGKILL");
    } catch {
      // gone already
    }
    cleanUp(lib);
  }
});

Deno.test("sandbox launcher: a plugin's kill(getppid(), SIGKILL) ends its sandbox child, never plugcheck", async () => {
  const lib = ownCopy("kills_parent");
  try {
    const r = await runToEof(["invoke", lib, "kill_parent", "--isolate", "--json"]);
    assert.equal(r.code, 1, "plugcheck reports the plugin's failure (137 would be plugcheck killed)");
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error.name, "PluginCrashError");
    assert.equal(doc.error.signal, "SIGKILL");
    assert.ok(await eventually(() => marked(lib).length === 0), `left running: ${marked(lib)}`);
  } finally {
    cleanUp(lib);
  }
});

Deno.test("stress in process, ended by SIGTERM: the daemons the plugin started are ended before plugcheck exits", async () => {
  const cli = new Deno.Command(Deno.execPath(), {
    args: [...CLI_ARGS, "stress", DAEMON, "--method", "daemonize", "--input", "x", "--duration", "60s"],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    // The 16 daemons the fixture starts (later calls start none), counted as daemons, not as every marked process:
    // a fork in flight (a daemon's first parent) is marked too.
    assert.ok(await eventually(() => daemons(DAEMON).length === 16, 20_000), `the daemons run: ${daemons(DAEMON)}`);
    cli.kill("SIGTERM");
    assert.equal((await cli.status).code, 143);
    assert.ok(await eventually(() => marked(DAEMON).length === 0), `left running: ${marked(DAEMON)}`);
  } finally {
    try {
      cli.kill("SIGKILL");
    } catch {
      // gone already
    }
    cleanUp(DAEMON);
  }
});

Deno.test("sandbox launcher: a SIGTERM from anyone but plugcheck (a shell signalling its group) does not end the child", async () => {
  const lib = ownCopy("ignores_sigterm");
  const cli = new Deno.Command(Deno.execPath(), {
    args: [...CLI_ARGS, "invoke", lib, "linger", "--input", "2000", "--isolate", "--json"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const launcher = () =>
      liveProcesses().find((p) => p.name === "npah_launcher" && p.args.some((a) => a.includes(lib)));
    assert.ok(await eventually(() => launcher() !== undefined, 20_000), "the sandbox launcher runs");
    // Sent by another process (as `kill -TERM -<pgid>` from a shell or a CI runner would be): only plugcheck's own
    // SIGTERM ends a child; the group's signal is plugcheck's to act on.
    const kill = await new Deno.Command("kill", { args: ["-TERM", String(launcher()!.pid)] }).output();
    assert.equal(kill.code, 0);
    const out = await cli.output();
    assert.equal(out.code, 0, text(out.stdout));
    assert.equal(JSON.parse(text(out.stdout)).output_text, "ok");
  } finally {
    try {
      cli.kill("SIGKILL");
    } catch {
      // gone already
    }
    cleanUp(lib);
  }
});
