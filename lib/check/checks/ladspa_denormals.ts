/**
 * `ladspa.denormals`: after an impulse, a recursive filter decays towards 0;
 * unless it flushes them, its output ends in subnormal floats, which cost
 * 10-100x per operation on many x86 cores (not on all: the timing alone
 * cannot tell, so the check reads the output). One long block per plugin
 * with an audio input and output (an impulse, then silence, 32768 frames at
 * 48 kHz); the adapter counts the subnormal samples of every audio output.
 * A warning: hosts differ in whether they set flush-to-zero for a plugin.
 *
 * @example
 * ```ts ignore
 * import { denormals } from "./ladspa_denormals.ts";
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginError, PluginTimeoutError } from "../../errors/errors.ts";
import { withPlugin } from "../check_helpers.ts";
import { type CheckContext, type Outcome, pass, plural, skip, warn } from "../spec.ts";
import { type LadspaLibrary, usablePlugins } from "./ladspa_doc.ts";
import { groupDigits } from "../../util/digits.ts";

/** Frames of the block: ~0.7 s at 48 kHz, long enough for a slow decay to reach subnormal floats. */
export const DENORMAL_FRAMES = 32_768;
const INPUT = `impulse frames=${DENORMAL_FRAMES}`;

const decoder = new TextDecoder();

/** The audio outputs of one call's summary with subnormal samples: "Output: 23,311 of 32,768". */
export function subnormalPorts(output: string): string[] {
  const doc = JSON.parse(output) as { outputs?: { port: string; kind: string; denormals?: number }[] };
  return (doc.outputs ?? []).filter((o) => o.kind === "audio" && (o.denormals ?? 0) > 0)
    .map((o) =>
      `${JSON.stringify(o.port)}: ${groupDigits(o.denormals!)} of ${groupDigits(DENORMAL_FRAMES)} samples subnormal`
    );
}

/** Runs the check on the plugins of `lib` with an audio input and an audio output. */
export async function denormals(ctx: CheckContext, lib: LadspaLibrary): Promise<Outcome> {
  const audio = (dir: string) => (p: { direction: string; kind: string }) => p.direction === dir && p.kind === "audio";
  const plugins = usablePlugins(lib).filter(({ plugin }) =>
    plugin.ports.some(audio("input")) && plugin.ports.some(audio("output"))
  );
  if (plugins.length === 0) return skip("no plugin with an audio input and output");
  const found: string[] = [];
  let ran = 0;
  let stopped: string | undefined;
  await withPlugin(ctx, async (plugin) => {
    await using inst = await plugin.createInstance({ max_block: DENORMAL_FRAMES }, {
      timeoutMs: ctx.thresholds.callTimeoutMs,
    });
    for (const { method } of plugins) {
      if (ctx.signal.aborted) break;
      let out: Uint8Array;
      try {
        ran++;
        out = await inst.invoke(method, INPUT, { timeoutMs: ctx.thresholds.callTimeoutMs });
      } catch (e) {
        // Crashes, hangs and bad outputs are other checks' findings (ladspa.processing): this one stops or moves on.
        if (e instanceof PluginCrashError || e instanceof PluginTimeoutError) {
          stopped = `${method}: ${e.name}`;
          break;
        }
        if (e instanceof PluginError) continue;
        throw e;
      }
      for (const port of subnormalPorts(decoder.decode(out))) found.push(`"${method}" ${port} after an impulse`);
    }
  });
  const note = stopped === undefined ? "" : `; stopped at ${stopped} (ladspa.processing reports it)`;
  if (found.length > 0) {
    return warn(
      `${plural(found.length, "output")} ${found.length === 1 ? "decays" : "decay"} into subnormal floats, ` +
        `which slow many CPUs 10-100x: ${found[0]}${note}`,
      found,
    );
  }
  return pass(`${plural(ran, "plugin")}: no subnormal output after an impulse${note}`);
}
