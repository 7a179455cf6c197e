/**
 * The multi-lane sandbox: requests pipelined into one child and run there
 * concurrently (one at a time per instance of a non-thread-safe plugin), a
 * child being reaped never handed out, close during a restart, bounded
 * memory across children, plugcheck's own failures never blamed on the
 * plugin, and a process that exits once the plugin is closed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { HostInternalError, loadPlugin, PluginClosedError, PluginCrashError, SandboxProtocolError } from "../mod.ts";
import { eventually, fault, probe, REFERENCE_PLUGINS, ROOT, runScript, sandboxChildren, text } from "./_helpers.ts";

const C = REFERENCE_PLUGINS[0]!.path;
const peakOf = (out: Uint8Array) => Number(text(out).split(" ")[1]);
const doneOf = (out: Uint8Array) => Number(text(out).split(" ")[0]);

Deno.test("SandboxedPlugin runs concurrent requests concurrently in one child, one at a time per instance", async () => {
  await using plugin = await loadPlugin(probe("serial_probe"), { isolate: true });
  assert.equal(plugin.describe().thread_safe_instances, false);
  const insts = await Promise.all([1, 2, 3, 4].map(() => plugin.createInstance()));
  const pid = plugin.health().pid;
  const outs = await Promise.all(insts.map((i) => i.invoke("enter", "300")));
  assert.ok(Math.max(...outs.map(peakOf)) >= 2, `calls on four instances overlapped: ${outs.map(text)}`);
  // Many requests on one non-thread-safe instance: serialized (the probe fails on any overlap).
  const same = await Promise.all([1, 2, 3, 4, 5].map(() => insts[0]!.invoke("enter", "20")));
  assert.deepEqual(same.map(doneOf).sort(), [2, 3, 4, 5, 6]);
  // A batch waits for the instance's running invoke too.
  const [single, batch] = await Promise.all([
    insts[1]!.invoke("enter", "100"),
    insts[1]!.invokeBatch("enter", ["1", "1"]),
  ]);
  assert.equal(doneOf(single), 2);
  assert.deepEqual(batch.map((r) => (r.ok ? doneOf(r.output) : r.error.message)), [3, 4]);
  assert.equal(plugin.health().pid, pid, "all in the one child");
});

Deno.test("SandboxedPlugin never hands out a child it is reaping: calls across idle reaps never crash", async () => {
  await using plugin = await loadPlugin(C, { isolate: true, idleTimeoutMs: 50 });
  await using inst = await plugin.createInstance();
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 40 + (i % 4) * 5));
    assert.equal(text(await inst.invoke("echo", `n${i}`)), `n${i}`, `call ${i}`);
  }
  assert.equal(plugin.health().crashesInWindow, 0);
});

Deno.test("SandboxedPlugin.close() during a restart leaves no child behind", async () => {
  const plugin = await loadPlugin(fault("segfault"), { isolate: true });
  const inst = await plugin.createInstance();
  await assert.rejects(inst.invoke("crash"), PluginCrashError);
  const starting = plugin.createInstance().then(() => "created", (e) => e);
  await new Promise((r) => setTimeout(r, 10)); // the fresh child is being spawned
  await plugin.close();
  const outcome = await starting;
  assert.ok(outcome instanceof PluginClosedError, `the start in progress is refused: ${outcome}`);
  assert.ok(await eventually(() => sandboxChildren().length === 0), `children left: ${sandboxChildren()}`);
});

Deno.test("SandboxedPlugin keeps a bounded number of contract warnings across its children", async () => {
  await using plugin = await loadPlugin(C, { isolate: true, idleTimeoutMs: 100 });
  const long = JSON.stringify({ status: 1, message: "m".repeat(9000) }); // each call: a "message was cut" warning
  for (let child = 0; child < 3; child++) {
    await using inst = await plugin.createInstance();
    const results = await inst.invokeBatch("fail_with", Array.from({ length: 600 }, () => long));
    assert.equal(results.filter((r) => !r.ok).length, 600);
    const pid = plugin.health().pid;
    await eventually(() => plugin.health().pid !== pid); // reaped: the next round gets a fresh child
  }
  assert.ok(plugin.health().restarts >= 2, "three children");
  assert.equal(plugin.contractWarnings.length, 1000);
});

Deno.test("SandboxedPlugin reports plugcheck's own failure in its child as HostInternalError, not a crash", async () => {
  const childModule = join(ROOT, "tests/_children/fatal.ts");
  await using plugin = await loadPlugin(C, { isolate: true, childModule });
  await assert.rejects(plugin.createInstance(), (e: unknown) => {
    assert.ok(e instanceof HostInternalError, `${e}`);
    assert.ok(!(e instanceof PluginCrashError));
    assert.match(e.message, /plugcheck failed inside its sandbox child \(a plugcheck bug, not the plugin's fault\)/);
    assert.match(e.message, /Maximum call stack size exceeded/);
    return true;
  });
  assert.equal(plugin.health().crashesInWindow, 0, "not counted against the plugin");
});

Deno.test("a script that closes an isolated plugin exits at once, not after the grace period", async () => {
  const r = await runScript(
    `
    import { loadPlugin } from ${JSON.stringify(join(ROOT, "mod.ts"))};
    const p = await loadPlugin(${JSON.stringify(C)}, { isolate: true });
    const i = await p.createInstance();
    console.log(new TextDecoder().decode(await i.invoke("echo", "done")));
    await p.close();
    console.log(performance.now() > 0 ? "closed" : "");
  `,
    { killAfterMs: 7_000 },
  );
  assert.equal(r.killed, false, "exited by itself well before the 10 s grace");
  assert.equal(r.stdout, "done\nclosed\n", r.stderr);
});

Deno.test("SandboxedPlugin passes setEnv and readPaths to its child", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using plugin = await loadPlugin(C, {
      isolate: true,
      setEnv: { PLUGCHECK_PRELOAD_LIKE: "/opt/x.so" },
      readPaths: [dir],
    });
    const pid = plugin.health().pid!;
    const environ = text((await new Deno.Command("cat", { args: [`/proc/${pid}/environ`] }).output()).stdout);
    assert.ok(environ.split("\0").includes("PLUGCHECK_PRELOAD_LIKE=/opt/x.so"));
    const cmdline = text((await new Deno.Command("cat", { args: [`/proc/${pid}/cmdline`] }).output()).stdout);
    assert.match(cmdline, new RegExp(`--allow-read=[^\\0]*${dir}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SandboxedPlugin: a reply for no pending request is SandboxProtocolError naming what was pending", async () => {
  await using plugin = await loadPlugin(C, { isolate: true, childModule: join(ROOT, "tests/_children/wrong_id.ts") });
  await assert.rejects(Promise.all([plugin.createInstance(), plugin.createInstance()]), (e: unknown) => {
    assert.ok(e instanceof SandboxProtocolError);
    assert.match(e.message, /a reply with id 100 while waiting for id 1, 2/);
    return true;
  });
});

Deno.test("SandboxedInstance.invoke() round-trips a 40 MiB input, byte for byte, within the default deadline", async () => {
  await using plugin = await loadPlugin(C, { isolate: true, maxOutputBytes: 64 << 20 });
  await using inst = await plugin.createInstance();
  const input = new Uint8Array(40 << 20);
  for (let i = 0; i < input.length; i += 4096) input[i] = (i >> 12) & 0xff;
  const out = await inst.invoke("echo", input); // default deadline: 30 s
  assert.equal(out.length, input.length);
  for (let i = 0; i < input.length; i += 4096) assert.equal(out[i], (i >> 12) & 0xff, `byte ${i}`);
});

Deno.test("readFrames() reads frames however the input is split, and reports one cut short", async () => {
  const { encodeFrame, readFrames } = await import("../lib/sandbox/protocol.ts");
  const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
  const frames = [
    { id: 1, kind: 11, header: { a: 1 }, blobs: [new Uint8Array([1, 2, 3])] },
    { id: 2, kind: 12, header: {}, blobs: [big, new Uint8Array(0)] },
    { id: 3, kind: 13, header: { b: "x" }, blobs: [] },
  ];
  const bytes = new Uint8Array(frames.reduce((n, f) => n + encodeFrame(f).length, 0));
  let at = 0;
  for (const f of frames) {
    const e = encodeFrame(f);
    bytes.set(e, at);
    at += e.length;
  }
  for (const chunk of [1, 7, 4096, 70_000, bytes.length]) {
    let pos = 0;
    const read = (into: Uint8Array) => {
      if (pos >= bytes.length) return Promise.resolve(null);
      const n = Math.min(chunk, into.length, bytes.length - pos);
      into.set(bytes.subarray(pos, pos + n));
      pos += n;
      return Promise.resolve(into.subarray(0, n));
    };
    const got = [];
    for await (const f of readFrames(read, 1 << 20)) got.push(f);
    assert.deepEqual(got.map((f) => [f.id, f.kind, f.header, f.blobs.map((b) => b.length)]), [
      [1, 11, { a: 1 }, [3]],
      [2, 12, {}, [200_000, 0]],
      [3, 13, { b: "x" }, []],
    ], `chunks of ${chunk}`);
    assert.deepEqual(got[1]!.blobs[0], big);
  }
  const cut = bytes.subarray(0, bytes.length - 5);
  let done = false;
  const once = (into: Uint8Array) => {
    if (done) return Promise.resolve(null);
    done = true;
    into.set(cut.subarray(0, Math.min(into.length, cut.length)));
    return Promise.resolve(into.subarray(0, Math.min(into.length, cut.length)));
  };
  await assert.rejects(async () => {
    for await (const _ of readFrames(once, 1 << 20)) { /* drain */ }
  }, /the input ended in the middle of a frame/);
});

Deno.test("rememberSuccess() remembers a lookup that succeeded, never one that failed", async () => {
  const { rememberSuccess } = await import("../lib/sandbox/spawn.ts");
  let calls = 0;
  const lookup = rememberSuccess(
    () => (++calls === 1 ? Promise.reject(new Error("deno info failed")) : Promise.resolve("/cache")),
  );
  await assert.rejects(lookup(), /deno info failed/);
  assert.equal(await lookup(), "/cache", "a failure is tried again");
  assert.equal(await lookup(), "/cache");
  assert.equal(calls, 2, "a success is remembered");
});
