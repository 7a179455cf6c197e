/**
 * A host process's log output: each record becomes a LogTape record of its
 * category (plugcheck never configures LogTape as a library: the application
 * does). Loaded by `log_out.ts` on first need; a sandbox child never loads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configureSync, type LogRecord, resetSync } from "../util/deps.ts";
 * import { logTapeOut } from "./logtape_out.ts";
 * const seen: LogRecord[] = [];
 * configureSync({
 *   sinks: { keep: (r) => seen.push(r) },
 *   loggers: [{ category: ["plugin"], lowestLevel: "trace", sinks: ["keep"] },
 *     { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] }],
 * });
 * logTapeOut({ category: ["plugin", "p"], level: "info", text: "{not a template}", properties: {} });
 * resetSync();
 * assert.deepEqual(seen[0]?.message, ["{not a template}"]);
 * ```
 *
 * @module
 */
import { getLogger, type LogLevel } from "../util/deps.ts";

/** A record as `log_out.ts` sends it (its `OutRecord`; spelled out here so this module imports nothing of it). */
interface Record_ {
  category: readonly string[];
  level: LogLevel;
  text: string;
  template?: string;
  properties: Record<string, unknown>;
}

/** Emits `r` on LogTape: a template as LogTape's own, a verbatim text (a plugin's) as it is. */
export function logTapeOut(r: Record_): void {
  const logger = getLogger([...r.category]);
  if (r.template !== undefined) return logger[r.level](r.template, r.properties);
  // emit(), not info()/...: a plugin's text is shown verbatim, never parsed as a template.
  logger.emit({
    timestamp: Date.now(),
    level: r.level,
    message: [r.text],
    rawMessage: r.text,
    properties: r.properties,
  });
}

const LEVELS = new Set<LogLevel>(["trace", "debug", "info", "warning", "error", "fatal"]);

/** Re-emits a log record a sandbox child forwarded (its text as the child filled it in), under the same category. */
export function emitForwardedLog(h: Record<string, unknown>): void {
  const props = h.props !== null && typeof h.props === "object" ? h.props as Record<string, unknown> : {};
  logTapeOut({
    category: Array.isArray(h.category) ? h.category.map(String) : ["plugin"],
    level: LEVELS.has(h.level as LogLevel) ? h.level as LogLevel : "info",
    text: String(h.message ?? ""),
    properties: { ...props, sandboxed: true },
  });
}
