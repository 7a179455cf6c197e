/**
 * plugcheck's exit codes, the help text that lists them, and which code an
 * error means. Internal plugcheck failures have their own code (70, as
 * sysexits' EX_SOFTWARE): 1 always means the plugin failed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT, exitCodeFor } from "./exit_codes.ts";
 * import { UsageError } from "../errors/errors.ts";
 * assert.ok(exitCodeFor(new UsageError("Unknown flag --x")) === EXIT.USAGE);
 * assert.ok(exitCodeFor(new TypeError("a bug")) === EXIT.INTERNAL);
 * ```
 *
 * @module
 */
import { AbiMismatchError, HostInternalError, LoadError, PluginError, UsageError } from "../errors/errors.ts";

/** plugcheck's exit codes. */
export const EXIT = {
  /** Everything succeeded. */
  OK: 0,
  /** The plugin failed or broke the contract (also: it called exit() or _exit(), the watchdog ended a hang, or unloading failed). */
  PLUGIN_FAILED: 1,
  /** Bad command line: unknown flag, missing file, bad JSON, input too large. */
  USAGE: 2,
  /** The library could not be loaded (missing, not a library, symbol, ABI, sha256). */
  LOAD_FAILED: 3,
  /** plugcheck itself failed: a bug. */
  INTERNAL: 70,
  /** Interrupted by SIGINT (128 + 2); SIGTERM is 143. */
  INTERRUPTED: 130,
} as const;

/** The exit-code table as shown in every `--help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  the plugin failed or broke the ABI contract (also when it called exit(),
     _exit() or quick_exit() in a call, hung in a synchronous call and the
     watchdog ended plugcheck, or its unloading hung, crashed or exited)
  2  usage error (unknown flag, missing file, bad JSON in --config, input
     over --max-input-bytes)
  3  the library could not be loaded (missing file, not a shared library,
     missing required symbol, ABI mismatch, sha256 mismatch)
  70 plugcheck itself failed: a bug (please report it with --verbose output)
  130, 143  interrupted by SIGINT, SIGTERM (sandbox children are ended too;
            stress, fuzz and check print the report so far)`;

/** The exit code for an error a command threw. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (error instanceof LoadError || error instanceof AbiMismatchError) return EXIT.LOAD_FAILED;
  if (error instanceof HostInternalError) return EXIT.INTERNAL;
  if (error instanceof PluginError) return EXIT.PLUGIN_FAILED;
  return EXIT.INTERNAL;
}
