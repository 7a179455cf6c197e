/**
 * Plugin logs: messages from a plugin's background thread arrive in LogTape
 * under `plugin.<target>`, `log_enabled` follows the host's level, and a
 * plugin thread logging during a synchronous call never waits on JS.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { loadPlugin } from "../mod.ts";
import { categoryFor } from "../lib/plugin_log.ts";
import { REFERENCE_PLUGINS, ROOT, text } from "./_helpers.ts";

function captureLogs(): { records: LogRecord[]; [Symbol.dispose](): void } {
  const records: LogRecord[] = [];
  configureSync({
    reset: true,
    sinks: { mem: (r: LogRecord) => records.push(r) },
    loggers: [
      { category: ["plugin"], lowestLevel: "trace", sinks: ["mem"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  return { records, [Symbol.dispose]: () => resetSync() };
}

for (const ref of REFERENCE_PLUGINS) {
  Deno.test(`plugin logs from a background thread arrive in LogTape under plugin.<target> (${ref.lang})`, async () => {
    using logs = captureLogs();
    await using plugin = await loadPlugin(ref.path, { logLevel: "trace" });
    await using inst = await plugin.createInstance();
    assert.equal(text(await inst.invoke("log", '"hi {there}"')), "5");
    const worker = logs.records.filter((r) => r.category.join(".") === `plugin.${ref.name}.worker`);
    assert.deepEqual(worker.map((r) => [r.level, r.message.join("")]), [
      ["error", "hi {there} (error)"],
      ["warning", "hi {there} (warn)"],
      ["info", "hi {there} (info)"],
      ["debug", "hi {there} (debug)"],
      ["trace", "hi {there} (trace)"],
    ]);
    assert.equal(worker[0]!.properties.plugin, ref.name);
    const init = logs.records.find((r) => r.category.join(".") === `plugin.${ref.name}`);
    assert.equal(init?.message.join(""), "initialized");
    const c = plugin.logCounters();
    assert.equal(c.accepted, 6);
    assert.equal(c.droppedFull + c.filtered + c.afterClose, 0);
  });

  Deno.test(`log_enabled answers from the host's level; the plugin skips disabled levels (${ref.lang})`, async () => {
    using logs = captureLogs();
    await using plugin = await loadPlugin(ref.path, { logLevel: "warning" });
    await using inst = await plugin.createInstance();
    assert.equal(text(await inst.invoke("log")), "2", "only error and warn were sent");
    const levels = logs.records.filter((r) => r.category.at(-1) === "worker").map((r) => r.level);
    assert.deepEqual(levels, ["error", "warning"]);
    const c = plugin.logCounters();
    assert.equal(c.filtered, 0, "the plugin asked log_enabled before every message, including 'initialized'");
    assert.ok(c.enabledQueries >= 5);
  });
}

Deno.test("plugin threads logging during a synchronous call never wait on the JS thread", async () => {
  for (const ref of REFERENCE_PLUGINS) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-read", "--allow-env", join(ROOT, "tests/_sync_log_probe.ts"), ref.path],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const out = await child.output();
    clearTimeout(timer);
    assert.equal(out.code, 0, `${ref.lang} probe exited cleanly (137 = killed after hanging): ${text(out.stderr)}`);
    assert.equal(text(out.stdout).trim(), "sent=100 delivered=100");
  }
});

Deno.test("categoryFor() splits targets on :: and . under plugin", () => {
  assert.deepEqual(categoryFor("ref_rust::worker", "x"), ["plugin", "ref_rust", "worker"]);
  assert.deepEqual(categoryFor("a.b::c", "x"), ["plugin", "a", "b", "c"]);
  assert.deepEqual(categoryFor("", "name"), ["plugin", "name"]);
});
