/**
 * `--adapter PATH` / `LoadOptions.adapter`: a plugin of an ABI of the
 * caller's own, served through the adapter the caller names. The worked
 * example of docs/adapters.md (fixtures/adapters/: the toy ABI, a toy plugin
 * that upper-cases its input, the toy adapter) goes through every engine:
 * load and invoke in process and isolated, stress, check and fuzz; a file
 * that is no adapter is a LoadError, a missing one a usage error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LoadError, loadPlugin, runStress } from "../mod.ts";
import { resolveOptions } from "../lib/plugin/options.ts";
import { fixture, ROOT, runCli, tempDir, text } from "./_helpers.ts";

const TOY = join(ROOT, "build/fixtures/adapters/libtoy_upper.so");
const ADAPTER = join(ROOT, "build/fixtures/adapters/libtoy_adapter.so");
const encoder = new TextEncoder();

/** The checks that cannot apply to a toy plugin, and why (docs/adapters.md says the same). */
const NOT_APPLICABLE: Record<string, RegExp> = {
  "metadata.examples": /no example declares an output/,
  "errors.invalid_input": /no method takes json input/,
  "outputs.json": /no method takes json input/,
  "limits.max_instances": /declares no max_instances/,
};

for (const isolate of [false, true]) {
  Deno.test(`loadPlugin adapter serves the toy plugin ${isolate ? "in a sandbox child" : "in process"}`, async () => {
    await using plugin = await loadPlugin(TOY, { adapter: ADAPTER, isolate });
    const d = plugin.describe();
    assert.equal(d.name, "toy_upper");
    assert.deepEqual(d.adapter, { abi: "toy", abi_version: 1 });
    await using inst = await plugin.createInstance();
    assert.equal(text(await inst.invoke("process", encoder.encode("Hello, toy 1"))), "HELLO, TOY 1");
  });
}

Deno.test("loadPlugin adapter: the same library with and without the adapter are two loads, never one shared", async () => {
  await using served = await loadPlugin(TOY, { adapter: ADAPTER });
  assert.equal(served.describe().name, "toy_upper");
  // Without the adapter the toy library is no npa plugin: it must not get the served load's core.
  await assert.rejects(
    () => loadPlugin(TOY),
    (e: unknown) => e instanceof LoadError && /missing required symbols npa_abi_version/.test(e.message),
  );
});

Deno.test("resolveOptions adapter is made absolute and an empty one is refused", () => {
  assert.equal(resolveOptions({ adapter: "lib/x.so" }).adapter, join(Deno.cwd(), "lib/x.so"));
  assert.equal(resolveOptions({}).adapter, undefined);
  assert.throws(() => resolveOptions({ adapter: "" }), TypeError);
});

Deno.test("loadPlugin adapter that is no adapter is a LoadError naming its file", async () => {
  const refC = fixture("ref_c");
  await assert.rejects(
    () => loadPlugin(TOY, { adapter: refC }),
    (e: unknown) =>
      e instanceof LoadError && /libref_c\.so is not an adapter: it exports no npa_adapter_open/.test(e.message),
  );
  // The toy adapter refuses a library of another ABI, in its own words.
  await assert.rejects(
    () => loadPlugin(refC, { adapter: ADAPTER }),
    (e: unknown) =>
      e instanceof LoadError &&
      /the adapter libtoy_adapter\.so refused it: The library exports no toy_plugin/.test(e.message),
  );
});

Deno.test("runStress load.adapter stresses the toy plugin through its adapter", async () => {
  const report = await runStress(TOY, { iterations: 200, concurrency: 2, seed: 1, load: { adapter: ADAPTER } });
  assert.equal(report.ok, true, JSON.stringify(report.verdicts.filter((v) => v.status === "fail")));
  assert.equal(report.plugin.name, "toy_upper");
});

for (const isolate of [false, true]) {
  Deno.test(`plugcheck invoke and load --adapter ${isolate ? "with --isolate" : "in process"}`, async () => {
    const extra = isolate ? ["--isolate"] : [];
    const r = await runCli(["invoke", TOY, "process", "--input", "hello, World", "--adapter", ADAPTER, ...extra]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "HELLO, WORLD");
    const l = await runCli(["load", TOY, "--adapter", ADAPTER, "--json", ...extra]);
    assert.equal(l.code, 0, l.stderr);
    const doc = JSON.parse(l.stdout);
    assert.equal(doc.description.adapter.abi, "toy");
    assert.deepEqual(doc.description.methods.map((m: { name: string }) => m.name), ["process"]);
  });
}

