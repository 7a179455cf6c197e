/**
 * Keeps docs/faults.md and the behaviour in sync: every fault fixture has a
 * row, every row is run as the table says and must give its error and exit
 * code, and every in-process row must give the same error with --isolate.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { InvalidInputError, loadPlugin, PluginCrashError } from "../mod.ts";
import { captureLogs, fault, ROOT, runCli, tempDir } from "./_helpers.ts";

interface Row {
  fixture: string;
  args: string[];
  api: boolean;
  error: string | undefined;
  signal: string | undefined;
  fragment: string | undefined;
  warning: string | undefined;
  /** `stress` rows: the verdicts that must fail, and no other. */
  verdicts: string[] | undefined;
  exit: number;
}

const cell = (c: string) => c.trim().replace(/^`(.*)`$/, "$1");

async function readTable(): Promise<Row[]> {
  const text = (await Deno.readTextFile(join(ROOT, "docs/faults.md"))).split("\n## LADSPA fixtures")[0]!;
  const rows: Row[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("| `")) continue;
    const [name, , run, expected, exit] = line.slice(2, -2).split(" | ").map(cell) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const api = run === "api";
    const lib = name === "not_a_library" ? "" : fault(name);
    const args = api ? [] : run.split(" ").map((a) => (a === "$LIB" ? lib : a));
    const ok = /^ok(, warning: (.+)|: .+)?$/.exec(expected);
    const verdicts = /^verdicts?: (.+)$/.exec(expected)?.[1]?.split(", ");
    const err = verdicts ? null : /^(\w+)(?: \((SIG\w+)\))?(?:: (.+))?$/.exec(expected);
    rows.push({
      fixture: name,
      args,
      api,
      verdicts,
      error: ok || verdicts ? undefined : err?.[1],
      signal: err?.[2],
      fragment: ok ? undefined : err?.[3],
      warning: ok?.[2],
      exit: Number(exit),
    });
  }
  return rows;
}

const rows = await readTable();

Deno.test("docs/faults.md has exactly one row per fault fixture", async () => {
  const fixtures = new Set<string>();
  for await (const e of Deno.readDir(join(ROOT, "fixtures/faults"))) {
    if (e.isFile && e.name.endsWith(".c")) fixtures.add(e.name.slice(0, -2));
    if (e.isFile && e.name.endsWith(".so")) fixtures.add(e.name.slice(0, -3));
  }
  for await (const e of Deno.readDir(join(ROOT, "fixtures/faults/rust"))) {
    if (e.isDirectory && e.name !== "common" && e.name !== "target") fixtures.add(e.name);
  }
  assert.deepEqual(rows.map((r) => r.fixture).sort(), [...fixtures].sort());
});

