/**
 * The plugin's own heap: the helper's counts (`lib/ffi/plugin_heap.ts`,
 * `native/npah_heap.c`) through `trackHeap` in process and in a sandbox
 * child, the `heap_growth` verdict of `stress` and the `resources.heap` check
 * on a per-call leak (`fixtures/faults/leak_per_call.c`), and the probe that
 * calls each allocation function (`fixtures/probes/heap_probe.c`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadPlugin } from "../mod.ts";
import { PluginHeap } from "../lib/ffi/plugin_heap.ts";
import { HEAP_LEAK_MIN, judgeResidue } from "../lib/stress/heap_growth.ts";
import { runStress } from "../lib/stress/run_stress.ts";
import { runChecks } from "../lib/check/run_checks.ts";
import { symbolize } from "../lib/load/symbolize.ts";
import { fault, isFile, probe, REFERENCE_PLUGINS } from "./_helpers.ts";

const LEAK = fault("leak_per_call");
/** sizeof(Remembered) in leak_per_call.c: a size_t and a uint64_t before the bytes. */
const RECORD = 16;

for (const isolate of [false, true]) {
  const where = isolate ? " in a sandbox child" : " in process";
  Deno.test(`readHeap() counts each block the plugin's code keeps, to the byte,${where}`, async () => {
    await using plugin = await loadPlugin(LEAK, { trackHeap: true, isolate, exclusive: !isolate });
    const start = (await plugin.readHeap())!;
    assert.equal(start.live, 0);
    const inst = await plugin.createInstance();
    for (let i = 0; i < 25; i++) await inst.invoke("remember", "hello");
    // Outputs are allocated and freed (npa_buffer_free): only the 25 records stay.
    for (let i = 0; i < 10; i++) await inst.invoke("echo", "hello");
    await inst.destroy();
    const end = (await plugin.readHeap())!;
    assert.equal(end.live, 25);
    assert.equal(end.liveBytes, 25 * (RECORD + 5));
    assert.ok(end.allocations >= 25 + 35, `every output is an allocation too: ${end.allocations}`);
    assert.ok(end.serial > start.serial);
    assert.equal(end.untracked, 0);
  });

  Deno.test(`heapResidue() splits the live blocks by two marks, with the allocating stack,${where}`, async () => {
    await using plugin = await loadPlugin(LEAK, { trackHeap: true, isolate, exclusive: !isolate });
    const inst = await plugin.createInstance();
    await inst.invoke("remember", "before the first mark");
    const from = (await plugin.readHeap())!.serial;
    for (let i = 0; i < 20; i++) await inst.invoke("remember", "x");
    const mid = (await plugin.readHeap())!.serial;
    for (let i = 0; i < 30; i++) await inst.invoke("remember", "x");
    await inst.destroy();
    const r = (await plugin.heapResidue(from, mid))!;
    assert.deepEqual([r.before, r.first, r.second, r.bytes], [1, 20, 30, 50 * (RECORD + 1)]);
    // The plugin's own file, not the private copy it was opened from (in process, an exclusive load).
    const top = r.stacks[0]!;
    assert.equal(top.frames[0]!.module, LEAK);
    // Stacks are sampled: a site's first 16 blocks (one of them before the first mark), then one in 64.
    assert.equal(top.blocks, 15);
    const [named] = await symbolize([top.frames[0]!]);
    assert.equal(named!.function, "remember_input");
    assert.match(named!.file ?? "", /leak_per_call\.c$/);
  });

  Deno.test(`readHeap() and heapResidue() are null without trackHeap${where}`, async () => {
    await using plugin = await loadPlugin(LEAK, { isolate });
    assert.equal(await plugin.readHeap(), null);
    assert.equal(await plugin.heapResidue(0, 0), null);
  });
}

