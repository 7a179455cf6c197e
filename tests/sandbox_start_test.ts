/**
 * A sandbox child's start deadline counts the plugin's calls only (dlopen,
 * init, describe: PHASE frames), never plugcheck's own work in the child
 * (the shutdown check's baseline, validating describe(), the handshake), in
 * `loadPlugin`, which every engine and check loads through; a plugin that
 * hangs in one of its calls is still stopped at its deadline, and the error
 * names the call. A child's start loads no npm package (its parent
 * validates describe() and emits its logs on LogTape).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ContractViolationError, loadPlugin, PluginTimeoutError } from "../mod.ts";
import { eventually, fault, REFERENCE_PLUGINS, ROOT, sandboxChildren } from "./_helpers.ts";
import { SandboxChild } from "../lib/sandbox/sandbox_child.ts";
import { denoDir } from "../lib/sandbox/spawn.ts";
import { childEntry } from "../lib/util/prebuilt.ts";

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

/** The modules a sandbox child's entry loads when it starts (static imports; dynamic ones load only when run). */
async function startupModules(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", entry], stdout: "piped" }).output();
  assert.ok(out.success, `deno info ${entry}`);
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: { code?: { specifier?: string }; isDynamic?: boolean }[] }[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const next = [...graph.roots];
  while (next.length > 0) {
    const s = next.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.isDynamic !== true && d.code?.specifier !== undefined) next.push(d.code.specifier);
    }
  }
  return [...seen];
}

Deno.test("sandbox child entries start without loading any npm package (zod and LogTape cost each child ~50 ms)", async () => {
  for (
    const entry of ["lib/host/isolated/child_entry.ts", "lib/check/probe_entry.ts", "lib/fuzz/child/child_entry.ts"]
  ) {
    const modules = await startupModules(join(ROOT, entry));
    assert.ok(modules.some((m) => m.endsWith("/lib/sandbox/child_main.ts")), `${entry}: the graph was read`);
    assert.deepEqual(modules.filter((m) => m.startsWith("npm:")), [], `${entry} loads npm packages at start`);
  }
});

Deno.test("loadPlugin({ isolate }) rejects a describe() that breaks the schema as in process, and its child is gone", async () => {
  const errors: string[] = [];
  for (const isolate of [false, true]) {
    await assert.rejects(loadPlugin(fault("describe_bad_schema"), { isolate }), (e: unknown) => {
      assert.ok(e instanceof ContractViolationError, String(e));
      assert.equal(e.operation, "describe plugin");
      errors.push(e.message);
      return true;
    });
  }
  assert.equal(errors[1], errors[0]);
  assert.match(errors[0]!, /^Cannot describe plugin: describe\(\) JSON is invalid at /);
  assert.deepEqual(sandboxChildren(), [], "the child that read describe() was stopped");
});

Deno.test("SandboxChild.start: whileBooting runs as the child boots; aborting its signal kills a child still starting, and start rejects (a spare a run no longer needs)", async () => {
  const abort = new AbortController();
  let booting = 0;
  const starting = SandboxChild.start({
    label: "never_hello",
    entry: childEntry("lib/host/isolated/child_entry.ts"),
    childModule: join(ROOT, "tests/_children/never_hello.ts"),
    options: {},
    readPaths: [],
    env: [],
    setEnv: {},
    startTimeoutMs: 60_000,
    maxFrame: 1 << 20,
  }, { signal: abort.signal, whileBooting: () => booting++ });
  const outcome = starting.then(() => new Error("started"), (e: Error) => e);
  assert.ok(await eventually(() => sandboxChildren().length === 1, 10_000), "the child runs");
  assert.equal(booting, 1, "whileBooting ran once, while the child starts");
  abort.abort();
  assert.match((await outcome).message, /no longer needed/);
  assert.ok(await eventually(() => sandboxChildren().length === 0), "and is gone");
});

Deno.test("denoDir: the Deno cache directory a sandbox child is given is the one this Deno uses", async () => {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" }).output();
  assert.equal(await denoDir(), JSON.parse(new TextDecoder().decode(info.stdout)).denoDir);
});
