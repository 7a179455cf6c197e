/**
 * The `buffers` checks: `npa_buffer_free(NULL, 0)` is a no-op, every buffer
 * is well-formed (never `{NULL, n>0}`, never longer than the host takes),
 * and every buffer handed out comes back (`live_buffers` returns to its
 * baseline under a short stress run).
 *
 * @example
 * ```ts ignore
 * import { BUFFER_CHECKS } from "./buffers.ts";
 * ```
 *
 * @module
 */
import { ContractViolationError, MalformedBufferError } from "../../errors/errors.ts";
import { callLine, errorLine, lines, stressCheck } from "../check_helpers.ts";
import { probe } from "../run_probe.ts";
import { type CheckSpec, fail, pass, plural, skip } from "../spec.ts";
import { sweep } from "../sweep.ts";

/** The buffers group. */
export const BUFFER_CHECKS: readonly CheckSpec[] = [
  {
    id: "buffers.free_null",
    title: "npa_buffer_free(NULL, 0) is a no-op",
    rule: "buffers",
    needs: "plugin",
    run: async (ctx) => {
      const r = await probe(ctx, "free_null");
      if (r.liveBuffers === undefined) return pass("returned (no npa_plugin_stats to count buffers with)");
      // A plugin whose free never counts down (buffers.balanced judges that) drifts by one per stats read.
      const [control, before, after] = r.liveBuffers;
      if (after - before !== before - control) {
        return fail(`live_buffers ${before} -> ${after} across npa_buffer_free(NULL, 0)`, [
          `live_buffers: ${control} (control read), ${before} (before), ${after} (after)`,
        ]);
      }
      return pass(`returned; live_buffers moved as across a stats read alone (${before - control})`);
    },
  },
  {
    id: "buffers.well_formed",
    title: "Every buffer is well-formed: never {NULL, n>0}, never longer than the host takes",
    rule: "buffers",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx, { badInputs: true });
      const bad = s.calls.filter((c) =>
        c.error instanceof MalformedBufferError ||
        (c.error instanceof ContractViolationError &&
          /NULL output pointer|error buffer is NULL|error buffer claims/.test(c.error.message))
      );
      if (bad.length > 0) {
        return fail(
          `${plural(bad.length, "call")} returned a malformed buffer`,
          lines(bad, (c) => `${callLine(c)}: ${errorLine(c.error)}`),
        );
      }
      return pass(`${plural(s.calls.length, "call")}, every buffer well-formed`);
    },
  },
  {
    id: "buffers.balanced",
    title: "Every buffer handed out is freed: live_buffers returns to its baseline",
    rule: "buffers",
    needs: "plugin",
    run: (ctx) =>
      ctx.hasStats
        ? stressCheck(ctx, {}, ["leaked_buffers"])
        : Promise.resolve(skip("no npa_plugin_stats: buffers cannot be counted")),
  },
];
