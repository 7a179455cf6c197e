/**
 * Sandboxed plugins the checks of one run share. A sandbox child costs
 * ~0.2 s of CPU to start, and a `check` is CPU-bound: the checks that only
 * load the plugin and run it (`withPlugin`: describe, init, the LADSPA runs)
 * take a loaded plugin from the pool instead of starting a child each, one
 * check at a time per plugin, and give it back when they are done. A plugin
 * goes back only if nothing went wrong: the check returned (no error
 * escaped), its deadline had not passed, and the plugin's child never
 * crashed, hung or restarted; otherwise it is closed, and the next check
 * gets a fresh one. Every plugin of the pool is loaded to restart after up
 * to {@link POOL_RESTART_CAP} crashes (what the checks that expect crashes
 * ask; a check that makes no call is not affected). The preflight's plugin
 * is the first in the pool.
 *
 * What a check sees is the same plugin in the same state as from a fresh
 * load, unless the plugin keeps state between instances (a bug that
 * `isolation.pure` and `ladspa.independence` name): then an earlier check's
 * calls in the same child may show in a later one's outputs.
 *
 * @example
 * ```ts ignore
 * import { PluginPool } from "./plugin_pool.ts";
 * const pool = new PluginPool((extra) => loadPlugin(path, { isolate: true, ...extra }));
 * const name = await pool.use({}, signal, (plugin) => plugin.describe().name);
 * await pool.close();
 * ```
 *
 * @module
 */
import type { SandboxedPlugin } from "../host/isolated/plugin.ts";

/** What a check may ask of its plugin beyond the run's load options. */
export interface PoolExtra {
  /** Crashes the plugin may restart after (the sandbox's `restartCap`; default the sandbox's). */
  restartCap?: number;
}

/** The restart cap of the pool's plugins: the highest any check that shares them asks (ladspa_runs' `MAX_STOPS + 1`). */
export const POOL_RESTART_CAP = 6;

/** Loaded plugins the checks of one run share, one check at a time each. */
export class PluginPool {
  readonly #open: (extra: PoolExtra) => Promise<SandboxedPlugin>;
  readonly #idle: SandboxedPlugin[] = [];
  readonly #closing = new Set<Promise<void>>();
  #closed = false;
  #opened = 0;

  /** `open` loads the plugin as the run's checks do, with `extra` (the pool's restart cap). */
  constructor(open: (extra: PoolExtra) => Promise<SandboxedPlugin>) {
    this.#open = open;
  }

  /** Plugins the pool has loaded (each is one sandbox child started). */
  get opened(): number {
    return this.#opened;
  }

  /**
   * Runs `fn` on a plugin from the pool (loaded now if none is free, which
   * throws what the load throws) and gives it back, or closes it when `fn`
   * threw, `signal` was aborted, or the plugin's child crashed, hung or
   * restarted meanwhile.
   */
  async use<T>(extra: PoolExtra, signal: AbortSignal, fn: (plugin: SandboxedPlugin) => T | Promise<T>): Promise<T> {
    if ((extra.restartCap ?? 0) > POOL_RESTART_CAP) {
      throw new RangeError(
        `a check asked for ${extra.restartCap} restarts; the pool's plugins allow ${POOL_RESTART_CAP}`,
      );
    }
    const plugin = this.#idle.pop() ?? await this.#load();
    let returned = false;
    try {
      const result = await fn(plugin);
      returned = true;
      return result;
    } finally {
      const h = plugin.health();
      const sound = h.state === "idle" && h.restarts === 0 && h.crashesInWindow === 0;
      if (returned && sound && !signal.aborted && !this.#closed) {
        this.#idle.push(plugin);
      } else {
        this.#drop(plugin);
      }
    }
  }

  /** Closes the free plugins, and any in use when its check is done; resolves when the free ones are closed. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const plugin of this.#idle.splice(0)) this.#drop(plugin);
    await Promise.all(this.#closing);
  }

  async #load(): Promise<SandboxedPlugin> {
    const plugin = await this.#open({ restartCap: POOL_RESTART_CAP });
    this.#opened++;
    return plugin;
  }

  #drop(plugin: SandboxedPlugin): void {
    const closing = plugin.close().catch(() => {}).finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
  }
}