Deno.test("PluginHeap counts malloc, calloc, realloc, strdup, strndup, posix_memalign, aligned_alloc, C++ new and delete, and free", async () => {
  await using plugin = await loadPlugin(probe("heap_probe"), { trackHeap: true, exclusive: true });
  // A C library hooked after it (no libstdc++ in its scope) leaves the C++ operators the hooks call in place.
  await using _c = await loadPlugin(LEAK, { trackHeap: true, exclusive: true });
  const inst = await plugin.createInstance();
  const base = (await plugin.readHeap())!; // the instance itself is a block of the plugin's
  const run = async (command: string, live: number, bytes: number) => {
    await inst.invoke("heap", command);
    const h = (await plugin.readHeap())!;
    assert.deepEqual([h.live - base.live, h.liveBytes - base.liveBytes], [live, bytes], `after "${command}"`);
  };
  await run("malloc 100", 1, 100);
  await run("calloc 30", 2, 130);
  await run("realloc 1000", 2, 1100); // the calloc'd block, grown: one block still, of its new size
  await run("realloc 10", 2, 110);
  await run("strdup hello", 3, 116);
  await run("strndup hello", 4, 120); // "hel" and its NUL
  await run("memalign 200", 5, 320);
  await run("aligned 128", 6, 448);
  await run("free", 0, 0);
  await run("realloc 50", 1, 50); // realloc(NULL, n) is a malloc
  await run("free", 0, 0);
  await run("new 40", 1, 40); // C++'s operator new, as a C++ plugin calls it (libstdc++'s)
  await run("new[] 24", 2, 64);
  await run("malloc 8", 3, 72);
  await run("free", 0, 0); // sized delete, delete[] and free
  await inst.destroy();
});

Deno.test("PluginHeap gives an unloaded library's id to the next one: 40 loads, 32 slots, each counted", async () => {
  for (let i = 0; i < 40; i++) {
    await using plugin = await loadPlugin(LEAK, { trackHeap: true, exclusive: true });
    const inst = await plugin.createInstance();
    await inst.invoke("remember", "x");
    await inst.destroy();
    assert.equal((await plugin.readHeap())?.live, 1, `load ${i}: its own block only`);
  }
  assert.throws(() => PluginHeap.get().read(1000), RangeError);
});

Deno.test("judgeResidue() calls blocks lost in both halves of a run a leak, and kept blocks not", () => {
  const r = (first: number, second: number) => ({ before: 3, first, second, bytes: 64 * (first + second), stacks: [] });
  assert.equal(judgeResidue(r(150, 150), [], 300).status, "fail");
  assert.equal(judgeResidue(r(HEAP_LEAK_MIN, HEAP_LEAK_MIN), [], 300).status, "fail");
  // A table built once (first half), a cache that keeps replacing its entries (second half): kept, not lost.
  assert.equal(judgeResidue(r(200, 0), [], 300).status, "pass");
  assert.equal(judgeResidue(r(0, 200), [], 300).status, "pass");
  assert.equal(judgeResidue(r(HEAP_LEAK_MIN - 1, 200), [], 300).status, "pass");
  const clean = judgeResidue(r(0, 0), [], 300);
  assert.equal(clean.status, "pass");
  assert.match(clean.summary, /no block the plugin allocated during the run is left/);
  const named = judgeResidue(
    { ...r(40, 40), stacks: [{ blocks: 20, bytes: 640, frames: [{ module: "/p/libx.so", offset: 0x1139 }] }] },
    [[{ module: "/p/libx.so", offset: 0x1139, function: "keep", file: "x.c", line: 7 }]],
    80,
  );
  assert.match(named.summary, /lost 80 blocks .* allocated at keep at x\.c:7 \(libx\.so\+0x1139\)/);
  assert.deepEqual((named.evidence.stacks as { frames: string[] }[])[0]!.frames, ["keep at x.c:7 (libx.so+0x1139)"]);
});

