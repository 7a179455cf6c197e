/**
 * The `timeouts` checks: every call of the sweep (examples first) returns
 * within the call deadline, and destroy and shutdown within it too.
 *
 * @example
 * ```ts ignore
 * import { TIMEOUT_CHECKS } from "./timeouts.ts";
 * ```
 *
 * @module
 */
import { PluginTimeoutError } from "../../errors/errors.ts";
import { callLine, errorLine, lines, repro } from "../check_helpers.ts";
import { type CheckSpec, pass, plural } from "../spec.ts";
import { sweep } from "../sweep.ts";
import { invokeLine } from "../../util/safe_text.ts";

/** The timeouts group. */
export const TIMEOUT_CHECKS: readonly CheckSpec[] = [
  {
    id: "timeouts.calls",
    title: "Every call returns within its deadline",
    rule: "threads",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx);
      const hung = s.calls.filter((c) => c.error instanceof PluginTimeoutError);
      if (hung.length > 0) {
        return {
          status: "timeout",
          details: `${plural(hung.length, "call")} missed the ${ctx.thresholds.callTimeoutMs} ms deadline`,
          evidence: lines(hung, (c) => `${callLine(c)}: ${errorLine(c.error)}`),
          ...repro(invokeLine(ctx.shown, hung[0]!.method, hung[0]!.input), `--timeout ${ctx.thresholds.callTimeoutMs}`),
        };
      }
      return pass(`${plural(s.calls.length, "call")} within ${ctx.thresholds.callTimeoutMs} ms`);
    },
  },
  {
    id: "timeouts.lifecycle",
    title: "Destroy and shutdown return within the deadline",
    rule: "lifecycle",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx, { methods: ctx.description!.methods.slice(0, 1).map((m) => m.name) });
      const hung = s.lifecycleErrors.filter((e) => e instanceof PluginTimeoutError);
      if (hung.length > 0) {
        return {
          status: "timeout",
          details: errorLine(hung[0]),
          evidence: lines(hung, errorLine),
        };
      }
      return pass(`destroy and shutdown within ${ctx.thresholds.callTimeoutMs} ms`);
    },
  },
];
