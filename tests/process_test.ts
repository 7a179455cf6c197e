/**
 * What the engines add for the stress engine, through the library API: no-op
 * instances that never reach the plugin, exact snapshots of the process
 * that holds the plugin, the shutdown check that keeps a library mapped
 * under a thread it left running, private copies made in memory, and
 * repeated loads of a library whose image stays mapped. Checks that depend
 * on a process's own history run in a fresh process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPlugin } from "../mod.ts";
import { RUNTIME_SETTLED_MAX_MS, RUNTIME_SETTLED_MS, runtimeSettledIn } from "../lib/ffi/proc_info.ts";
import { fault, fixture, REFERENCE_PLUGINS, ROOT, runCli, runDeno, runScript } from "./_helpers.ts";

const MOD = JSON.stringify(join(ROOT, "mod.ts"));

for (const isolate of [false, true]) {
  Deno.test(`noopInstance() ${isolate ? "in a sandbox child " : ""}returns empty outputs and never reaches the plugin`, async () => {
    await using plugin = await loadPlugin(fixture("ref_c"), { isolate });
    const before = (await plugin.readStats())!;
    const noop = await plugin.noopInstance();
    for (let i = 0; i < 20; i++) assert.equal((await noop.invoke("echo", "hello")).length, 0);
    await noop.destroy();
    const after = (await plugin.readStats())!;
    assert.equal(after.invoke_calls, before.invoke_calls);
    assert.equal(after.live_instances, before.live_instances);
  });
}

Deno.test("snapshot() counts the same threads after a burst of concurrent calls: Deno's pool never passes for the plugin's", async () => {
  const r = await runScript(`
    import { loadPlugin } from ${MOD};
    const plugin = await loadPlugin(${JSON.stringify(fixture("ref_c"))}, { log: "off" });
    const inst = await plugin.createInstance();
    const a = await plugin.snapshot();
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 12 }, () => inst.invoke("sleep_ms", "5")));
    }
    const b = await plugin.snapshot();
    await inst.destroy();
    await plugin.close();
    console.log(JSON.stringify({ a: [a.threads, a.fds], b: [b.threads, b.fds], pid: a.pid === Deno.pid }));
    Deno.exit(0);
  `);
  assert.equal(r.code, 0, r.stderr);
  const { a, b, pid } = JSON.parse(r.stdout);
  assert.deepEqual(b, a);
  assert.equal(pid, true);
});

Deno.test("runtimeSettledIn() waits for Deno's late thread, however late it starts, up to a bound", () => {
  const main = { tid: 100, name: "deno" };
  const pool = { tid: 101, name: "tokio-runtime-w" };
  const watchdog = { tid: 102, name: "deno" }; // plugcheck's own, started from the main thread: asleep
  const late = { tid: 103, name: "deno" };
  const recvfrom = Deno.build.arch === "aarch64" ? 207 : 45;
  const syscall = (tid: number) => tid === late.tid ? recvfrom : tid === watchdog.tid ? 230 : -1;
  assert.ok(runtimeSettledIn(100, 300, [main, pool, watchdog], syscall) > 0);
  assert.equal(runtimeSettledIn(100, 300, [main, pool, watchdog, late], syscall), 0);
  // Old, but a busy machine has not started the late thread yet: keep waiting.
  assert.ok(runtimeSettledIn(100, RUNTIME_SETTLED_MS + 500, [main, pool, watchdog], syscall) > 0);
  assert.equal(runtimeSettledIn(100, RUNTIME_SETTLED_MS + 500, [main, pool, late], syscall), 0);
  assert.equal(runtimeSettledIn(100, RUNTIME_SETTLED_MAX_MS, [main, pool], syscall), 0);
});

Deno.test("snapshot() at a process's start already counts Deno's late thread and its socket pair", async () => {
  const r = await runScript(`
    import { loadPlugin } from ${MOD};
    const plugin = await loadPlugin(${JSON.stringify(fixture("ref_c"))}, { log: "off" });
    const a = await plugin.snapshot();
    await new Promise((r) => setTimeout(r, 1500));
    const b = await plugin.snapshot();
    await plugin.close();
    const sockets = (s) => s.fdList.filter((f) => f.target.startsWith("socket:")).length;
    console.log(JSON.stringify({ a: [a.threads, sockets(a)], b: [b.threads, sockets(b)] }));
    Deno.exit(0);
  `);
  assert.equal(r.code, 0, r.stderr);
  const { a, b } = JSON.parse(r.stdout);
  assert.deepEqual(a, b);
});

const PROC_INFO = JSON.stringify(join(ROOT, "lib/ffi/proc_info.ts"));

Deno.test("ProcInfo.get() starts Deno's signal thread at once, so a snapshot need not wait ~0.5 s for it", async () => {
  // Deno starts that thread itself ~0.5 s after a process starts: one seen well before that was started by get().
  // The script looks until the thread waits in recvfrom (a new thread takes a moment to get there).
  const script = `
    import { ProcInfo } from ${PROC_INFO};
    ProcInfo.get();
    const got = performance.now();
    const main = Deno.readTextFileSync("/proc/self/comm").trim();
    const running = () => [...Deno.readDirSync("/proc/self/task")].some((e) => {
      if (Number(e.name) === Deno.pid) return false;
      const comm = Deno.readTextFileSync(\`/proc/self/task/\${e.name}/comm\`).trim();
      const call = Number(Deno.readTextFileSync(\`/proc/self/task/\${e.name}/syscall\`).split(" ")[0]);
      return comm === main && call === ${Deno.build.arch === "aarch64" ? 207 : 45};
    });
    let found = null;
    while (found === null && performance.now() < 3000) {
      if (running()) found = performance.now();
      else await new Promise((r) => setTimeout(r, 5));
    }
    console.log(JSON.stringify({ got, found }));
  `;
  const ages = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await runScript(script);
    assert.equal(r.code, 0, r.stderr);
    const { got, found } = JSON.parse(r.stdout);
    if (got >= 150) { // too old to tell (a busy machine): Deno's own start may be near
      ages.push(Math.round(got));
      continue;
    }
    assert.ok(found !== null && found < 400, `the signal thread came ${found} ms after the start (get() at ${got} ms)`);
    return;
  }
  assert.fail(`every process was too old to tell when it called get() (${ages.join(", ")} ms)`);
});

Deno.test("startSignalThread() changes no signal's effect: SIGTERM, SIGINT and SIGHUP still end the process", async () => {
  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130], ["SIGHUP", 129]] as const) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--ext=ts",
        `
        import { startSignalThread } from ${PROC_INFO};
        startSignalThread();
        console.log("ready");
        await new Promise((r) => setTimeout(r, 20_000));
        console.log("survived");
      `,
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /ready/);
    child.kill(signal);
    const rest = await reader.read();
    reader.releaseLock();
    const status = await child.status;
    assert.equal(rest.done, true, signal);
    assert.ok(status.signal === signal || status.code === code, `${signal}: ${JSON.stringify(status)}`);
  }
});

Deno.test("shutdownCheck reports nothing left by the reference plugins, and the library is unloaded", async () => {
  for (const { path } of REFERENCE_PLUGINS) {
    const plugin = await loadPlugin(path, { exclusive: true, shutdownCheck: true, log: "off" });
    const inst = await plugin.createInstance();
    await inst.invoke("log", '"hi"'); // starts and joins a thread
    await inst.destroy();
    await plugin.close();
    const report = plugin.shutdownReport!;
    assert.deepEqual(report.leftThreads, [], path);
    assert.deepEqual(report.leftFds, [], path);
    assert.equal(report.after.threads, report.before.threads, path);
  }
});

Deno.test("shutdownCheck keeps a library mapped under a thread it left running, and so does a close without it", async () => {
  const script = (check: boolean) => `
    import { loadPlugin } from ${MOD};
    const plugin = await loadPlugin(${
    JSON.stringify(fault("thread_after_shutdown"))
  }, { shutdownCheck: ${check}, log: "off" });
    await plugin.close();
    await new Promise((r) => setTimeout(r, 300)); // the fixture's thread wakes every 10 ms
    console.log(JSON.stringify({ report: plugin.shutdownReport ?? null, warnings: plugin.contractWarnings }));
    Deno.exit(0);
  `;
  const guarded = await runScript(script(true));
  assert.equal(guarded.code, 0, guarded.stderr);
  const { report } = JSON.parse(guarded.stdout);
  assert.equal(report.unloaded, false);
  assert.equal(report.leftThreads.length, 1);
  assert.equal(report.after.threads, report.before.threads + 1);
  // Without the check, the threads the helper saw the plugin start keep it mapped too.
  const unguarded = await runScript(script(false));
  assert.equal(unguarded.code, 0, `expected a clean exit, got ${unguarded.code}: ${unguarded.stderr}`);
  const { warnings } = JSON.parse(unguarded.stdout);
  assert.match(warnings.join("\n"), /1 thread\(s\) the plugin started still run after npa_plugin_shutdown/);
});

for (const isolate of [false, true]) {
  Deno.test(
    `close() ${
      isolate ? "in a sandbox child " : ""
    }keeps a library mapped under a thread a call left spinning, and names the thread and the CPU it burns`,
    async () => {
      // The thread starts in the call and spins for good: closing used to unload its code (exit 139, result lost).
      const r = await runCli(["invoke", fault("spinning_thread"), "spin", ...isolate ? ["--isolate"] : []]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "spinning");
      assert.match(
        r.stderr,
        /warning: 1 thread\(s\) the plugin started still run after npa_plugin_shutdown returned: "spinner" \(tid \d+, libspinning_thread\.so, \d+ ms CPU in \d+ ms, \d+% of a core\); the library stays loaded/,
      );
    },
  );
}

Deno.test("ProcessBaseline.compare() counts only the threads the plugin started: threads Deno starts meanwhile are not blamed", async () => {
  const r = await runScript(`
    import { loadPlugin } from ${MOD};
    import { ProcessBaseline } from ${JSON.stringify(join(ROOT, "lib/plugin/process_baseline.ts"))};
    const plugin = await loadPlugin(${JSON.stringify(fixture("ref_c"))}, { log: "off" });
    const base = await ProcessBaseline.take(() => plugin.snapshot());
    // A Worker is a thread of Deno's own (and more for its isolate), started after the baseline.
    const worker = new Worker("data:text/javascript,setInterval(() => {}, 1000)", { type: "module" });
    await new Promise((r) => setTimeout(r, 200));
    const c = await base.compare();
    console.log(JSON.stringify({ more: c.after.threads - c.before.threads, left: c.leftThreads.length, attributed: c.attributed }));
    worker.terminate();
    Deno.exit(0);
  `);
  assert.equal(r.code, 0, r.stderr);
  const { more, left, attributed } = JSON.parse(r.stdout);
  assert.ok(more > 0, "the Worker started no thread: the test proves nothing");
  assert.equal(attributed, true);
  assert.equal(left, 0);
});

Deno.test("snapshot() in a sandbox child lists the threads the plugin started, with their module and CPU, and none of Deno's", async () => {
  await using plugin = await loadPlugin(fault("spinning_thread"), { isolate: true, log: "off" });
  const idle = await plugin.snapshot();
  assert.deepEqual(idle.pluginThreads, [], "Deno's threads counted as the plugin's");
  await using inst = await plugin.createInstance();
  await inst.invoke("spin", "");
  const busy = await plugin.snapshot();
  assert.equal(busy.pluginThreads?.length, 1);
  const t = busy.pluginThreads![0]!;
  assert.equal(t.name, "spinner");
  assert.ok(t.module.endsWith("/libspinning_thread.so"), t.module);
  assert.ok(t.cpuMs > 0 && t.ageMs > 0, JSON.stringify(t));
  await inst.destroy();
  await plugin.close();
  assert.equal(plugin.shutdownReport, undefined);
});

Deno.test("exclusive loads make their private copies in memory: no permission to write anywhere is needed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-test-" });
  try {
    const file = join(dir, "exclusive.ts");
    await Deno.writeTextFile(
      file,
      `import { loadPlugin } from ${MOD};
      for (let i = 0; i < 3; i++) {
        await using plugin = await loadPlugin(${JSON.stringify(fixture("ref_rust"))}, { exclusive: true, log: "off" });
        await using inst = await plugin.createInstance();
        console.log(new TextDecoder().decode(await inst.invoke("upper", "copy " + i)));
      }
      Deno.exit(0);`,
    );
    const r = await runDeno([
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-env",
      "--config",
      join(ROOT, "deno.json"),
      file,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["COPY 0", "COPY 1", "COPY 2"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadPlugin() never re-initializes an image that stays loaded: it loads a fresh copy each time", async () => {
  // Another handle (here a bare dlopen) keeps the library loaded after plugcheck closes it. The third load
  // used to open that image again, already initialized and shut down.
  const r = await runScript(`
    import { loadPlugin } from ${MOD};
    const holder = Deno.dlopen(${JSON.stringify(fixture("ref_c"))}, {});
    const out = [];
    for (let i = 0; i < 4; i++) {
      try {
        const plugin = await loadPlugin(${JSON.stringify(fixture("ref_c"))}, { log: "off" });
        out.push((await plugin.readStats()).init_calls);
        await plugin.close();
      } catch (e) {
        out.push(e.message);
      }
    }
    holder.close();
    console.log(JSON.stringify(out));
    Deno.exit(0);
  `);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [1, 1, 1, 1]);
});
