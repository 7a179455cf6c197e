/**
 * A sandbox child's start deadline counts the plugin's calls only (dlopen,
 * init, describe: PHASE frames), never plugcheck's own work in the child
 * (the shutdown check's baseline, validating describe(), the handshake), in
 * `loadPlugin`, which every engine and check loads through; a plugin that
 * hangs in one of its calls is still stopped at its deadline, and the error
 * names the call.
 */
import assert from "node:assert/strict";
import { loadPlugin, PluginTimeoutError } from "../mod.ts";
import { fault, REFERENCE_PLUGINS } from "./_helpers.ts";

const REF_C = REFERENCE_PLUGINS[0]!.path;

Deno.test("loadPlugin({ isolate }) does not charge plugcheck's own start work to the plugin's deadline", async () => {
  // With shutdownCheck the child waits until it is 1 s old before it opens the library (plugcheck's work):
  // far longer than the 250 ms the plugin's own calls get here, and they need a few ms.
  await using plugin = await loadPlugin(REF_C, { isolate: true, timeoutMs: 250, shutdownCheck: true });
  assert.equal(plugin.describe().name, "ref_c");
  // The child's own start (log setup, the native helper, validating describe(), the handshake) took 100-150 ms
  // here, all of it charged before; the plugin's calls take a few ms each.
  for (let i = 0; i < 3; i++) {
    await using quick = await loadPlugin(REF_C, { isolate: true, timeoutMs: 100 });
    assert.equal(quick.describe().name, "ref_c");
  }
});

Deno.test("loadPlugin({ isolate }) still stops a plugin hanging in init or in a constructor at its deadline, naming the call", async () => {
  for (const [name, op] of [["hang_init", "initialize plugin"], ["hang_constructor", "load plugin"]] as const) {
    const t0 = performance.now();
    await assert.rejects(loadPlugin(fault(name), { isolate: true, timeoutMs: 300 }), (e: unknown) => {
      assert.ok(e instanceof PluginTimeoutError, String(e));
      assert.equal(e.operation, op);
      assert.match(e.message, new RegExp(`^Cannot ${op}: no reply within 300 ms`));
      return true;
    });
    assert.ok(performance.now() - t0 < 20_000, `${name}: stopped at its deadline, not plugcheck's own`);
  }
});
