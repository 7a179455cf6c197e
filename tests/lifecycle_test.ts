/**
 * Lifecycles a host author relies on: instances belong to the handle that
 * made them, destroy() means destroyed, exclusive loads, call slots that
 * always come back, deadlines checked before anything runs, a library never
 * initialized twice, failures never swallowed, and a warning when a hung call
 * keeps the process alive.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { callSlots, LoadError, loadPlugin, PluginClosedError, PluginTimeoutError } from "../mod.ts";
import { captureLogs, fault, libraryCopy, REFERENCE_PLUGINS, ROOT, runScript, text } from "./_helpers.ts";

const C = REFERENCE_PLUGINS[0]!.path;

Deno.test("Plugin.close() closes and destroys its own instances while another handle keeps the library", async () => {
  const a = await loadPlugin(C);
  const b = await loadPlugin(C);
  try {
    const inst = await a.createInstance();
    assert.equal(b.stats()!.live_instances, 1);
    await a.close();
    await assert.rejects(inst.invoke("echo", "x"), PluginClosedError);
    assert.throws(() => inst.invokeSync("echo", "x"), PluginClosedError);
    assert.equal(b.stats()!.live_instances, 0, "closing a destroyed the instance it made");
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("Instance.destroy() resolves only once the plugin's destroy has returned, also after a timeout", async () => {
  await using plugin = await loadPlugin(C);
  const inst = await plugin.createInstance();
  await assert.rejects(inst.invoke("sleep_ms", "300", { timeoutMs: 20 }), PluginTimeoutError);
  assert.equal(inst.state, "wedged");
  await inst.destroy(); // waits for the sleeping call, then destroys
  assert.equal(inst.state, "destroyed");
  assert.equal(plugin.stats()!.live_instances, 0);
});

Deno.test("loadPlugin({ exclusive: true }) opens a private copy: its own init and counters", async () => {
  await using shared = await loadPlugin(C);
  await using _sharedInst = await shared.createInstance();
  await using mine = await loadPlugin(C, { exclusive: true });
  assert.equal(mine.stats()!.init_calls, 1);
  assert.equal(mine.stats()!.live_instances, 0, "the shared handle's instance is not counted");
  await using mineInst = await mine.createInstance();
  assert.equal(shared.stats()!.live_instances, 1);
  assert.equal(mine.stats()!.live_instances, 1);
  assert.equal(text(await mineInst.invoke("echo", "private")), "private");
  assert.equal(mine.path, shared.path, "users see the real path, not the copy");
});

Deno.test("Instance.invoke() with an input of the wrong type is TypeError and never holds a call slot", async () => {
  await using plugin = await loadPlugin(C);
  await using inst = await plugin.createInstance();
  for (let i = 0; i < 20; i++) {
    await assert.rejects(inst.invoke("echo", new ArrayBuffer(4) as unknown as Uint8Array), TypeError);
  }
  assert.equal(callSlots.inUse, 0);
  assert.equal(plugin.outstandingCalls, 0);
  assert.equal(text(await inst.invoke("echo", "still fine")), "still fine");
  await plugin.whenSettled();
});

Deno.test("loadPlugin() and calls refuse delays of 2^31 ms or more before anything runs", async () => {
  await assert.rejects(loadPlugin(C, { timeoutMs: 2 ** 31 }), RangeError);
  await assert.rejects(loadPlugin(C, { isolate: true, graceMs: 2 ** 31 }), RangeError);
  await assert.rejects(loadPlugin(C, { isolate: true, idleTimeoutMs: 2 ** 40 }), RangeError);
  await using plugin = await loadPlugin(C);
  await using inst = await plugin.createInstance();
  await assert.rejects(inst.invoke("sleep_ms", "1", { timeoutMs: 2 ** 31 }), /timeoutMs must be .* up to 2147483647/);
  await assert.rejects(plugin.createInstance(undefined, { timeoutMs: 2 ** 32 }), RangeError);
  assert.equal(text(await inst.invoke("echo", "x", { timeoutMs: Infinity })), "x");
  assert.equal(text(await inst.invoke("echo", "y", { timeoutMs: 2 ** 31 - 1 })), "y");
});

Deno.test("loadPlugin() checks every option before the library is opened (nothing stays mapped)", async () => {
  await using copy = await libraryCopy(C);
  await assert.rejects(loadPlugin(copy.path, { maxOutputBytes: -1 }), RangeError);
  await assert.rejects(loadPlugin(copy.path, { log: "loud" }), RangeError);
  const maps = await Deno.readTextFile("/proc/self/maps");
  assert.ok(!maps.includes(copy.path), "the library was never opened");
});

Deno.test("Instance.destroy() waits for a free call slot instead of dropping the instance", async () => {
  const before = callSlots.limit;
  callSlots.setLimit(2);
  const plugin = await loadPlugin(C);
  try {
    const [a, b, c] = [await plugin.createInstance(), await plugin.createInstance(), await plugin.createInstance()];
    await Promise.all(
      [a, b].map((i) => assert.rejects(i.invoke("sleep_ms", "300", { timeoutMs: 20 }), PluginTimeoutError)),
    );
    assert.equal(callSlots.inUse, 2, "both abandoned calls hold their slots");
    await c.destroy(); // no slot now: it waits for one
    assert.equal(plugin.stats()!.live_instances, 2, "c was really destroyed");
    await a.destroy();
    await b.destroy();
    assert.equal(plugin.stats()!.live_instances, 0);
  } finally {
    await plugin.close();
    await plugin.whenSettled();
    callSlots.setLimit(before);
  }
});

Deno.test("loadPlugin() refuses a path whose earlier load still runs a call, then loads it once that returns", async () => {
  await using copy = await libraryCopy(C);
  const plugin = await loadPlugin(copy.path);
  const inst = await plugin.createInstance();
  await assert.rejects(inst.invoke("sleep_ms", "400", { timeoutMs: 20 }), PluginTimeoutError);
  await plugin.close(); // deferred: the sleeping call keeps the library loaded and initialized
  await assert.rejects(loadPlugin(copy.path), (e: unknown) => {
    assert.ok(e instanceof LoadError, `${e}`);
    assert.match(e.message, /still in memory with its plugin initialized \("invoke \\"sleep_ms\\"" has not returned\)/);
    assert.match(e.message, /never initializes a library twice/);
    return true;
  });
  await plugin.whenSettled();
  await using again = await loadPlugin(copy.path);
  assert.equal(again.stats()!.init_calls, 1, "a fresh library, initialized once");
});

for (const [what, lib] of [["linked nodelete", fault("log_after_shutdown")], ["Rust", REFERENCE_PLUGINS[1]!.path]]) {
  Deno.test(`loadPlugin() opens a fresh copy of a library whose code stayed mapped after close (${what})`, async () => {
    await using copy = await libraryCopy(lib!);
    const first = await loadPlugin(copy.path);
    const used = await first.createInstance();
    // ref_rust's log method spawns a thread: Rust's std then leaves a thread-local destructor that pins the image.
    if (what === "Rust") await used.invoke("log", '"x"');
    await first.close();
    const maps = await Deno.readTextFile("/proc/self/maps");
    assert.ok(maps.includes(copy.path), "glibc kept the first image mapped");
    // The same image again would be a second init (and its globals from the first load).
    await using again = await loadPlugin(copy.path);
    assert.equal(again.stats()!.init_calls, 1, "a fresh image, initialized once");
    await using inst = await again.createInstance();
    assert.equal(text(await inst.invoke("echo", "fresh")), "fresh");
  });
}

Deno.test("Plugin.close() rejects with a destroy that timed out; the pinned library is never re-initialized", async () => {
  // In a child process: the fixture's destroy sleeps 30 s, which only Deno.exit cuts short.
  await using copy = await libraryCopy(fault("slow_destroy"));
  const r = await runScript(
    `
    import { loadPlugin } from ${JSON.stringify(join(ROOT, "mod.ts"))};
    const say = (what: string, e: unknown) => console.log(what, e instanceof Error ? e.name + ": " + e.message : e);
    const plugin = await loadPlugin(${JSON.stringify(copy.path)}, { timeoutMs: 200 });
    await plugin.createInstance();
    await plugin.close().then(() => say("close", "ok"), (e) => say("close", e));
    await loadPlugin(${JSON.stringify(copy.path)}).then(() => say("reload", "ok"), (e) => say("reload", e));
    say("warnings", plugin.contractWarnings.join(" | "));
    Deno.exit(0);
  `,
    { killAfterMs: 20_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0]!, /^close PluginTimeoutError: Cannot destroy instance: no reply within 200 ms/);
  assert.match(lines[1]!, /^reload LoadError: .*still in memory with its plugin initialized/);
  assert.match(lines[2]!, /^warnings An instance was not destroyed: Cannot destroy instance/);
});

Deno.test("Plugin.close() warns that a call still running keeps the process alive, and says what to do", async () => {
  using logs = captureLogs("plugcheck");
  const plugin = await loadPlugin(C);
  const inst = await plugin.createInstance();
  await assert.rejects(inst.invoke("sleep_ms", "300", { timeoutMs: 20 }), PluginTimeoutError);
  await plugin.close();
  const warning = logs.records.find((r) => r.category.join(".") === "plugcheck.lifecycle");
  assert.ok(warning, "a plugcheck.lifecycle warning");
  assert.equal(warning.level, "warning");
  const message = warning.message.map(String).join("");
  assert.match(message, /1 call\(s\) still running inside the plugin \(invoke "sleep_ms"\)/);
  assert.match(message, /cannot exit on its own.*Deno\.exit\(\).*isolate: true/);
  await plugin.whenSettled();
});
