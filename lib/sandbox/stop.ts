/**
 * Stopping a sandbox child gracefully: it is retired (no new requests), asked
 * to CLOSE (it lets its requests finish, destroys every instance and shuts
 * the plugin down), given `graceMs`, then sent SIGTERM (which ends its whole
 * process group), and a second later SIGKILL. No timer outlives the stop.
 *
 * With `unloadMs`, the stop ends at the CLOSE reply, and what comes after it
 * (the child unloads the plugin, says so, and exits) is watched on its own:
 * `unloading` settles with how that went, the child stopped (SIGTERM, then
 * SIGKILL) when it took longer than `unloadMs`. A child that ends before it
 * said it unloaded, by a signal or with any status (a destructor's `_exit(0)`
 * included), did not unload cleanly.
 *
 * @example
 * ```ts ignore
 * import { stopChild } from "./stop.ts";
 * const { inTime, header } = await stopChild(child, 10_000, "closed");
 * const { unloading } = await stopChild(other, 10_000, "closed", 5_000);
 * const how = await unloading; // { ok: true } or what went wrong
 * ```
 *
 * @module
 */
import { sleep } from "../util/timers.ts";
import type { SandboxChild } from "./sandbox_child.ts";
import { KIND } from "./protocol.ts";

/** After SIGTERM, how long a child gets before SIGKILL. */
const TERM_MS = 1000;

/** How a child's unloading went (after its CLOSE reply). */
export interface UnloadEnd {
  /** The child said it unloaded, then exited with status 0. */
  ok: boolean;
  /** It did not exit within this many ms and was stopped. */
  hungMs?: number;
  /** The signal it died of. */
  signal?: string;
  /** Its exit status, when it exited. */
  exitCode?: number;
  /** It said it had unloaded before it ended. */
  unloaded: boolean;
}

/** How a stop went; the CLOSE reply's header when the child finished in time. */
export interface StopResult {
  inTime: boolean;
  signal?: string;
  header?: Record<string, unknown>;
  /** With `unloadMs`, once the CLOSE reply came: settles when the child unloaded and exited, or was stopped. */
  unloading?: Promise<UnloadEnd>;
}

/** Stops `child`: CLOSE, `graceMs`, SIGTERM, a second, SIGKILL; with `unloadMs`, see the module doc. */
export async function stopChild(
  child: SandboxChild,
  graceMs: number,
  reason: "closed" | "reaped",
  unloadMs?: number,
): Promise<StopResult> {
  child.retire(reason);
  const release = child.hold();
  let handedOver = false;
  // The child says it unloaded (an EVENT after its CLOSE reply): a child that exits before that did not.
  const said = { unloaded: false };
  const onEvent = child.onEvent;
  child.onEvent = (frame) => {
    if (frame.header.unloaded === true) said.unloaded = true;
    else onEvent(frame);
  };
  try {
    const asked = child.request(KIND.CLOSE, {}, [], {
      op: "close sandboxed plugin",
      timeoutMs: Infinity,
      inFlight: { kind: "close" },
    }).then((r) => r.header, () => undefined);
    const exited = child.exited.then(() => true);
    const grace = sleep(graceMs);
    const milestone = unloadMs === undefined ? exited : Promise.race([exited, asked.then(() => true)]);
    const inTime = await Promise.race([milestone, grace.done.then(() => false)]);
    grace.cancel();
    if (inTime) {
      const header = await asked;
      if (header === undefined || unloadMs === undefined) return header === undefined ? { inTime } : { inTime, header };
      handedOver = true;
      return { inTime, header, unloading: watchUnload(child, unloadMs, reason, said).finally(release) };
    }
    child.end ??= { reason };
    return { inTime: false, signal: await terminate(child, reason) };
  } finally {
    if (!handedOver) release();
  }
}

/** After the CLOSE reply: the child unloads and exits within `unloadMs`, or is stopped. */
async function watchUnload(
  child: SandboxChild,
  unloadMs: number,
  reason: "closed" | "reaped",
  said: { unloaded: boolean },
): Promise<UnloadEnd> {
  const wait = sleep(unloadMs);
  const exited = await Promise.race([child.exited.then(() => true), wait.done.then(() => false)]);
  wait.cancel();
  const unloaded = said.unloaded;
  if (!exited) {
    child.end ??= { reason };
    const signal = await terminate(child, reason);
    return { ok: false, hungMs: unloadMs, signal, unloaded };
  }
  const end = child.end!;
  const how: UnloadEnd = { ok: unloaded && end.signal === undefined && end.exitCode === 0, unloaded };
  if (end.signal !== undefined) how.signal = end.signal;
  if (end.exitCode !== undefined) how.exitCode = end.exitCode;
  return how;
}

/** SIGTERM, a second, SIGKILL; the signal that ended it. */
async function terminate(child: SandboxChild, reason: "closed" | "reaped"): Promise<string> {
  const exited = child.exited.then(() => true);
  child.signal("SIGTERM");
  const term = sleep(TERM_MS);
  const termed = await Promise.race([exited, term.done.then(() => false)]);
  term.cancel();
  if (termed) return "SIGTERM";
  child.kill(reason);
  await child.exited;
  return "SIGKILL";
}
