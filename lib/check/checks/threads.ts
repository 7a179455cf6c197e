/**
 * The `threads` checks, short stress runs: concurrent calls on distinct
 * instances, and on one shared instance when describe() declares
 * `thread_safe_instances`, give the outputs and statuses they give alone.
 *
 * @example
 * ```ts ignore
 * import { THREAD_CHECKS } from "./threads.ts";
 * ```
 *
 * @module
 */
import { DEFAULT_CONCURRENCY } from "../../stress/options.ts";
import { stressCheck } from "../check_helpers.ts";
import { type CheckSpec, skip } from "../spec.ts";

/** The threads group. */
export const THREAD_CHECKS: readonly CheckSpec[] = [
  {
    id: "threads.distinct_instances",
    title: "Concurrent calls on distinct instances behave as calls one at a time",
    rule: "threads",
    needs: "plugin",
    run: (ctx) => {
      const max = ctx.description!.max_instances;
      // Fewer instances when the plugin allows fewer (the stress engine fits the run and says so); one is none to compare.
      if (max === 1) return Promise.resolve(skip("describe() declares max_instances 1: no two instances live at once"));
      return stressCheck(ctx, { concurrency: DEFAULT_CONCURRENCY, instances: DEFAULT_CONCURRENCY }, [
        "errors",
        "wrong_results",
      ]);
    },
  },
  {
    id: "threads.shared_instance",
    title: "With thread_safe_instances, concurrent calls on one instance behave as calls one at a time",
    rule: "threads",
    needs: "plugin",
    run: (ctx) =>
      ctx.description!.thread_safe_instances
        ? stressCheck(ctx, { concurrency: DEFAULT_CONCURRENCY, instances: 1 }, ["errors", "wrong_results"])
        : Promise.resolve(skip("describe() does not declare thread_safe_instances")),
  },
];
