/**
 * Audio in and out of `plugcheck invoke` (lib/commands/invoke_audio.ts,
 * lib/audio/): a WAV file through a LADSPA plugin, compared with what
 * ladspa-sdk's own `applyplugin` makes of it; a long file in calls that
 * carry the plugin's state; channels mapped to ports; and the refusals
 * (another sample rate, a plugin that takes no audio, NaN output).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readWav, wavBytes } from "../lib/audio/wav.ts";
import { loadWavefile } from "../lib/util/deps.ts";
import { isFile, ROOT, runCli, tempDir, text } from "./_helpers.ts";

const AMP = "/usr/lib/ladspa/amp.so";
const SDK_MISSING = !(await isFile(AMP)) || !(await isFile("/usr/bin/applyplugin"));
const NEEDS_SDK = SDK_MISSING ? ` (ignored: ${AMP} or applyplugin is absent; .ci/run installs ladspa-sdk)` : "";
const ladspa = (name: string) => join(ROOT, "build", "fixtures", "ladspa", `lib${name}.so`);

/** A 16-bit PCM WAV file (what applyplugin reads): a 440 Hz sine at half scale left, clicks right, `frames` long. */
async function pcm16(path: string, frames: number, channels = 2, rate = 44100): Promise<void> {
  const WaveFile = await loadWavefile();
  const wav = new WaveFile();
  const data = Array.from(
    { length: channels },
    (_, c) =>
      Int16Array.from(
        { length: frames },
        (_, i) =>
          c === 0 ? Math.round(16000 * Math.sin(2 * Math.PI * 440 * i / rate)) : i % 100 === 0 ? 32767 : -i % 300,
      ),
  );
  wav.fromScratch(channels, rate, "16", data);
  await Deno.writeFile(path, wav.toBuffer());
}

