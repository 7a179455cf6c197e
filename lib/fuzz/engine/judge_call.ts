/**
 * How the fuzz engine's target judges a call the batch loop stopped at,
 * exactly as `invoke` would: the guard frees its buffers (or, for a fork
 * server's worker, reads what the worker copied and freed) and says what
 * typed error and contract warnings the call amounts to. The Deno fuzz
 * child's target (`child/npa_target.ts`) and the fork server's
 * (`parent/remote_target.ts`) both judge here.
 *
 * @example
 * ```ts ignore
 * import { judgeCall } from "./judge_call.ts";
 * const warnings: string[] = []; // where `guard.warn` records
 * const verdict = judgeCall("parse", false, loop.raw(), guard, warnings);
 * ```
 *
 * @module
 */
import type { CallResult } from "../../ffi/calls.ts";
import { checkStatus, type GuardContext, parseJsonOutput, takeOutput } from "../../errors/guard.ts";
import type { Judged } from "./batch_loop.ts";

/**
 * Judges `raw`, a call of `method` (`json`: its output must be JSON), with
 * `guard`, whose `warn` records into `warnings`: the error, if the call is
 * one, and the warnings it added (taken out of `warnings`).
 */
export function judgeCall(
  method: string,
  json: boolean,
  raw: CallResult,
  guard: GuardContext,
  warnings: string[],
): Judged {
  const op = `invoke ${JSON.stringify(method)}`;
  const before = warnings.length;
  let error: Error | undefined;
  try {
    checkStatus(op, raw.status, raw.err, guard, raw.out);
    const out = takeOutput(op, raw.out, guard);
    if (json) parseJsonOutput(op, out);
  } catch (e) {
    error = e instanceof Error ? e : new Error(String(e));
  }
  const added = warnings.splice(before);
  return error === undefined ? { warnings: added } : { error, warnings: added };
}
