/**
 * LADSPA libraries through the adapter seam, end to end on the LADSPA
 * fixtures (fixtures/ladspa/, built by `deno task build`): each plugin is a
 * method of an npa plugin served by a private copy of the adapter, in
 * process and in a sandbox child, and every engine (load, invoke, stress,
 * fuzz, check) runs on it unchanged.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPlugin, PluginError, runChecks, runFuzz, runStress } from "../mod.ts";
import { ROOT, runCli, runDeno, text } from "./_helpers.ts";

/** Path of a built LADSPA fixture. */
function ladspa(name: string): string {
  return join(ROOT, "build", "fixtures", "ladspa", `lib${name}.so`);
}

interface Output {
  frames: number;
  outputs: { port: string; kind: string; peak?: number; rms?: number; hash?: string; value?: number }[];
}

for (const isolate of [false, true]) {
  const where = isolate ? " in a sandbox child" : "";
  Deno.test(`loadPlugin() of a LADSPA library${where} serves each plugin as a method, and describe() keeps the adapter's part`, async () => {
    await using plugin = await loadPlugin(ladspa("ladspa_ref"), { isolate, log: "off" });
    const d = plugin.describe();
    assert.deepEqual(d.methods.map((m) => m.name), ["ref_gain", "ref_lowpass"]);
    assert.equal(d.adapter?.abi, "ladspa");
    const plugins = (d.adapter as unknown as { plugins: { label: string; unique_id: number }[] }).plugins;
    assert.deepEqual(plugins.map((p) => [p.label, p.unique_id]), [["ref_gain", 4101], ["ref_lowpass", 4102]]);
    await using inst = await plugin.createInstance();
    const out: Output = JSON.parse(text(await inst.invoke("ref_gain", "impulse frames=64 Gain=2")));
    assert.equal(out.frames, 64);
    assert.equal(out.outputs[0]!.peak, 2);
  });

  Deno.test(`invoke of a LADSPA plugin that writes NaN${where} fails with PANIC naming the port and the controls`, async () => {
    await using plugin = await loadPlugin(ladspa("nan_at_upper"), { isolate, log: "off" });
    await using inst = await plugin.createInstance();
    // Inside the range the output is finite; at its upper bound it is NaN.
    await inst.invoke("nan_at_upper", "noise seed=1 Drive=0.5");
    const e = await inst.invoke("nan_at_upper", "noise seed=1 Drive=1").then(() => undefined, (e) => e);
    assert.ok(e instanceof PluginError, String(e));
    assert.equal(e.code, "PANIC");
    assert.match(e.message, /wrote NaN to output port "Output" at frame \d+ of 256 .*Drive=1/);
  });
}

