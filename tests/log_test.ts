/**
 * Plugin logs: messages from a plugin's background thread arrive in LogTape
 * under `plugin.<target>`, `log_enabled` follows the host's level, and a
 * plugin thread logging during a synchronous call never waits on JS.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPlugin } from "../mod.ts";
import { categoryFor } from "../lib/plugin/log_pump.ts";
import { HostLog } from "../lib/ffi/host_log.ts";
import {
  captureLogs,
  fault,
  libraryCopy,
  REFERENCE_PLUGINS,
  ROOT,
  runCli,
  runDeno,
  runScript,
  text,
} from "./_helpers.ts";

for (const ref of REFERENCE_PLUGINS) {
  Deno.test(`plugin logs from a background thread arrive in LogTape under plugin.<target> (${ref.lang})`, async () => {
    using logs = captureLogs();
    await using plugin = await loadPlugin(ref.path, { log: "trace" });
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
    await using plugin = await loadPlugin(ref.path, { log: "warning" });
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
    const probe = join(ROOT, "tests/_sync_log_probe.ts");
    const out = await runDeno(["run", "--allow-ffi", "--allow-read", "--allow-env", probe, ref.path], {
      killAfterMs: 20_000,
    });
    assert.equal(out.code, 0, `${ref.lang} probe exited cleanly (137 = killed after hanging): ${out.stderr}`);
    assert.equal(out.stdout.trim(), "sent=100 delivered=100");
  }
});

Deno.test("categoryFor() splits targets on :: and . under plugin", () => {
  assert.deepEqual(categoryFor("ref_rust::worker", "x"), ["plugin", "ref_rust", "worker"]);
  assert.deepEqual(categoryFor("a.b::c", "x"), ["plugin", "a", "b", "c"]);
  assert.deepEqual(categoryFor("", "name"), ["plugin", "name"]);
});

const PROBE = join(ROOT, "build/fixtures/probes/liblog_probe.so");
const DIRECTIVES = "warning,plugin.whisper=debug,plugin.whisper.noisy=off,plugin.kokoro=error";
// level target message -> expected log_enabled answer under DIRECTIVES
const LINES: [string, string][] = [
  ["4 whisper::decoder d1", "1"], // plugin.whisper=debug
  ["4 kokoro k1", "0"], // plugin.kokoro=error
  ["1 kokoro k2", "1"],
  ["4 whisper::noisy::x n1", "0"], // the longer prefix wins over plugin.whisper
  ["5 whisper t1", "0"], // trace is above debug
  ["2 whisperx w1", "1"], // not under plugin.whisper: the default (warning)
  ["3 whisperx w2", "0"],
];

Deno.test("log directives filter per target, most specific wins, in both registration orders", async () => {
  for (const order of [LINES, [...LINES].reverse()]) {
    using logs = captureLogs();
    await using plugin = await loadPlugin(PROBE, { log: DIRECTIVES });
    await using inst = await plugin.createInstance();
    const answers = text(await inst.invoke("log", order.map(([line]) => `${line}\n`).join("")));
    assert.equal(answers, order.map(([, expected]) => expected).join(""));
    const delivered = logs.records.map((r) => `${r.category.join(".")} ${r.message.join("")}`).sort();
    assert.deepEqual(delivered, ["plugin.kokoro k2", "plugin.whisper.decoder d1", "plugin.whisperx w1"]);
  }
});

Deno.test("parseLogDirectives() reads defaults, targets and aliases, and rejects bad entries", async () => {
  const { levelFor, parseLogDirectives } = await import("../lib/plugin/log_directives.ts");
  const d = parseLogDirectives(" warn , plugin.a::b=DEBUG, plugin.a::b=trace ,plugin=off");
  assert.equal(d.defaultLevel, "warning");
  assert.deepEqual(d.targets, [{ target: "plugin.a.b", level: "trace" }, { target: "plugin", level: "off" }]);
  assert.equal(levelFor(d, "plugin.a.b.c"), "trace");
  assert.equal(levelFor(d, "plugin.z"), "off");
  assert.equal(levelFor(d, "plugcheck"), "warning");
  assert.throws(() => parseLogDirectives("info,plugin.x=loud"), /Invalid log directive "plugin.x=loud": level must be/);
  assert.throws(() => parseLogDirectives("=debug"), /target must be like plugin.name/);
  assert.throws(() => parseLogDirectives("plugin..x=debug"), /target must be like plugin.name/);
});

Deno.test("a log flood from 8 threads drops messages but counts every one exactly once", async () => {
  using logs = captureLogs();
  await using plugin = await loadPlugin(fault("log_flood"), { log: "error" });
  await using inst = await plugin.createInstance();
  assert.equal(text(await inst.invoke("flood")), "800000");
  const c = plugin.logCounters();
  assert.ok(c.droppedFull > 0, "a 4 MiB queue cannot hold 800,000 messages");
  assert.equal(c.accepted + c.droppedFull + c.filtered, 800_000);
  assert.equal(c.filtered, 0);
  const delivered = logs.records.filter((r) => r.category.join(".") === "plugin.log_flood.flood").length;
  assert.equal(delivered, c.accepted, "every accepted message was delivered");
});

Deno.test("plugcheck invoke reads PLUGCHECK_LOG when --log is absent", async () => {
  const r = await runCli(["invoke", PROBE, "log", "--stdin"], {
    stdin: new TextEncoder().encode("4 whisper::decoder shown\n4 kokoro hidden\n"),
    env: { PLUGCHECK_LOG: DIRECTIVES },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "10");
  assert.match(r.stderr, /\[DBG\] plugin\.whisper\.decoder: shown/);
  assert.doesNotMatch(r.stderr, /hidden/);
  const bad = await runCli(["invoke", PROBE, "log"], { env: { PLUGCHECK_LOG: "info,x=nope" } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /\$PLUGCHECK_LOG: Invalid log directive "x=nope"/);
});

Deno.test("messages sent at levels log_enabled rejected are counted, dropped, and reported by invoke", async () => {
  using logs = captureLogs();
  await using plugin = await loadPlugin(PROBE, { log: "warning" });
  await using inst = await plugin.createInstance();
  assert.equal(text(await inst.invoke("log", "!4 rude ignored\n!2 rude kept\n4 polite skipped\n")), "!!0");
  assert.equal(plugin.logCounters().filtered, 1, "the debug message sent without asking");
  assert.deepEqual(logs.records.map((r) => r.message.join("")), ["kept"]);
  const r = await runCli(["invoke", PROBE, "log", "--input", "!5 rude a\n!5 rude b\n", "--log", "info"]);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /warning: 2 plugin log messages arrived at levels log_enabled had rejected/);
});

Deno.test("load/close churn reuses native log contexts once a library is unmapped, never before", async () => {
  using _logs = captureLogs();
  await using copy = await libraryCopy(REFERENCE_PLUGINS[0]!.path);
  const host = HostLog.get();
  const first = await loadPlugin(copy.path, { log: "trace" });
  await using inst = await first.createInstance();
  await inst.invoke("log", '"mine"');
  await inst.destroy();
  await first.close();
  const mine = first.logCounters();
  assert.equal(mine.accepted, 6);
  const before = host.contextStats();
  for (let i = 0; i < 200; i++) {
    const p = await loadPlugin(copy.path, { log: "trace" });
    await p.close();
  }
  const after = host.contextStats();
  assert.ok(after.allocated - before.allocated <= 1, `contexts allocated: ${before.allocated} -> ${after.allocated}`);
  assert.ok(after.reused - before.reused >= 199, `contexts reused: ${before.reused} -> ${after.reused}`);
  assert.deepEqual(first.logCounters(), mine, "a closed plugin keeps its own final counters");
  // A library linked nodelete stays mapped after close: its context is never handed to anyone else.
  const free = host.contextStats().free;
  const sticky = await loadPlugin(fault("log_after_shutdown"), { exclusive: true }); // a copy of its own
  await sticky.close();
  assert.equal(host.contextStats().free, free - 1, "it took a free context and did not give it back");
});

Deno.test("the log queue holds no lock: plugin threads that jump out of the log function or are cancelled in it block nothing", async () => {
  // 600 writers vanish mid-message, more than the queue's 493 slots: each slot must be taken back (1 s after its
  // claim), none may stay locked. A round of 150 jumps claims 300 slots, which fit while the round's own are stuck.
  const code = `
    import { loadPlugin } from ${JSON.stringify(join(ROOT, "mod.ts"))};
    import { HostLog } from ${JSON.stringify(join(ROOT, "lib/ffi/host_log.ts"))};
    const plugin = await loadPlugin(${JSON.stringify(fault("log_longjmp"))}, { log: "error", timeoutMs: 3000 });
    const inst = await plugin.createInstance();
    // Until the drain timer took every slot back (the queue's "records waiting" word drops to 0).
    const settled = async () => {
      for (let i = 0; i < 100 && HostLog.get().pending[0] !== 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 150; i++) await inst.invoke("jump");
      await settled();
    }
    await inst.invoke("cancel");
    await settled();
    const c = plugin.logCounters();
    console.log(JSON.stringify({ accepted: c.accepted, dropped: c.droppedFull, abandoned: HostLog.get().abandoned() }));
    await inst.destroy();
    await plugin.close();
    Deno.exit(0);
  `;
  const r = await runDeno(["eval", "--config", join(ROOT, "deno.json"), "--ext=ts", code], { killAfterMs: 30_000 });
  assert.equal(r.killed, false, "a log call or a drain waited forever");
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { accepted: number; dropped: number; abandoned: number };
  assert.equal(got.dropped, 0, "no slot stayed taken by a vanished writer");
  assert.ok(got.abandoned >= 600, `${got.abandoned} records taken back`);
  assert.ok(got.accepted >= 601, "every 'after the jump' and 'after the cancels' was queued");
});

Deno.test("invoke and stress finish within their timeout after plugin threads were cancelled inside the log function", async () => {
  for (
    const args of [["invoke", fault("log_longjmp"), "cancel"], [
      "stress",
      fault("log_longjmp"),
      "--method",
      "cancel",
      "--input",
      "x",
      "--iterations",
      "5",
      "--seed",
      "1",
    ]]
  ) {
    const r = await runCli([...args, "--log", "error", "--timeout", "3000"], { killAfterMs: 30_000 });
    assert.equal(r.killed, false, `${args[0]} hung`);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    // One call's messages fit the queue: the last one arrives. Five calls in a row overrun it while the slots of
    // the cancelled writers wait to be taken back (200 ms), so stress may drop any of them, that one included
    // (the queue counts drops; stress does not report them yet: noted for the roadmap).
    if (args[0] === "invoke") assert.match(r.stderr, /after the cancels/);
  }
});

Deno.test("emitLog() holds records sent before the log output is ready and delivers them to LogTape, in order", async () => {
  // In a fresh process: this one's output is LogTape already.
  const r = await runScript(`
    import { configureSync, type LogRecord } from ${JSON.stringify(join(ROOT, "lib/util/deps.ts"))};
    import { emitLog, logOutReady } from ${JSON.stringify(join(ROOT, "lib/plugin/log_out.ts"))};
    const seen: LogRecord[] = [];
    configureSync({
      sinks: { keep: (r) => seen.push(r) },
      loggers: [{ category: ["plugin"], lowestLevel: "trace", sinks: ["keep"] },
        { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] }],
    });
    emitLog({ category: ["plugin", "early"], level: "info", text: "first {x}", properties: {} });
    emitLog({ category: ["plugin", "early"], level: "error", text: "second", properties: { n: 2 } });
    const before = seen.length;
    await logOutReady();
    console.log(JSON.stringify({ before, after: seen.map((r) => [r.category.join("."), r.level, r.message.join("")]) }));
    Deno.exit(0);
  `);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    before: 0,
    after: [["plugin.early", "info", "first {x}"], ["plugin.early", "error", "second"]],
  });
});