async function check(row: Row, extra: string[] = []): Promise<void> {
  const r = await runCli([...row.args, ...extra, "--json"], { killAfterMs: 30_000 });
  const where = `${row.fixture} (${[...row.args.slice(0, 1), ...row.args.slice(2), ...extra].join(" ")})`;
  assert.equal(r.killed, false, `${where}: plugcheck exited by itself`);
  assert.equal(r.code, row.exit, `${where}: exit code; stderr:\n${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  if (row.verdicts) {
    const failed = doc.verdicts.filter((v: { status: string }) => v.status === "fail");
    assert.deepEqual(
      failed.map((v: { id: string }) => v.id).sort(),
      [...row.verdicts].sort(),
      `${where}: ${JSON.stringify(failed)}`,
    );
    return;
  }
  if (row.error === undefined) {
    assert.equal(doc.ok, true, `${where}: ${r.stdout}`);
    if (row.warning) assert.ok(doc.warnings.some((w: string) => w.includes(row.warning!)), `${where}: ${doc.warnings}`);
    return;
  }
  assert.equal(doc.ok, false, where);
  assert.equal(doc.error.name, row.error, `${where}: ${doc.error.message}`);
  if (row.signal) assert.equal(doc.error.signal, row.signal, where);
  // The wording is the table's for the mode it names; an --isolate rerun must match class, signal and exit.
  if (row.fragment && extra.length === 0) {
    assert.ok(doc.error.message.includes(row.fragment), `${where}: ${doc.error.message}`);
  }
}

for (const row of rows.filter((r) => !r.api)) {
  const outcome = row.verdicts ? `verdict ${row.verdicts.join(", ")}` : row.error ?? "ok";
  Deno.test(`fault ${row.fixture}: ${row.args[0]} gives ${outcome} and exit ${row.exit}`, () => check(row));
  if (!row.args.includes("--isolate")) {
    Deno.test(`fault ${row.fixture}: --isolate gives the same ${outcome}`, () => check(row, ["--isolate"]));
  }
}

Deno.test("fault log_after_shutdown: late messages are counted as after-close, never delivered", async () => {
  const row = rows.find((r) => r.fixture === "log_after_shutdown")!;
  assert.equal(row.api, true);
  using logs = captureLogs();
  {
    const plugin = await loadPlugin(fault("log_after_shutdown"));
    await plugin.close();
    // The fixture's thread logs 10 messages 50 ms after shutdown returned.
    let counters = plugin.logCounters();
    for (let i = 0; i < 100 && counters.afterClose < 10; i++) {
      await new Promise((r) => setTimeout(r, 20));
      counters = plugin.logCounters();
    }
    assert.equal(counters.afterClose, 10);
    assert.equal(logs.records.filter((r) => r.message.join("").startsWith("late")).length, 0);
  }
});

Deno.test("fault leak_on_bad_config: a create refused for its config leaks an instance, counted in live_instances", async () => {
  const row = rows.find((r) => r.fixture === "leak_on_bad_config")!;
  assert.equal(row.api, true);
  await using plugin = await loadPlugin(fault("leak_on_bad_config"));
  // A good config (or none) works, and its instance is freed.
  const inst = await plugin.createInstance({ counter_start: 1 });
  await inst.destroy();
  assert.equal((await plugin.readStats())?.live_instances, 0);
  await assert.rejects(plugin.createInstance(new TextEncoder().encode("[]")), InvalidInputError);
  assert.equal((await plugin.readStats())?.live_instances, 1);
});

Deno.test("fault stack_copy_of_input: a 64 MiB input overflows the stack of the call's thread, a SIGSEGV of that call (not a hang); 1 MiB answers", async () => {
  const row = rows.find((r) => r.fixture === "stack_copy_of_input")!;
  assert.equal(row.api, true);
  await using plugin = await loadPlugin(fault("stack_copy_of_input"), { isolate: true, timeoutMs: 20_000 });
  const inst = await plugin.createInstance();
  const text = new TextDecoder().decode(await inst.invoke("checksum", new Uint8Array(1 << 20).fill(1)));
  assert.equal(text, String(1 << 20));
  // Chained to Rust's own overflow handler, the child used to loop printing "a thread received SIGSEGV while
  // modifying its stack overflow information" until the call's deadline: a crash reported as PluginTimeoutError.
  await assert.rejects(
    inst.invoke("checksum", new Uint8Array(64 << 20).fill(1)),
    (e: unknown) => e instanceof PluginCrashError && e.signal === "SIGSEGV" && e.message.includes('"checksum"'),
  );
});

Deno.test("fault stack_copy_of_input: fuzz --replay of a 16 MiB input is a SIGSEGV crash (the fuzz child no longer reports Rust's stack overflow abort)", async () => {
  await using dir = await tempDir();
  const input = join(dir.path, "big");
  await Deno.writeFile(input, new Uint8Array(16 << 20).fill(1));
  const r = await runCli([
    "fuzz",
    fault("stack_copy_of_input"),
    "--method",
    "checksum",
    "--replay",
    input,
    "--max-len",
    String(16 << 20),
    "--json",
  ]);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.finding?.kind, "crash", r.stdout);
  assert.match(doc.finding.message, /killed by SIGSEGV during invoke "checksum"/);
});
