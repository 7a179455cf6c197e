/**
 * The `isolation` check: a `pure` method gives the same output for the same
 * input on fresh and reused instances, in any order (a short stress run of
 * the pure methods on two instances in a seeded order: its `wrong_results`
 * verdict compares every output with the first one, which came from a fresh
 * instance).
 *
 * @example
 * ```ts ignore
 * import { ISOLATION_CHECKS } from "./isolation.ts";
 * ```
 *
 * @module
 */
import { stressCheck } from "../check_helpers.ts";
import { type CheckSpec, skip } from "../spec.ts";

/** The isolation group. */
export const ISOLATION_CHECKS: readonly CheckSpec[] = [
  {
    id: "isolation.pure",
    title: "A pure method's output depends on its input only: fresh or reused instance, any order",
    rule: "describe",
    needs: "plugin",
    run: (ctx) => {
      const pure = ctx.description!.methods.filter((m) => m.pure && m.examples.length > 0).map((m) => m.name);
      if (pure.length === 0) return Promise.resolve(skip("no pure method declares examples"));
      // Each instance's first call is on a fresh instance, the rest reuse it, in a seeded order: all must agree.
      return stressCheck(ctx, { methods: pure, instances: 2, concurrency: 2 }, ["wrong_results"]);
    },
  },
];
