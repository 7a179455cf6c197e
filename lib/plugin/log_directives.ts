/**
 * RUST_LOG-style log directives: `"info,plugin.whisper=debug,plugin.kokoro=off"`.
 *
 * An entry without `=` sets the default level; `target=level` sets the level
 * for a LogTape category prefix (`.`-separated; a plugin's log target
 * `whisper::decoder` is the category `plugin.whisper.decoder`). A category
 * matches a prefix segment by segment, and the longest matching prefix wins,
 * whatever order the entries are written in or targets first log in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { levelFor, parseLogDirectives } from "./log_directives.ts";
 * const d = parseLogDirectives("warning,plugin.a=debug,plugin.a.noisy=off");
 * assert.ok(levelFor(d, "plugin.a.x") === "debug");
 * assert.ok(levelFor(d, "plugin.a.noisy.deep") === "off");
 * assert.ok(levelFor(d, "plugin.ab") === "warning");
 * ```
 *
 * @module
 */
import { levelNumber, LOG_LEVEL_NAMES, type PluginLogLevel } from "./log_pump.ts";

/** One `target=level` entry. */
export interface LogDirective {
  /** Category prefix, `.`-separated (`::` is folded to `.`). */
  target: string;
  level: PluginLogLevel;
}

/** A parsed directive string. */
export interface LogDirectives {
  defaultLevel: PluginLogLevel;
  /** At most one entry per target (the last one written wins). */
  targets: LogDirective[];
}

function parseLevel(text: string, entry: string): PluginLogLevel {
  const v = text.trim().toLowerCase();
  const name = v === "warn" ? "warning" : v;
  if (!(LOG_LEVEL_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(
      `Invalid log directive ${JSON.stringify(entry)}: level must be one of ${LOG_LEVEL_NAMES.join(", ")}`,
    );
  }
  return name as PluginLogLevel;
}

/** Parses a directive string; throws RangeError naming the bad entry. */
export function parseLogDirectives(text: string, fallback: PluginLogLevel = "info"): LogDirectives {
  let defaultLevel = fallback;
  const byTarget = new Map<string, PluginLogLevel>();
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    if (eq < 0) {
      defaultLevel = parseLevel(entry, entry);
      continue;
    }
    const target = entry.slice(0, eq).trim().replaceAll("::", ".");
    if (target === "" || /\s/.test(target) || target.split(".").some((s) => s === "")) {
      throw new RangeError(`Invalid log directive ${JSON.stringify(entry)}: target must be like plugin.name`);
    }
    byTarget.set(target, parseLevel(entry.slice(eq + 1), entry));
  }
  return { defaultLevel, targets: [...byTarget].map(([target, level]) => ({ target, level })) };
}

/** The level for a `.`-separated category: the longest matching prefix, else the default. */
export function levelFor(directives: LogDirectives, category: string): PluginLogLevel {
  let level = directives.defaultLevel;
  let best = -1;
  for (const d of directives.targets) {
    const p = d.target;
    if ((category === p || category.startsWith(`${p}.`)) && p.length > best) {
      best = p.length;
      level = d.level;
    }
  }
  return level;
}

/**
 * The native helper's filter spec for plugin targets: lines `"<level> <prefix>\n"`,
 * where prefixes are relative to the `plugin` category (`plugin` itself is the
 * empty prefix). Entries for other categories do not concern plugins.
 */
export function pluginFilterSpec(directives: LogDirectives): { defaultLevel: number; spec: string } {
  let spec = "";
  for (const d of directives.targets) {
    if (d.target === "plugin") spec += `${levelNumber(d.level)} \n`;
    else if (d.target.startsWith("plugin.")) spec += `${levelNumber(d.level)} ${d.target.slice(7)}\n`;
  }
  return { defaultLevel: levelNumber(directives.defaultLevel), spec };
}
