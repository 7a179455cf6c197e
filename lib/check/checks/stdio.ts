/**
 * The `stdio` check: the plugin writes nothing to stdout (a warning: hosts
 * that speak a protocol over stdio break on it; stderr is shown, not judged).
 *
 * @example
 * ```ts ignore
 * import { STDIO_CHECKS } from "./stdio.ts";
 * ```
 *
 * @module
 */
import { type CheckSpec, pass, skip, warn } from "../spec.ts";
import { sweep } from "../sweep.ts";

/** The stdio group. */
export const STDIO_CHECKS: readonly CheckSpec[] = [
  {
    id: "stdio.stdout",
    title: "The plugin writes nothing to stdout",
    rule: "leave-the-host-process-alone",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx);
      const said = [...s.warnings, ...s.calls.flatMap((c) => c.warnings)].filter((w) => w.includes("to stdout"));
      if (said.length > 0) return warn(said[0]!, said);
      return ctx.isolate
        ? pass("0 bytes to stdout")
        : skip("in process, stdout is plugcheck's: run without --in-process");
    },
  },
];
