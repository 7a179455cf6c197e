/**
 * The sandbox children of this process that have not exited yet (closed
 * ones still unloading included): what Ctrl-C ends at once, and what a sweep
 * of the processes an in-process plugin left must spare (they are
 * plugcheck's own and end themselves).
 *
 * @example
 * ```ts ignore
 * import { sandboxProcessIds } from "./live_children.ts";
 * guard.endDescendants(sandboxProcessIds());
 * ```
 *
 * @module
 */

/** What this registry needs of a child. */
export interface LiveChild {
  readonly pid: number;
  readonly launcherPid: number;
  kill(reason: "closed", why: string): void;
}

const live = new Set<LiveChild>();

/** A child started (`SandboxChild` registers itself until its exit). */
export function childStarted(child: LiveChild): void {
  live.add(child);
}

/** A child exited. */
export function childExited(child: LiveChild): void {
  live.delete(child);
}

/** Ends every sandbox child of this process now (for a CLI that is interrupted). */
export function killAllSandboxChildren(): void {
  for (const child of live) child.kill("closed", "plugcheck was interrupted");
}

/** The processes of the sandbox children alive now: each child and its launcher. */
export function sandboxProcessIds(): number[] {
  return [...live].flatMap((child) => child.pid === child.launcherPid ? [child.pid] : [child.pid, child.launcherPid]);
}
