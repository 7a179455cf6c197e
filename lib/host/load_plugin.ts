/**
 * `loadPlugin`: the one entry point to both engines. Every option is checked
 * first (a bad one is a `RangeError`/`TypeError` and nothing is opened), then
 * the plugin is loaded in this process, or in a sandbox child process with
 * `isolate: true`. Both return a {@link PluginHandle}, so a caller switches
 * engines with that one option.
 *
 * @example
 * ```ts ignore
 * import { loadPlugin } from "./load_plugin.ts";
 * await using local = await loadPlugin("build/fixtures/libref_rust.so");
 * await using boxed = await loadPlugin("build/fixtures/libref_rust.so", { isolate: true });
 * ```
 *
 * @module
 */
import { loadInProcess, type Plugin } from "./in_process/plugin.ts";
import { type PluginOptions, resolveOptions, resolveSandboxOptions } from "../plugin/options.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import { loadSandboxedPlugin, type SandboxedPlugin } from "./isolated/plugin.ts";

/**
 * Loads a plugin. In process (the default), concurrent and repeated loads of
 * one resolved path share one loaded library (init runs once); each returned
 * handle is closed on its own, and the last close shuts the plugin down.
 * Options other than `sha256` apply only to the load that actually opens the
 * library; `exclusive: true` opens a private copy instead. With
 * `isolate: true` the plugin runs in a sandbox child process that survives
 * crashes and hangs (see `lib/sandbox/`).
 *
 * In process, only the calls plugcheck makes have deadlines: a library whose
 * load-time constructor hangs hangs `loadPlugin` (only `isolate: true` bounds
 * that), and a call abandoned after its deadline keeps the process from
 * exiting on its own until it returns.
 */
export function loadPlugin(path: string, options: PluginOptions & { isolate: true }): Promise<SandboxedPlugin>;
export function loadPlugin(path: string, options?: PluginOptions & { isolate?: false }): Promise<Plugin>;
export function loadPlugin(path: string, options?: PluginOptions): Promise<PluginHandle>;
export async function loadPlugin(path: string, options: PluginOptions = {}): Promise<Plugin | SandboxedPlugin> {
  const load = resolveOptions(options);
  if (options.isolate) return await loadSandboxedPlugin(path, load, resolveSandboxOptions(options));
  return await loadInProcess(path, load);
}
