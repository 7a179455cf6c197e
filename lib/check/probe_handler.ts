/**
 * The `probe` sandbox child handler: runs one lifecycle probe step
 * (`probe.ts`) while it starts and puts the result in its HELLO, so the
 * parent learns it (or that the step crashed or hung the child) and ends
 * the child. Nothing else is served.
 *
 * @example
 * ```ts ignore
 * import { start } from "./probe_handler.ts";
 * const handler = await start({ options: { step: "second_init", pluginPath }, send });
 * console.log(handler.hello.result);
 * ```
 *
 * @module
 */
import type { ChildHandler, HandlerContext } from "../sandbox/child_handler.ts";
import { type ProbeRequest, runStep } from "./probe.ts";

/** Runs the step; the HELLO carries `{ result }`. */
export async function start(context: HandlerContext): Promise<ChildHandler> {
  const result = await runStep(context.options as unknown as ProbeRequest);
  return {
    hello: { result },
    handle: () => Promise.resolve({ header: {} }),
    close: () => Promise.resolve(),
  };
}
