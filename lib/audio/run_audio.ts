/**
 * Audio through an adapted plugin whose adapter declares `"audio_io": true`
 * (docs/adapters.md): the audio ports of a method, read from the adapter's
 * part of describe(), and a run of any length in calls of at most
 * `maxBlock` frames on one instance (the text input `audio frames=N ...
 * samples`, a NUL, then float32 samples; every call after the first says
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
    const input = new Uint8Array(text.length + inputs.length * n * 4);
    input.set(text);
    const view = new DataView(input.buffer);
    for (const [k, channel] of inputs.entries()) {
      const base = text.length + k * n * 4;
      for (let f = 0; f < n; f++) view.setFloat32(base + f * 4, channel[at + f]!, true);
    }
    const t0 = performance.now();
    const answer = await inst.invoke(method, input, o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs });
    callMs.push(performance.now() - t0);
    calls++;
    const nul = answer.indexOf(0);
    const got = nul < 0 ? 0 : answer.length - nul - 1;
    if (got !== o.outputs * n * 4) {
      throw new Error(
        `${method}: the adapter answered ${got} bytes of samples for ${n} frames of ${o.outputs} audio output(s)`,
      );
    }
    const back = new DataView(answer.buffer, answer.byteOffset + nul + 1, got);
    for (let k = 0; k < o.outputs; k++) {
      const out = outputs[k]!;
      for (let f = 0; f < n; f++) out[at + f] = back.getFloat32((k * n + f) * 4, true);
    }
    o.onProgress?.(at + n, frames);
  }
  return { outputs, calls, callMs };
}