Deno.test("plugcheck check --adapter passes every check that applies to the toy plugin", async () => {
  const r = await runCli(["check", TOY, "--adapter", ADAPTER, "--seed", "1", "--fuzz-runs", "2000", "--json"], {
    killAfterMs: 120_000,
  });
  const doc = JSON.parse(r.stdout);
  assert.equal(r.code, 0, r.stderr);
  for (const res of doc.results as { id: string; status: string; details: string }[]) {
    // The LADSPA group skips any other ABI.
    const why = res.id.startsWith("ladspa.") ? /^not a LADSPA library$/ : NOT_APPLICABLE[res.id];
    if (why === undefined) assert.equal(res.status, "pass", `${res.id}: ${res.status}: ${res.details}`);
    else assert.ok(res.status === "skip" && why.test(res.details), `${res.id}: ${res.status}: ${res.details}`);
  }
  const ladspa = (doc.results as { id: string }[]).filter((res) => res.id.startsWith("ladspa.")).length;
  assert.equal(doc.counts.skip, Object.keys(NOT_APPLICABLE).length + ladspa);
});

Deno.test("plugcheck fuzz --adapter runs 2000 inputs through the toy adapter", async () => {
  await using dir = await tempDir();
  const r = await runCli([
    "fuzz",
    TOY,
    "--adapter",
    ADAPTER,
    "--runs",
    "2000",
    "--seed",
    "1",
    "--artifacts",
    dir.path,
    "--json",
  ], { killAfterMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.ok(doc.run.execs >= 2000, JSON.stringify(doc.run));
  assert.equal(doc.findings.length, 0);
  assert.equal(doc.target, "npa");
  assert.equal(doc.plugin.name, "toy_upper");
});

Deno.test("plugcheck --adapter naming a file that is no adapter exits 3 saying so", async () => {
  const r = await runCli(["load", TOY, "--adapter", fixture("ref_c")]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /libref_c\.so is not an adapter: it exports no npa_adapter_open \(see docs\/adapters\.md\)/);
  // A library that is no npa plugin at all (the toy plugin itself) is no adapter either.
  const t = await runCli(["invoke", TOY, "process", "--adapter", TOY, "--isolate"]);
  assert.equal(t.code, 3, t.stderr);
  assert.match(t.stderr, /libtoy_upper\.so is not an adapter: missing required symbols npa_abi_version/);
});

Deno.test("plugcheck --adapter naming a missing file is a usage error for every command, nothing run", async () => {
  const missing = join(ROOT, "build/fixtures/adapters/libno_such_adapter.so");
  for (
    const args of [
      ["load", TOY],
      ["invoke", TOY, "process"],
      ["stress", TOY, "--iterations", "10"],
      ["fuzz", TOY, "--runs", "10"],
      ["check", TOY],
    ]
  ) {
    const r = await runCli([...args, "--adapter", missing]);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /Cannot read --adapter ".*libno_such_adapter\.so": file not found/);
    assert.equal(r.stdout, "");
  }
});

Deno.test("docs/adapters.md quotes the toy fixtures as they are: every C line it shows is in their sources", async () => {
  const doc = await Deno.readTextFile(join(ROOT, "docs/adapters.md"));
  const sources = await Promise.all(
    ["toy_abi.h", "toy_upper.c", "toy_adapter.c"].map((f) => Deno.readTextFile(join(ROOT, "fixtures/adapters", f))),
  );
  const known = new Set(sources.join("\n").split("\n").map((l) => l.trim()));
  const blocks = [...doc.matchAll(/```c\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 5, `only ${blocks.length} C blocks`);
  // The first block declares npa_adapter_open for the reader; the rest quote the fixtures ("/* ... */" elides).
  const quoted = blocks.slice(1).flatMap((b) => b.split("\n")).map((l) => l.trim());
  const missing = quoted.filter((l) => l !== "" && !/^\/\* \.\.\..*\*\/$/.test(l) && !known.has(l));
  assert.deepEqual(missing, []);
});
