/**
 * Audio through an adapted plugin whose adapter declares `"audio_io": true`
 * (docs/adapters.md): the audio ports of a method, read from the adapter's
 * part of describe(), and a run of any length in calls of at most
 * `maxBlock` frames on one instance (the text input `audio frames=N ...
 * samples`, a NUL, then float32 samples in this machine's byte order, as
 * the adapter reads them; every call after the first says
 * `keep`, so the plugin runs on from its state as a host's stream does).
 *
 * @example
 * ```ts ignore
 * import { audioPortsOf, runAudio } from "./run_audio.ts";
 * const ports = audioPortsOf(plugin.describe().adapter, "amp_mono")!;
 * const { outputs } = await runAudio(inst, "amp_mono", [samples], samples.length, {
 *   words: ['"Gain"=0.5'],
 *   maxBlock: 4096,
 *   outputs: ports.outputs.length,
 * });
 * ```
 *
 * @module
 */
import type { InstanceHandle } from "../plugin/handle.ts";

/** The names of a method's audio input and output ports, in port order. */
export interface AudioPorts {
  inputs: string[];
  outputs: string[];
}

interface AdapterPort {
  name?: unknown;
  direction?: unknown;
  kind?: unknown;
}

/** The audio ports of `method`, when the adapter declares audio I/O and lists the method's ports; else undefined. */
export function audioPortsOf(adapter: Record<string, unknown> | undefined, method: string): AudioPorts | undefined {
  if (adapter?.audio_io !== true || !Array.isArray(adapter.plugins)) return undefined;
  const plugin = (adapter.plugins as { method?: unknown; ports?: unknown }[]).find((p) => p?.method === method);
  if (plugin === undefined || !Array.isArray(plugin.ports)) return undefined;
  const ports = plugin.ports as AdapterPort[];
  const names = (direction: string) =>
    ports.filter((p) => p?.kind === "audio" && p.direction === direction).map((p, i) =>
      typeof p.name === "string" ? p.name : `#${i}`
    );
  return { inputs: names("input"), outputs: names("output") };
}

/** What an output port's samples hold. */
export interface PortStats {
  port: string;
  frames: number;
  /** Largest magnitude of a finite sample. */
  peak: number;
  /** Root mean square of the finite samples. */
  rms: number;
  nan: number;
  inf: number;
  /** Subnormal samples (they slow many CPUs). */
  denormals: number;
}

const SMALLEST_NORMAL = 1.1754943508222875e-38;

/** The stats of one port's samples. */
export function portStats(port: string, samples: Float32Array): PortStats {
  let peak = 0, sum = 0, finite = 0, nan = 0, inf = 0, denormals = 0;
  for (const x of samples) {
    if (Number.isNaN(x)) nan++;
    else if (!Number.isFinite(x)) inf++;
    else {
      const a = Math.abs(x);
      if (a > peak) peak = a;
      if (a !== 0 && a < SMALLEST_NORMAL) denormals++;
      sum += x * x;
      finite++;
    }
  }
  return { port, frames: samples.length, peak, rms: finite === 0 ? 0 : Math.sqrt(sum / finite), nan, inf, denormals };
}

/** How {@link runAudio} calls the plugin. */
export interface AudioRunOptions {
  /** Words of the text input every call carries (controls, such as `"Gain"=0.5`). */
  words: readonly string[];
  /** Frames per call at most (the instance's max_block). */
  maxBlock: number;
  /** The method's audio outputs (the answer's samples are checked against it). */
  outputs: number;
  timeoutMs?: number;
  /** After each call: frames done of all. */
  onProgress?: (done: number, frames: number) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An answer to an input with the word `samples`: the JSON summary before its
 * NUL byte (`frames`, and `sample_rate`), and after it the samples of each of
 * the method's `outputs` audio outputs, port after port. An answer of another
 * length is the adapter's error.
 */
export function audioAnswer(
  method: string,
  answer: Uint8Array,
  outputs: number,
): { summary: { frames: number; sample_rate: number }; samples: Float32Array[] } {
  const nul = answer.indexOf(0);
  const summary = JSON.parse(decoder.decode(answer.subarray(0, nul < 0 ? answer.length : nul)));
  const frames: number = summary.frames;
  const got = nul < 0 ? 0 : answer.length - nul - 1;
  if (got !== outputs * frames * 4) {
    throw new Error(
      `${method}: the adapter answered ${got} bytes of samples for ${frames} frames of ${outputs} audio output(s)`,
    );
  }
  // Copied out (slice): the samples start at any offset, and a Float32Array needs one that is a multiple of 4.
  const all = new Float32Array(answer.slice(nul + 1).buffer);
  return { summary, samples: Array.from({ length: outputs }, (_, k) => all.subarray(k * frames, (k + 1) * frames)) };
}

/**
 * Runs `frames` frames of `inputs` (one array per audio input of the method,
 * each at least `frames` long) through `method` on `inst`, in calls of at
 * most `maxBlock` frames; answers each audio output's samples and the calls
 * made, with each call's time (ms). A failing call throws the plugin's typed error, as invoke does.
 */
export async function runAudio(
  inst: InstanceHandle,
  method: string,
  inputs: readonly Float32Array[],
  frames: number,
  o: AudioRunOptions,
): Promise<{ outputs: Float32Array[]; calls: number; callMs: number[] }> {
  const outputs = Array.from({ length: o.outputs }, () => new Float32Array(frames));
  const callMs: number[] = [];
  let calls = 0;
  for (let at = 0; at < frames; at += o.maxBlock) {
    const n = Math.min(o.maxBlock, frames - at);
    const text = encoder.encode(
      [`audio frames=${n}`, ...o.words, "samples", ...at > 0 ? ["keep"] : []].join(" ") + "\0",
    );
    // The samples in this machine's byte order, as the adapter reads them: each input's block, input after input.
    const samples = new Float32Array(inputs.length * n);
    for (const [k, channel] of inputs.entries()) samples.set(channel.subarray(at, at + n), k * n);
    const input = new Uint8Array(text.length + samples.byteLength);
    input.set(text);
    input.set(new Uint8Array(samples.buffer), text.length);
    const t0 = performance.now();
    const answer = await inst.invoke(method, input, o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs });
    callMs.push(performance.now() - t0);
    calls++;
    const back = audioAnswer(method, answer, o.outputs);
    if (back.summary.frames !== n) {
      throw new Error(`${method}: the adapter answered ${back.summary.frames} frames for ${n}`);
    }
    for (const [k, out] of outputs.entries()) out.set(back.samples[k]!, at);
    o.onProgress?.(at + n, frames);
  }
  return { outputs, calls, callMs };
}
