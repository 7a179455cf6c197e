/**
 * `ladspa.independence` (docs/ladspa.md, "independence"): two instances of
 * the adapter fed the same inputs give the same outputs (the adapter's
 * output JSON: per port its hash, peak, RMS, or control value), whether
 * they run one after the other, interleaved call by call, or at the same
 * time on two threads. Instance A's calls alone are the reference.
 *
 * @example
 * ```ts ignore
 * import { independence } from "./ladspa_independence.ts";
 * const outcome = await independence(ctx, lib);
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginError, PluginTimeoutError } from "../../errors/errors.ts";
import type { InstanceHandle } from "../../plugin/handle.ts";
import { errorLine, lines, withPlugin } from "../check_helpers.ts";
import { type CheckContext, fail, type Outcome, pass, plural, skip } from "../spec.ts";
import { type LadspaLibrary, usablePlugins } from "./ladspa_doc.ts";
import { planLine } from "./ladspa_runs.ts";

/** The inputs both instances get, in order. */
export const INDEPENDENCE_INPUTS: readonly string[] = [
  "impulse frames=256",
  "noise seed=1 frames=4096",
  "sine freq=440 frames=1024",
  "silence frames=64",
];
/** The long block both instances run at once, and how many times. */
export const CONCURRENT_INPUT = "noise seed=2 frames=65536";
export const CONCURRENT_ROUNDS = 4;
/** Both instances' config: blocks of up to 65536 frames. */
const CONFIG = { max_block: 65536 } as const;

const decoder = new TextDecoder();

/** A call's answer: its output text, or the error's line (crash and hang escape: they are the check's). */
async function answer(inst: InstanceHandle, method: string, input: string, timeoutMs: number): Promise<string> {
  try {
    return decoder.decode(await inst.invoke(method, input, { timeoutMs }));
  } catch (error) {
    if (error instanceof PluginCrashError || error instanceof PluginTimeoutError) throw error;
    if (error instanceof PluginError) return `error: ${errorLine(error)}`;
    throw error;
  }
}

/** Where two answers differ: the first output port whose summary differs, or the whole answers, cut short. */
export function difference(a: string, b: string): string {
  try {
    const pa = JSON.parse(a).outputs as Record<string, unknown>[];
    const pb = JSON.parse(b).outputs as Record<string, unknown>[];
    const i = pa.findIndex((p, k) => JSON.stringify(p) !== JSON.stringify(pb[k]));
    if (i >= 0) {
      const show = (p: Record<string, unknown> | undefined) => p?.hash ?? p?.value ?? "nothing";
      return `port ${JSON.stringify(pa[i]!.port)}: ${show(pb[i])} instead of ${show(pa[i])}`;
    }
  } catch {
    // Not two output documents (an error on one side): show both.
  }
  const cut = (s: string) => s.length > 80 ? `${s.slice(0, 80)}...` : s;
  return `${cut(b)} instead of ${cut(a)}`;
}

/** Runs the check on the usable plugins of `lib`. */
export async function independence(ctx: CheckContext, lib: LadspaLibrary): Promise<Outcome> {
  const plugins = usablePlugins(lib);
  if (plugins.length === 0) return skip("no plugin the adapter can run");
  const timeoutMs = ctx.thresholds.callTimeoutMs;
  return await withPlugin(ctx, async (plugin) => {
    const a = await plugin.createInstance(CONFIG, { timeoutMs });
    const b = await plugin.createInstance(CONFIG, { timeoutMs });
    const differ: { method: string; input: string; how: string; when: string }[] = [];
    let calls = 0;
    const ask = (inst: InstanceHandle, method: string, input: string) => {
      calls++;
      return answer(inst, method, input, timeoutMs);
    };
    try {
      for (const { method } of plugins) {
        if (ctx.signal.aborted) break;
        const ref: string[] = [];
        for (const input of INDEPENDENCE_INPUTS) ref.push(await ask(a, method, input));
        const note = (input: string, got: string, want: string, when: string) => {
          if (got !== want) differ.push({ method, input, how: difference(want, got), when });
        };
        for (const [i, input] of INDEPENDENCE_INPUTS.entries()) {
          note(input, await ask(b, method, input), ref[i]!, "instance B after instance A");
        }
        for (const [i, input] of INDEPENDENCE_INPUTS.entries()) {
          note(input, await ask(a, method, input), ref[i]!, "instance A, interleaved with B");
          note(input, await ask(b, method, input), ref[i]!, "instance B, interleaved with A");
        }
        const alone = await ask(a, method, CONCURRENT_INPUT);
        for (let r = 0; r < CONCURRENT_ROUNDS; r++) {
          const [x, y] = await Promise.all([ask(a, method, CONCURRENT_INPUT), ask(b, method, CONCURRENT_INPUT)]);
          note(CONCURRENT_INPUT, x, alone, "instance A, at the same time as B");
          note(CONCURRENT_INPUT, y, alone, "instance B, at the same time as A");
        }
      }
    } finally {
      for (const inst of [a, b]) if (inst.state === "live") await inst.destroy().catch(() => {});
    }
    const methods = new Set(differ.map((d) => d.method));
    if (differ.length > 0) {
      // One invoke cannot show it: the repro is the check again (the runner's).
      return fail(
        `${plural(methods.size, "plugin")} gave other outputs for the same input on another instance (${
          plural(differ.length, "call")
        } of ${calls})`,
        lines(differ, (d) => `${planLine(d)}, ${d.when}: ${d.how}`),
      );
    }
    return pass(`${plural(calls, "call")} on two instances of ${plural(plugins.length, "plugin")}: the same outputs`);
  });
}
