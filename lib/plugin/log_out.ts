/**
 * Where plugcheck's log records go: plugin log messages (the log pump) and
 * plugcheck's own warnings (`["plugcheck", ...]`). In a host process they go
 * to LogTape (loaded on first need, see `logtape_out.ts`); a sandbox child
 * sets its own output (its parent) with {@link setLogOut}, so its module
 * graph imports no npm package: a child starts ~50 ms sooner without them,
 * and every check and stress run starts many children.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logger, type OutRecord, setLogOut } from "./log_out.ts";
 * const seen: OutRecord[] = [];
 * setLogOut((r) => seen.push(r));
 * logger(["plugcheck", "contract"]).warning("{plugin}: {message}", { plugin: "p", message: "late" });
 * assert.equal(seen[0]?.text, "p: late");
 * ```
 *
 * @module
 */

/** A record's level, as LogTape names them. */
export type LevelName = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/** One log record on its way out. */
export interface OutRecord {
  category: readonly string[];
  level: LevelName;
  /** The message as it reads (a template already filled in). */
  text: string;
  /** The template with its `{name}` placeholders, when the record came from one (else the text is verbatim). */
  template?: string;
  properties: Record<string, unknown>;
}

/** Takes each record. */
export type LogOut = (record: OutRecord) => void;

/** Records held while the output loads (a record emitted before any load awaited {@link logOutReady}). */
const MAX_HELD = 1000;

let out: LogOut | undefined;
let loading: Promise<void> | undefined;
const held: OutRecord[] = [];

/** Sends every record from now on to `output` (a sandbox child: its parent). */
export function setLogOut(output: LogOut): void {
  out = output;
  for (const r of held.splice(0)) output(r);
}

/** Resolves once records have somewhere to go: the output set, else LogTape (loaded once). */
export function logOutReady(): Promise<void> {
  if (out !== undefined) return Promise.resolve();
  loading ??= import("./logtape_out.ts").then((m) => {
    if (out === undefined) setLogOut(m.logTapeOut);
  });
  return loading;
}

/** Sends a record out (held until the output is ready, if it is not yet). */
export function emitLog(record: OutRecord): void {
  if (out !== undefined) return out(record);
  if (held.length < MAX_HELD) held.push(record);
  void logOutReady();
}

/** `{name}` placeholders of `template` filled in from `properties`. */
export function fillTemplate(template: string, properties: Record<string, unknown>): string {
  return template.replace(
    /\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
    (all, name: string) => Object.hasOwn(properties, name) ? String(properties[name]) : all,
  );
}

/** A logger of one category, with the LogTape-style methods plugcheck uses. */
export interface Logger {
  info(template: string, properties?: Record<string, unknown>): void;
  warning(template: string, properties?: Record<string, unknown>): void;
}

/** The logger of `category`. */
export function logger(category: readonly string[]): Logger {
  const at = (level: LevelName) => (template: string, properties: Record<string, unknown> = {}) =>
    emitLog({ category, level, text: fillTemplate(template, properties), template, properties });
  return { info: at("info"), warning: at("warning") };
}
