/**
 * The `logging` checks: every message sent during the calls is delivered
 * (none dropped for a full queue, none cut at 8 KiB), the plugin asks
 * `log_enabled` rather than send what the host disabled, and nothing logs
 * after shutdown returned.
 *
 * @example
 * ```ts ignore
 * import { LOGGING_CHECKS } from "./logging.ts";
 * ```
 *
 * @module
 */
import { probe } from "../run_probe.ts";
import type { LogCounters } from "../../ffi/host_log.ts";
import { type CheckContext, type CheckSpec, fail, pass, plural, skip, warn } from "../spec.ts";
import { sweep, unanswered } from "../sweep.ts";

/** Forwarding every message to the parent makes a chatty call slower: the logging sweeps give calls this much longer. */
const LOGGING_SLACK = 4;

/**
 * The log counters of a sweep with the host's level at `level`, or why they
 * cannot be trusted: after a crash or hang they count only the last child's.
 */
async function logSweep(ctx: CheckContext, level: string): Promise<LogCounters | string> {
  const s = await sweep(ctx, { log: level, callTimeoutMs: ctx.thresholds.callTimeoutMs * LOGGING_SLACK });
  const lost = s.calls.filter((c) => unanswered(c.error)).length;
  if (lost === 0) return s.logs;
  return `${
    plural(lost, "call")
  } crashed or hung, so the counters are incomplete (see errors.no_crash, timeouts.calls)`;
}

/** The logging group. */
export const LOGGING_CHECKS: readonly CheckSpec[] = [
  {
    id: "logging.delivered",
    title: "Log messages from any thread arrive whole: none dropped, none cut",
    rule: "logging",
    needs: "plugin",
    // Every message at full volume: a flooding plugin takes both cores, and its neighbours' deadlines would miss.
    alone: true,
    run: async (ctx) => {
      const logs = await logSweep(ctx, "trace");
      if (typeof logs === "string") return skip(logs);
      if (logs.droppedFull > 0 || logs.truncated > 0) {
        return warn(
          `${
            plural(logs.droppedFull, "message")
          } dropped (queue full), ${logs.truncated} cut to 8 KiB: log less, or less at once`,
          [`accepted ${logs.accepted}, dropped ${logs.droppedFull}, truncated ${logs.truncated}`],
        );
      }
      return pass(logs.accepted > 0 ? `${plural(logs.accepted, "message")} delivered` : "the plugin logged nothing");
    },
  },
  {
    id: "logging.enabled",
    title: "The plugin honours log_enabled: nothing sent at a level the host disabled",
    rule: "logging",
    needs: "plugin",
    // Every message at full volume: a flooding plugin takes both cores, and its neighbours' deadlines would miss.
    alone: true,
    run: async (ctx) => {
      const logs = await logSweep(ctx, "error");
      if (typeof logs === "string") return skip(logs);
      if (logs.filtered > 0) {
        return warn(
          `${
            plural(logs.filtered, "message")
          } sent at levels the host had disabled: ask log_enabled before building one`,
          [`host level error; filtered ${logs.filtered}, log_enabled asked ${logs.enabledQueries} times`],
        );
      }
      return pass(`nothing above error sent (log_enabled asked ${logs.enabledQueries} times)`);
    },
  },
  {
    id: "logging.after_shutdown",
    title: "Nothing logs after npa_plugin_shutdown returned",
    rule: "logging",
    needs: "plugin",
    run: async (ctx) => {
      const r = await probe(ctx, "log_after_shutdown");
      const late = r.afterClose ?? 0;
      if (late > 0) return fail(`${plural(late, "message")} arrived after shutdown (dropped and counted)`);
      return pass("no message in the 300 ms after shutdown");
    },
  },
];
