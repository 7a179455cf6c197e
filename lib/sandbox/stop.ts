/**
 * Stopping a sandbox child gracefully: it is retired (no new requests), asked
 * to CLOSE (it lets its requests finish, destroys every instance and shuts
 * the plugin down), given `graceMs`, then sent SIGTERM (which ends its whole
 * process group), and a second later SIGKILL. No timer outlives the stop.
 *
 * @example
 * ```ts ignore
 * import { stopChild } from "./stop.ts";
 * const { inTime, header } = await stopChild(child, 10_000, "closed");
 * ```
 *
 * @module
 */
import { sleep } from "../util/timers.ts";
import type { SandboxChild } from "./sandbox_child.ts";
import { KIND } from "./protocol.ts";

/** After SIGTERM, how long a child gets before SIGKILL. */
const TERM_MS = 1000;

/** How a stop went; the CLOSE reply's header when the child finished in time. */
export interface StopResult {
  inTime: boolean;
  signal?: string;
  header?: Record<string, unknown>;
}

/** Stops `child`: CLOSE, `graceMs`, SIGTERM, a second, SIGKILL. */
export async function stopChild(
  child: SandboxChild,
  graceMs: number,
  reason: "closed" | "reaped",
): Promise<StopResult> {
  child.retire(reason);
  const release = child.hold();
  try {
    const asked = child.request(KIND.CLOSE, {}, [], {
      op: "close sandboxed plugin",
      timeoutMs: Infinity,
      inFlight: { kind: "close" },
    }).then((r) => r.header, () => undefined);
    const exited = child.exited.then(() => true);
    const grace = sleep(graceMs);
    const inTime = await Promise.race([exited, grace.done.then(() => false)]);
    grace.cancel();
    if (inTime) {
      const header = await asked;
      return header === undefined ? { inTime } : { inTime, header };
    }
    child.end ??= { reason };
    child.signal("SIGTERM");
    const term = sleep(TERM_MS);
    const termed = await Promise.race([exited, term.done.then(() => false)]);
    term.cancel();
    if (termed) return { inTime: false, signal: "SIGTERM" };
    child.kill(reason);
    await child.exited;
    return { inTime: false, signal: "SIGKILL" };
  } finally {
    release();
  }
}
