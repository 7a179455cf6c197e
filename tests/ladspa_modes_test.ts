/**
 * The LADSPA adapter's run modes (text words `inplace`, `keep`, `fresh`,
 * `adding gain=G`, `twin`, `block=N`, and the `cleanup` input) and the checks
 * built on them (`ladspa.inplace`, `ladspa.run_adding`, `ladspa.reset`,
 * `ladspa.block_size`, lib/check/checks/ladspa_modes.ts): on the reference library, on the fixture
 * that breaks each rule, and on Debian's plugins when installed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { inplace } from "../lib/check/checks/ladspa_modes.ts";
import type { LadspaLibrary } from "../lib/check/checks/ladspa_doc.ts";
import type { CheckContext } from "../lib/check/spec.ts";
import { PluginError, PluginPanicError } from "../lib/errors/errors.ts";
import { isFile, ladspaPort, ROOT } from "./_helpers.ts";
import { loadPlugin, runChecks } from "../mod.ts";

const ladspaFixture = (name: string) => join(ROOT, "build", "fixtures", "ladspa", `lib${name}.so`);
const dec = new TextDecoder();

/** The status, details and evidence of check `id` alone on `path`. */
async function checkOf(path: string, id: string) {
  const report = await runChecks(path, { filter: [`^${id.replace(".", "\\.")}$`], seed: 1 });
  assert.equal(report.results.length, 1);
  return report.results[0]!;
}

/** The output document of one call on a new in-process instance of `path`, one call after another. */
async function answers(path: string, method: string, inputs: string[]): Promise<string[]> {
  await using plugin = await loadPlugin(path, { log: "off" });
  await using inst = await plugin.createInstance({});
  const out: string[] = [];
  for (const input of inputs) out.push(dec.decode(await inst.invoke(method, input)));
  return out;
}

const hash = (doc: string) => (JSON.parse(doc) as { outputs: { hash?: string }[] }).outputs[0]!.hash;

Deno.test("adapter word inplace: the fixture that reads its input after writing its output differs, ref_lowpass does not", async () => {
  const [alone, shared] = await answers(ladspaFixture("inplace_broken_undeclared"), "inplace_broken_undeclared", [
    "impulse frames=8 fresh",
    "impulse frames=8 fresh inplace",
  ]);
  // 2-tap average of an impulse: 0.5, 0.5, 0...; in place it reads its own 0.5 back: 0.5, 0.25, 0.
  assert.equal(JSON.parse(alone!).outputs[0].rms, 0.25);
  assert.notEqual(hash(alone!), hash(shared!));
  const ref = await answers(ladspaFixture("ladspa_ref"), "ref_lowpass", [
    "noise seed=1 fresh",
    "noise seed=1 fresh inplace",
  ]);
  assert.equal(hash(ref[0]!), hash(ref[1]!));
});

Deno.test("adapter words keep and fresh: keep runs on from the last state, a plain run resets, fresh is a new instance", async () => {
  const [, kept, reset, fresh] = await answers(ladspaFixture("ladspa_ref"), "ref_lowpass", [
    "noise seed=1 frames=4096",
    "impulse frames=256 keep",
    "impulse frames=256",
    "impulse frames=256 fresh",
  ]);
  assert.notEqual(hash(kept!), hash(fresh!), "the low-pass still rings from the noise without a reset");
  assert.equal(hash(reset!), hash(fresh!));
  // state_not_reset's activate keeps the filter memory: a plain run after noise differs from a fresh instance.
  const bad = await answers(ladspaFixture("state_not_reset"), "state_not_reset", [
    "noise seed=1 frames=4096",
    "impulse frames=256",
    "impulse frames=256 fresh",
  ]);
  assert.notEqual(hash(bad[1]!), hash(bad[2]!));
});

