/**
 * The project's third-party dependencies, as full `npm:` specifiers with
 * versions, here and in `zod.ts` (zod's functions one by one, so a bundle
 * carries only those used). Every other module imports them from these two,
 * so `mod.ts` can be imported by path or URL from a script in any directory,
 * without this repository's `deno.json`.
 *
 * - LogTape: plugin logs are emitted as LogTape records (std's log module is
 *   removed); a range, so a host application that also uses LogTape 2.x shares
 *   one instance and its configuration reaches plugcheck's records.
 * - zod (`zod.ts`): validates `npa_plugin_describe()` output, and defines
 *   the schemas of every document the commands print.
 * - wavefile: WAV files (loaded on first use, by {@link loadWavefile}).
 * - vega and vega-lite: the plots of `--html` reports, drawn as static SVG
 *   (loaded on first use, by {@link loadVega}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getLogger } from "./deps.ts";
 * assert.ok(typeof getLogger === "function");
 * ```
 *
 * @module
 */
export { configureSync, getLogger, getTextFormatter, resetSync } from "npm:@logtape/logtape@^2.4.2";
export type { LogLevel, LogRecord } from "npm:@logtape/logtape@^2.4.2";

/**
 * wavefile (MIT, no dependencies): WAV files read and written for `invoke
 * --input-file x.wav --output y.wav`. Loaded on first use: no other command
 * pays for it.
 */
export async function loadWavefile(): Promise<typeof import("npm:wavefile@11.0.0").WaveFile> {
  // deno-lint-ignore no-import-prefix -- loaded on first use, so a static re-export cannot serve
  const m = await import("npm:wavefile@11.0.0");
  // From the sources Deno wraps the CommonJS module in `default`; the prebuilt bundle exports its names as they are.
  return m.default?.WaveFile ?? (m as unknown as typeof m.default).WaveFile;
}
/**
 * vega and vega-lite (BSD-3-Clause, the University of Washington Interactive Data Lab): a chart described as data
 * (vega-lite), compiled to a vega view and drawn as SVG without a browser, for the plots of `--html` pages: the page
 * carries the finished SVG, no script. Loaded on first use: only a run with `--html` pays for it.
 */
export async function loadVega(): Promise<{
  vega: typeof import("npm:vega@6.4.0");
  compile: typeof import("npm:vega-lite@6.5.0").compile;
}> {
  // deno-lint-ignore no-import-prefix -- loaded on first use, so a static re-export cannot serve
  const [vega, lite] = await Promise.all([import("npm:vega@6.4.0"), import("npm:vega-lite@6.5.0")]);
  return { vega, compile: lite.compile };
}

export type {
  Location as SarifLocation,
  Log as SarifLog,
  ReportingDescriptor as SarifRule,
  Result as SarifResult,
} from "npm:@types/sarif@2.1.7";
