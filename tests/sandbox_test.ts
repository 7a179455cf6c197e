/**
 * The sandbox (`loadPlugin(path, { isolate: true })`): same results as in
 * process, crashes and hangs as typed errors with the request in flight,
 * fresh children, the restart cap, idle reaping, the grace period, the env
 * allowlist, and protocol violations by a misbehaving child.
 */
import { hostLibraryPath } from "../lib/ffi/native_helper.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AbiMismatchError,
  InstanceWedgedError,
  InvalidInputError,
  LoadError,
  loadPlugin,
  PluginCrashError,
  PluginDisabledError,
  PluginTimeoutError,
  type SandboxedPlugin,
  SandboxProtocolError,
} from "../mod.ts";
import { endError, endFromStatus } from "../lib/sandbox/child_end.ts";
import { captureLogs, fault, REFERENCE_PLUGINS, ROOT, runCli, runDeno, text } from "./_helpers.ts";

const RUST = REFERENCE_PLUGINS[1]!.path;

/** Waits (at most 1 s) for the sandbox's idle child to be reaped. */
async function untilReaped(plugin: SandboxedPlugin): Promise<void> {
  for (let i = 0; i < 50 && plugin.health().pid !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
}

for (const ref of REFERENCE_PLUGINS) {
  Deno.test(`SandboxedPlugin gives the same results as in process (${ref.lang})`, async () => {
    await using local = await loadPlugin(ref.path);
    await using boxed = await loadPlugin(ref.path, { isolate: true });
    assert.equal(boxed.isolated, true);
    assert.deepEqual(boxed.describe(), local.describe());
    assert.deepEqual(boxed.abiVersion, local.abiVersion);
    assert.deepEqual(boxed.capabilities, local.capabilities);
    await using a = await local.createInstance({ counter_start: 3 });
    await using b = await boxed.createInstance({ counter_start: 3 });
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (
      const [method, input] of [["echo", bytes], ["upper", "mixed Case"], ["sum", "[1,2.5]"], ["counter", "4"]] as const
    ) {
      assert.deepEqual(await b.invoke(method, input), await a.invoke(method, input), method);
    }
    await assert.rejects(b.invoke("sum", "nope"), (e: unknown) => {
      assert.ok(e instanceof InvalidInputError);
      assert.equal(e.pluginMessage, "Input must be a JSON array of numbers");
      return true;
    });
    const stats = await boxed.readStats();
    assert.equal(stats?.live_instances, 1);
    assert.equal(stats?.init_calls, 1);
  });
}

Deno.test("SandboxedInstance.invokeBatch() returns one result per input, errors typed", async () => {
  await using plugin = await loadPlugin(RUST, { isolate: true });
  await using inst = await plugin.createInstance();
  const results = await inst.invokeBatch("sum", ["[1]", "bad", new TextEncoder().encode("[2,3]")]);
  assert.deepEqual(
    results.map((r) => (r.ok ? text(r.output) : r.error.constructor.name)),
    ["1", "InvalidInputError", "5"],
  );
});

Deno.test("SandboxedPlugin turns a segfault into PluginCrashError with the request in flight", async () => {
  await using plugin = await loadPlugin(fault("segfault"), { isolate: true });
  const inst = await plugin.createInstance();
  const input = new Uint8Array([1, 2, 3, 0xff]);
  await assert.rejects(inst.invoke("crash", input), (e: unknown) => {
    assert.ok(e instanceof PluginCrashError);
    assert.equal(e.signal, "SIGSEGV");
    assert.equal(e.code, "CRASH");
    assert.match(e.message, /^Cannot invoke "crash": the plugin crashed the sandbox child \(killed by SIGSEGV\)/);
    assert.deepEqual(e.request, { kind: "invoke", method: "crash", inputs: [input] });
    return true;
  });
  assert.equal(inst.state, "wedged");
  await assert.rejects(inst.invoke("echo", "x"), InstanceWedgedError);
  let h = plugin.health();
  assert.equal(h.state, "recovering");
  assert.equal(h.crashesInWindow, 1);
  assert.equal(h.lastCrash?.signal, "SIGSEGV");
  // The next request starts a fresh child.
  const fresh = await plugin.createInstance();
  assert.equal(text(await fresh.invoke("echo", "alive")), "alive");
  h = plugin.health();
  assert.equal(h.restarts, 1);
  assert.equal(h.state, "idle");
  assert.ok(h.pid !== undefined);
});

Deno.test("SandboxedPlugin keeps the child's stderr tail in a crash (Rust panic into extern C)", async () => {
  await using plugin = await loadPlugin(fault("panic_unwind"), { isolate: true });
  const inst = await plugin.createInstance();
  await assert.rejects(inst.invoke("panic"), (e: unknown) => {
    assert.ok(e instanceof PluginCrashError);
    assert.equal(e.signal, "SIGABRT");
    assert.match(e.stderrTail, /boom from panic_unwind/);
    assert.match(e.stderrTail, /panic in a function that cannot unwind/);
    return true;
  });
});

Deno.test("SandboxedPlugin names the whole batch in flight when a batch crashes", async () => {
  await using plugin = await loadPlugin(fault("abort"), { isolate: true });
  const inst = await plugin.createInstance();
  await assert.rejects(inst.invokeBatch("crash", ["a", "b"]), (e: unknown) => {
    assert.ok(e instanceof PluginCrashError);
    assert.equal(e.signal, "SIGABRT");
    assert.equal(e.request?.kind, "batch");
    assert.deepEqual(e.request?.inputs?.map(text), ["a", "b"]);
    return true;
  });
});

Deno.test("SandboxedPlugin kills a hung child at the deadline; the next call gets a fresh child", async () => {
  await using plugin = await loadPlugin(fault("hang_invoke"), { isolate: true });
  const inst = await plugin.createInstance();
  const pid = plugin.health().pid!;
  await assert.rejects(inst.invoke("hang", "", { timeoutMs: 200 }), (e: unknown) => {
    assert.ok(e instanceof PluginTimeoutError);
    assert.match(e.message, /no reply within 200 ms; the sandbox child was killed/);
    return true;
  });
  await assert.rejects(inst.invoke("echo", "x"), /a call timed out and its sandbox child was killed/);
  const fresh = await plugin.createInstance();
  assert.equal(text(await fresh.invoke("echo", "ok")), "ok");
  assert.notEqual(plugin.health().pid, pid);
});

Deno.test("SandboxedPlugin is disabled after restartCap crashes in the window, until enable()", async () => {
  await using plugin = await loadPlugin(fault("segfault"), { isolate: true, restartCap: 2 });
  for (let i = 0; i < 2; i++) {
    const inst = await plugin.createInstance();
    await assert.rejects(inst.invoke("crash"), PluginCrashError);
  }
  assert.equal(plugin.health().state, "disabled");
  await assert.rejects(plugin.createInstance(), (e: unknown) => {
    assert.ok(e instanceof PluginDisabledError);
    assert.match(e.message, /disabled after repeated crashes \(2 crashes within 60000 ms; last: .*SIGSEGV/);
    return true;
  });
  plugin.enable();
  const inst = await plugin.createInstance();
  assert.equal(text(await inst.invoke("echo", "back")), "back");
});

Deno.test("SandboxedPlugin reaps an idle child and re-creates its instances on next use", async () => {
  await using plugin = await loadPlugin(RUST, { isolate: true, idleTimeoutMs: 150 });
  const inst = await plugin.createInstance({ counter_start: 10 });
  assert.equal(text(await inst.invoke("counter")), "11");
  const pid = plugin.health().pid;
  await untilReaped(plugin);
  assert.equal(plugin.health().pid, undefined, "the idle child was reaped");
  assert.equal(plugin.health().crashesInWindow, 0, "a reap is not a crash");
  // Re-created from its config: the counter starts over.
  assert.equal(text(await inst.invoke("counter")), "11");
  assert.notEqual(plugin.health().pid, pid);
});

Deno.test("SandboxedPlugin.close() stops a child stuck in destroy after the grace period", async () => {
  const plugin = await loadPlugin(fault("slow_destroy"), { isolate: true, graceMs: 300 });
  await plugin.createInstance();
  const t0 = performance.now();
  await assert.rejects(plugin.close(), (e: unknown) => {
    assert.ok(e instanceof PluginTimeoutError);
    assert.match(e.message, /did not finish within the 300 ms grace .* stopped with SIGTERM$/);
    return true;
  });
  assert.ok(performance.now() - t0 < 10_000, "far sooner than the fixture's 30 s destroy");
  assert.equal(plugin.health().pid, undefined);
});

Deno.test("SandboxedPlugin clears the child's environment except the allowlist", async () => {
  Deno.env.set("PLUGCHECK_TEST_SECRET", "do-not-pass");
  Deno.env.set("PLUGCHECK_TEST_ALLOWED", "pass-me");
  try {
    await using plugin = await loadPlugin(RUST, { isolate: true, env: ["PLUGCHECK_TEST_ALLOWED"] });
    // Deno reserves /proc/*/environ for --allow-all; cat reads it for us.
    const cat = await new Deno.Command("cat", { args: [`/proc/${plugin.health().pid}/environ`] }).output();
    const environ = text(cat.stdout);
    const names = environ.split("\0").filter(Boolean).map((kv) => kv.slice(0, kv.indexOf("=")));
    assert.ok(names.includes("PLUGCHECK_TEST_ALLOWED"));
    assert.ok(!names.includes("PLUGCHECK_TEST_SECRET"));
    assert.ok(!names.includes("HOME"));
    assert.deepEqual(names.sort(), [
      "DENO_DIR",
      "DENO_NO_UPDATE_CHECK",
      "LD_PRELOAD",
      "NO_COLOR",
      "PLUGCHECK_HOST_LIB",
      "PLUGCHECK_TEST_ALLOWED",
    ]);
    // The variables plugcheck adds: the child uses this process's native helper (one process setting), and has
    // it preloaded to record the threads the plugin starts (it leaves LD_PRELOAD at once, see npah_threads.c).
    const host = environ.split("\0").find((kv) => kv.startsWith("PLUGCHECK_HOST_LIB="));
    assert.equal(host, `PLUGCHECK_HOST_LIB=${Deno.realPathSync(hostLibraryPath())}`);
    const preload = environ.split("\0").find((kv) => kv.startsWith("LD_PRELOAD="));
    assert.equal(preload, `LD_PRELOAD=${Deno.realPathSync(hostLibraryPath())}`);
  } finally {
    Deno.env.delete("PLUGCHECK_TEST_SECRET");
    Deno.env.delete("PLUGCHECK_TEST_ALLOWED");
  }
});

Deno.test("SandboxedPlugin forwards plugin logs from the child to LogTape", async () => {
  using logs = captureLogs();
  const records = logs.records;
  {
    await using plugin = await loadPlugin(RUST, { isolate: true, log: "info,plugin.ref_rust.worker=debug" });
    await using inst = await plugin.createInstance();
    assert.equal(text(await inst.invoke("log", '"boxed"')), "4");
    const worker = records.filter((r) => r.category.join(".") === "plugin.ref_rust.worker");
    assert.deepEqual(worker.map((r) => r.message.join("")), [
      "boxed (error)",
      "boxed (warn)",
      "boxed (info)",
      "boxed (debug)",
    ]);
    assert.equal(worker[0]!.properties.sandboxed, true);
  }
});

Deno.test("loadPlugin({ isolate: true }) reports load failures with the same typed errors", async () => {
  await assert.rejects(loadPlugin("/nonexistent/lib.so", { isolate: true }), LoadError);
  await assert.rejects(loadPlugin(fault("wrong_abi_major"), { isolate: true }), (e: unknown) => {
    assert.ok(e instanceof AbiMismatchError);
    assert.equal(e.pluginVersion, 0x20000);
    return true;
  });
  await assert.rejects(
    loadPlugin(fault("missing_symbol"), { isolate: true }),
    /missing required symbol npa_instance_invoke/,
  );
  await assert.rejects(loadPlugin(fault("hang_init"), { isolate: true, timeoutMs: 300 }), (e: unknown) => {
    assert.ok(e instanceof PluginTimeoutError);
    assert.match(e.message, /^Cannot initialize plugin: no reply within 300 ms/);
    return true;
  });
});

const child = (name: string) => join(ROOT, "tests/_children", `${name}.ts`);

Deno.test("SandboxedPlugin: a reply with the wrong id is SandboxProtocolError", async () => {
  await using plugin = await loadPlugin(RUST, { isolate: true, childModule: child("wrong_id") });
  await assert.rejects(plugin.createInstance(), (e: unknown) => {
    assert.ok(e instanceof SandboxProtocolError);
    assert.match(e.message, /a reply with id 100 while waiting for id 1/);
    return true;
  });
  assert.equal(plugin.health().crashesInWindow, 1, "a broken child counts against the restart cap");
});

Deno.test("SandboxedPlugin: a malformed frame is SandboxProtocolError", async () => {
  await using plugin = await loadPlugin(RUST, { isolate: true, childModule: child("bad_frame") });
  await assert.rejects(plugin.createInstance(), (e: unknown) => {
    assert.ok(e instanceof SandboxProtocolError);
    assert.match(e.message, /malformed frame: frame of 4294967295 bytes exceeds the \d+-byte limit/);
    return true;
  });
});

Deno.test("SandboxedPlugin: output ending mid-frame is SandboxProtocolError", async () => {
  await using plugin = await loadPlugin(RUST, { isolate: true, childModule: child("eof_mid_frame") });
  await assert.rejects(plugin.createInstance(), (e: unknown) => {
    assert.ok(e instanceof SandboxProtocolError);
    assert.match(e.message, /ended in the middle of a frame/);
    return true;
  });
});

Deno.test("SandboxedPlugin: a child speaking another protocol version is refused", async () => {
  await assert.rejects(loadPlugin(RUST, { isolate: true, childModule: child("old_protocol") }), (e: unknown) => {
    assert.ok(e instanceof SandboxProtocolError);
    assert.match(e.message, /the child speaks protocol 99, this host speaks 3/);
    return true;
  });
});

Deno.test("SandboxedPlugin refuses a fresh child whose describe() differs from the first load", async () => {
  const dir = await Deno.makeTempDir();
  const lib = join(dir, "libswap.so");
  try {
    await Deno.copyFile(RUST, lib);
    await using plugin = await loadPlugin(lib, { isolate: true, idleTimeoutMs: 100 });
    await untilReaped(plugin);
    assert.equal(plugin.health().pid, undefined, "the idle child was reaped");
    // Replace the file by rename (never overwrite a mapped library in place).
    await Deno.copyFile(REFERENCE_PLUGINS[0]!.path, `${lib}.new`);
    await Deno.rename(`${lib}.new`, lib);
    await assert.rejects(plugin.createInstance(), /describe\(\) changed between two loads of the same library/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SandboxedPlugin counts children that die while starting against the restart cap", async () => {
  const dir = await Deno.makeTempDir();
  const lib = join(dir, "libturns_bad.so");
  try {
    await Deno.copyFile(RUST, lib);
    await using plugin = await loadPlugin(lib, { isolate: true, idleTimeoutMs: 100, restartCap: 2, timeoutMs: 300 });
    await untilReaped(plugin);
    // From now on every start hangs in init.
    await Deno.copyFile(fault("hang_init"), `${lib}.new`);
    await Deno.rename(`${lib}.new`, lib);
    await assert.rejects(plugin.createInstance(), PluginTimeoutError);
    await assert.rejects(plugin.createInstance(), PluginTimeoutError);
    assert.equal(plugin.health().state, "disabled");
    await assert.rejects(plugin.createInstance(), PluginDisabledError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SandboxedPlugin does not keep the process alive when close() is forgotten", async () => {
  const script = `
    import { loadPlugin } from ${JSON.stringify(join(ROOT, "mod.ts"))};
    const p = await loadPlugin(${JSON.stringify(RUST)}, { isolate: true });
    const i = await p.createInstance();
    console.log(new TextDecoder().decode(await i.invoke("echo", "done")));
  `;
  const out = await runDeno(["eval", "--config", join(ROOT, "deno.json"), script], { killAfterMs: 20_000 });
  assert.equal(out.code, 0, `exited by itself (137 = killed after hanging): ${out.stderr}`);
  assert.equal(out.stdout.trim(), "done");
});

Deno.test("endError() reports a child the kernel's OOM killer ended as out of memory, with the resident memory it reached", () => {
  const status = { success: false, code: 137, signal: "SIGKILL" as const };
  const memory = { peakRssBytes: 16 * 2 ** 30, oomKill: true };
  const end = endFromStatus(status, undefined, undefined, undefined, memory);
  const error = endError(end, undefined, () => "", "invoke touch", { kind: "invoke", method: "touch" });
  assert.ok(error instanceof PluginCrashError);
  assert.equal(error.outOfMemory, true);
  assert.equal(error.peakRssBytes, 16 * 2 ** 30);
  assert.match(
    error.message,
    /killed by SIGKILL: out of memory, the kernel's OOM killer ended it, with 16\.0 GiB resident/,
  );
  // The same kill with no OOM kill counted is not called out of memory.
  const other = endError(
    endFromStatus(status, undefined, undefined, undefined, { ...memory, oomKill: false }),
    undefined,
    () => "",
    "invoke touch",
    undefined,
  ) as PluginCrashError;
  assert.equal(other.outOfMemory, false);
  assert.match(
    other.message,
    /killed by SIGKILL, not by plugcheck, with 16\.0 GiB resident at the most; the kernel counted no OOM kill/,
  );
});

Deno.test("a sandbox child killed by SIGKILL after touching memory is reported with the resident memory it reached", async () => {
  const r = await runCli(["invoke", fault("oom_touch"), "touch", "--input", "oom", "--isolate", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  const { error } = JSON.parse(r.stdout);
  assert.equal(error.name, "PluginCrashError");
  assert.equal(error.signal, "SIGKILL");
  assert.ok(error.peak_rss_bytes >= 96 * 2 ** 20, `peak_rss_bytes ${error.peak_rss_bytes}`);
  // This machine's kernel counted no OOM kill (the fixture sent SIGKILL itself), so it is not called one.
  assert.equal(error.out_of_memory, undefined);
  assert.match(error.message, /killed by SIGKILL, not by plugcheck, with \d+ MiB resident at the most/);
});
