/**
 * `ladspa.hard_rt`: real-time honesty. A plugin that declares
 * HARD_RT_CAPABLE promises that `run` does not allocate, free, lock, sleep
 * or do I/O. The check runs each such plugin for a few blocks (noise and an
 * impulse, 64 and 4096 frames, controls at their defaults) in a sandbox
 * child that preloads plugcheck's real-time watch (an interposer, as lv2lint
 * and pluginval use): the adapter turns the watch on around `run` only, and
 * its answer lists the watched functions run called. Plugins that do not
 * declare HARD_RT_CAPABLE are not judged. Always in a sandbox child (also
 * with `--in-process`): the watch sits under every malloc of the process
 * that preloads it, so only this check's child gets it.
 *
 * @example
 * ```ts ignore
 * import { hardRt } from "./ladspa_hard_rt.ts";
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginError, PluginTimeoutError } from "../../errors/errors.ts";
import { hostInternalError, loadError } from "../../errors/host_errors.ts";
import { loadPlugin } from "../../host/load_plugin.ts";
import { rtWatchPath } from "../../load/adapters.ts";
import * as z from "../../util/zod.ts";
import { errorLine } from "../check_helpers.ts";
import { type CheckContext, fail, type Outcome, pass, plural, skip } from "../spec.ts";
import { type LadspaLibrary, usablePlugins } from "./ladspa_doc.ts";
import { MAX_STOPS } from "./ladspa_runs.ts";
import { groupDigits } from "../../util/digits.ts";

/** The property a plugin declares to promise a real-time-safe `run`. */
export const HARD_RT = "HARD_RT_CAPABLE";

/** The blocks each plugin runs, its controls at their defaults. */
export const HARD_RT_INPUTS: readonly string[] = [
  "noise seed=1 frames=64",
  "impulse frames=64",
  "noise seed=1 frames=4096",
  "impulse frames=4096",
];

/** What the adapter says of one watched run (`rt` in its answer, docs/ladspa.md#hard-rt). */
const RtSchema = z.object({
  first: z.string().nullable(),
  calls: z.record(z.string(), z.int().nonnegative()),
  unwatched: z.array(z.string()).optional(),
});
export type RtReport = z.infer<typeof RtSchema>;

const decoder = new TextDecoder();

/** The `rt` part of one answer of the adapter, or undefined when it has none (the watch was not loaded). */
export function rtOf(output: Uint8Array | string): RtReport | undefined {
  const doc = JSON.parse(typeof output === "string" ? output : decoder.decode(output)) as { rt?: unknown };
  if (doc.rt === undefined) return undefined;
  return RtSchema.parse(doc.rt);
}

/** What one plugin's run called, summed over its blocks. */
export interface RtTally {
  /** Calls by function: the first function called comes first, then the others as the adapter lists them. */
  calls: Map<string, number>;
  /** Blocks that ran, and those whose run called a watched function. */
  ran: number;
  offending: number;
  /** The input of the first block that called one. */
  firstInput?: string;
}

/** Adds one block's report to `t`. */
export function addRun(t: RtTally, input: string, rt: RtReport): void {
  t.ran++;
  if (rt.first === null) return;
  t.offending++;
  t.firstInput ??= input;
  const order = [rt.first, ...Object.keys(rt.calls).filter((f) => f !== rt.first)];
  for (const f of order) t.calls.set(f, (t.calls.get(f) ?? 0) + (rt.calls[f] ?? 0));
}

const times = (n: number) => `${groupDigits(n)} ${n === 1 ? "time" : "times"}`;

/**
 * The finding for a plugin whose run called watched functions:
 * `"alloc_in_run_hard_rt": run called malloc 4 times (free 4 times) in 4 of 4 blocks while declaring HARD_RT_CAPABLE`.
 */
export function tallyLine(method: string, t: RtTally): string {
  const [[first, n], ...rest] = [...t.calls] as [[string, number], ...[string, number][]];
  const others = rest.length === 0 ? "" : ` (${rest.map(([f, k]) => `${f} ${times(k)}`).join(", ")})`;
  const input = t.firstInput === undefined ? "" : `; first on ${JSON.stringify(t.firstInput)}`;
  return `${JSON.stringify(method)}: run called ${first} ${times(n)}${others} in ${t.offending} of ${
    plural(t.ran, "block")
  } while declaring ${HARD_RT}${input}`;
}

