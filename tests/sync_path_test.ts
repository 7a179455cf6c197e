/**
 * The synchronous call path (`invokeSync`, `invokeInto`) through the native
 * helper: results that stay valid and independent, inputs of every kind
 * (also the cached-address shortcuts and what must defeat them), every guard
 * verdict, and every plugin buffer freed exactly once.
 */
import assert from "node:assert/strict";
import {
  BufferTooSmallError,
  ContractViolationError,
  InstanceBusyError,
  InternalPluginError,
  InvalidInputError,
  loadPlugin,
  MalformedBufferError,
  UnknownMethodError,
} from "../mod.ts";
import { captureLogs, fault, probe, REFERENCE_PLUGINS, text } from "./_helpers.ts";

const C = REFERENCE_PLUGINS[0]!.path;
const RUST = REFERENCE_PLUGINS[1]!.path;

Deno.test("Instance.invokeSync() results stay valid and independent across many calls and slabs", async () => {
  await using plugin = await loadPlugin(C);
  await using inst = await plugin.createInstance();
  const outs: Uint8Array[] = [];
  for (let i = 0; i < 3000; i++) outs.push(inst.invokeSync("echo", `call ${i} ${"x".repeat(i % 97)}`));
  outs.forEach((o, i) => assert.equal(text(o), `call ${i} ${"x".repeat(i % 97)}`));
  const big = inst.invokeSync("echo", new Uint8Array(40_000).fill(3)); // larger than a slab share
  assert.equal(big.length, 40_000);
  assert.ok(big.every((b) => b === 3));
  assert.equal(text(outs[0]!), "call 0 ", "earlier results untouched");
  assert.deepEqual(inst.invokeSync("echo"), new Uint8Array(0));
  assert.equal(plugin.stats()!.live_buffers, 1, "every output freed (the stats buffer counts itself)");
});

Deno.test("Instance.invokeSync() reads inputs of every kind, including a reused, mutated or detached array", async () => {
  await using plugin = await loadPlugin(RUST);
  await using inst = await plugin.createInstance();
  const base = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const view = base.subarray(100, 164); // byteOffset 100
  for (let i = 0; i < 4; i++) assert.deepEqual(inst.invokeSync("echo", view), base.slice(100, 164), `call ${i}`);
  view[0] = 0xee; // the cached address must see new contents
  assert.equal(inst.invokeSync("echo", view)[0], 0xee);
  const huge = new Uint8Array(100_000).fill(9); // beyond the staging area: passed as an argument
  assert.equal(inst.invokeSync("echo", huge).length, 100_000);
  assert.equal(text(inst.invokeSync("upper", "é and ascii")), "é AND ASCII");
  const long = "y".repeat(70_000);
  assert.equal(text(inst.invokeSync("echo", long)), long);
  const moving = new Uint8Array(32).fill(1);
  inst.invokeSync("echo", moving);
  inst.invokeSync("echo", moving); // its address is now cached
  const moved = structuredClone(moving.buffer, { transfer: [moving.buffer] });
  assert.equal(moving.length, 0, "detached");
  assert.deepEqual(inst.invokeSync("echo", moving), new Uint8Array(0), "a detached array is read as empty");
  assert.equal(moved.byteLength, 32);
  assert.throws(() => inst.invokeSync("echo", 42 as unknown as string), TypeError);
});

Deno.test("Instance.invokeInto() copies into the caller's buffer, or frees the output and reports the size needed", async () => {
  await using plugin = await loadPlugin(C);
  await using inst = await plugin.createInstance();
  const backing = new Uint8Array(64).fill(0xaa);
  const dst = backing.subarray(8, 40); // byteOffset 8, 32 bytes
  for (let i = 0; i < 3; i++) {
    assert.equal(inst.invokeInto("echo", `hello ${i}`, dst), 7);
    assert.equal(text(dst.subarray(0, 7)), `hello ${i}`);
  }
  assert.equal(backing[7], 0xaa, "nothing written before the view");
  assert.equal(backing[40], 0xaa, "nothing written after the view");
  const base = plugin.stats()!.live_buffers;
  assert.throws(() => inst.invokeInto("echo", "x".repeat(33), dst), (e: unknown) => {
    assert.ok(e instanceof BufferTooSmallError);
    assert.equal(e.needed, 33);
    assert.equal(e.code, "BUFFER_TOO_SMALL");
    assert.match(e.message, /the output is 33 bytes, the buffer holds 32 \(output freed, nothing copied\)/);
    return true;
  });
  assert.equal(plugin.stats()!.live_buffers, base, "the output that did not fit was freed");
  assert.equal(inst.invokeInto("sum", "[1,2]", new Uint8Array(8)), 1);
  assert.throws(() => inst.invokeInto("sum", "nope", dst), InvalidInputError);
});

