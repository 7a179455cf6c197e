/**
 * loadPlugin(): single flight per resolved path, the sha256 pin, and every
 * way a library can fail to load, each a typed error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AbiMismatchError, InternalPluginError, LoadError, loadPlugin } from "../mod.ts";
import { sha256File } from "../lib/ffi/dlopen.ts";
import { fault, REFERENCE_PLUGINS, ROOT } from "./_helpers.ts";

for (const ref of REFERENCE_PLUGINS) {
  Deno.test(`loadPlugin() run concurrently on one path calls init once (${ref.lang})`, async () => {
    const dir = await Deno.makeTempDir();
    const alias = join(dir, "alias.so");
    await Deno.symlink(ref.path, alias);
    try {
      const handles = await Promise.all([
        ...Array.from({ length: 8 }, () => loadPlugin(ref.path)),
        loadPlugin(alias), // another spelling of the same file
      ]);
      for (const h of handles) assert.equal(h.stats()!.init_calls, 1);
      // Closing all but one keeps the plugin usable through the last handle.
      for (const h of handles.slice(1)) await h.close();
      await using inst = await handles[0]!.createInstance();
      assert.deepEqual(await inst.invoke("echo", "still here"), new TextEncoder().encode("still here"));
      await inst.destroy();
      await handles[0]!.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("loadPlugin() with a matching sha256 loads; a mismatch is LoadError", async () => {
  const path = REFERENCE_PLUGINS[0]!.path;
  const hex = await sha256File(path);
  const ok = await loadPlugin(path, { sha256: hex.toUpperCase() });
  await ok.close();
  const wrong = "0".repeat(64);
  await assert.rejects(loadPlugin(path, { sha256: wrong }), (e: unknown) => {
    assert.ok(e instanceof LoadError);
    assert.equal(
      e.message,
      `Cannot load plugin ${JSON.stringify(path)}: sha256 mismatch: expected ${wrong}, file has ${hex}`,
    );
    return true;
  });
  await assert.rejects(loadPlugin(path, { sha256: "abc" }), TypeError);
});

Deno.test("loadPlugin() checks sha256 before dlopen: a non-library with a wrong pin says mismatch", async () => {
  // Were the library opened first, this would be 'not a loadable shared library'.
  await assert.rejects(
    loadPlugin(join(ROOT, "README.md"), { sha256: "1".repeat(64) }),
    /sha256 mismatch/,
  );
});

Deno.test("loadPlugin() of a missing file is LoadError 'file not found'", async () => {
  await assert.rejects(loadPlugin("/nonexistent/libnope.so"), (e: unknown) => {
    assert.ok(e instanceof LoadError);
    assert.equal(e.code, "LOAD");
    assert.equal(e.message, 'Cannot load plugin "/nonexistent/libnope.so": file not found');
    return true;
  });
});

Deno.test("loadPlugin() of a file that is not a shared library is LoadError with the cause", async () => {
  await assert.rejects(loadPlugin(join(ROOT, "README.md")), (e: unknown) => {
    assert.ok(e instanceof LoadError);
    assert.match(e.message, /: not a loadable shared library \(.*\)$/);
    assert.ok(e.cause instanceof Error);
    return true;
  });
  await assert.rejects(loadPlugin(ROOT), /not a file/);
});

for (const isolate of [false, true]) {
  Deno.test(`loadPlugin() of a library built for another machine names it: wrong architecture${isolate ? " (isolated)" : ""}`, async () => {
    // No cross compiler needed: a copy of an x86-64 fixture with e_machine (bytes 18-19) set to 183, AArch64.
    const host = Deno.build.arch === "aarch64" ? { code: 62, name: "x86_64" } : { code: 183, name: "aarch64" };
    const dir = await Deno.makeTempDir();
    const path = join(dir, "libforeign.so");
    try {
      const bytes = await Deno.readFile(REFERENCE_PLUGINS[0]!.path);
      new DataView(bytes.buffer).setUint16(18, host.code, true);
      await Deno.writeFile(path, bytes);
      const error = await loadPlugin(path, { isolate }).then(() => undefined, (e) => e);
      assert.ok(error instanceof LoadError, String(error));
      assert.match(
        error.message,
        new RegExp(
          `wrong architecture: the library is built for ${host.name} \\(its ELF e_machine\\), but this machine is ${Deno.build.arch}`,
        ),
      );
      assert.doesNotMatch(`${error.message} ${error.cause}`, /No such file or directory/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("loadPlugin() of a library missing a required symbol names it and calls nothing", async () => {
  // The fixture's init aborts the process if it is ever called.
  await assert.rejects(loadPlugin(fault("missing_symbol")), (e: unknown) => {
    assert.ok(e instanceof LoadError);
    assert.match(e.message, /: missing required symbol npa_instance_invoke$/);
    return true;
  });
});

Deno.test("loadPlugin() refuses a different ABI major with AbiMismatchError before init", async () => {
  // The fixture's init aborts the process if it is ever called.
  await assert.rejects(loadPlugin(fault("wrong_abi_major")), (e: unknown) => {
    assert.ok(e instanceof AbiMismatchError);
    assert.equal(e.pluginVersion, 0x20000);
    assert.equal(e.hostVersion, 0x10000);
    assert.match(e.message, /it speaks npa ABI 2\.0, this host speaks 1\.0 \(major versions differ\)$/);
    return true;
  });
});

Deno.test("loadPlugin() reports a failed init as its typed error and calls nothing after it", async () => {
  // Every entry point of the fixture but init and buffer_free aborts the process.
  await assert.rejects(loadPlugin(fault("init_fails")), (e: unknown) => {
    assert.ok(e instanceof InternalPluginError);
    assert.equal(e.message, "Cannot initialize plugin: plugin returned status 3 (INTERNAL): No license file found");
    assert.deepEqual(e.details, { path: "/etc/plugin.lic" });
    return true;
  });
});

Deno.test("Plugin.close() resolves only once the library is unloaded: immediate reloads start fresh", async () => {
  // Plugins built on fault_base (and the C reference) refuse a second init in one lifetime, so a
  // reload that found the old library still mapped (close() resolving before shutdown and unload
  // had run) fails with PluginStateError; that happened to about 1 reload in 30.
  const probe = join(ROOT, "build/fixtures/probes/liblog_probe.so");
  for (let i = 0; i < 100; i++) {
    const plugin = await loadPlugin(probe);
    assert.equal(plugin.stats()!.init_calls, 1, `reload ${i} found a fresh library`);
    await plugin.close();
    assert.equal(plugin.outstandingCalls, 0, "shutdown had finished when close() resolved");
  }
});
