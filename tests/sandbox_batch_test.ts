/**
 * Batches of calls in a sandbox child (`invokeCalls`, what `stress
 * --isolate` runs): the call board's per-call deadline on its own, then
 * against real children: a batch longer than one deadline whose calls each
 * fit in it passes, a hang inside a batch is a timeout of that call after
 * its own deadline (never the batch's sum), a crash inside a batch names the
 * call and its input, outputs and errors come back per call, and a batch
 * whose outputs fill a reply stops early.
 */
import assert from "node:assert/strict";
import { loadPlugin, PluginCrashError, PluginTimeoutError } from "../mod.ts";
import { CallBoard, CallMarks, CallWatch } from "../lib/sandbox/call_board.ts";
import type { MethodCall } from "../lib/plugin/handle.ts";
import { fuzzFixture, REFERENCE_PLUGINS, text } from "./_helpers.ts";

const C = REFERENCE_PLUGINS[0]!.path;
const enc = new TextEncoder();
const call = (method: string, input: string): MethodCall => ({ method, input: enc.encode(input) });

Deno.test("CallWatch gives each call of a batch the whole deadline, and names the call it is on", () => {
  const board = CallBoard.create();
  assert.ok(board, "a shared file for the board (/dev/shm or the temp directory)");
  try {
    const marks = CallMarks.open(board.path)!; // the child's side, here in the same process
    board.fileDone();
    const slot = board.claim()!;
    const calls = [call("echo", "a"), call("upper", "b"), call("echo", "c")];
    // A whole-number time base: the arithmetic below is exact (a performance.now() value gave 19.000000000000057).
    const t0 = 1_000;
    const watch = new CallWatch(board, slot, calls, 100, t0);
    assert.equal(watch.tickMs, 25);
    assert.deepEqual(watch.info().inFlight, { kind: "invoke", method: "echo", inputs: [enc.encode("a")] });
    // Waiting for call 0 counts against its deadline, as for a lone call.
    assert.equal(watch.check(t0 + 60), 25);
    assert.equal(watch.check(t0 + 99), 1);
    marks.started(slot, 1);
    marks.returned(slot, 1);
    marks.started(slot, 2); // call 1 starts at t0 + 99 or so: it gets 100 ms from when it is seen
    assert.equal(watch.check(t0 + 99), 25);
    assert.equal(watch.check(t0 + 180), 19, "80 ms into call 1: 20 ms left, less 1 ms since it was seen");
    assert.equal(watch.current, 1);
    assert.equal(watch.info().op, 'invoke "upper"');
    assert.equal(watch.check(t0 + 199), 0, "no progress for 100 ms: call 1 timed out");
    // The board's file is gone; the two mappings still share the slot.
    assert.throws(() => Deno.statSync(board.path), Deno.errors.NotFound);
    board.release(slot);
    assert.equal(board.claim(), slot, "a released slot is claimed again, cleared");
    assert.deepEqual(board.read(slot), { started: 0, returned: 0 });
  } finally {
    board.close();
  }
});

Deno.test("SandboxedInstance.invokeCalls() returns each call's output, error and time, in order", async () => {
  await using plugin = await loadPlugin(C, { isolate: true });
  await using inst = await plugin.createInstance();
  const r = await inst.invokeCalls([
    call("echo", "one"),
    call("sum", "bad"),
    call("upper", "two"),
    call("sum", "[2,3]"),
  ]);
  assert.equal(r.ran, 4);
  assert.deepEqual(r.outputs.map(text), ["one", "", "TWO", "5"]);
  assert.deepEqual(r.errors.map((e) => e?.name), [undefined, "InvalidInputError", undefined, undefined]);
  assert.equal(r.ms.length, 4);
  assert.ok(r.ms.every((ms) => ms >= 0 && ms < 1000), `${r.ms}`);
});

Deno.test("SandboxedInstance.invokeCalls() times each call where it runs: a batch longer than one deadline passes", async () => {
  await using plugin = await loadPlugin(C, { isolate: true });
  await using inst = await plugin.createInstance();
  // Eight calls of 60 ms each: 480 ms in all, each well within its own 250 ms deadline.
  const r = await inst.invokeCalls(Array.from({ length: 8 }, () => call("sleep_ms", "60")), { timeoutMs: 250 });
  assert.equal(r.ran, 8);
  assert.ok(r.errors.every((e) => e === undefined));
  for (const ms of r.ms) assert.ok(ms >= 60 && ms < 250, `each call's own time: ${r.ms}`);
});

Deno.test("SandboxedInstance.invokeCalls() times out a hang inside a batch after that call's deadline, naming it", async () => {
  await using plugin = await loadPlugin(fuzzFixture("hang_on_input"), { isolate: true });
  await using inst = await plugin.createInstance();
  const calls = [call("wait", "ok"), call("wait", "fine"), call("wait", "Hang here"), call("wait", "never runs")];
  const t0 = performance.now();
  await assert.rejects(inst.invokeCalls(calls, { timeoutMs: 300 }), (e: unknown) => {
    assert.ok(e instanceof PluginTimeoutError, `${e}`);
    assert.equal(e.timeoutMs, 300);
    assert.match(e.message, /^Cannot invoke "wait": no reply within 300 ms; the sandbox child was killed$/);
    return true;
  });
  const took = performance.now() - t0;
  // Its own deadline plus at most one look (75 ms) and slack; an unwatched batch would get 4 x 300 ms.
  assert.ok(took >= 300 && took < 1200, `${took} ms`);
  assert.equal(inst.state, "wedged");
});

Deno.test("SandboxedInstance.invokeCalls() names the call that crashed inside a batch, with its input", async () => {
  await using plugin = await loadPlugin(fuzzFixture("two_bugs"), { isolate: true });
  await using inst = await plugin.createInstance();
  const calls = [call("process", "hello"), call("process", "world"), call("process", "A-17"), call("process", "x")];
  await assert.rejects(inst.invokeCalls(calls), (e: unknown) => {
    assert.ok(e instanceof PluginCrashError, `${e}`);
    assert.equal(e.signal, "SIGSEGV");
    assert.match(e.message, /^Cannot invoke "process": the plugin crashed the sandbox child \(killed by SIGSEGV\)/);
    assert.deepEqual(e.request, { kind: "invoke", method: "process", inputs: [enc.encode("A-17")] });
    return true;
  });
});

Deno.test("SandboxedInstance.invokeCalls() stops a batch whose outputs fill a reply; the rest never ran", async () => {
  await using plugin = await loadPlugin(C, { isolate: true });
  await using inst = await plugin.createInstance();
  const mib = new Uint8Array(1 << 20).fill(7);
  const r = await inst.invokeCalls(Array.from({ length: 40 }, () => ({ method: "echo", input: mib })));
  assert.equal(r.ran, 16, "16 MiB of outputs: the reply's budget");
  assert.equal(r.outputs.length, 16);
  assert.ok(r.outputs.every((o) => o.length === 1 << 20 && o[0] === 7));
  // The instance goes on.
  assert.equal(text(await inst.invoke("echo", "after")), "after");
});
