/**
 * The `errors.bad_config` check: `npa_instance_create` refuses a config that
 * is not a JSON object (not JSON at all, an array, a number, a string, null)
 * with INVALID_INPUT (STATE is accepted too), answers an object of the wrong
 * shape with OK or INVALID_INPUT, and leaks nothing on the way: the error
 * path of create, which no example and no other check takes, is where a
 * half-built instance is left behind. Leaks are read from `npa_plugin_stats`
 * (`live_instances`, `live_buffers`) before the first create and after the
 * last, each instance a create accepted destroyed first; a plugin without
 * stats is judged on its answers alone. It runs in a sandbox child of its own,
 * so a leak or crash it provokes is charged to no other check.
 *
 * @example
 * ```ts ignore
 * import { BAD_CONFIG_CHECK } from "./bad_config.ts";
 * ```
 *
 * @module
 */
import { InvalidInputError, PluginError, PluginStateError } from "../../errors/errors.ts";
import { loadPlugin } from "../../host/load_plugin.ts";
import { escapeControl } from "../../util/safe_text.ts";
import { checkLoadOptions, errorLine, lines } from "../check_helpers.ts";
import { type CheckSpec, fail, pass, plural } from "../spec.ts";
import { unanswered } from "../sweep.ts";

const enc = new TextEncoder();

/** Configs a plugin must refuse: not a JSON object. */
export const NOT_OBJECT_CONFIGS: readonly { what: string; bytes: Uint8Array }[] = [
  { what: "not JSON", bytes: enc.encode('{"sample_rate":') },
  { what: "an array", bytes: enc.encode("[]") },
  { what: "a number", bytes: enc.encode("42") },
  { what: "a string", bytes: enc.encode('"config"') },
  { what: "null", bytes: enc.encode("null") },
];

/** An object of the wrong shape: keys plugins use (the reference plugins', the LADSPA adapter's) with wrong types. */
export const WRONG_SHAPE_CONFIG: Uint8Array = enc.encode(
  '{"counter_start":"five","sample_rate":-1,"max_block":[],"out_of_range":"yes"}',
);

/** The counters that must come back to where they were. */
const COUNTERS = ["live_instances", "live_buffers"] as const;

const shown = (bytes: Uint8Array) => escapeControl(new TextDecoder().decode(bytes));

/** The check. */
export const BAD_CONFIG_CHECK: CheckSpec = {
  id: "errors.bad_config",
  title: "A config that is not a JSON object is refused with INVALID_INPUT, and a refused create leaks nothing",
  rule: "instance-config",
  needs: "plugin",
  run: async (ctx) => {
    const timeoutMs = ctx.thresholds.callTimeoutMs;
    const plugin = await loadPlugin(ctx.path, checkLoadOptions(ctx));
    const wrong: string[] = [];
    let before: Record<string, number> | null = null;
    let after: Record<string, number> | null = null;
    try {
      before = await plugin.readStats();
      const all = [...NOT_OBJECT_CONFIGS, { what: "an object of the wrong shape", bytes: WRONG_SHAPE_CONFIG }];
      for (const { what, bytes } of all) {
        const mustRefuse = bytes !== WRONG_SHAPE_CONFIG;
        try {
          const inst = await plugin.createInstance(bytes, { timeoutMs });
          await inst.destroy();
          if (mustRefuse) wrong.push(`${what} (${shown(bytes)}): accepted (OK)`);
        } catch (e) {
          if (e instanceof InvalidInputError || (mustRefuse && e instanceof PluginStateError)) continue;
          // A crash or hang is the check's outcome (the runner's); so is anything but create's own answer.
          if (unanswered(e) || !(e instanceof PluginError) || e.operation !== "create instance") throw e;
          wrong.push(`${what} (${shown(bytes)}): ${errorLine(e)}`);
        }
      }
      after = await plugin.readStats();
    } finally {
      await plugin.close().catch(() => {});
    }
    const leaks = before === null || after === null
      ? []
      : COUNTERS.filter((k) => (after![k] ?? 0) !== (before![k] ?? 0)).map((k) => `${k} ${before![k]} -> ${after![k]}`);
    if (leaks.length > 0) {
      return fail(`creates with bad configs leaked: ${leaks.join(", ")}`, [...leaks, ...lines(wrong, (w) => w)]);
    }
    if (wrong.length > 0) {
      return fail(
        `${plural(wrong.length, "bad config")} not refused with INVALID_INPUT: ${wrong[0]}`,
        lines(wrong, (w) => w),
      );
    }
    const counted = before === null ? "; no npa_plugin_stats, so leaks are not counted" : "; nothing leaked";
    return pass(
      `${plural(NOT_OBJECT_CONFIGS.length, "config")} that are not JSON objects refused with INVALID_INPUT, ` +
        `one of the wrong shape answered${counted}`,
    );
  },
};