Deno.test("invoke --isolate of a LADSPA plugin that overruns its delay line at 192 kHz reports the crash, and 48 kHz runs", async () => {
  const lib = ladspa("crash_at_192k");
  const ok = await runCli(["invoke", lib, "crash_at_192k", "--input", "noise", "--isolate"]);
  assert.equal(ok.code, 0, ok.stderr);
  const r = await runCli([
    "invoke",
    lib,
    "crash_at_192k",
    "--input",
    "noise",
    "--isolate",
    "--config",
    '{"sample_rate":192000}',
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /crashed the sandbox child \(killed by SIGSEGV\)/);
  assert.match(r.stderr, /"crash_at_192k"/);
});

Deno.test("invoke --isolate of a LADSPA plugin that writes one sample past its block: the guard page after the block faults", async () => {
  // The block is shorter than the buffer the adapter owns (max_block), and still ends at its guard page.
  const r = await runCli([
    "invoke",
    ladspa("write_past_output"),
    "write_past_output",
    "--input",
    "noise frames=100",
    "--isolate",
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /crashed the sandbox child \(killed by SIGSEGV\)/);
  const ok = await runCli(["invoke", ladspa("ladspa_ref"), "ref_gain", "--input", "noise frames=100", "--isolate"]);
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test("loadPlugin() gives two LADSPA libraries loaded at once two adapters: each serves its own plugins", async () => {
  await using a = await loadPlugin(ladspa("ladspa_ref"), { log: "off" });
  await using b = await loadPlugin(ladspa("nan_at_upper"), { log: "off" });
  assert.deepEqual(a.describe().methods.map((m) => m.name), ["ref_gain", "ref_lowpass"]);
  assert.deepEqual(b.describe().methods.map((m) => m.name), ["nan_at_upper"]);
  await using inst = await a.createInstance();
  assert.equal(JSON.parse(text(await inst.invoke("ref_gain", "impulse frames=8 Gain=3"))).outputs[0].peak, 3);
});

Deno.test("loadPlugin() of a LADSPA library without the adapter built says how to get it", async () => {
  // A helper directory with no adapters/ next to the helper: what a build that never made the adapter looks like.
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-no-adapter-" });
  try {
    await Deno.copyFile(join(ROOT, "build", "libnpa_host.so"), join(dir, "libnpa_host.so"));
    const r = await runCli(["load", ladspa("ladspa_ref")], {
      env: { PLUGCHECK_HOST_LIB: join(dir, "libnpa_host.so") },
    });
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /a LADSPA 1\.1 library, but plugcheck's ladspa adapter cannot be opened \(run `deno task build`\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runStress() of a LADSPA library passes every verdict, in process and isolated", async () => {
  for (const isolate of [false, true]) {
    const report = await runStress(ladspa("ladspa_ref"), { iterations: 400, seed: 1, isolate, floor: false });
    const failed = report.verdicts.filter((v) => v.status === "fail").map((v) => `${v.id}: ${v.summary}`);
    assert.deepEqual(failed, [], `isolate ${isolate}`);
    assert.ok(report.run.calls >= 400);
  }
});

Deno.test("runFuzz() of a LADSPA plugin finds the control value that makes it write NaN", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-ladspa-fuzz-" });
  try {
    const report = await runFuzz(ladspa("nan_at_upper"), { runs: 20_000, seed: 1, maxFindings: 1, artifactsDir: dir });
    assert.equal(report.findings.length, 1, JSON.stringify(report.findings));
    assert.match(report.findings[0]!.message, /wrote NaN to output port "Output"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ladspa.denormals warns on a filter that decays into subnormal floats, and passes one that flushes them", async () => {
  const slow = await runChecks(ladspa("denormal_slowdown"), { seed: 1, filter: ["^ladspa\\.denormals$"] });
  const r = slow.results.find((x) => x.id === "ladspa.denormals")!;
  assert.equal(r.status, "warn", r.details);
  assert.match(r.details, /"denormal_slowdown" "Output": [\d,]+ of 32,768 samples subnormal after an impulse/);
  assert.equal(slow.exitCode, 0); // a warning: exit 0 unless --strict
  const ref = await runChecks(ladspa("ladspa_ref"), { seed: 1, filter: ["^ladspa\\.denormals$"] });
  assert.equal(ref.results.find((x) => x.id === "ladspa.denormals")!.status, "pass");
});

Deno.test("runChecks() on the LADSPA reference library: every check that applies passes", async () => {
  const report = await runChecks(ladspa("ladspa_ref"), { seed: 1 });
  const notPassed = report.results.filter((r) => r.status !== "pass" && r.status !== "skip")
    .map((r) => `${r.id}: ${r.status} ${r.details}`);
  assert.deepEqual(notPassed, []);
  assert.equal(report.exitCode, 0);
});

Deno.test("plugcheck load of a LADSPA library names the ABI and lists its plugins and their ports", async () => {
  const r = await runDeno([
    "run",
    "-A",
    join(ROOT, "cli.ts"),
    "load",
    ladspa("ladspa_ref"),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /LADSPA 1\.1/);
  assert.match(r.stdout, /ref_gain .*unique ID 4101/);
  assert.match(r.stdout, /ref_lowpass .*unique ID 4102/);
  // Each plugin's ports, with their ranges, hints and defaults.
  assert.match(r.stdout, /\n {4}port 2 +Cutoff \(Hz\) +control in +0\.0001\.\.0\.45 +x rate +log +default 321\.994\n/);
  assert.match(r.stdout, /\n {4}port 3 +Stages +control in +1\.\.4 +int +default 1\n/);
  assert.match(r.stdout, /\n {4}port 5 +Latency +control out\n/);
});

const SDK_LIBRARIES = ["amp", "delay", "filter", "noise", "sine"].map((n) => `/usr/lib/ladspa/${n}.so`);
const SDK_ABSENT = (await Promise.all(SDK_LIBRARIES.map((p) => Deno.stat(p).then(() => true, () => false))))
  .includes(false);

Deno.test({
  name: `runChecks() on ladspa-sdk's five example libraries: no check fails${
    SDK_ABSENT ? " (ignored: /usr/lib/ladspa lacks them; .ci/run installs ladspa-sdk)" : ""
  }`,
  ignore: SDK_ABSENT,
  fn: async () => {
    for (const lib of SDK_LIBRARIES) {
      const report = await runChecks(lib, { seed: 1, fuzzRuns: 5_000 });
      const failed = report.results.filter((r) => r.status !== "pass" && r.status !== "skip" && r.status !== "warn")
        .map((r) => `${r.id}: ${r.status} ${r.details}`);
      assert.deepEqual(failed, [], lib);
      // The warnings they earn: a LOGARITHMIC range bounded below by 0 (amp's and noise's gains, filter's and sine's
      // frequencies), which hosts cannot draw, and filter's low- and high-pass decaying into subnormal floats.
      const warned = report.results.filter((r) => r.status === "warn").map((r) => r.id);
      assert.ok(warned.every((id) => id === "ladspa.ranges" || id === "ladspa.denormals"), `${lib}: ${warned}`);
      assert.equal(warned.includes("ladspa.denormals"), lib.endsWith("/filter.so"), `${lib}: ${warned}`);
      if (lib.endsWith("/filter.so")) {
        const d = report.results.find((r) => r.id === "ladspa.denormals")!;
        assert.deepEqual(d.evidence?.map((e) => e.replace(/[\d,]+ of/, "N of")), [
          '"lpf" "Output": N of 32,768 samples subnormal after an impulse',
          '"hpf" "Output": N of 32,768 samples subnormal after an impulse',
        ]);
      }
    }
  },
});

Deno.test({
  name:
    `describe() through the LADSPA adapter: a plugin with an audio input and activate is pure, a generator or one without activate is not${
      SDK_ABSENT ? " (ignored: /usr/lib/ladspa lacks ladspa-sdk; .ci/run installs it)" : ""
    }`,
  ignore: SDK_ABSENT,
  fn: async () => {
    // noise_white keeps a random generator activate does not reseed: LADSPA allows it, so it is not judged pure.
    await using noise = await loadPlugin("/usr/lib/ladspa/noise.so", { log: "off" });
    assert.deepEqual(noise.describe().methods.map((m) => [m.name, m.pure]), [["noise_white", false]]);
    // amp has no activate: the adapter cannot reset it between runs, so it is not judged pure either.
    await using amp = await loadPlugin("/usr/lib/ladspa/amp.so", { log: "off" });
    assert.ok(amp.describe().methods.every((m) => !m.pure));
    await using delay = await loadPlugin("/usr/lib/ladspa/delay.so", { log: "off" });
    assert.deepEqual(delay.describe().methods.map((m) => [m.name, m.pure]), [["delay_5s", true]]);
  },
});

Deno.test("plugcheck invoke --control sets a LADSPA plugin's control by name or #index; bad uses are usage errors", async () => {
  const invoke = (...args: string[]) =>
    runCli(["invoke", ladspa("ladspa_ref"), "ref_gain", "--format", "json", ...args]);
  const peak = (stdout: string) => (JSON.parse(JSON.parse(stdout).output_text) as Output).outputs[0]!.peak!;
  const one = await invoke("--input", "impulse frames=8");
  assert.equal(one.code, 0, one.stderr);
  assert.equal(peak(one.stdout), 1, "the default gain, 1");
  const byName = await invoke("--input", "impulse frames=8", "--control", "Gain=2.5");
  assert.equal(byName.code, 0, byName.stderr);
  assert.equal(peak(byName.stdout), 2.5);
  // #0 is the Gain port; without --input the method's first example input runs (silence: peak 0).
  const byIndex = await invoke("--control", "#0=3");
  assert.equal(byIndex.code, 0, byIndex.stderr);
  assert.equal(peak(byIndex.stdout), 0);
  const unknown = await invoke("--input", "impulse", "--control", "Volume=1");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /Unknown control "Volume" of plugin "ref_gain"/);
  const setting = await invoke("--input", "impulse frames=8", "--control", "frames=2");
  assert.equal(setting.code, 1, "a --control name is a port's, never a setting of the text input");
  assert.match(setting.stderr, /Unknown control "frames"/);
  for (const bad of [["--control", "Gain"], ["--control", "Gain=loud"], ["--control", "=1"]]) {
    const r = await invoke("--input", "impulse", ...bad);
    assert.equal(r.code, 2, `${bad.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /--control takes NAME=VALUE/);
  }
  const file = await invoke("--stdin", "--control", "Gain=1");
  assert.equal(file.code, 2);
  assert.match(file.stderr, /give it with --input, or no input at all/);
  const npa = await runCli(["invoke", join(ROOT, "build", "fixtures", "libref_c.so"), "echo", "--control", "Gain=1"]);
  assert.equal(npa.code, 2);
  assert.match(npa.stderr, /Cannot set --control: .*takes no controls/);
});

Deno.test("plugcheck fuzz --out-of-range sends controls past their ranges: the crash a range hides is found, and repro carries it", async () => {
  const lib = ladspa("unclamped_table_index");
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-oor-" });
  try {
    const fuzz = (...more: string[]) =>
      runCli(["fuzz", lib, "--runs", "20000", "--seed", "1", "--artifacts", dir, "--format", "json", ...more]);
    // Inside its declared range (what the fuzzer maps bytes to by default) the plugin is correct.
    const inside = await fuzz();
    assert.equal(inside.code, 0, inside.stderr);
    assert.deepEqual(JSON.parse(inside.stdout).findings, []);
    const outside = await fuzz("--out-of-range");
    assert.equal(outside.code, 1, outside.stderr);
    const findings: { kind: string; repro: string }[] = JSON.parse(outside.stdout).findings;
    assert.ok(findings.length > 0 && findings.every((f) => f.kind === "crash"), outside.stdout);
    assert.match(findings[0]!.repro, /--config '\{"out_of_range":true\}'/);
    // An npa plugin has no ranges to leave; a config that is not an object cannot take the setting.
    const npa = await runCli([
      "fuzz",
      join(ROOT, "build", "fixtures", "libref_c.so"),
      "--runs",
      "10",
      "--out-of-range",
    ]);
    assert.equal(npa.code, 2);
    assert.match(npa.stderr, /Cannot fuzz ref_c out of range: its controls have no declared ranges to leave/);
    const bad = await runCli(["fuzz", lib, "--runs", "10", "--out-of-range", "--config", "[1]"]);
    assert.equal(bad.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