Deno.test({
  name:
    `invoke --input-file in.wav --output out.wav: amp_stereo writes what ladspa-sdk's applyplugin writes${NEEDS_SDK}`,
  ignore: SDK_MISSING,
  async fn() {
    await using dir = await tempDir();
    const input = join(dir.path, "in.wav");
    await pcm16(input, 10_000);
    const ours = join(dir.path, "ours.wav");
    const r = await runCli([
      "invoke",
      AMP,
      "amp_stereo",
      "--input-file",
      input,
      "--control",
      "Gain=0.5",
      "--output",
      ours,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^10000 frames at 44100 Hz from .*in\.wav \(2 channel\(s\)\), in 3 call\(s\)\n/);
    assert.match(r.stdout, /Output \(Right\)\s+peak 0\.5000 \(-6\.0 dBFS\)/);
    const theirs = join(dir.path, "theirs.wav");
    const sdk = await new Deno.Command("applyplugin", { args: [input, theirs, AMP, "amp_stereo", "0.5"] }).output();
    assert.equal(sdk.code, 0, text(sdk.stderr));
    const a = await readWav(await Deno.readFile(ours), "ours");
    const b = await readWav(await Deno.readFile(theirs), "theirs");
    assert.deepEqual([a.sampleRate, a.channels.length, a.channels[0]!.length], [44100, 2, 10_000]);
    assert.deepEqual([b.sampleRate, b.channels.length, b.channels[0]!.length], [44100, 2, 10_000]);
    // applyplugin writes 16-bit samples: ours (float) agree within one step of 16 bits, and not all are zero.
    for (let c = 0; c < 2; c++) {
      let worst = 0;
      for (let i = 0; i < 10_000; i++) worst = Math.max(worst, Math.abs(a.channels[c]![i]! - b.channels[c]![i]!));
      assert.ok(worst <= 1 / 32768, `channel ${c}: differs by ${worst}`);
      assert.ok(a.channels[c]!.some((x) => Math.abs(x) > 0.1));
    }
  },
});

Deno.test("invoke --input-file: a long file runs in calls of max_block frames that carry the plugin's state", async () => {
  await using dir = await tempDir();
  const input = join(dir.path, "in.wav");
  await pcm16(input, 10_000, 1, 48000);
  const run = async (config: string) => {
    const out = join(dir.path, `out-${config.length}.wav`);
    const r = await runCli([
      "invoke",
      ladspa("ladspa_ref"),
      "ref_lowpass",
      "--input-file",
      input,
      "--config",
      config,
      "--output",
      out,
      "--format",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    return { doc: JSON.parse(r.stdout), audio: await readWav(await Deno.readFile(out), out) };
  };
  // A stateful low-pass: in calls of 1000 frames (each after the first keeps the state) it gives what one call gives.
  const small = await run('{"max_block": 1000}');
  const whole = await run('{"max_block": 16384}');
  assert.deepEqual([small.doc.audio.calls, whole.doc.audio.calls], [10, 1]);
  assert.deepEqual(small.audio.channels[0], whole.audio.channels[0]);
  assert.deepEqual(small.doc.audio.outputs, whole.doc.audio.outputs);
  assert.equal(small.doc.audio.outputs[0].port, "Output");
});

Deno.test("invoke --input-file: channels map to the audio inputs in order; a mono file feeds every input", async () => {
  await using dir = await tempDir();
  const mono = join(dir.path, "mono.wav");
  await Deno.writeFile(mono, await wavBytes({ sampleRate: 48000, channels: [new Float32Array([0.5, -0.25, 0.125])] }));
  const out = join(dir.path, "out.wav");
  // ref_gain at its default gain of 1 has one input; two files: each input k gets channel k.
  const r = await runCli(["invoke", ladspa("ladspa_ref"), "ref_gain", "--input-file", mono, "--output", out]);
  assert.equal(r.code, 0, r.stderr);
  const got = await readWav(await Deno.readFile(out), out);
  assert.deepEqual([...got.channels[0]!], [0.5, -0.25, 0.125]);
  const stereo = join(dir.path, "stereo.wav");
  await Deno.writeFile(
    stereo,
    await wavBytes({ sampleRate: 48000, channels: [new Float32Array([0.5]), new Float32Array([1])] }),
  );
  const two = await runCli(["invoke", ladspa("ladspa_ref"), "ref_gain", "--input-file", stereo, "--format", "json"]);
  assert.equal(two.code, 0, two.stderr);
  const doc = JSON.parse(two.stdout);
  assert.equal(doc.audio.outputs[0].peak, 0.5, "channel 1 feeds the one input");
  assert.deepEqual(doc.warnings, [
    "the file has 2 channels, ref_gain 1 audio input(s): channel(s) 2 to 2 are not used",
  ]);
});

Deno.test("invoke --output from a generated --input writes its frames at the instance's sample rate", async () => {
  await using dir = await tempDir();
  const out = join(dir.path, "sine.wav");
  const r = await runCli([
    "invoke",
    ladspa("ladspa_ref"),
    "ref_gain",
    "--input",
    "sine freq=1000 frames=480",
    "--control",
    "Gain=0.5",
    "--config",
    '{"sample_rate": 96000}',
    "--output",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^480 frames at 96000 Hz from a generated signal, in 1 call\(s\)\n {2}Output {2}peak 0\.5000/);
  const got = await readWav(await Deno.readFile(out), out);
  assert.deepEqual([got.sampleRate, got.channels.length, got.channels[0]!.length], [96000, 1, 480]);
  assert.ok(Math.abs(got.channels[0]![24]! - 0.5) < 1e-6, "a quarter period of 1 kHz at 96 kHz is the peak");
});

Deno.test("invoke audio refusals: another rate, a plugin without audio, NaN output; nothing half-written", async () => {
  await using dir = await tempDir();
  const input = join(dir.path, "in.wav");
  await pcm16(input, 500, 1, 44100);
  const out = join(dir.path, "out.wav");
  const rate = await runCli([
    "invoke",
    ladspa("ladspa_ref"),
    "ref_gain",
    "--input-file",
    input,
    "--config",
    '{"sample_rate": 48000}',
    "--output",
    out,
  ]);
  assert.equal(rate.code, 2);
  assert.match(rate.stderr, /is at 44100 Hz, the instance at 48000 Hz .* plugcheck does not resample/);
  // An npa plugin takes the file's bytes as its input, as before; it has no audio to write.
  const npa = join(ROOT, "build", "fixtures", "libref_c.so");
  const bytes = await runCli(["invoke", npa, "echo", "--input-file", input]);
  assert.equal(bytes.code, 0, bytes.stderr);
  assert.equal(bytes.stdout.slice(0, 4), "RIFF");
  const none = await runCli(["invoke", npa, "echo", "--input-file", input, "--output", out]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Cannot write --output from .*libref_c\.so: it takes no audio/);
  // NaN at the drive's upper bound: the adapter's PANIC names port and frame; no file appears.
  const nan = await runCli([
    "invoke",
    ladspa("nan_at_upper"),
    "nan_at_upper",
    "--input-file",
    input,
    "--control",
    "#0=1",
    "--output",
    out,
    "--isolate",
  ]);
  assert.equal(nan.code, 1, nan.stderr);
  assert.match(nan.stderr, /PANIC.*wrote NaN to output port/);
  assert.equal(await isFile(out), false, "no output file is written for a failed run");
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["in.wav"], "no temporary file is left");
});
