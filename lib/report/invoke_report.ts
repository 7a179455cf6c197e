/**
 * What `plugcheck invoke` prints besides the output bytes: the document of
 * `--format json` (a zod schema: the output as parsed JSON, UTF-8 text or
 * base64, the timing, a leak as error data, the warnings), the warnings about
 * plugin logging, and the latency line of `--repeat`. Only what is printed is
 * built: in text mode a bytes method's output is neither decoded nor encoded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { invokeDocument, InvokeReportSchema, repeatLine, shownOutput } from "./invoke_report.ts";
 * const timing = { calls: 2, min_ms: 0.004, median_ms: 0.005, p90_ms: 0.006, p99_ms: 0.006, max_ms: 1.5 };
 * const { fields } = shownOutput(new TextEncoder().encode("[1]"), "json", true);
 * const doc = InvokeReportSchema.parse(invokeDocument("sum", fields, timing, undefined, []));
 * assert.deepEqual(doc.output, [1]);
 * assert.equal(repeatLine(timing), "2 calls: min 4.00 us, median 5.00 us, max 1.50 ms (p90 6.00 us, p99 6.00 us)");
 * ```
 *
 * @module
 */
import { encodeBase64 } from "../util/base64.ts";
import * as z from "../util/zod.ts";
import { toData } from "../errors/error_data.ts";
import type { LogCounters } from "../ffi/host_log.ts";
import { duration } from "./units.ts";
import type { LatencySummary } from "../util/histogram.ts";

/** Latency of the calls, in ms. */
export const InvokeTimingSchema = z.object({
  calls: z.number().int().positive(),
  min_ms: z.number(),
  median_ms: z.number(),
  p90_ms: z.number(),
  p99_ms: z.number(),
  max_ms: z.number(),
});
export type InvokeTiming = z.infer<typeof InvokeTimingSchema>;

/** The timing of `calls` calls from their latency summary. */
export function invokeTiming(calls: number, s: LatencySummary): InvokeTiming {
  return { calls, min_ms: s.min_ms, median_ms: s.p50_ms, p90_ms: s.p90_ms, p99_ms: s.p99_ms, max_ms: s.max_ms };
}

/** One audio output port of an audio run: its samples' stats. */
export const AudioPortSchema = z.object({
  port: z.string(),
  frames: z.number().int(),
  peak: z.number(),
  rms: z.number(),
  nan: z.number().int(),
  inf: z.number().int(),
  denormals: z.number().int(),
});

/** An audio run of `invoke` (a WAV file in, or `--output` out): what went in, what came out, where it was written. */
export const AudioRunSchema = z.object({
  sample_rate: z.number().int().positive(),
  frames: z.number().int(),
  calls: z.number().int(),
  /** The WAV file read, and its channels; absent for a generated signal. */
  input_file: z.string().optional(),
  input_channels: z.number().int().optional(),
  outputs: z.array(AudioPortSchema),
  /** The WAV file written (`--output`). */
  written: z.string().optional(),
});
export type AudioRun = z.infer<typeof AudioRunSchema>;

/** The document `plugcheck invoke --format json` prints (exactly one of the output fields, or none for no output). */
export const InvokeReportSchema = z.object({
  /** False when a leak was found (then `error` says which). */
  ok: z.boolean(),
  method: z.string(),
  /** A json method's output, parsed. */
  output: z.unknown().optional(),
  /** The output as text, when it is UTF-8 (and not a json method's valid JSON). */
  output_text: z.string().optional(),
  /** The output as base64, when it is not UTF-8. */
  output_base64: z.string().optional(),
  /** An audio run (then no output field: the samples went to `audio.written`, if anywhere). */
  audio: AudioRunSchema.optional(),
  timing: InvokeTimingSchema,
  error: z.record(z.string(), z.unknown()).optional(),
  warnings: z.array(z.string()),
});
export type InvokeReport = z.infer<typeof InvokeReportSchema>;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The output as UTF-8 text, or undefined when it is not UTF-8. */
function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * What is shown of the output: with `document`, its fields of the JSON
 * document (parsed for json methods, text when UTF-8, base64 otherwise); and
 * whether a json method broke its word. Only what is printed is built: text
 * mode prints the bytes as they are, so there a bytes method's output is
 * neither decoded nor encoded, and a json method's is only parsed.
 */
