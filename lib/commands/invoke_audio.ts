/**
 * `plugcheck invoke` with audio: `--input-file in.wav` runs the file through
 * the method (its channels mapped to the method's audio inputs, at the file's
 * sample rate, in calls of at most the instance's `max_block` frames on one
 * instance), and `--output out.wav` writes the audio outputs as a 32-bit
 * float WAV file (whole or not at all). For a library whose adapter declares
 * `"audio_io": true` (docs/adapters.md), such as a LADSPA library. stdout
 * gets a summary per output port (peak, RMS, NaN, Inf and denormal counts),
 * or the `audio` part of invoke's JSON document.
 *
 * @example
 * ```ts ignore
 * import { invokeAudio } from "./invoke_audio.ts";
 * const code = await invokeAudio(ctx, await ctx.openPlugin(path), { path, method, wav: bytes, inputFile: "in.wav", controls: [], config: {} });
 * ```
 *
 * @module
 */
import { UsageError } from "../errors/errors.ts";
import { audioAnswer, audioPortsOf, portStats, runAudio } from "../audio/run_audio.ts";
import { readWav, wavBytes } from "../audio/wav.ts";
import type { CommandContext } from "./context.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import { endCalls, exitAfter } from "./invoke_end.ts";
import { userPath } from "./input.ts";
import { LatencyHistogram } from "../util/histogram.ts";
import { printWarnings } from "./output.ts";
import { writeWhole } from "./report_file.ts";
import { type AudioRun, invokeDocument, invokeTiming, renderAudioRun } from "../report/invoke_report.ts";

/** The adapters' default frames per call (their config's `max_block`). */
const DEFAULT_MAX_BLOCK = 4096;

/** What the audio run is asked. */
export interface AudioInvoke {
  path: string;
  method: string;
  /** The WAV file's bytes (`--input-file`), or undefined for a generated signal (`text`). */
  wav?: Uint8Array;
  inputFile?: string;
  /** The text input of a generated signal (`--input`, or the method's first example). */
  text?: string;
  /** `--control` words. */
  controls: readonly string[];
  config: Record<string, unknown> | undefined;
  /** `--output`. */
  output?: string;
}

/** Runs the audio invoke on `plugin` (opened by `ctx`); returns the exit code. */
export async function invokeAudio(ctx: CommandContext, plugin: PluginHandle, a: AudioInvoke): Promise<number> {
  const described = plugin.describe();
  const declared = described.methods.find((m) => m.name === a.method);
  if (declared === undefined) {
    throw new UsageError(
      `${described.name} has no method ${JSON.stringify(a.method)}; its methods: ${
        described.methods.map((m) => m.name).join(", ")
      }`,
    );
  }
  const ports = audioPortsOf(described.adapter, a.method);
  const what = a.wav !== undefined ? "run a WAV file through" : "write --output from";
  if (ports === undefined) {
    throw new UsageError(
      `Cannot ${what} ${a.path}: it takes no audio (only an adapted library whose adapter declares audio I/O, such as a LADSPA library)`,
    );
  }
  if (a.output !== undefined && ports.outputs.length === 0) {
    throw new UsageError(`Cannot write --output: ${JSON.stringify(a.method)} has no audio output`);
  }
  const warnings: string[] = [];
  let config = a.config ?? {};
  let inputs: Float32Array[] = [];
  let frames = 0;
  let channels: number | undefined;
  if (a.wav !== undefined) {
    const audio = await readWav(a.wav, `--input-file ${JSON.stringify(a.inputFile)}`);
    channels = audio.channels.length;
    frames = audio.channels[0]!.length;
    if (frames === 0) throw new UsageError(`--input-file ${JSON.stringify(a.inputFile)} holds no samples`);
    const rate = config.sample_rate;
    if (rate !== undefined && rate !== audio.sampleRate) {
      throw new UsageError(
        `--input-file ${
          JSON.stringify(a.inputFile)
        } is at ${audio.sampleRate} Hz, the instance at ${rate} Hz (--config sample_rate): plugcheck does not resample; convert the file (e.g. sox in.wav -r ${rate} out.wav) or leave sample_rate out to run at the file's rate`,
      );
    }
    config = { ...config, sample_rate: audio.sampleRate };
    inputs = ports.inputs.map((_, k) => audio.channels[k % audio.channels.length]!);
    if (ports.inputs.length === 0) {
      warnings.push(`${a.method} has no audio input: the file gives only the length of the run (${frames} frames)`);
    } else if (audio.channels.length > ports.inputs.length) {
      warnings.push(
        `the file has ${audio.channels.length} channels, ${a.method} ${ports.inputs.length} audio input(s): channel(s) ${
          ports.inputs.length + 1
        } to ${audio.channels.length} are not used`,
      );
    }
  }
  const before = await plugin.readStats();
  const instance = await plugin.createInstance(config, { timeoutMs: ctx.timeoutMs });
  const latency = new LatencyHistogram();
  let outputs: Float32Array[];
  let calls = 1;
  let sampleRate: number;
  if (a.wav !== undefined) {
    const maxBlock = typeof config.max_block === "number" ? config.max_block : DEFAULT_MAX_BLOCK;
    const run = await runAudio(instance, a.method, inputs, frames, {
      words: a.controls,
      maxBlock,
      outputs: ports.outputs.length,
      timeoutMs: ctx.timeoutMs,
      onProgress: (done, all) => ctx.status.update(`invoke ${a.method}: ${done}/${all} frames`),
    });
    outputs = run.outputs;
    calls = run.calls;
    for (const ms of run.callMs) latency.recordMs(ms);
    sampleRate = config.sample_rate as number;
  } else {
    const text = [a.text ?? declared.examples[0]?.input ?? "silence", ...a.controls, "samples"].join(" ");
    const t0 = performance.now();
    const answer = await instance.invoke(a.method, new TextEncoder().encode(text), { timeoutMs: ctx.timeoutMs });
    latency.recordMs(performance.now() - t0);
    const { summary, samples } = audioAnswer(a.method, answer, ports.outputs.length);
    frames = summary.frames;
    sampleRate = summary.sample_rate;
    outputs = samples;
  }
  const end = await endCalls(ctx, plugin, instance, a.method, before);
  const run: AudioRun = {
    sample_rate: sampleRate,
    frames,
    calls,
    ...a.inputFile !== undefined && { input_file: a.inputFile, input_channels: channels! },
    outputs: ports.outputs.map((name, k) => portStats(name, outputs[k]!)),
  };
  if (a.output !== undefined) {
    await writeWhole(userPath(a.output), await wavBytes({ sampleRate, channels: outputs }));
    run.written = a.output;
  }
  const all = [...end.warnings, ...warnings];
  if (ctx.format === "json") {
    ctx.json(invokeDocument(a.method, { audio: run }, invokeTiming(calls, latency.summary()), end.leak, all));
  } else {
    ctx.out(renderAudioRun(run));
    printWarnings(all);
  }
  return exitAfter(ctx, end.leak);
}
