/**
 * What every subcommand shares: exit codes, usage errors, flag parsing on
 * `node:util` parseArgs, error reporting on stderr, and LogTape set up to
 * write plugin and plugcheck logs to stderr (stdout carries results only).
 *
 * @example
 * ```ts
 * import { EXIT, exitCodeFor, UsageError } from "./_shared.ts";
 * console.assert(exitCodeFor(new UsageError("Unknown flag --x")) === EXIT.USAGE);
 * ```
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { configureSync, getTextFormatter, type LogLevel, type LogRecord, resetSync } from "@logtape/logtape";
import { AbiMismatchError, LoadError, PluginError } from "../errors.ts";
import { LOG_LEVEL_NAMES, type PluginLogLevel } from "../plugin_log.ts";
import type { LoadOptions } from "../plugin.ts";

/** plugcheck's exit codes. */
export const EXIT = {
  /** Everything succeeded. */
  OK: 0,
  /** The plugin failed or broke the contract. */
  PLUGIN_FAILED: 1,
  /** Bad command line: unknown flag, missing file, bad JSON. */
  USAGE: 2,
  /** The library could not be loaded (missing, not a library, symbol, ABI, sha256). */
  LOAD_FAILED: 3,
} as const;

/** The exit-code table as shown in every `--help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  the plugin failed or broke the ABI contract
  2  usage error (unknown flag, missing file, bad JSON in --config)
  3  the library could not be loaded (missing file, not a shared library,
     missing required symbol, ABI mismatch, sha256 mismatch)`;

/** A bad command line; printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (error instanceof LoadError || error instanceof AbiMismatchError) return EXIT.LOAD_FAILED;
  if (error instanceof PluginError) return EXIT.PLUGIN_FAILED;
  return EXIT.PLUGIN_FAILED;
}

/** parseArgs with its TypeErrors turned into one-line usage errors. */
export function parseFlags<T extends ParseArgsConfig["options"]>(
  args: string[],
  options: T,
  command: string,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, "") : String(e);
    throw new UsageError(`${msg.replace(/\.$/, "")} (see 'plugcheck ${command} --help')`);
  }
}

/** Parses a positive integer flag value. */
export function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`Option ${flag} must be a positive integer: got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Parses `--log LEVEL`. */
export function logLevelFlag(value: string | undefined): PluginLogLevel {
  if (value === undefined) return "info";
  const v = value === "warn" ? "warning" : value;
  if (!(LOG_LEVEL_NAMES as readonly string[]).includes(v)) {
    throw new UsageError(`Option --log must be one of ${LOG_LEVEL_NAMES.join(", ")}: got ${JSON.stringify(value)}`);
  }
  return v as PluginLogLevel;
}

const encoder = new TextEncoder();

/** Writes text to stderr synchronously (so nothing is lost before exit). */
export function printErr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}

/** Writes all bytes to stdout synchronously. */
export function writeOut(bytes: Uint8Array | string): void {
  let data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  while (data.length > 0) data = data.subarray(Deno.stdout.writeSync(data));
}

/** Prints a command's failure: one line, details and hint, the cause chain with --verbose. */
export function reportError(error: unknown, verbose: boolean, hint?: string): void {
  const msg = error instanceof Error ? error.message : String(error);
  printErr(`plugcheck: error: ${msg}`);
  if (error instanceof PluginError && error.details !== undefined) {
    printErr(`  details: ${JSON.stringify(error.details)}`);
  }
  if (hint) printErr(`  hint: ${hint}`);
  if (verbose && error instanceof Error) {
    printErr(error.stack ?? "");
    let cause = error.cause;
    while (cause !== undefined) {
      printErr(`Caused by: ${cause instanceof Error ? cause.stack ?? cause.message : String(cause)}`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  } else if (error instanceof Error && error.cause !== undefined && !(error instanceof UsageError)) {
    printErr("  (run with --verbose for the cause)");
  }
}

/** JSON form of an error, for `--json` output. */
export function errorJson(error: unknown): Record<string, unknown> {
  if (error instanceof PluginError) {
    const out: Record<string, unknown> = { code: error.code, name: error.name, message: error.message };
    if (error.status !== undefined) out.status = error.status;
    if (error.pluginMessage !== undefined) out.plugin_message = error.pluginMessage;
    if (error.details !== undefined) out.details = error.details;
    return out;
  }
  if (error instanceof UsageError) return { code: "USAGE", name: error.name, message: error.message };
  return { code: "ERROR", name: error instanceof Error ? error.name : "Error", message: String(error) };
}

/** Sends plugin logs (at `level`) and plugcheck's own warnings to stderr. */
export function configureCliLogging(level: PluginLogLevel, verbose: boolean): void {
  const formatter = getTextFormatter({ timestamp: "none", category: "." });
  const stderrSink = (record: LogRecord) => printErr(formatter(record));
  const lowest = (l: PluginLogLevel): LogLevel | null => (l === "off" ? null : l);
  resetSync();
  configureSync({
    reset: true,
    sinks: { stderr: stderrSink },
    loggers: [
      { category: ["plugin"], lowestLevel: lowest(level), sinks: ["stderr"] },
      { category: ["plugcheck"], lowestLevel: verbose ? "debug" : "warning", sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Flags every plugin-loading command takes. */
export const COMMON_FLAGS = {
  json: { type: "boolean" },
  sha256: { type: "string" },
  log: { type: "string" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Validates `--sha256` and `--log` into load options (throws UsageError). */
export function loadOptionsFrom(values: { sha256?: string | undefined; log?: string | undefined }): LoadOptions {
  const sha256 = values.sha256;
  if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
    throw new UsageError(`Option --sha256 must be 64 hex digits: got ${JSON.stringify(sha256)}`);
  }
  const logLevel = logLevelFlag(values.log);
  return sha256 === undefined ? { logLevel } : { logLevel, sha256 };
}

/** Reports a command's failure (JSON on stdout with --json, one line on stderr) and returns its exit code. */
export function fail(error: unknown, options: { json: boolean; verbose: boolean; hint?: string | undefined }): number {
  if (options.json) writeOut(`${JSON.stringify({ ok: false, error: errorJson(error) }, null, 2)}\n`);
  reportError(error, options.verbose, options.hint);
  return exitCodeFor(error);
}
