/**
 * `ladspa.independence` (docs/ladspa.md, "independence"): instances of the
 * adapter fed the same inputs give the same outputs (the adapter's output
 * JSON: per port its hash, peak, RMS, or control value), whether they run
 * one after the other, interleaved call by call, or at the same time. What
 * instance A gives alone is the reference.
 *
 * Block by block on one thread (the adapter's word `twin`): two new
 * instances fed the same input a block at a time, in turn, as a host runs two
 * instances on one audio thread, must give the same outputs (the adapter
 * compares them, within rounding). This finds state shared through a static
 * variable every time.
 *
 * At the same time: the adapter resets a plugin before each run, so state
 * two instances share shows only when one's run overlaps the other's reset or
 * run, a small part of each call (a race on a shared scratch buffer shows only
 * there). Four fresh
 * instances each run their own sequence of calls at once, compared call by
 * call with a fifth that ran the same sequence alone (so every instance
 * compared has the same history), for up to three trials (see CONFIG for
 * what was measured).
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
import type { InstanceHandle, PluginHandle } from "../../plugin/handle.ts";
import { errorLine, lines, withPlugin } from "../check_helpers.ts";
import { type CheckContext, fail, type Outcome, pass, plural, skip } from "../spec.ts";
import { type LadspaLibrary, usablePlugins } from "./ladspa_doc.ts";
import { planLine } from "./ladspa_runs.ts";

/** The inputs instances A and B get, in order. */
export const INDEPENDENCE_INPUTS: readonly string[] = [
  "impulse frames=256",
  "noise seed=1 frames=4096",
  "sine freq=440 frames=1024",
  "silence frames=64",
];
/** What two instances run block by block on one thread (and one instance alone, in the same blocks, first). */
export const TWIN_INPUT = "noise seed=3 frames=4096 block=64";
/** What the instances run at the same time: each this input, this many times, per trial. */
export const CONCURRENT_INPUT = "noise seed=2 frames=4096";
export const CONCURRENT_INSTANCES = 4;
export const CONCURRENT_CALLS = 32;
/**
 * The instances' config. Port buffers of 65536 frames (for blocks of 4096)
 * make the runs of instances at the same time overlap far more often: on
 * the `shared_state` fixture in a sandbox child, a difference in 18 to 20
 * trials of 20, against 1 in 20 with the default 4096 (measured, not
 * explained: the adapter's work per call differs with its buffer size).
 */
const CONFIG = { max_block: 65536 } as const;
/** Trials at the same time per plugin: 3, or 1 in libraries of more than 8 plugins. */
const trialsFor = (plugins: number) => plugins <= 8 ? 3 : 1;

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
export function difference(want: string, got: string): string {
  try {
    const pa = JSON.parse(want).outputs as Record<string, unknown>[];
    const pb = JSON.parse(got).outputs as Record<string, unknown>[];
    const i = pa.findIndex((p, k) => JSON.stringify(p) !== JSON.stringify(pb[k]));
    if (i >= 0) {
      const show = (p: Record<string, unknown> | undefined) => String(p?.hash ?? p?.value ?? "nothing");
      return `port ${JSON.stringify(pa[i]!.port)}: ${show(pb[i])} instead of ${show(pa[i])}`;
    }
  } catch {
    // Not two output documents (an error on one side): show both.
  }
  const cut = (s: string) => s.length > 80 ? `${s.slice(0, 80)}...` : s;
  return `${cut(got)} instead of ${cut(want)}`;
}

/** `n` new instances, destroyed together. */
async function freshInstances(
  plugin: PluginHandle,
  n: number,
  timeoutMs: number,
): Promise<{ insts: InstanceHandle[] } & AsyncDisposable> {
  const insts: InstanceHandle[] = [];
  const dispose = async () => {
    for (const inst of insts) if (inst.state === "live") await inst.destroy().catch(() => {});
  };
  try {
    for (let i = 0; i < n; i++) insts.push(await plugin.createInstance(CONFIG, { timeoutMs }));
  } catch (error) {
    await dispose();
    throw error;
  }
  return { insts, [Symbol.asyncDispose]: dispose };
}

