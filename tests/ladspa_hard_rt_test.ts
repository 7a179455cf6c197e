/**
 * `ladspa.hard_rt` (docs/ladspa.md#hard-rt): the real-time watch
 * (native/adapters/rt_watch/, preloaded only into the check's sandbox child),
 * what the LADSPA adapter reports of a watched run, the findings' wording, and
 * the check end to end on the fixtures and on Debian's swh plugins.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { addRun, HARD_RT_INPUTS, rtOf, type RtTally, tallyLine } from "../lib/check/checks/ladspa_hard_rt.ts";
import { rtWatchPath } from "../lib/load/adapters.ts";
import { loadPlugin, runChecks } from "../mod.ts";
import { isFile, ROOT, runCli, runDeno } from "./_helpers.ts";

const ladspaFixture = (name: string) => join(ROOT, "build", "fixtures", "ladspa", `lib${name}.so`);
const HARD_RT_ONLY = { filter: ["^ladspa\\.hard_rt$"], seed: 1 } as const;

/** The ladspa.hard_rt result of runChecks on `path`. */
async function hardRtOf(path: string) {
  const report = await runChecks(path, HARD_RT_ONLY);
  assert.equal(report.results.length, 1);
  return report.results[0]!;
}

Deno.test("tallyLine() names the plugin, the first function run called, the others, and how many blocks", () => {
  const t: RtTally = { calls: new Map(), ran: 0, offending: 0 };
  addRun(t, "noise seed=1 frames=64", { first: null, calls: {} });
  addRun(t, "noise seed=1 frames=4096", { first: "memalign", calls: { free: 16, memalign: 16 } });
  addRun(t, "impulse frames=4096", { first: "memalign", calls: { memalign: 16, free: 16, write: 1 } });
  assert.equal(
    tallyLine("mbeq", t),
    `"mbeq": run called memalign 32 times (free 32 times, write 1 time) in 2 of 3 blocks while declaring ` +
      `HARD_RT_CAPABLE; first on "noise seed=1 frames=4096"`,
  );
  assert.equal(rtOf('{"frames":1,"outputs":[]}'), undefined);
  assert.deepEqual(rtOf('{"frames":1,"outputs":[],"rt":{"first":null,"calls":{}}}'), { first: null, calls: {} });
});

Deno.test("LADSPA adapter: a run reports what it called only in a sandbox child that preloads the real-time watch", async () => {
  const path = ladspaFixture("alloc_in_run_hard_rt");
  const input = "noise seed=1 frames=64";
  {
    await using plugin = await loadPlugin(path, { isolate: true, log: "off", preload: [rtWatchPath()] });
    await using inst = await plugin.createInstance();
    const rt = rtOf(await inst.invoke("alloc_in_run_hard_rt", input));
    // One malloc and one free per run, nothing else: instantiate, activate and the adapter's own work are not counted.
    assert.deepEqual(rt, { first: "malloc", calls: { malloc: 1, free: 1 } });
  }
  {
    await using plugin = await loadPlugin(ladspaFixture("ladspa_ref"), {
      isolate: true,
      log: "off",
      preload: [rtWatchPath()],
    });
    await using inst = await plugin.createInstance();
    assert.deepEqual(rtOf(await inst.invoke("ref_gain", "noise seed=1 frames=4096")), { first: null, calls: {} });
  }
  await using plain = await loadPlugin(path, { isolate: true, log: "off" });
  await using inst = await plain.createInstance();
  assert.equal(rtOf(await inst.invoke("alloc_in_run_hard_rt", input)), undefined);
});

