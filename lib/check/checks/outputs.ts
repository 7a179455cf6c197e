/**
 * The `outputs` check: what a `json` method returns on success is UTF-8 JSON.
 *
 * @example
 * ```ts ignore
 * import { OUTPUT_CHECKS } from "./outputs.ts";
 * ```
 *
 * @module
 */
import { escapeControl } from "../../util/safe_text.ts";
import { callLine, lines } from "../check_helpers.ts";
import { type CheckSpec, fail, pass, plural, skip } from "../spec.ts";
import { sweep } from "../sweep.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Why `bytes` are not UTF-8 JSON text, or undefined when they are. */
function notJson(bytes: Uint8Array): string | undefined {
  try {
    JSON.parse(utf8.decode(bytes));
    return undefined;
  } catch (e) {
    return e instanceof TypeError
      ? "not valid UTF-8"
      : `not valid JSON: ${escapeControl(new TextDecoder().decode(bytes.subarray(0, 60)))}`;
  }
}

/** The outputs group. */
export const OUTPUT_CHECKS: readonly CheckSpec[] = [
  {
    id: "outputs.json",
    title: "A json method's output is UTF-8 JSON",
    rule: "describe",
    needs: "plugin",
    run: async (ctx) => {
      const json = ctx.description!.methods.filter((m) => m.input === "json").map((m) => m.name);
      if (json.length === 0) return skip("no method takes json input");
      const s = await sweep(ctx, { methods: json });
      const ok = s.calls.filter((c) => c.output !== undefined && c.kind !== "unknown_method");
      const bad = ok.map((c) => ({ c, why: notJson(c.output!) })).filter((x) => x.why !== undefined);
      if (bad.length > 0) {
        return fail(
          `${plural(bad.length, "output")} of json methods are not JSON`,
          lines(bad, (x) => `${callLine(x.c)}: ${x.why}`),
        );
      }
      if (ok.length === 0) return skip("no json method call succeeded, so no output to judge");
      return pass(`${plural(ok.length, "output")} of ${plural(json.length, "json method")}, all JSON`);
    },
  },
];
