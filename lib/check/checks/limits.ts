/**
 * The `limits` check: a declared `max_instances` is enforced with
 * RESOURCE_LIMIT (the stress engine's probe creates one instance more).
 *
 * @example
 * ```ts ignore
 * import { LIMIT_CHECKS } from "./limits.ts";
 * ```
 *
 * @module
 */
import { stressCheck } from "../check_helpers.ts";
import { type CheckSpec, skip } from "../spec.ts";

/** The limits group. */
export const LIMIT_CHECKS: readonly CheckSpec[] = [
  {
    id: "limits.max_instances",
    title: "max_instances is enforced with RESOURCE_LIMIT",
    rule: "lifecycle",
    needs: "plugin",
    run: (ctx) =>
      ctx.description!.max_instances === undefined
        ? Promise.resolve(skip("describe() declares no max_instances"))
        : stressCheck(ctx, { iterations: 50 }, ["max_instances"]),
  },
];
