/**
 * WAV files for audio plugins, read and written with the npm package
 * wavefile (any PCM bit depth, float, A-law and mu-law in; 32-bit float out):
 * samples as floats in [-1, 1], one array per channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isWav, readWav, wavBytes } from "./wav.ts";
 * const bytes = await wavBytes({ sampleRate: 8000, channels: [new Float32Array([0, 0.5, -0.5])] });
 * assert.ok(isWav(bytes));
 * const audio = await readWav(bytes, "x.wav");
 * assert.deepEqual([audio.sampleRate, audio.channels.length, [...audio.channels[0]!]], [8000, 1, [0, 0.5, -0.5]]);
 * ```
 *
 * @module
 */
import { UsageError } from "../errors/errors.ts";
import { loadWavefile } from "../util/deps.ts";

/** Audio: its sample rate and one array of samples per channel (all of one length). */
export interface Audio {
  sampleRate: number;
  channels: Float32Array[];
}

const ascii = (bytes: Uint8Array, at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));

/** Whether `bytes` start as a WAV file does ("RIFF", a size, "WAVE"; RF64 and RIFX too). */
export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && ["RIFF", "RIFX", "RF64"].includes(ascii(bytes, 0)) && ascii(bytes, 8) === "WAVE";
}

/** The audio of a WAV file; `shown` names it in errors (UsageError: the file is the user's). */
export async function readWav(bytes: Uint8Array, shown: string): Promise<Audio> {
  const WaveFile = await loadWavefile();
  let wav: InstanceType<typeof WaveFile>;
  try {
    wav = new WaveFile(bytes);
    if (wav.bitDepth !== "32f") wav.toBitDepth("32f");
  } catch (e) {
    throw new UsageError(`Cannot read ${shown} as a WAV file: ${e instanceof Error ? e.message : String(e)}`);
  }
  const fmt = wav.fmt as { numChannels: number; sampleRate: number };
  const raw = wav.getSamples(false, Float32Array) as unknown as Float32Array | Float32Array[];
  const channels = fmt.numChannels === 1 && !Array.isArray(raw) ? [raw as Float32Array] : raw as Float32Array[];
  if (fmt.numChannels < 1 || channels.length !== fmt.numChannels || !(fmt.sampleRate > 0)) {
    throw new UsageError(`Cannot read ${shown} as a WAV file: ${fmt.numChannels} channel(s) at ${fmt.sampleRate} Hz`);
  }
  return { sampleRate: fmt.sampleRate, channels };
}

/** A 32-bit float WAV file of `audio` (at least one channel). */
export async function wavBytes(audio: Audio): Promise<Uint8Array> {
  const WaveFile = await loadWavefile();
  const wav = new WaveFile();
  wav.fromScratch(audio.channels.length, audio.sampleRate, "32f", audio.channels.map((c) => Float64Array.from(c)));
  return wav.toBuffer();
}
