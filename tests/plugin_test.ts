/**
 * loadPlugin / Plugin / Instance against both real reference plugins: every
 * method, every status code mapped to its class, stats, lifecycle.
 */
import assert from "node:assert/strict";
import {
  ContractViolationError,
  InternalPluginError,
  InvalidInputError,
  loadPlugin,
  MalformedBufferError,
  type Plugin,
  PluginClosedError,
  type PluginError,
  PluginPanicError,
  PluginStateError,
  ResourceLimitError,
  UnknownMethodError,
  UnsupportedError,
} from "../mod.ts";
import { REFERENCE_PLUGINS, text } from "./_helpers.ts";

const STATUS_CLASSES: [number, new (...a: never[]) => PluginError, string][] = [
  [1, InvalidInputError, "INVALID_INPUT"],
  [2, UnknownMethodError, "UNKNOWN_METHOD"],
  [3, InternalPluginError, "INTERNAL"],
  [4, PluginPanicError, "PANIC"],
  [5, ResourceLimitError, "RESOURCE_LIMIT"],
  [6, UnsupportedError, "UNSUPPORTED"],
  [7, PluginStateError, "STATE"],
];

async function withPlugin(path: string, fn: (p: Plugin) => Promise<void> | void): Promise<void> {
  const plugin = await loadPlugin(path);
  try {
    await fn(plugin);
  } finally {
    await plugin.close();
  }
}

