/**
 * Plugins that end plugcheck's process instead of returning (`_exit`,
 * `quick_exit`, an exit from an atexit handler or destructor) and plugins
 * whose unloading hangs, crashes or exits: what docs/faults.md cannot say in
 * its one expected cell (stderr wording, one JSON document, the exit code
 * kept, the sandbox's close()).
 */
import assert from "node:assert/strict";
import { loadPlugin, PluginCrashError, PluginTimeoutError } from "../mod.ts";
import { ProcessGuard } from "../lib/ffi/process_guard.ts";
import { fault, fixture, runCli } from "./_helpers.ts";

Deno.test("ProcessGuard.hookExits rebinds the slots of a plugin's own _exit and quick_exit, none of a plugin that calls neither", async () => {
  await using a = await loadPlugin(fault("underscore_exit_in_call"));
  await using b = await loadPlugin(fault("quick_exit_in_call"));
  await using c = await loadPlugin(fixture("ref_c"));
  const guard = ProcessGuard.get();
  // Loading rebound them already; rebinding again finds the same slots.
  assert.ok(guard.hookExits(a.path) >= 1);
  assert.ok(guard.hookExits(b.path) >= 1);
  assert.equal(guard.hookExits(c.path), 0);
  assert.throws(() => guard.hookExits("/nonexistent/libnot_loaded.so"), /errno/);
});

for (const isolate of [false, true]) {
  const mode = isolate ? " --isolate" : "";
  Deno.test(`invoke${mode}: a destructor that calls _exit(0) while unloading fails after the results (exit 1)`, async () => {
    const r = await runCli([
      "invoke",
      fault("destructor_exits_zero"),
      "echo",
      "--input",
      "hi",
      "--json",
      ...(isolate ? ["--isolate"] : []),
    ]);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout); // one document: the results, printed before unloading
    assert.equal(doc.ok, true);
    assert.equal(doc.output_text, "hi");
    assert.match(r.stderr, /error: Cannot unload plugin "destructor_exits_zero": /);
    assert.match(r.stderr, isolate ? /exited with code 0 while unloading/ : /called _exit\(0\) while unloading/);
  });

  Deno.test(`invoke${mode}: a destructor that aborts is reported as a crash of unloading after the results (exit 1)`, async () => {
    const r = await runCli([
      "invoke",
      fault("abort_on_unload"),
      "echo",
      "--input",
      "hi",
      ...(isolate ? ["--isolate"] : []),
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "hi");
    assert.match(r.stderr, /Cannot unload plugin "abort_on_unload": .*(SIGABRT)/);
  });

  Deno.test(`load${mode}: a destructor that hangs is ended by --timeout after the results (exit 1)`, async () => {
    const r = await runCli(["load", fault("slow_unload"), "--timeout", "500", ...(isolate ? ["--isolate"] : [])], {
      killAfterMs: 30_000, // the destructor sleeps 60 s
    });
    assert.equal(r.killed, false);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /slow_unload/);
    assert.match(r.stderr, /Cannot unload plugin "slow_unload": .*(no return within 500 ms|within 500 ms)/);
  });
}

Deno.test("invoke: an atexit handler that calls _exit(0) while plugcheck exits cannot turn a failure into exit 0", async () => {
  const r = await runCli(["invoke", fault("atexit_exits_zero"), "nosuch", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(JSON.parse(r.stdout).ok, false);
  assert.match(r.stderr, /warning: the plugin called _exit\(0\) .* exited with code 1; plugcheck keeps its exit code/);
});

Deno.test("invoke: _exit(0) from a SIGSEGV handler the plugin installed is a failure naming the call", async () => {
  const r = await runCli(["invoke", fault("segv_handler_exits_zero"), "crash", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.error.name, "PluginCrashError");
  assert.equal(doc.error.operation, 'invoke "crash"');
  assert.match(doc.error.message, /called _exit\(0\) during the call/);
});

Deno.test("SandboxedPlugin.close rejects when the child's unloading crashes or hangs", async () => {
  const aborting = await loadPlugin(fault("abort_on_unload"), { isolate: true });
  const crash = await aborting.close().then(() => undefined, (e) => e);
  assert.ok(crash instanceof PluginCrashError, String(crash));
  assert.equal(crash.signal, "SIGABRT");
  assert.equal(crash.operation, 'unload plugin "abort_on_unload"');
  const slow = await loadPlugin(fault("slow_unload"), { isolate: true, timeoutMs: 2000 });
  const hang = await slow.close().then(() => undefined, (e) => e);
  assert.ok(hang instanceof PluginTimeoutError, String(hang));
  assert.match(hang.message, /did not finish unloading within 2000 ms/);
});

Deno.test("stress: _exit(0) in a call from a pool thread is a failure naming the call, never exit 0", async () => {
  const r = await runCli([
    "stress",
    fault("underscore_exit_in_call"),
    "--method",
    "quit",
    "--input",
    "x",
    "--iterations",
    "20",
    "--seed",
    "1",
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Cannot invoke "quit": the plugin called _exit\(0\) during the call/);
});

Deno.test("load --format json: prints its document, then a destructor calling _exit(0) fails the unload (exit 1, not 0)", async () => {
  const r = await runCli(["load", fault("destructor_exits_zero"), "--format", "json"]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(JSON.parse(r.stdout).description.name, "destructor_exits_zero");
  assert.match(r.stderr, /Cannot unload plugin "destructor_exits_zero"/);
});
