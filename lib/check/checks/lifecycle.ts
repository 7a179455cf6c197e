/**
 * The `lifecycle` checks: init succeeds once and a second init answers
 * STATE; create before init, and create or invoke after shutdown, answer
 * STATE without crashing. Each is a probe child of its own (`probe.ts`): a
 * library image nobody initialized, driven in the wrong order on purpose.
 * And the whole life of the plugin (the sweep) leaves the process's signal
 * dispositions and umask as they were.
 *
 * @example
 * ```ts ignore
 * import { LIFECYCLE_CHECKS } from "./lifecycle.ts";
 * ```
 *
 * @module
 */
import { statusName } from "../../errors/guard.ts";
import { PluginError } from "../../errors/errors.ts";
import { errorLine, withPlugin } from "../check_helpers.ts";
import { probe } from "../run_probe.ts";
import { sweep, unanswered } from "../sweep.ts";
import { type CheckSpec, fail, type Outcome, pass, skip } from "../spec.ts";

const STATE = 7;
const named = (s: number | undefined) => s === undefined ? "nothing" : `${s} (${statusName(s)})`;

/** STATE expected from each of `steps` (names and statuses in order). */
function allState(steps: [string, number | undefined][]): Outcome {
  const wrong = steps.filter(([, s]) => s !== STATE);
  if (wrong.length > 0) {
    return fail(
      wrong.map(([what, s]) => `${what} answered ${named(s)}, not 7 (STATE)`).join("; "),
      steps.map(([what, s]) => `${what} -> ${named(s)}`),
    );
  }
  return pass(`${steps.map(([what]) => what).join(", ")}: 7 (STATE)`);
}

/** The lifecycle group. */
export const LIFECYCLE_CHECKS: readonly CheckSpec[] = [
  {
    id: "lifecycle.init",
    title: "npa_plugin_init succeeds",
    rule: "lifecycle",
    needs: "symbols",
    run: async (ctx) => {
      try {
        const ms = await withPlugin(ctx, (plugin) => plugin.initMs);
        return pass(`init took ${ms.toFixed(1)} ms`);
      } catch (e) {
        // A describe() that breaks the rules comes after a good init: metadata.describe_schema judges it.
        if (e instanceof PluginError && e.operation === "describe plugin") return pass("init returned OK");
        if (
          e instanceof PluginError && e.operation === "initialize plugin" && !unanswered(e)
        ) {
          return fail(errorLine(e), [errorLine(e)]);
        }
        throw e;
      }
    },
  },
  {
    id: "lifecycle.init_once",
    title: "A second npa_plugin_init without shutdown answers STATE",
    rule: "lifecycle",
    needs: "plugin",
    run: async (ctx) => {
      const r = await probe(ctx, "second_init");
      return allState([["second init", r.statuses?.[1]]]);
    },
  },
  {
    id: "lifecycle.create_before_init",
    title: "npa_instance_create before init answers STATE",
    rule: "lifecycle",
    needs: "plugin",
    run: async (ctx) => {
      const r = await probe(ctx, "create_before_init");
      return allState([["create before init", r.statuses?.[0]]]);
    },
  },
  {
    id: "lifecycle.after_shutdown",
    title: "create and invoke after npa_plugin_shutdown answer STATE",
    rule: "lifecycle",
    needs: "plugin",
    run: async (ctx) => {
      const method = ctx.description!.methods[0]?.name ?? "echo";
      const r = await probe(ctx, "after_shutdown", method);
      const [, created, createAfter, invokeAfter] = r.statuses ?? [];
      if (created !== 0) return fail(`create before shutdown answered ${named(created)}`);
      return allState([["create after shutdown", createAfter], [
        `invoke ${JSON.stringify(method)} after shutdown`,
        invokeAfter,
      ]]);
    },
  },
  {
    id: "lifecycle.signals",
    title: "The plugin leaves signal dispositions and the umask alone",
    rule: "signals-and-the-umask",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx);
      const said = [...s.warnings, ...s.calls.flatMap((c) => c.warnings)].filter((w) =>
        w.includes("changed how the process handles signals") || w.includes("changed the process umask")
      );
      if (said.length > 0) return fail(said.map((w) => w.slice(0, w.indexOf(":"))).join("; "), [...new Set(said)]);
      return ctx.isolate
        ? pass("SIGINT, SIGTERM, SIGCHLD, SIGPIPE and the umask unchanged")
        : skip("in process, an earlier load may have changed them already: run without --in-process");
    },
  },
];
