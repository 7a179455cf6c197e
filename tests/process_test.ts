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
import { fault, fixture, REFERENCE_PLUGINS, ROOT, runDeno, runScript } from "./_helpers.ts";

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

Deno.test("shutdownCheck keeps a library mapped under a thread it left running, where unloading crashes the process", async () => {
  const script = (check: boolean) => `
    import { loadPlugin } from ${MOD};
    const plugin = await loadPlugin(${
    JSON.stringify(fault("thread_after_shutdown"))
  }, { shutdownCheck: ${check}, log: "off" });
    await plugin.close();
    await new Promise((r) => setTimeout(r, 300)); // the fixture's thread wakes every 10 ms
    console.log(JSON.stringify(plugin.shutdownReport ?? null));
    Deno.exit(0);
  `;
  const guarded = await runScript(script(true));
  assert.equal(guarded.code, 0, guarded.stderr);
  const report = JSON.parse(guarded.stdout);
  assert.equal(report.unloaded, false);
  assert.equal(report.leftThreads.length, 1);
  assert.equal(report.after.threads, report.before.threads + 1);
  // Without the check the library is unloaded under the running thread: the hazard is real.
  const unguarded = await runScript(script(false));
  assert.equal(unguarded.code, 139, `expected SIGSEGV, got ${unguarded.code}: ${unguarded.stderr}`);
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
