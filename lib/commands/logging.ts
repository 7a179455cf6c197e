/**
 * LogTape set up for the CLI: plugin logs and plugcheck's own warnings on
 * stderr (stdout carries results only), one line each, with every piece of
 * plugin-supplied text escaped so a plugin cannot forge lines or drive the
 * terminal. Plugin messages are already filtered per target by the native
 * helper (so `log_enabled` agrees); plugcheck's own categories show warnings,
 * or debug with --verbose, unless a directive names `plugcheck`.
 *
 * @example
 * ```ts ignore
 * import { configureCliLogging } from "./logging.ts";
 * configureCliLogging(parseLogDirectives("warning"), false);
 * ```
 *
 * @module
 */
import { configureSync, type LogLevel, type LogRecord, resetSync } from "../util/deps.ts";
import { levelFor, type LogDirectives } from "../plugin/log_directives.ts";
import { escapeControl } from "../util/safe_text.ts";
import { paint, printErr } from "./output.ts";

const ABBREVIATIONS: Record<LogLevel, string> = {
  trace: "TRC",
  debug: "DBG",
  info: "INF",
  warning: "WRN",
  error: "ERR",
  fatal: "FTL",
};

function render(part: unknown): string {
  if (typeof part === "string") return part;
  try {
    return JSON.stringify(part) ?? String(part);
  } catch {
    return String(part);
  }
}

/** One log record as a line: `[WRN] plugin.target: message`, plugin text escaped. */
export function formatLogLine(r: LogRecord): string {
  const level = `[${ABBREVIATIONS[r.level]}]`;
  const shown = r.level === "error" || r.level === "fatal"
    ? paint("red", level)
    : r.level === "warning"
    ? paint("yellow", level)
    : level;
  return `${shown} ${escapeControl(r.category.join("."))}: ${escapeControl(r.message.map(render).join(""))}`;
}

/**
 * Routes plugin and plugcheck logs to stderr at the levels the directives and
 * --verbose say; `showPlugin` false drops the plugin's (check: its engines set
 * their own levels to count what a plugin sends, not to show it).
 */
export function configureCliLogging(directives: LogDirectives, verbose: boolean, showPlugin = true): void {
  const named = directives.targets.some((d) => d.target === "plugcheck" || d.target.startsWith("plugcheck."));
  const own = named ? levelFor(directives, "plugcheck") : verbose ? "debug" : "warning";
  resetSync();
  configureSync({
    reset: true,
    sinks: { stderr: (r: LogRecord) => printErr(formatLogLine(r)) },
    loggers: [
      { category: ["plugin"], lowestLevel: showPlugin ? "trace" : null, sinks: ["stderr"] },
      { category: ["plugcheck"], lowestLevel: own === "off" ? null : own, sinks: ["stderr"] },
      // The CLI always ends with an explicit exit, so advice on keeping a process alive is noise here.
      { category: ["plugcheck", "lifecycle"], lowestLevel: "error", sinks: [], parentSinks: "override" },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