/** Runs the check on the usable plugins of `lib`. */
export async function independence(ctx: CheckContext, lib: LadspaLibrary): Promise<Outcome> {
  // A generator (no audio input) is not declared pure: a noise source may share a random generator by design.
  const pure = new Set(ctx.description!.methods.filter((m) => m.pure).map((m) => m.name));
  const plugins = usablePlugins(lib).filter((p) => pure.has(p.method));
  if (plugins.length === 0) return skip("no plugin the adapter can run whose output is a function of its input");
  const timeoutMs = ctx.thresholds.callTimeoutMs;
  const trials = trialsFor(plugins.length);
  return await withPlugin(ctx, async (plugin) => {
    const insts: InstanceHandle[] = []; // A and B
    const differ: { method: string; input: string; how: string; when: string }[] = [];
    let calls = 0;
    const ask = (inst: InstanceHandle, method: string, input: string) => {
      calls++;
      return answer(inst, method, input, timeoutMs);
    };
    try {
      for (let i = 0; i < 2; i++) insts.push(await plugin.createInstance(CONFIG, { timeoutMs }));
      const [a, b] = insts as [InstanceHandle, InstanceHandle];
      for (const { method } of plugins) {
        if (ctx.signal.aborted) break;
        const seen = differ.length;
        const note = (input: string, got: string, want: string, when: string) => {
          if (got !== want) differ.push({ method, input, how: difference(want, got), when });
        };
        const ref: string[] = [];
        for (const input of INDEPENDENCE_INPUTS) ref.push(await ask(a, method, input));
        // B has had the same calls as A: the same history.
        for (const [i, input] of INDEPENDENCE_INPUTS.entries()) {
          note(input, await ask(b, method, input), ref[i]!, "instance B after instance A");
        }
        // Then call by call, each of B's answers compared with A's just before (their histories are still equal).
        for (const input of INDEPENDENCE_INPUTS) {
          const x = await ask(a, method, input);
          note(input, await ask(b, method, input), x, "instance B, interleaved with A");
        }
        // Two new instances, block by block on one thread: a difference is the adapter's PANIC (it compares them within
        // rounding). The same input on a new instance alone goes first, so a plugin that fails on this input alone is
        // not blamed here.
        const alone = await ask(a, method, `${TWIN_INPUT} fresh`);
        const twin = await ask(a, method, `${TWIN_INPUT} twin`);
        if (twin.startsWith("error: ") && !alone.startsWith("error: ")) {
          const how = twin.slice("error: ".length);
          differ.push({ method, input: `${TWIN_INPUT} twin`, how, when: "2 instances block by block on one thread" });
        }
        // Fresh instances with the same history (a plugin whose activate does not reset all its state gives
        // what its history says): one alone is the reference, call by call, for the others at once.
        const when = `${CONCURRENT_INSTANCES} instances at the same time`;
        for (let t = 0; t < trials && differ.length === seen && !ctx.signal.aborted; t++) {
          await using fresh = await freshInstances(plugin, 1 + CONCURRENT_INSTANCES, timeoutMs);
          const [alone, ...together] = fresh.insts;
          const ref: string[] = [];
          for (let k = 0; k < CONCURRENT_CALLS; k++) ref.push(await ask(alone!, method, CONCURRENT_INPUT));
          await Promise.all(together.map(async (inst) => {
            for (let k = 0; k < CONCURRENT_CALLS; k++) {
              note(CONCURRENT_INPUT, await ask(inst, method, CONCURRENT_INPUT), ref[k]!, when);
            }
          }));
        }
      }
    } finally {
      for (const inst of insts) if (inst.state === "live") await inst.destroy().catch(() => {});
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
    return pass(
      `${plural(calls, "call")} on 2 + ${1 + CONCURRENT_INSTANCES} instances of ${
        plural(plugins.length, "plugin")
      }: the same outputs`,
    );
  });
}
