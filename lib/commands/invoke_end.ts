/**
 * How `invoke` ends, in both its forms (bytes, and audio: invoke_audio.ts):
 * after the calls the instance is destroyed, the plugin's counters are
 * compared with where they started (a leak), its log counters are read and
 * the plugin is closed; once the results are printed, a leak is reported as
 * the plugin's failure.
 *
 * @example
 * ```ts ignore
 * import { endCalls, exitAfter } from "./invoke_end.ts";
 * const { leak, warnings } = await endCalls(ctx, plugin, instance, method, before);
 * // ... print the results and the warnings ...
 * return exitAfter(ctx, leak);
 * ```
 *
 * @module
 */
import type { ResourceLeakError } from "../errors/errors.ts";
import { leakCheck } from "../errors/leak_check.ts";
import type { InstanceHandle, PluginHandle } from "../plugin/handle.ts";
import { logWarnings } from "../report/invoke_report.ts";
import { reportFailure } from "./command.ts";
import type { CommandContext } from "./context.ts";
import { EXIT } from "./exit_codes.ts";

/**
 * Destroys `instance`, checks the plugin's counters against `before`, reads
 * its log counters and closes the plugin; answers the leak, if any, and the
 * warnings of the run (the plugin's contract, its logging, the command's).
 */
export async function endCalls(
  ctx: CommandContext,
  plugin: PluginHandle,
  instance: InstanceHandle,
  method: string,
  before: Record<string, number> | null,
): Promise<{ leak: ResourceLeakError | undefined; warnings: string[] }> {
  ctx.status.done();
  await instance.destroy();
  const leak = leakCheck(`invoke ${JSON.stringify(method)}`, before, await plugin.readStats());
  const counters = await plugin.readLogCounters();
  await ctx.close();
  return { leak, warnings: [...plugin.contractWarnings, ...logWarnings(counters), ...ctx.warnings] };
}

/** The exit code once the results are printed: a leak (already in a JSON document, if one was printed) fails. */
export function exitAfter(ctx: CommandContext, leak: ResourceLeakError | undefined): number {
  if (leak === undefined) return EXIT.OK;
  reportFailure(leak, {
    json: false, // already in the document
    verbose: ctx.verbose,
    hint: "destroy must free what create made; every buffer must be freed by npa_buffer_free",
  });
  return EXIT.PLUGIN_FAILED;
}