export function shownOutput(
  bytes: Uint8Array,
  kind: "bytes" | "json" | undefined,
  document: boolean,
): { fields: Record<string, unknown> | undefined; notJson: boolean } {
  if (!document && kind !== "json") return { fields: undefined, notJson: false };
  const text = utf8Text(bytes);
  if (kind === "json" && text !== undefined) {
    try {
      const value: unknown = JSON.parse(text);
      return { fields: document ? { output: value } : undefined, notJson: false };
    } catch {
      // a json method that returned something else: shown as text, with a contract warning
    }
  }
  const notJson = kind === "json";
  if (!document) return { fields: undefined, notJson };
  if (text !== undefined) return { fields: { output_text: text }, notJson };
  return { fields: { output_base64: encodeBase64(bytes) }, notJson };
}

/** The contract warning for a json method whose output is not JSON. */
export function notJsonWarning(method: string): string {
  return `Method ${
    JSON.stringify(method)
  } is declared "json" in describe(), but its output is not valid JSON (shown as text): hosts that parse it fail`;
}

/** Warnings about plugin logging the run revealed. */
export function logWarnings(c: LogCounters): string[] {
  const out: string[] = [];
  if (c.droppedFull > 0) {
    out.push(
      `${c.droppedFull} plugin log messages were dropped because the log queue was full (${c.accepted} delivered)`,
    );
  }
  if (c.filtered > 0) {
    out.push(
      `${c.filtered} plugin log messages arrived at levels log_enabled had rejected: the plugin formats messages nobody reads`,
    );
  }
  if (c.truncated > 0) out.push(`${c.truncated} plugin log messages were cut to 8 KiB`);
  return out;
}

/** The `--format json` document (keys in this order). */
export function invokeDocument(
  method: string,
  shown: Record<string, unknown> | undefined,
  timing: InvokeTiming,
  leak: Error | undefined,
  warnings: readonly string[],
): InvokeReport {
  const doc: Record<string, unknown> = { ok: leak === undefined, method, ...shown, timing };
  if (leak) doc.error = toData(leak);
  doc.warnings = [...warnings];
  return doc as InvokeReport;
}

/** The latency line `--repeat` prints on stderr. */
export function repeatLine(t: InvokeTiming): string {
  return `${t.calls} calls: min ${duration(t.min_ms)}, median ${duration(t.median_ms)}, max ${
    duration(t.max_ms)
  } (p90 ${duration(t.p90_ms)}, p99 ${duration(t.p99_ms)})`;
}

/** A level in dBFS with one decimal ("0.0", never "-0.0", for a peak just under full scale). */
const db = (x: number) => x > 0 ? `${(Math.round(200 * Math.log10(x)) / 10 || 0).toFixed(1)} dBFS` : "-inf dBFS";

/** The text an audio run prints on stdout: a line for the run, one per output port, and where the file went. */
export function renderAudioRun(a: AudioRun): string {
  const from = a.input_file === undefined ? "a generated signal" : `${a.input_file} (${a.input_channels} channel(s))`;
  const lines = [`${a.frames} frames at ${a.sample_rate} Hz from ${from}, in ${a.calls} call(s)`];
  const width = Math.max(...a.outputs.map((p) => p.port.length), 0);
  for (const p of a.outputs) {
    lines.push(
      `  ${p.port.padEnd(width)}  peak ${p.peak.toPrecision(4)} (${db(p.peak)})  rms ${p.rms.toPrecision(4)} (${
        db(p.rms)
      })  NaN ${p.nan}  Inf ${p.inf}  denormal ${p.denormals}`,
    );
  }
  if (a.outputs.length === 0) lines.push("  no audio output");
  if (a.written !== undefined) lines.push(`wrote ${a.written} (${a.outputs.length} channel(s), 32-bit float)`);
  return lines.join("\n") + "\n";
}