for (const isolate of [false, true]) {
  const where = isolate ? " in a sandbox child" : " in process";
  Deno.test(`runStress() fails heap_growth on a per-call leak, naming its function and line,${where}`, async () => {
    const report = await runStress(LEAK, { methods: ["remember"], iterations: 600, seed: 1, isolate, floor: false });
    const failed = report.verdicts.filter((v) => v.status === "fail").map((v) => v.id);
    assert.deepEqual(failed, ["heap_growth"]);
    const v = report.verdicts.find((x) => x.id === "heap_growth")!;
    assert.match(v.summary, /lost \d+ blocks .* allocated at remember_input at .*leak_per_call\.c:\d+/);
    const e = v.evidence as { first_half: number; second_half: number; stacks: { frames: string[] }[] };
    // The halves are halves of the plugin's allocations during the run: one record and one output a call, evenly.
    assert.ok(Math.abs(e.first_half - e.second_half) <= 4 && e.first_half + e.second_half >= 590, JSON.stringify(e));
    assert.match(e.stacks[0]!.frames[1]!, /^remember at /);
  });
}

Deno.test("runStress() skips heap_growth with heap: false, and passes it on both reference plugins", async () => {
  const off = await runStress(LEAK, { methods: ["remember"], iterations: 200, seed: 1, heap: false, floor: false });
  assert.equal(off.verdicts.find((v) => v.id === "heap_growth")?.status, "skip");
  for (const { path } of REFERENCE_PLUGINS) {
    for (const churn of [false, true]) {
      const report = await runStress(path, { iterations: 1000, seed: 3, churn, isolate: true, floor: false });
      assert.equal(report.verdicts.find((v) => v.id === "heap_growth")?.status, "pass", `${path} churn=${churn}`);
    }
  }
});

Deno.test("runChecks(): resources.heap fails a per-call leak with the allocating function; errors.bad_config counts heap", async () => {
  const leak = await runChecks(LEAK, { seed: 1, filter: ["^resources\\.heap$"] });
  const heap = leak.results.find((r) => r.id === "resources.heap")!;
  assert.equal(heap.status, "fail");
  assert.match(heap.details, /allocated at remember_input at .*leak_per_call\.c:\d+/);
  assert.ok(
    heap.evidence.some((e) => /sampled blocks .* from remember_input .* <- remember at /.test(e)),
    heap.evidence.join("\n"),
  );
  // A create refused for its config leaks its half-built instance: a block of the plugin's heap in each round.
  const bad = await runChecks(fault("leak_on_bad_config"), { seed: 1, filter: ["^errors\\.bad_config$"] });
  const b = bad.results.find((r) => r.id === "errors.bad_config")!;
  assert.equal(b.status, "fail");
  assert.ok(
    b.evidence.some((e) =>
      /the plugin's heap: 10 blocks .* 5 in the first 5 and 5 in the next, allocated at fault_instance_create/.test(e)
    ),
    b.evidence.join("\n"),
  );
});

const REVDELAY = "/usr/lib/ladspa/revdelay_1605.so";
const AMP = "/usr/lib/ladspa/amp.so";
const DEBIAN_ABSENT = !(await isFile(REVDELAY)) || !(await isFile(AMP));

Deno.test({
  name: `runStress(): Debian's swh revdelay loses its buffer at every re-activation; ladspa-sdk's amp loses nothing${
    DEBIAN_ABSENT ? " (ignored: no swh-plugins or ladspa-sdk; .ci/run installs them)" : ""
  }`,
  ignore: DEBIAN_ABSENT,
  fn: async () => {
    const leaky = await runStress(REVDELAY, { iterations: 100, seed: 1, isolate: true, floor: false });
    const v = leaky.verdicts.find((x) => x.id === "heap_growth")!;
    assert.equal(v.status, "fail", v.summary);
    // The stack runs from revdelay's activate through the adapter's reset of the instance before each run.
    const e = v.evidence as { stacks: { frames: string[] }[] };
    assert.match(e.stacks[0]!.frames.join(" <- "), /revdelay_1605\.so\+0x[0-9a-f]+ <- ls_prepare at .*ladspa_run\.c/);
    const amp = await runStress(AMP, { iterations: 300, seed: 1, isolate: true, floor: false });
    assert.equal(amp.verdicts.find((x) => x.id === "heap_growth")?.status, "pass");
  },
});
