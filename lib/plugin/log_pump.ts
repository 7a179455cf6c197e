/**
 * Delivery of plugin log messages to LogTape (through `log_out.ts`).
 *
 * Plugins log into the native queue (`lib/ffi/host_log.ts`) from any thread
 * without waiting; this module drains it after every plugin call and on an
 * unref'd timer (so it never keeps the process alive), and emits each record
 * on the LogTape category `["plugin", ...target]`, where the target is split
 * on `::` and `.` (`ref_rust::worker` -> `["plugin", "ref_rust", "worker"]`).
 * plugcheck never configures LogTape as a library: the application does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { categoryFor, levelNumber } from "./log_pump.ts";
 * assert.ok(categoryFor("a::b", "p").join(".") === "plugin.a.b");
 * assert.ok(levelNumber("info") === 3);
 * ```
 *
 * @module
 */
import type { HostLog, LogRecord } from "../ffi/host_log.ts";
import { emitLog, type LevelName } from "./log_out.ts";

/** Level names a host may choose, most severe first; `off` disables plugin logs. */
export const LOG_LEVEL_NAMES = ["off", "error", "warning", "info", "debug", "trace"] as const;
/** A plugin log level. */
export type PluginLogLevel = typeof LOG_LEVEL_NAMES[number];

/** The npa level number for a name (`off` = 0 ... `trace` = 5). */
export function levelNumber(name: PluginLogLevel): number {
  return LOG_LEVEL_NAMES.indexOf(name);
}

const LOGTAPE_LEVELS: readonly LevelName[] = ["fatal", "error", "warning", "info", "debug", "trace"];

/** The LogTape category for a plugin log target. */
export function categoryFor(target: string, pluginName: string): string[] {
  const parts = target.split(/::|\./).filter((p) => p.length > 0);
  return ["plugin", ...(parts.length > 0 ? parts : [pluginName])];
}

const DRAIN_INTERVAL_MS = 25;

/** Drains the shared queue and routes records to LogTape by plugin id. */
export class LogPump {
  readonly #host: HostLog;
  readonly #names = new Map<number, string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #nextId = 1;

  constructor(host: HostLog) {
    this.#host = host;
  }

  /** Registers a plugin; starts the timer with the first one. */
  register(name: string): number {
    const id = this.#nextId++;
    this.#names.set(id, name);
    if (this.#timer === undefined) {
      const timer = setInterval(() => this.drain(), DRAIN_INTERVAL_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    return id;
  }

  /** Names the plugin once describe() told its name (a name that is not a string is ignored). */
  rename(id: number, name: unknown): void {
    if (this.#names.has(id) && typeof name === "string") this.#names.set(id, name);
  }

  /** Drains what is queued, then forgets the plugin; stops the timer with the last one. */
  unregister(id: number): void {
    this.drain();
    this.#names.delete(id);
    if (this.#names.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Emits every queued record now. */
  drain(): void {
    if (this.#host.pending[0] === 0) return;
    for (const r of this.#host.drain()) this.#emit(r);
  }

  #emit(r: LogRecord): void {
    const name = this.#names.get(r.pluginId) ?? `plugin#${r.pluginId}`;
    const level = LOGTAPE_LEVELS[r.level] ?? "trace";
    // No template: the plugin's text is shown verbatim, never parsed as one.
    emitLog({
      category: categoryFor(r.target, name),
      level,
      text: r.message,
      properties: { plugin: name, target: r.target, truncated: r.truncated },
    });
  }
}
