/**
 * The `resources` checks: create/destroy churn and load/shutdown reloads
 * leave no instances, threads or descriptors behind and RSS flat (stress
 * engine, short), the plugin's own heap does not grow with its calls (every
 * block its code allocates counted, `heap_growth`), and no process the plugin
 * started outlives its calls.
 *
 * @example
 * ```ts ignore
 * import { RESOURCE_CHECKS } from "./resources.ts";
 * ```
 *
 * @module
 */
import { stressCheck } from "../check_helpers.ts";
import { type CheckSpec, fail, pass, skip } from "../spec.ts";
import { sweep } from "../sweep.ts";

/** The resources group. */
export const RESOURCE_CHECKS: readonly CheckSpec[] = [
  {
    id: "resources.churn",
    title: "Create/destroy churn leaks no instance, thread, descriptor or memory",
    rule: "lifecycle",
    needs: "plugin",
    long: true,
    run: (ctx) =>
      stressCheck(ctx, { churn: true }, [
        "leaked_instances",
        "threads_after_destroy",
        "fds_after_destroy",
        "rss_growth",
      ]),
  },
  {
    id: "resources.heap",
    title: "The plugin's own heap does not grow with its calls",
    rule: "lifecycle",
    needs: "plugin",
    long: true,
    // The steady run buffers.balanced judges too (one run for both): what the plugin's code allocated during the
    // calls and still holds once every instance is destroyed, from both halves of the run, is lost memory.
    run: (ctx) => stressCheck(ctx, {}, ["heap_growth"]),
  },
  {
    id: "resources.reload",
    title: "Load -> shutdown cycles leave no thread or descriptor behind",
    rule: "lifecycle",
    needs: "plugin",
    long: true,
    run: (ctx) =>
      stressCheck(ctx, { reload: ctx.thresholds.reloadCycles }, [
        "threads_after_shutdown",
        "fds_after_shutdown",
        "leaked_instances",
      ]),
  },
  {
    id: "resources.processes",
    title: "No process the plugin started outlives its call",
    rule: "leave-the-host-process-alone",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx);
      const left = [...s.warnings, ...s.calls.flatMap((c) => c.warnings)].filter((w) =>
        w.includes("process(es) running")
      );
      if (left.length > 0) return fail(left[0]!, left);
      return ctx.isolate
        ? pass("none left running")
        : skip("in process, plugcheck's own children count too: run without --in-process");
    },
  },
];
