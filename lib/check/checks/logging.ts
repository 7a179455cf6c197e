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
import { type CheckSpec, fail, pass, plural, skip, warn } from "../spec.ts";
import { sweep, type SweepResult, unanswered } from "../sweep.ts";

/** Forwarding every message to the parent makes a chatty call slower: the logging sweeps give calls this much longer. */
const LOGGING_SLACK = 4;

/** Counters of a sweep in which a child died count only what its last child saw. */
function uncounted(s: SweepResult): string | undefined {
  const lost = s.calls.filter((c) => unanswered(c.error)).length;
  return lost > 0
    ? `${plural(lost, "call")} crashed or hung, so the counters are incomplete (see errors.no_crash, timeouts.calls)`
    : undefined;
}

/** The logging group. */
export const LOGGING_CHECKS: readonly CheckSpec[] = [
  {
    id: "logging.delivered",
    title: "Log messages from any thread arrive whole: none dropped, none cut",
    rule: "logging",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx, { log: "trace", callTimeoutMs: ctx.thresholds.callTimeoutMs * LOGGING_SLACK });
      const lost = uncounted(s);
      if (lost !== undefined) return skip(lost);
      const { logs } = s;
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
    run: async (ctx) => {
      const s = await sweep(ctx, { log: "error", callTimeoutMs: ctx.thresholds.callTimeoutMs * LOGGING_SLACK });
      const lost = uncounted(s);
      if (lost !== undefined) return skip(lost);
      const { logs } = s;
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