/** The functions whose calls the watch cannot see when these are another library's (a sanitizer runtime's). */
const MUST_SEE = ["malloc", "free"];

/** Runs the check on the plugins of `lib` that declare HARD_RT_CAPABLE. */
export async function hardRt(ctx: CheckContext, lib: LadspaLibrary): Promise<Outcome> {
  const usable = usablePlugins(lib);
  const judged = usable.filter(({ plugin }) => plugin.properties.includes(HARD_RT));
  if (judged.length === 0) return skip(`no plugin declares ${HARD_RT}`);
  const watch = rtWatchPath();
  try {
    Deno.statSync(watch);
  } catch {
    throw loadError(ctx.path, `plugcheck's real-time watch ${watch} is missing (run \`deno task build\`)`);
  }
  const timeoutMs = ctx.thresholds.callTimeoutMs;
  const found: string[] = [];
  const stopped: string[] = [];
  const errors: string[] = [];
  let unwatched: string[] | undefined;
  let blocks = 0;
  const plugin = await loadPlugin(ctx.path, {
    ...ctx.load,
    isolate: true,
    log: "off",
    timeoutMs,
    restartCap: MAX_STOPS + 1,
    preload: [...ctx.load.preload ?? [], watch],
  });
  try {
    for (const { method } of judged) {
      if (ctx.signal.aborted || stopped.length >= MAX_STOPS) break;
      const tally: RtTally = { calls: new Map(), ran: 0, offending: 0 };
      // One instance per plugin: a crash or hang wedges it, and the next plugin starts on a fresh one.
      const inst = await plugin.createInstance({ max_block: 4096 }, { timeoutMs });
      try {
        for (const input of HARD_RT_INPUTS) {
          let out: Uint8Array;
          try {
            out = await inst.invoke(method, input, { timeoutMs });
          } catch (e) {
            // Crashes, hangs and bad outputs are other checks' findings (ladspa.processing): this one moves on.
            if (e instanceof PluginCrashError || e instanceof PluginTimeoutError) {
              stopped.push(`${method}(${JSON.stringify(input)}): ${e.name}`);
              break;
            }
            if (e instanceof PluginError) {
              errors.push(`${method}(${JSON.stringify(input)}): ${errorLine(e)}`);
              continue;
            }
            throw e;
          }
          const rt = rtOf(out);
          if (rt === undefined) {
            throw hostInternalError(method, `the real-time watch ${watch} was not active in the sandbox child`);
          }
          unwatched ??= rt.unwatched ?? [];
          blocks++;
          addRun(tally, input, rt);
        }
      } finally {
        await inst.destroy().catch(() => {});
      }
      if (tally.offending > 0) found.push(tallyLine(method, tally));
    }
  } finally {
    await plugin.close().catch(() => {});
  }
  const blind = (unwatched ?? []).filter((f) => MUST_SEE.includes(f));
  if (blind.length > 0) {
    return skip(
      `the real-time watch cannot see ${blind.join(" and ")}: another library defines them first ` +
        `(a sanitizer runtime?), so run's allocations would go unseen`,
    );
  }
  if (blocks === 0) {
    const why = stopped.length > 0 ? stopped.join(", ") : errors[0] ?? "interrupted";
    return skip(`no block of a plugin declaring ${HARD_RT} ran to its end: ${why}`);
  }
  const notes = [
    ...stopped.length === 0 ? [] : [`stopped at ${stopped.join(", ")} (ladspa.processing reports it)`],
    ...errors.length === 0 ? [] : [`${plural(errors.length, "block")} answered an error: ${errors[0]}`],
    ...unwatched === undefined || unwatched.length === 0 ? [] : [`not watched: ${unwatched.join(", ")}`],
    ...usable.length === judged.length ? [] : [
      `${plural(usable.length - judged.length, "plugin")} without ${HARD_RT} not judged`,
    ],
  ];
  const note = notes.length === 0 ? "" : `; ${notes.join("; ")}`;
  if (found.length > 0) {
    return fail(`${plural(found.length, "plugin")} broke the ${HARD_RT} promise: ${found[0]}${note}`, [
      ...found,
      ...errors,
    ]);
  }
  return pass(
    `${plural(judged.length, "plugin")} declaring ${HARD_RT}, ${plural(blocks, "block")}: ` +
      `run called no allocation, lock, sleep or I/O function${note}`,
  );
}
