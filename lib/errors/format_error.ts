/**
 * An error as text for people: its message, the plugin's details, a crashed
 * sandbox child's last stderr lines, the cause chain, and a hint; with
 * `verbose`, stack traces too. Every piece a plugin could have supplied is
 * escaped ({@link escapeControl}), so the lines are safe for a terminal or a
 * CI log. Data for machines is `error_data.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatError } from "./format_error.ts";
 * const lines = formatError(new Error("Outer", { cause: new Error("inner\u001b[2J") }), { verbose: false });
 * assert.ok(lines[0] === "Outer" && lines[1] === "  cause: inner\\x1b[2J");
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginError } from "./errors.ts";
import { escapeControl, escapeLines } from "../util/safe_text.ts";

/** Options of {@link formatError}. */
export interface FormatErrorOptions {
  /** Show stack traces and the whole crash stderr. */
  verbose?: boolean;
  /** One line of advice, shown last. */
  hint?: string | undefined;
}

const DETAILS_SHOWN = 2000;
const STDERR_LINES = 10;
const MAX_CAUSES = 8;

function detailsLine(details: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(details) ?? String(details);
  } catch {
    json = String(details);
  }
  const shown = json.length > DETAILS_SHOWN
    ? `${json.slice(0, DETAILS_SHOWN)}... (${json.length - DETAILS_SHOWN} more characters; --format json has them all)`
    : json;
  return `  details: ${escapeControl(shown)}`;
}

/** The lines describing `error`: the message first, indented lines after it. */
export function formatError(error: unknown, options: FormatErrorOptions = {}): string[] {
  const verbose = options.verbose ?? false;
  const lines = [escapeControl(error instanceof Error ? error.message : String(error))];
  if (error instanceof PluginError && error.details !== undefined) lines.push(detailsLine(error.details));
  if (error instanceof PluginCrashError && error.stderrTail.trim() !== "") {
    const tail = escapeLines(error.stderrTail.trimEnd());
    // An AddressSanitizer report: its head (the error, the access, the first stack), not its legend.
    const asan = tail.findIndex((l) => l.includes("ERROR: AddressSanitizer"));
    const shown = verbose ? tail : asan >= 0 ? tail.slice(asan, asan + 2 * STDERR_LINES) : tail.slice(-STDERR_LINES);
    lines.push(
      asan >= 0 && !verbose
        ? `  child stderr (the AddressSanitizer report, ${shown.length} of ${tail.length} lines):`
        : `  child stderr (last ${shown.length} of ${tail.length} lines):`,
    );
    for (const l of shown) lines.push(`    | ${l}`);
  }
  if (verbose && error instanceof Error) lines.push(...escapeLines(error.stack ?? error.message));
  let cause = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < MAX_CAUSES; depth++) {
    if (verbose) {
      const text = cause instanceof Error ? cause.stack ?? cause.message : String(cause);
      lines.push(...escapeLines(`Caused by: ${text}`));
    } else {
      lines.push(`  cause: ${escapeControl(cause instanceof Error ? cause.message : String(cause))}`);
    }
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  if (options.hint) lines.push(`  hint: ${escapeControl(options.hint)}`);
  return lines;
}
