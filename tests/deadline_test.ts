/**
 * Deadlines: a call that misses its deadline is PluginTimeoutError, its
 * instance is quarantined (InstanceWedgedError), the library stays loaded
 * until the call returns, and the CLI process still exits promptly.
 */
import assert from "node:assert/strict";
import {
  callSlots,
  CallSlotsExhaustedError,
  InstanceWedgedError,
  loadPlugin,
  PluginClosedError,
  PluginTimeoutError,
} from "../mod.ts";
import { REFERENCE_PLUGINS, runCli, text } from "./_helpers.ts";

for (const ref of REFERENCE_PLUGINS) {
  Deno.test(`Instance.invoke() past its deadline is PluginTimeoutError, then InstanceWedgedError (${ref.lang})`, async () => {
    const plugin = await loadPlugin(ref.path);
    const inst = await plugin.createInstance();
    await assert.rejects(inst.invoke("sleep_ms", "400", { timeoutMs: 50 }), (e: unknown) => {
      assert.ok(e instanceof PluginTimeoutError);
      assert.equal(e.timeoutMs, 50);
      assert.equal(e.code, "TIMEOUT");
      assert.match(e.message, /^Cannot invoke "sleep_ms": no reply within 50 ms/);
      return true;
    });
    assert.equal(inst.state, "wedged");
    assert.equal(plugin.outstandingCalls, 1, "the abandoned call is still running");
    await assert.rejects(inst.invoke("echo", "x"), InstanceWedgedError);
    assert.throws(() => inst.invokeSync("echo", "x"), InstanceWedgedError);
    // Other instances are unaffected.
    await using other = await plugin.createInstance();
    assert.equal(text(await other.invoke("echo", "fine")), "fine");
    // destroy() and close() must not run under the sleeping call: they are deferred.
    await inst.destroy();
    await plugin.close();
    await assert.rejects(other.invoke("echo", "x"), PluginClosedError);
    await plugin.whenSettled();
    assert.equal(plugin.outstandingCalls, 0);
  });
}

Deno.test("Instance.invoke() late reply frees its buffers once the abandoned call returns", async () => {
  await using plugin = await loadPlugin(REFERENCE_PLUGINS[1]!.path);
  const base = plugin.stats()!.live_buffers;
  const inst = await plugin.createInstance();
  await assert.rejects(inst.invoke("sleep_ms", "150", { timeoutMs: 20 }), PluginTimeoutError);
  await plugin.whenSettled();
  assert.equal(plugin.stats()!.live_buffers, base, "the late output buffer was freed");
  await inst.destroy();
  assert.equal(plugin.stats()!.live_instances, 0, "the deferred destroy ran after the call returned");
});

Deno.test("callSlots refuses calls beyond its limit with CallSlotsExhaustedError", async () => {
  const before = callSlots.limit;
  callSlots.setLimit(2);
  const plugin = await loadPlugin(REFERENCE_PLUGINS[0]!.path);
  try {
    const a = await plugin.createInstance();
    const b = await plugin.createInstance();
    const c = await plugin.createInstance();
    await Promise.all([
      assert.rejects(a.invoke("sleep_ms", "300", { timeoutMs: 20 }), PluginTimeoutError),
      assert.rejects(b.invoke("sleep_ms", "300", { timeoutMs: 20 }), PluginTimeoutError),
    ]);
    assert.equal(callSlots.inUse, 2, "abandoned calls still hold their slots");
    await assert.rejects(c.invoke("echo", "x"), (e: unknown) => {
      assert.ok(e instanceof CallSlotsExhaustedError);
      assert.match(e.message, /2 plugin calls are already running or abandoned/);
      return true;
    });
    // The sync path does not use the pool and still works.
    assert.equal(text(c.invokeSync("echo", "sync")), "sync");
    await plugin.whenSettled();
    assert.equal(callSlots.inUse, 0);
    assert.equal(text(await c.invoke("echo", "again")), "again");
  } finally {
    await plugin.close();
    await plugin.whenSettled();
    callSlots.setLimit(before);
  }
});

Deno.test("callSlots.setLimit() rejects limits the pool cannot honour", () => {
  assert.throws(() => callSlots.setLimit(0), RangeError);
  assert.throws(() => callSlots.setLimit(32), /from 1 to 28/);
});

Deno.test("plugcheck invoke exits promptly with code 1 when a call hangs past --timeout", async () => {
  const r = await runCli(
    ["invoke", REFERENCE_PLUGINS[1]!.path, "sleep_ms", "--input", "3600000", "--timeout", "200"],
    { killAfterMs: 20_000 },
  );
  assert.equal(r.killed, false, "the process exited by itself");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /plugcheck: error: Cannot invoke "sleep_ms": no reply within 200 ms/);
  assert.match(r.stderr, /hint: the call may be stuck; raise --timeout/);
  assert.equal(r.stdout, "");
});
