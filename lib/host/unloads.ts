/**
 * Unloading put off until a command's results are out (`deferUnload`): each
 * engine leaves here what is left to do once a plugin was shut down (in
 * process: dlclose, under the process guards; a sandbox child: waiting, with
 * a deadline, for the child that unloads and exits), and `finishUnloads()`
 * does it all, in the order the plugins closed. A failure of unloading is
 * returned as a typed error, its own finding; in process a hang, crash or
 * exit while unloading ends plugcheck from its native guards instead, with
 * the unload named.
 *
 * @example
 * ```ts ignore
 * import { finishUnloads } from "./unloads.ts";
 * const plugin = await loadPlugin(path, { deferUnload: true });
 * await plugin.close(); // shut down, still loaded
 * printResults();
 * const problems = await finishUnloads(); // [] when every plugin unloaded cleanly
 * ```
 *
 * @module
 */

/** What is left of unloading one plugin: resolves with the error it ran into, if any. */
export type UnloadTask = () => Promise<Error | undefined>;

const pending: UnloadTask[] = [];

/** Leaves `task` for {@link finishUnloads}. */
export function deferUnload(task: UnloadTask): void {
  pending.push(task);
}

/** Unloads everything put off so far, one plugin after the other; the errors, in order. */
export async function finishUnloads(): Promise<Error[]> {
  const problems: Error[] = [];
  for (let task = pending.shift(); task !== undefined; task = pending.shift()) {
    try {
      const problem = await task();
      if (problem !== undefined) problems.push(problem);
    } catch (error) {
      problems.push(error instanceof Error ? error : new Error(String(error)));
    }
  }
  return problems;
}