for (const ref of REFERENCE_PLUGINS) {
  const t = (name: string, fn: (p: Plugin) => Promise<void> | void) =>
    Deno.test(`${ref.lang} reference: ${name}`, () => withPlugin(ref.path, fn));

  t("loadPlugin() reports ABI 1.0, the stats capability and a valid description", (p) => {
    assert.deepEqual(p.abiVersion, { major: 1, minor: 0, raw: 0x10000 });
    assert.deepEqual(p.capabilities, { stats: true });
    assert.equal(p.describe().name, ref.name);
    assert.deepEqual(p.describe().methods.map((m) => m.name), [
      "echo",
      "upper",
      "sum",
      "sleep_ms",
      "counter",
      "log",
      "fail_with",
    ]);
    assert.equal(p.stats()?.init_calls, 1);
    assert.deepEqual(p.contractWarnings, []);
  });

  t("echo returns every byte value unchanged, and empty input as empty output", async (p) => {
    await using inst = await p.createInstance();
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.deepEqual(await inst.invoke("echo", all), all);
    assert.deepEqual(await inst.invoke("echo", new Uint8Array(0)), new Uint8Array(0));
    assert.deepEqual(await inst.invoke("echo"), new Uint8Array(0));
  });

  t("upper uppercases ASCII only and rejects invalid UTF-8", async (p) => {
    await using inst = await p.createInstance();
    assert.equal(text(await inst.invoke("upper", "abc xyz é 1")), "ABC XYZ é 1");
    await assert.rejects(inst.invoke("upper", new Uint8Array([0x61, 0xff])), (e: unknown) => {
      assert.ok(e instanceof InvalidInputError);
      assert.equal(e.pluginMessage, "Input must be valid UTF-8");
      assert.equal(
        e.message,
        'Cannot invoke "upper": plugin returned status 1 (INVALID_INPUT): Input must be valid UTF-8',
      );
      return true;
    });
  });

  t("sum adds JSON numbers and rejects anything else with INVALID_INPUT", async (p) => {
    await using inst = await p.createInstance();
    assert.equal(text(await inst.invoke("sum", "[1, 2, 3.5]")), "6.5");
    assert.equal(text(await inst.invoke("sum", "[1,2,3]")), "6");
    assert.equal(text(await inst.invoke("sum", " [] ")), "0");
    assert.equal(JSON.parse(text(await inst.invoke("sum", "[0.1, 0.2]"))), 0.1 + 0.2);
    assert.equal(JSON.parse(text(await inst.invoke("sum", "[-1e3, 2.5e2]"))), -750);
    for (const bad of ["", "nope", "[1,", '["1"]', "{}", "[1] x"]) {
      await assert.rejects(inst.invoke("sum", bad), (e: unknown) => {
        assert.ok(e instanceof InvalidInputError, `input ${JSON.stringify(bad)}`);
        assert.equal(e.pluginMessage, "Input must be a JSON array of numbers");
        return true;
      });
    }
  });

  t("sleep_ms sleeps and echoes the number; rejects out-of-range input", async (p) => {
    await using inst = await p.createInstance();
    const t0 = performance.now();
    assert.equal(text(await inst.invoke("sleep_ms", "30")), "30");
    assert.ok(performance.now() - t0 >= 25, "slept at least about 30 ms");
    for (const bad of ["-1", "3600001", "1.5", '"1"']) {
      await assert.rejects(inst.invoke("sleep_ms", bad), InvalidInputError);
    }
  });

  t("counter keeps state per instance, starting at config counter_start", async (p) => {
    await using a = await p.createInstance({ counter_start: 10 });
    await using b = await p.createInstance();
    assert.equal(text(await a.invoke("counter")), "11");
    assert.equal(text(await a.invoke("counter", "5")), "16");
    assert.equal(text(await a.invoke("counter", "-20")), "-4");
    assert.equal(text(await b.invoke("counter")), "1");
    await assert.rejects(a.invoke("counter", "x"), InvalidInputError);
  });

  t("counter is consistent under concurrent invokes on one thread-safe instance", async (p) => {
    assert.equal(p.describe().thread_safe_instances, true);
    await using inst = await p.createInstance();
    await Promise.all(Array.from({ length: 12 }, () => inst.invoke("counter")));
    for (let i = 0; i < 100; i++) inst.invokeSync("counter");
    assert.equal(text(inst.invokeSync("counter", "0")), "112");
  });

  t("createInstance() rejects a config that is not an object, naming the problem", async (p) => {
    await assert.rejects(p.createInstance("[1]"), (e: unknown) => {
      assert.ok(e instanceof InvalidInputError);
      assert.equal(e.pluginMessage, "Config must be a JSON object");
      assert.match(e.message, /^Cannot create instance: plugin returned status 1 \(INVALID_INPUT\)/);
      return true;
    });
    await assert.rejects(p.createInstance({ counter_start: "x" }), /Config counter_start must be an integer/);
  });

  t("an unknown method is UnknownMethodError quoting the name", async (p) => {
    await using inst = await p.createInstance();
    await assert.rejects(inst.invoke("nope"), (e: unknown) => {
      assert.ok(e instanceof UnknownMethodError);
      assert.equal(e.code, "UNKNOWN_METHOD");
      assert.equal(e.status, 2);
      assert.equal(e.pluginMessage, 'Unknown method "nope"');
      return true;
    });
  });

  t("every npa status maps to its error class with the plugin's message and details", async (p) => {
    await using inst = await p.createInstance();
    for (const [status, Class, name] of STATUS_CLASSES) {
      const input = JSON.stringify({ status, message: `failing with ${status}` });
      await assert.rejects(inst.invoke("fail_with", input), (e: unknown) => {
        assert.ok(e instanceof Class, `status ${status} -> ${Class.name}, got ${e}`);
        assert.equal(e.code, name);
        assert.equal(e.status, status);
        assert.equal(e.operation, 'invoke "fail_with"');
        if (status === 4 && ref.lang === "Rust") {
          // A real panic!, caught by catch_unwind at the boundary.
          assert.equal(e.pluginMessage, "failing with 4");
        } else {
          assert.equal(e.pluginMessage, `failing with ${status}`);
          assert.deepEqual(e.details, { requested_status: status });
        }
        assert.equal(
          e.message,
          `Cannot invoke "fail_with": plugin returned status ${status} (${name}): failing with ${status}`,
        );
        return true;
      });
    }
    assert.equal(text(await inst.invoke("fail_with", '{"status":0,"message":"x"}')), "null");
  });

  t("a status outside the enum is a ContractViolationError", async (p) => {
    await using inst = await p.createInstance();
    await assert.rejects(inst.invoke("fail_with", '{"status":99,"message":"odd"}'), (e: unknown) => {
      assert.ok(e instanceof ContractViolationError);
      assert.equal(e.status, 99);
      assert.equal(e.message, 'Cannot invoke "fail_with": plugin returned status 99, which is not an npa status: odd');
      return true;
    });
  });

  t("every example in describe() with an output reproduces it", async (p) => {
    await using inst = await p.createInstance();
    let checked = 0;
    for (const m of p.describe().methods) {
      for (const ex of m.examples) {
        if (ex.output === undefined) continue; // e.g. fail_with: an example of failing
        assert.equal(text(await inst.invoke(m.name, ex.input)), ex.output, `${m.name}(${ex.input})`);
        checked++;
      }
    }
    assert.ok(checked >= 4, `checked ${checked} examples`);
  });

  t("invokeSync() gives the same results and typed errors as invoke()", async (p) => {
    await using inst = await p.createInstance();
    assert.equal(text(inst.invokeSync("upper", "sync")), "SYNC");
    assert.equal(text(inst.invokeSync("sum", "[2,2]")), "4");
    assert.throws(() => inst.invokeSync("sum", "x"), InvalidInputError);
    assert.throws(() => inst.invokeSync("nope"), UnknownMethodError);
  });

  t("stats() counts live instances and returns live_buffers to its baseline", async (p) => {
    const base = p.stats()!;
    assert.equal(base.live_instances, 0);
    const a = await p.createInstance();
    const b = await p.createInstance();
    assert.equal(p.stats()!.live_instances, 2);
    for (let i = 0; i < 50; i++) {
      await a.invoke("echo", "x");
      await b.invoke("sum", "bad").catch(() => {});
      b.invokeSync("upper", "y");
    }
    assert.equal(p.stats()!.live_buffers, base.live_buffers, "every buffer was freed exactly once");
    await a.destroy();
    await b.destroy();
    assert.equal(p.stats()!.live_instances, 0);
  });

  t("max_instances is enforced with ResourceLimitError", async (p) => {
    const max = p.describe().max_instances!;
    assert.equal(max, 1024);
    const instances = [];
    for (let i = 0; i < max; i++) instances.push(await p.createInstance());
    await assert.rejects(p.createInstance(), (e: unknown) => e instanceof ResourceLimitError);
    for (const i of instances) await i.destroy();
    assert.equal(p.stats()!.live_instances, 0);
  });

  Deno.test(`${ref.lang} reference: a buffer beyond maxOutputBytes is MalformedBufferError and still freed`, async () => {
    // describe() output (about 1.1 KiB) is bounded by the same maximum.
    await using p = await loadPlugin(ref.path, { maxOutputBytes: 4096 });
    await using inst = await p.createInstance();
    const base = p.stats()!.live_buffers;
    assert.equal((await inst.invoke("echo", "x".repeat(4096))).length, 4096);
    await assert.rejects(inst.invoke("echo", "x".repeat(4097)), (e: unknown) => {
      assert.ok(e instanceof MalformedBufferError);
      assert.match(e.message, /claims 4097 bytes, more than the 4096-byte maximum \(buffer freed unread\)/);
      return true;
    });
    assert.equal(p.stats()!.live_buffers, base);
  });

  t("destroy() and close() are idempotent; later calls are PluginClosedError", async (p) => {
    const inst = await p.createInstance();
    await inst.destroy();
    await inst.destroy();
    assert.equal(inst.state, "destroyed");
    await assert.rejects(inst.invoke("echo", "x"), PluginClosedError);
    assert.throws(() => inst.invokeSync("echo", "x"), PluginClosedError);
    const other = await loadPlugin(ref.path);
    await other.close();
    await other.close();
    await assert.rejects(other.createInstance(), PluginClosedError);
    assert.throws(() => other.stats(), PluginClosedError);
    // The first handle is unaffected by closing the second.
    await using still = await p.createInstance();
    assert.equal(text(await still.invoke("echo", "ok")), "ok");
  });
}

Deno.test("C and Rust reference plugins describe the same metadata except name", async () => {
  const [c, rust] = await Promise.all(REFERENCE_PLUGINS.map((r) => loadPlugin(r.path)));
  try {
    const { name: cName, ...cRest } = c!.describe();
    const { name: rName, ...rRest } = rust!.describe();
    assert.deepEqual([cName, rName], ["ref_c", "ref_rust"]);
    assert.deepEqual(cRest, rRest);
    assert.deepEqual(Object.keys(c!.stats()!).sort(), Object.keys(rust!.stats()!).sort());
  } finally {
    await c?.close();
    await rust?.close();
  }
});
