/**
 * The `metadata` checks: describe() is valid and stable, its examples give
 * their outputs, and every method it declares exists.
 *
 * @example
 * ```ts ignore
 * import { METADATA_CHECKS } from "./metadata.ts";
 * ```
 *
 * @module
 */
import { ContractViolationError, UnknownMethodError } from "../../errors/errors.ts";
import { escapeControl, shortText } from "../../util/safe_text.ts";
import { callLine, lines, METHOD_SHOWN, withPlugin } from "../check_helpers.ts";
import { probe } from "../run_probe.ts";
import { type CheckSpec, fail, pass, plural, skip } from "../spec.ts";
import { sweep, unanswered } from "../sweep.ts";

const decoder = new TextDecoder();

/** The metadata group. */
export const METADATA_CHECKS: readonly CheckSpec[] = [
  {
    id: "metadata.describe_schema",
    title: "describe() is UTF-8 JSON that matches the schema",
    rule: "describe",
    needs: "init",
    run: async (ctx) => {
      try {
        const d = await withPlugin(ctx, (plugin) => plugin.describe());
        return pass(`${shortText(d.name, 60)} ${shortText(d.version, 40)}: ${plural(d.methods.length, "method")}`);
      } catch (e) {
        if (e instanceof ContractViolationError && e.operation === "describe plugin") {
          return fail(escapeControl(e.message), [escapeControl(e.message)]);
        }
        throw e;
      }
    },
  },
  {
    id: "metadata.describe_stable",
    title: "describe() returns the same document every time",
    rule: "lifecycle",
    needs: "plugin",
    run: async (ctx) => {
      const r = await probe(ctx, "describe_repeat");
      const texts = r.texts ?? [];
      const differs = texts.findIndex((t) => t !== texts[0]);
      if (differs > 0) {
        return fail(`call ${differs + 1} returned a different document`, [
          `call 1: ${escapeControl(texts[0]!.slice(0, 200))}`,
          `call ${differs + 1}: ${escapeControl(texts[differs]!.slice(0, 200))}`,
        ]);
      }
      return pass(`${texts.length} calls, one document`);
    },
  },
  {
    id: "metadata.examples",
    title: "Every example with an output gives exactly that output",
    rule: "describe",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx);
      const withOutput = s.calls.filter((c) => c.expected !== undefined && !unanswered(c.error));
      if (withOutput.length === 0) return skip("no example declares an output");
      const wrong = withOutput.filter((c) => c.output === undefined || decoder.decode(c.output) !== c.expected);
      if (wrong.length > 0) {
        return fail(
          `${wrong.length} of ${plural(withOutput.length, "example")} gave another answer`,
          lines(
            wrong,
            (c) =>
              `${callLine(c)}: expected ${escapeControl(JSON.stringify(c.expected))}, got ${
                c.output === undefined
                  ? `an error (${String(c.error)})`
                  : escapeControl(JSON.stringify(decoder.decode(c.output)))
              }`,
          ),
        );
      }
      return pass(`${plural(withOutput.length, "example")} reproduced`);
    },
  },
  {
    id: "metadata.methods_exist",
    title: "Every declared method exists (none answers UNKNOWN_METHOD)",
    rule: "describe",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx);
      const unknown = s.calls.filter((c) => c.kind !== "unknown_method" && c.error instanceof UnknownMethodError);
      const methods = [...new Set(unknown.map((c) => c.method))];
      if (methods.length > 0) {
        return fail(
          `declared but unknown: ${methods.map((m) => shortText(m, METHOD_SHOWN)).join(", ")}`,
          lines(unknown, (c) => `${callLine(c)}: UNKNOWN_METHOD`),
        );
      }
      return pass(`${plural(ctx.description!.methods.length, "method")} answered`);
    },
  },
];
