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
import { configureSync, getTextFormatter, type LogLevel, type LogRecord, resetSync } from "../deps.ts";
import { AbiMismatchError, LoadError, PluginError, UsageError } from "../errors.ts";
import { toData } from "../error_data.ts";
import { formatError } from "../format_error.ts";
import { levelFor, type LogDirectives, parseLogDirectives } from "../log_directives.ts";
import type { LoadOptions } from "../options.ts";

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

export { UsageError };

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

/** The `--log` help lines shared by every command. */
export const LOG_FLAG_HELP = `  --log DIRECTIVES   which plugin logs to show on stderr: a level (off, error,
                     warning, info, debug, trace) or RUST_LOG-style directives,
                     e.g. 'warning,plugin.mylib=debug,plugin.mylib.noisy=off'
                     (most specific target wins); default $PLUGCHECK_LOG or info`;

/** Reads `--log` (or `$PLUGCHECK_LOG`) as directives; the text is kept for loadPlugin. */
export function logFlag(value: string | undefined): { text: string; directives: LogDirectives } {
  const fromEnv = value === undefined;
  const text = value ?? Deno.env.get("PLUGCHECK_LOG") ?? "info";
  try {
    return { text, directives: parseLogDirectives(text) };
  } catch (e) {
    const where = fromEnv ? "$PLUGCHECK_LOG" : "Option --log";
    throw new UsageError(`${where}: ${e instanceof Error ? e.message : e}`);
  }
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

/** Prints a command's failure: the message, details, the cause chain, a hint; stacks with --verbose. */
export function reportError(error: unknown, verbose: boolean, hint?: string): void {
  const [first, ...rest] = formatError(error, { verbose, hint });
  printErr(`plugcheck: error: ${first}`);
  for (const line of rest) printErr(line);
}

/**
 * Sends plugin logs and plugcheck's own warnings to stderr. Plugin messages
 * are already filtered per target by the native helper (so `log_enabled`
 * agrees); plugcheck's own category shows warnings, or debug with --verbose,
 * unless a directive names `plugcheck`.
 */
export function configureCliLogging(directives: LogDirectives, verbose: boolean): void {
  const formatter = getTextFormatter({ timestamp: "none", category: "." });
  const stderrSink = (record: LogRecord) => printErr(formatter(record));
  const named = directives.targets.some((d) => d.target === "plugcheck" || d.target.startsWith("plugcheck."));
  const own = named ? levelFor(directives, "plugcheck") : verbose ? "debug" : "warning";
  const lowest: LogLevel | null = own === "off" ? null : own;
  resetSync();
  configureSync({
    reset: true,
    sinks: { stderr: stderrSink },
    loggers: [
      { category: ["plugin"], lowestLevel: "trace", sinks: ["stderr"] },
      { category: ["plugcheck"], lowestLevel: lowest, sinks: ["stderr"] },
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

/** Flags of commands that can run the plugin in a sandbox child. */
export const SANDBOX_FLAGS = {
  isolate: { type: "boolean" },
  env: { type: "string", multiple: true },
} as const;

/**
 * Validates `--isolate` and `--env` (and any other flags that only make sense
 * with `--isolate`, given as flag name -> value) into sandbox options.
 */
export function sandboxOptionsFrom(
  values: { isolate?: boolean | undefined; env?: string[] | undefined },
  isolateOnly: Record<string, unknown> = {},
): { isolate: boolean; env: string[] } {
  const isolate = values.isolate ?? false;
  const given = Object.entries({ "--env": values.env, ...isolateOnly })
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  if (!isolate && given.length > 0) {
    throw new UsageError(
      `${given.length > 1 ? "Options" : "Option"} ${given.join(" and ")} need${given.length > 1 ? "" : "s"} --isolate`,
    );
  }
  const env = values.env ?? [];
  for (const name of env) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new UsageError(`Option --env takes a variable name: got ${JSON.stringify(name)}`);
    }
  }
  return { isolate, env };
}

/** Validates `--sha256` and `--log` into load options (throws UsageError). */
export function loadOptionsFrom(
  values: { sha256?: string | undefined; log?: string | undefined },
): { options: LoadOptions; directives: LogDirectives } {
  const sha256 = values.sha256;
  if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
    throw new UsageError(`Option --sha256 must be 64 hex digits: got ${JSON.stringify(sha256)}`);
  }
  const log = logFlag(values.log);
  const options: LoadOptions = sha256 === undefined ? { log: log.text } : { log: log.text, sha256 };
  return { options, directives: log.directives };
}

/** Reports a command's failure (JSON on stdout with --json, one line on stderr) and returns its exit code. */
export function fail(error: unknown, options: { json: boolean; verbose: boolean; hint?: string | undefined }): number {
  if (options.json) writeOut(`${JSON.stringify({ ok: false, error: toData(error) }, null, 2)}\n`);
  reportError(error, options.verbose, options.hint);
  return exitCodeFor(error);
}