Deno.test("libnpa_rt_watch.so preloaded into a Deno process changes nothing it does, and leaves LD_PRELOAD", async () => {
  const code = `const f = await Deno.makeTempFile(); await Deno.writeTextFile(f, "x".repeat(100000));
    const t = await Deno.readTextFile(f); await Deno.remove(f);
    console.log(t.length, JSON.stringify(new Array(1000).fill({ a: 1 })).length, Deno.env.get("LD_PRELOAD") ?? "none");`;
  const r = await runDeno(["eval", code], { env: { LD_PRELOAD: rtWatchPath() } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "100000 8001 none\n");
});

Deno.test("ladspa.hard_rt fails alloc_in_run_hard_rt: run called malloc and free in every block", async () => {
  const r = await hardRtOf(ladspaFixture("alloc_in_run_hard_rt"));
  assert.equal(r.status, "fail", r.details);
  const n = HARD_RT_INPUTS.length;
  assert.deepEqual(r.evidence, [
    `"alloc_in_run_hard_rt": run called malloc ${n} times (free ${n} times) in ${n} of ${n} blocks while declaring ` +
    `HARD_RT_CAPABLE; first on "noise seed=1 frames=64"`,
  ]);
});

Deno.test("ladspa.hard_rt passes the reference library: ref_gain and ref_lowpass declare HARD_RT_CAPABLE and keep it", async () => {
  const r = await hardRtOf(ladspaFixture("ladspa_ref"));
  assert.equal(r.status, "pass", r.details);
  assert.match(r.details, /^2 plugins declaring HARD_RT_CAPABLE, 8 blocks: run called no allocation/);
});

const TAP_EQ = "/usr/lib/ladspa/tap_eq.so";

Deno.test({
  name: `ladspa.hard_rt skips a library with no plugin that declares HARD_RT_CAPABLE (tap_eq)${
    await isFile(TAP_EQ) ? "" : ` (ignored: ${TAP_EQ} is absent; apt-get install tap-plugins)`
  }`,
  ignore: !await isFile(TAP_EQ),
  fn: async () => {
    const r = await hardRtOf(TAP_EQ);
    assert.deepEqual([r.status, r.details], ["skip", "no plugin declares HARD_RT_CAPABLE"]);
  },
});

const MBEQ = "/usr/lib/ladspa/mbeq_1197.so";
const NO_SWH = !(await isFile(MBEQ));

Deno.test({
  name: `ladspa.hard_rt fails swh's mbeq: its FFTW plan allocates in each FFT of run (memalign + free)${
    NO_SWH ? ` (ignored: ${MBEQ} is absent; apt-get install swh-plugins)` : ""
  }`,
  ignore: NO_SWH,
  fn: async () => {
    // Debian swh-plugins 0.4.17 with libfftw3-single3 3.3.10: run calls fftwf_execute on an r2r plan made in
    // instantiate, which takes a 4096-byte scratch buffer with fftwf_malloc (memalign(32, ...)) and frees it, in each
    // of the 16 FFTs a block of 4096 frames holds; a block of 64 frames reaches no FFT.
    const r = await hardRtOf(MBEQ);
    assert.equal(r.status, "fail", r.details);
    assert.deepEqual(r.evidence, [
      `"mbeq": run called memalign 32 times (free 32 times) in 2 of 4 blocks while declaring HARD_RT_CAPABLE; ` +
      `first on "noise seed=1 frames=4096"`,
    ]);
  },
});

Deno.test("plugcheck check --filter ladspa.hard_rt exits 1 on alloc_in_run_hard_rt and says which call", async () => {
  const r = await runCli([
    "check",
    ladspaFixture("alloc_in_run_hard_rt"),
    "--filter",
    "^ladspa\\.hard_rt$",
    "--seed",
    "1",
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /FAIL +ladspa\.hard_rt .*run called malloc 4 times \(free 4 times\)/);
});

Deno.test("loadPlugin() refuses a preload path LD_PRELOAD cannot list (a ':' or a space) before it spawns anything", async () => {
  for (const bad of ["/tmp/a:b.so", "/tmp/a b.so", ""]) {
    await assert.rejects(
      loadPlugin(ladspaFixture("ladspa_ref"), { isolate: true, preload: [bad] }),
      TypeError,
      JSON.stringify(bad),
    );
  }
});