Deno.test("adapter word adding: run_adding checked against run; PANIC names the values; misuse is refused", async () => {
  const [doc] = await answers(ladspaFixture("ladspa_ref"), "ref_gain", ["noise seed=1 frames=64 adding gain=0.5"]);
  assert.equal(JSON.parse(doc!).frames, 64);
  await assert.rejects(
    () =>
      answers(ladspaFixture("run_adding_ignores_gain"), "run_adding_ignores_gain", ["noise seed=1 adding gain=0.5"]),
    (e: unknown) =>
      e instanceof PluginPanicError &&
      /run_adding with gain 0\.5 wrote .* to output port "Output" at frame 0 of 256, where the buffer held .* and run wrote .*: it must add gain x run's output/
        .test(e.message),
  );
  for (
    const [input, why] of [
      ["impulse gain=2", /"gain=" is run_adding's gain: it needs the word "adding"/],
      ["impulse adding keep", /"adding" goes with neither "keep", "inplace" nor "twin"/],
    ] as const
  ) {
    await assert.rejects(
      () => answers(ladspaFixture("ladspa_ref"), "ref_gain", [input]),
      (e: unknown) => e instanceof PluginError && e.status === 1 && why.test(e.message),
      input,
    );
  }
  await assert.rejects(
    () => answers(ladspaFixture("state_not_reset"), "state_not_reset", ["impulse adding"]),
    (e: unknown) => e instanceof PluginError && e.status === 6 && /has no run_adding/.test(e.message),
  );
});

const NOISE = "/usr/lib/ladspa/noise.so";

Deno.test({
  name:
    "adapter word adding: a plugin whose two new instances disagree (ladspa-sdk's noise_white) is UNSUPPORTED, not a PANIC",
  ignore: !(await isFile(NOISE)),
  fn: async () => {
    // Its random generator is shared: run and run_adding draw other noise. The fuzzer sends such inputs too.
    await assert.rejects(
      () => answers(NOISE, "noise_white", ["noise adding"]),
      (e: unknown) =>
        e instanceof PluginError && e.status === 6 && /two new instances run on the same input/.test(e.message),
    );
  },
});

Deno.test("adapter word twin: two new instances block by block on one thread; shared state is a PANIC naming port and frame", async () => {
  // ladspa_ref's low-pass keeps its state in its instance: the twin run gives what one instance gives in the same blocks.
  const [alone, twin] = await answers(ladspaFixture("ladspa_ref"), "ref_lowpass", [
    "noise seed=3 frames=4096 block=64 fresh",
    "noise seed=3 frames=4096 block=64 twin",
  ]);
  assert.equal(hash(twin!), hash(alone!));
  await assert.rejects(
    () => answers(ladspaFixture("shared_state"), "shared_state", ["noise seed=3 frames=4096 twin"]),
    (e: unknown) =>
      e instanceof PluginPanicError &&
      /two new instances fed the same input block by block on one thread \(blocks of 64 frames, this one first\) differ at output port "Output", frame 0: the second wrote .* where this one wrote .*\. They share state/
        .test(e.message),
  );
  // One block of all the frames: the second instance runs after the first's whole run, and still starts from its state.
  await assert.rejects(
    () => answers(ladspaFixture("shared_state"), "shared_state", ["impulse frames=16 twin block=100"]),
    (e: unknown) => e instanceof PluginPanicError && /\(blocks of 16 frames, this one first\)/.test(e.message),
  );
  for (
    const [input, why] of [
      ["impulse twin keep", /"twin" goes with neither "keep", "inplace" nor "adding"/],
      ["impulse twin adding", /"adding" goes with neither "keep", "inplace" nor "twin"/],
      ["impulse adding block=8", /"block=" does not go with "adding"/],
      ["impulse block=0", /Malformed value "0" for "block"/],
    ] as const
  ) {
    await assert.rejects(
      () => answers(ladspaFixture("ladspa_ref"), "ref_gain", [input]),
      (e: unknown) => e instanceof PluginError && e.status === 1 && why.test(e.message),
      input,
    );
  }
});

Deno.test("adapter setting block=N: the frames run in blocks, each port reconnected; a plugin that works per sample is unchanged", async () => {
  const inputs = ["", " block=1", " block=64", " block=1000", " block=5000"].map((b) => `noise seed=1 frames=4096${b}`);
  // ref_lowpass keeps its filter memory from block to block: one hash for every block size.
  const ref = await answers(ladspaFixture("ladspa_ref"), "ref_lowpass", inputs);
  assert.deepEqual(new Set(ref.map(hash)).size, 1);
  // restarts_each_block fades in at every run: each block size its own output; more than the frames is one run.
  const [whole, one, small, big, more] = await answers(
    ladspaFixture("restarts_each_block"),
    "restarts_each_block",
    inputs,
  );
  assert.equal(new Set([whole, one, small, big].map((d) => hash(d!))).size, 4);
  assert.equal(hash(more!), hash(whole!));
});

Deno.test("adapter input cleanup: instantiate then cleanup, no run; the plugin's own instance goes on", async () => {
  const [first, probe, after] = await answers(ladspaFixture("ladspa_ref"), "ref_lowpass", [
    "impulse frames=64",
    "cleanup",
    "impulse frames=64",
  ]);
  assert.deepEqual(JSON.parse(probe!), { frames: 0, outputs: [], lifecycle: "instantiate, cleanup" });
  assert.equal(hash(first!), hash(after!));
});

Deno.test("ladspa.inplace: inplace_broken_undeclared fails, naming the in-place call; ladspa_ref passes", async () => {
  const bad = await checkOf(ladspaFixture("inplace_broken_undeclared"), "ladspa.inplace");
  assert.equal(bad.status, "fail", bad.details);
  assert.match(
    bad.evidence[0]!,
    /^inplace_broken_undeclared\("noise seed=1 frames=64 fresh inplace"\): in place, port "Output": /,
  );
  const ref = await checkOf(ladspaFixture("ladspa_ref"), "ladspa.inplace");
  assert.equal(ref.status, "pass", ref.details);
  assert.match(ref.details, /the same outputs in place as with separate buffers \(2 plugins\)$/);
});

Deno.test("inplace() skips a library whose every plugin declares INPLACE_BROKEN, without running it", async () => {
  // An audio port: the shared control port's defaults, with this direction and kind.
  const port = (index: number, direction: "input" | "output") =>
    ladspaPort(index, direction, { direction, kind: "audio" });
  const lib: LadspaLibrary = {
    abi: "ladspa",
    plugins: [{
      index: 0,
      label: "broken_in_place",
      unique_id: 1,
      name: "n",
      maker: "m",
      copyright: "c",
      properties: ["INPLACE_BROKEN"],
      ports: [port(0, "input"), port(1, "output")],
    }],
  };
  // The context is never used: nothing is loaded.
  const outcome = await inplace({} as CheckContext, lib);
  assert.deepEqual(outcome, { status: "skip", details: "every plugin declares INPLACE_BROKEN", evidence: [] });
});

Deno.test("ladspa.run_adding: run_adding_ignores_gain fails with the adapter's PANIC and its invoke; ladspa_ref passes", async () => {
  const bad = await checkOf(ladspaFixture("run_adding_ignores_gain"), "ladspa.run_adding");
  assert.equal(bad.status, "fail", bad.details);
  assert.match(bad.details, /run_adding with gain 0\.5 wrote .* it must add gain x run's output/);
  assert.match(
    bad.repro ?? "",
    /invoke .*librun_adding_ignores_gain\.so run_adding_ignores_gain --input 'noise seed=1 frames=1024 adding gain=0\.5'/,
  );
  const ref = await checkOf(ladspaFixture("ladspa_ref"), "ladspa.run_adding");
  assert.equal(ref.status, "pass", ref.details);
  assert.match(ref.details, /run_adding adds gain x the run output \(2 plugins\)$/);
});

Deno.test("ladspa.reset: state_not_reset fails after noise + deactivate/activate; ladspa_ref passes, ref_gain has no activate", async () => {
  const bad = await checkOf(ladspaFixture("state_not_reset"), "ladspa.reset");
  assert.equal(bad.status, "fail", bad.details);
  assert.match(
    bad.evidence[0]!,
    /^state_not_reset\("noise seed=2 frames=1024"\): after "noise seed=1 frames=4096" and deactivate \+ activate, port "Output": \w+ instead of \w+ \(fresh\)$/,
  );
  const ref = await checkOf(ladspaFixture("ladspa_ref"), "ladspa.reset");
  assert.equal(ref.status, "pass", ref.details);
  assert.match(
    ref.details,
    /2 plugins clean up without activate; 1 plugin reset to a fresh instance's output \(1 keeping state from run to run\); no activate \(cannot be reset\): ref_gain$/,
  );
});

const SWH_IIR = "/usr/lib/ladspa/bandpass_iir_1892.so";
const NO_SWH = !(await isFile(SWH_IIR));

Deno.test({
  name: `Debian's swh bandpass_iir: run_adding ignores its gain, and cleanup without activate crashes${
    NO_SWH ? ` (ignored: ${SWH_IIR} is absent; Debian: apt-get install swh-plugins)` : ""
  }`,
  ignore: NO_SWH,
  fn: async () => {
    const adding = await checkOf(SWH_IIR, "ladspa.run_adding");
    assert.equal(adding.status, "fail", adding.details);
    // It added run's output at gain 1: the buffer's content plus what run wrote.
    const m = adding.details.match(/wrote (\S+) .* where the buffer held (\S+) and run wrote (\S+?):/)!;
    assert.ok(Math.abs(Number(m[1]) - (Number(m[2]) + Number(m[3]))) < 1e-6, adding.details);
    const reset = await checkOf(SWH_IIR, "ladspa.reset");
    assert.equal(reset.status, "crash", reset.details);
    assert.equal(reset.details, 'bandpass_iir("cleanup") crashed');
  },
});
