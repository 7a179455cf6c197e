/**
 * The `errors` checks, each one judgement over a call sweep (`sweep.ts`):
 * an unknown method answers UNKNOWN_METHOD, input that is not JSON answers
 * INVALID_INPUT, error buffers are UTF-8 JSON with a `message`, a call
 * writes `out` or `err` but never both, statuses stay within 0..7, and no
 * call crashes the process.
 *
 * @example
 * ```ts ignore
 * import { ERROR_CHECKS } from "./errors.ts";
 * ```
 *
 * @module
 */
import {
  ContractViolationError,
  InvalidInputError,
  PluginCrashError,
  PluginError,
  UnknownMethodError,
} from "../../errors/errors.ts";
import { invokeLine } from "../../util/safe_text.ts";
import { callLine, errorLine, lines, repro } from "../check_helpers.ts";
import { type CheckSpec, fail, pass, plural, skip, warn } from "../spec.ts";
import { sweep, unanswered, UNKNOWN_METHOD } from "../sweep.ts";
import { BAD_CONFIG_CHECK } from "./bad_config.ts";

/** Warnings the guard records for an error buffer that is not JSON with a message, or missing. */
const SOFT_ERROR_BUFFER = /error buffer for .* is not JSON|without an error message/;
const STRAY_BUFFER = /set an (error|output) buffer on (success|failure)/;

/** The errors group. */
export const ERROR_CHECKS: readonly CheckSpec[] = [
  {
    id: "errors.unknown_method",
    title: "An unknown method answers UNKNOWN_METHOD",
    rule: "status-codes",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx, { methods: [] });
      const c = s.calls.find((c) => c.kind === "unknown_method")!;
      if (c.error instanceof UnknownMethodError) return pass(`${JSON.stringify(UNKNOWN_METHOD)} -> 2 (UNKNOWN_METHOD)`);
      if (unanswered(c.error)) throw c.error;
      const got = c.error === undefined ? "OK" : errorLine(c.error);
      return fail(`${JSON.stringify(UNKNOWN_METHOD)} answered ${got}`, [`${callLine(c)} -> ${got}`]);
    },
  },
  {
    id: "errors.invalid_input",
    title: "A json method answers INVALID_INPUT for input that is not JSON",
    rule: "status-codes",
    needs: "plugin",
    run: async (ctx) => {
      const json = ctx.description!.methods.filter((m) => m.input === "json").map((m) => m.name);
      if (json.length === 0) return skip("no method takes json input");
      const s = await sweep(ctx, { badInputs: true, methods: json });
      const bad = s.calls.filter((c) => c.kind === "bad_input" && !unanswered(c.error));
      const wrong = bad.filter((c) => !(c.error instanceof InvalidInputError));
      if (wrong.length > 0) {
        return fail(
          `${wrong.length} of ${plural(bad.length, "input")} that are not JSON were not refused with INVALID_INPUT`,
          lines(wrong, (c) => `${callLine(c)} -> ${c.error === undefined ? "OK" : errorLine(c.error)}`),
        );
      }
      return pass(`${plural(bad.length, "bad input")} to ${plural(json.length, "method")}: INVALID_INPUT`);
    },
  },
  {
    id: "errors.error_buffer",
    title: 'On failure, err holds UTF-8 JSON {"message": ...}',
    rule: "error-buffers",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx, { badInputs: true });
      const failed = s.calls.filter((c) => c.error instanceof PluginError && !unanswered(c.error));
      const broken = failed.filter((c) =>
        c.error instanceof ContractViolationError && /its error buffer/.test(c.error.message)
      );
      if (broken.length > 0) {
        return fail(
          `${plural(broken.length, "error buffer")} broke the rules`,
          lines(broken, (c) => `${callLine(c)}: ${errorLine(c.error)}`),
        );
      }
      const soft = failed.filter((c) => c.warnings.some((w) => SOFT_ERROR_BUFFER.test(w)));
      if (soft.length > 0) {
        return warn(
          `${plural(soft.length, "failure")} without a JSON error buffer with a message`,
          lines(soft, (c) => `${callLine(c)}: ${c.warnings.find((w) => SOFT_ERROR_BUFFER.test(w))}`),
        );
      }
      if (failed.length === 0) return pass("no call failed, so no error buffer to judge");
      return pass(`${plural(failed.length, "failure")}, each with a JSON message`);
    },
  },
  {
    id: "errors.one_buffer",
    title: "Success writes only out, failure writes only err",
    rule: "buffers",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx, { badInputs: true });
      const stray = s.calls.filter((c) => c.warnings.some((w) => STRAY_BUFFER.test(w)));
      if (stray.length > 0) {
        return fail(
          `${plural(stray.length, "call")} wrote both buffers`,
          lines(stray, (c) => `${callLine(c)}: ${c.warnings.find((w) => STRAY_BUFFER.test(w))}`),
        );
      }
      return pass(`${plural(s.calls.length, "call")}, one buffer each at most`);
    },
  },
  {
    id: "errors.statuses",
    title: "Every status is an npa status (0..7)",
    rule: "status-codes",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx, { badInputs: true });
      const odd = s.calls.filter((c) =>
        c.error instanceof ContractViolationError && /which is not an npa status/.test(c.error.message)
      );
      if (odd.length > 0) {
        return fail(
          `${plural(odd.length, "call")} returned a status outside 0..7`,
          lines(odd, (c) => `${callLine(c)}: ${errorLine(c.error)}`),
        );
      }
      return pass(`${plural(s.calls.length, "call")}, every status within 0..7`);
    },
  },
  {
    id: "errors.no_crash",
    title: "No call crashes, aborts or exits the process: failures are statuses",
    rule: "never-unwind-across-the-boundary",
    needs: "plugin",
    run: async (ctx) => {
      const s = await sweep(ctx, { badInputs: true });
      const crashed = s.calls.filter((c) => c.error instanceof PluginCrashError);
      if (crashed.length > 0) {
        return {
          status: "crash",
          details: `${plural(crashed.length, "call")} ended the process`,
          evidence: lines(crashed, (c) => `${callLine(c)}: ${errorLine(c.error)}`),
          ...repro(invokeLine(ctx.shown, crashed[0]!.method, crashed[0]!.input)),
        };
      }
      return pass(`${plural(s.calls.length, "call")}, the process survived each`);
    },
  },
  BAD_CONFIG_CHECK,
];