Deno.test("the sync path turns every status into its typed error and frees every buffer", async () => {
  await using plugin = await loadPlugin(C);
  await using inst = await plugin.createInstance();
  const base = plugin.stats()!.live_buffers;
  assert.throws(() => inst.invokeSync("nope"), UnknownMethodError);
  assert.throws(() => inst.invokeSync("fail_with", '{"status":3,"message":"boom"}'), (e: unknown) => {
    assert.ok(e instanceof InternalPluginError);
    assert.equal(e.pluginMessage, "boom");
    assert.deepEqual(e.details, { requested_status: 3 });
    return true;
  });
  assert.throws(() => inst.invokeSync("fail_with", '{"status":99,"message":"odd"}'), ContractViolationError);
  assert.equal(text(inst.invokeSync("sum", "[2, 2]")), "4", "a success after failures");
  assert.equal(plugin.stats()!.live_buffers, base);
});

Deno.test("the sync path applies the guard to broken buffers: oversize, NULL with a length", async () => {
  {
    await using plugin = await loadPlugin(C, { maxOutputBytes: 2000 }); // describe() is about 1.1 KiB
    await using inst = await plugin.createInstance();
    assert.equal(inst.invokeSync("echo", "x".repeat(2000)).length, 2000);
    assert.throws(() => inst.invokeSync("echo", "x".repeat(2001)), MalformedBufferError);
    assert.throws(() => inst.invokeInto("echo", "x".repeat(2001), new Uint8Array(4000)), MalformedBufferError);
    assert.equal(plugin.stats()!.live_buffers, 1, "oversize outputs freed unread");
  }
  {
    await using plugin = await loadPlugin(fault("null_output"));
    await using inst = await plugin.createInstance();
    assert.throws(() => inst.invokeSync("empty"), /NULL output pointer with length 5/);
  }
  {
    await using plugin = await loadPlugin(fault("huge_length"));
    await using inst = await plugin.createInstance();
    assert.throws(() => inst.invokeSync("big"), /claims 1099511627776 bytes/);
  }
});

Deno.test("the sync path keeps instances and plugins apart when calls alternate between them", async () => {
  await using c = await loadPlugin(C);
  await using rust = await loadPlugin(RUST);
  await using a = await c.createInstance({ counter_start: 100 });
  await using b = await rust.createInstance({ counter_start: 200 });
  for (let i = 1; i <= 50; i++) {
    assert.equal(text(a.invokeSync("counter")), String(100 + i));
    assert.equal(text(b.invokeSync("counter")), String(200 + i));
  }
});

Deno.test("Instance.invokeSync() drains plugin logs queued during the call", async () => {
  using logs = captureLogs();
  await using ref = await loadPlugin(C, { log: "trace" });
  await using refInst = await ref.createInstance();
  assert.equal(text(refInst.invokeSync("log", '"now"')), "5");
  assert.ok(logs.records.some((r) => r.message.join("") === "now (trace)"), "drained right after the call");
});

Deno.test("Instance.invokeSync() on a non-thread-safe instance is InstanceBusyError while an async call runs", async () => {
  await using plugin = await loadPlugin(probe("serial_probe"));
  assert.equal(plugin.describe().thread_safe_instances, false);
  await using inst = await plugin.createInstance();
  const running = inst.invoke("enter", "200");
  await new Promise((r) => setTimeout(r, 50)); // the queued call is now inside the plugin
  assert.throws(() => inst.invokeSync("enter", ""), InstanceBusyError);
  assert.equal(text(await running), "1 1");
  assert.equal(text(inst.invokeSync("enter", "")), "2 1");
});
