/**
 * The LADSPA checks that run plugins (docs/ladspa.md, "sample-rates",
 * "processing"): plans of text-form calls (`impulse frames=64 #2=0.5`, the
 * adapter's input form) run on one instance of the adapter with a config
 * (`{"sample_rate": 192000}`), in the check's sandbox, judged call by call:
 * a PANIC (the adapter saw NaN, Inf or an output beyond its bound) or any
 * other error fails, a crash is the check's crash and a hang its timeout,
 * each with the `plugcheck invoke` command that repeats the call.
 *
 * @example
 * ```ts ignore
 * import { processingPlan } from "./ladspa_runs.ts";
 * const calls = processingPlan(lib, 1); // [{ method, input }, ...], a few thousand at most
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginTimeoutError } from "../../errors/errors.ts";
import type { InstanceHandle, PluginHandle } from "../../plugin/handle.ts";
import { Prng } from "../../util/prng.ts";
import { invokeLine, shellQuote } from "../../util/safe_text.ts";
import { errorLine, lines, repro } from "../check_helpers.ts";
import { type CheckContext, fail, type Outcome, pass, plural } from "../spec.ts";
import { controlPoints, isControlInput, type LadspaLibrary, type LadspaPlugin, usablePlugins } from "./ladspa_doc.ts";

/** One planned call: a plugin's method and a text-form input. */
export interface PlannedCall {
  method: string;
  input: string;
}

/** What a plan's run saw: the calls that failed, and the crash or hang that stopped it. */
export interface PlanRun {
  /** Calls made (those that crashed or hung included). */
  ran: number;
  failed: { call: PlannedCall; error: unknown }[];
  /** Calls that crashed or hung: each ends its plugin's calls (the run goes on with the next plugin). */
  stopped: { call: PlannedCall; error: PluginCrashError | PluginTimeoutError }[];
  /** True when the run gave up: too many crashes or hangs, a hang in process, or the check's deadline. */
  cut: boolean;
}

/** Crashes and hangs a run goes on after (each costs a sandbox child, a hang its deadline too). */
export const MAX_STOPS = 5;

/** The sample rates `ladspa.sample_rates` instantiates every plugin at. */
export const SAMPLE_RATES: readonly number[] = [8000, 22050, 44100, 48000, 96000, 192000];
/** The signals and block sizes of `ladspa.processing`. */
export const SIGNALS: readonly string[] = ["silence", "noise seed=1", "impulse"];
export const BLOCKS: readonly number[] = [1, 64, 4096];
/** The most calls `ladspa.processing` makes in one library. */
export const PROCESSING_BUDGET = 3000;

/**
 * Runs `calls` in order on one instance created with `config`: every call's
 * failure is recorded; a crash or a hang ends the calls of its plugin (the
 * method, added to `dead`: runs that share the set leave it out too) and
 * the run goes on with the next one on a new instance (a new
 * sandbox child: load the plugin with a `restartCap` above
 * {@link MAX_STOPS}), until {@link MAX_STOPS} plugins are dead, a hang in process
 * (its thread still runs) or the check's deadline.
 */
export async function runPlan(
  ctx: CheckContext,
  plugin: PluginHandle,
  config: Record<string, unknown>,
  calls: readonly PlannedCall[],
  dead: Set<string> = new Set(),
): Promise<PlanRun> {
  const timeoutMs = ctx.thresholds.callTimeoutMs;
  const run: PlanRun = { ran: 0, failed: [], stopped: [], cut: false };
  let inst: InstanceHandle | undefined;
  const stop = (call: PlannedCall, error: unknown): boolean => {
    if (!(error instanceof PluginCrashError || error instanceof PluginTimeoutError)) return false;
    run.stopped.push({ call, error });
    dead.add(call.method);
    if (dead.size >= MAX_STOPS || (error instanceof PluginTimeoutError && !ctx.isolate)) run.cut = true;
    return true;
  };
  try {
    for (const call of calls) {
      if (ctx.signal.aborted) run.cut = true;
      if (run.cut) break;
      if (dead.has(call.method)) continue;
      try {
        if (inst?.state !== "live") {
          await inst?.destroy().catch(() => {});
          inst = undefined;
          inst = await plugin.createInstance(config, { timeoutMs });
        }
      } catch (error) {
        const create = { method: call.method, input: "(create instance)" };
        if (!stop(create, error)) run.failed.push({ call: create, error });
        run.cut = true;
        break;
      }
      run.ran++;
      try {
        await inst.invoke(call.method, call.input, { timeoutMs });
      } catch (error) {
        if (!stop(call, error)) run.failed.push({ call, error });
      }
    }
  } finally {
    if (inst?.state === "live") await inst.destroy().catch(() => {});
  }
  return run;
}

/** `plugcheck invoke <lib> <method> --input <text> --isolate --config <json> [--adapter <path>]`: one call again. */
export function invokeRepro(ctx: CheckContext, call: PlannedCall, config: Record<string, unknown>): { repro?: string } {
  const adapter = ctx.load.adapter === undefined ? "" : ` --adapter ${shellQuote(ctx.load.adapter)}`;
  return repro(
    invokeLine(ctx.shown, call.method, call.input),
    `--config ${shellQuote(JSON.stringify(config))}${adapter}`,
  );
}

/** A call in evidence: `amp_mono("impulse frames=64 #0=2")`, with the config when it has one. */
export function planLine(call: PlannedCall, config: Record<string, unknown> = {}): string {
  const cfg = Object.keys(config).length === 0 ? "" : ` at ${JSON.stringify(config)}`;
  return `${call.method}(${JSON.stringify(call.input)})${cfg}`;
}

/**
 * Judges the runs of a check: the first crash or hang is the outcome (with
 * the failures before it as evidence), else any failure fails, else it
 * passes with `passed`.
 */
export function judgeRuns(
  ctx: CheckContext,
  runs: readonly { config: Record<string, unknown>; run: PlanRun }[],
  passed: string,
): Outcome {
  const failed = runs.flatMap((r) => r.run.failed.map((f) => ({ ...f, config: r.config })));
  const evidence = lines(failed, (f) => `${planLine(f.call, f.config)}: ${errorLine(f.error)}`);
  const total = runs.reduce((n, r) => n + r.run.ran, 0);
  const cut = runs.some((r) => r.run.cut) ? ", then gave up" : "";
  const stopped = runs.flatMap((r) => r.run.stopped.map((x) => ({ ...x, config: r.config })));
  if (stopped.length > 0) {
    const crashes = stopped.filter((x) => x.error instanceof PluginCrashError);
    const first = crashes[0] ?? stopped[0]!;
    const what = (x: typeof first) => x.error instanceof PluginCrashError ? "crashed" : "did not return in time";
    const counts = [
      crashes.length > 0 ? `${crashes.length} ${crashes.length === 1 ? "crash" : "crashes"}` : "",
      stopped.length > crashes.length ? plural(stopped.length - crashes.length, "hang") : "",
    ].filter((x) => x !== "").join(" and ");
    return {
      status: crashes.length > 0 ? "crash" : "timeout",
      details: `${planLine(first.call, first.config)} ${what(first)} (${counts} in ${plural(total, "call")}${cut})`,
      evidence: [
        ...stopped.map((x) => `${planLine(x.call, x.config)} ${what(x)}: ${errorLine(x.error)}`),
        ...evidence,
      ],
      ...invokeRepro(ctx, first.call, first.config),
    };
  }
  if (failed.length > 0) {
    return {
      ...fail(`${failed.length} of ${plural(total, "call")} failed`, evidence),
      ...invokeRepro(ctx, failed[0]!.call, failed[0]!.config),
    };
  }
  if (cut !== "") return { status: "skip", details: `interrupted after ${plural(total, "call")}`, evidence: [] };
  return pass(`${plural(total, "call")}: ${passed}`);
}

/** `ladspa.sample_rates`: each usable plugin, silence then an impulse of 64 frames, per rate. */
export function sampleRatePlan(lib: LadspaLibrary): PlannedCall[] {
  return usablePlugins(lib).flatMap(({ method }) => [
    { method, input: "silence frames=64" },
    { method, input: "impulse frames=64" },
  ]);
}

/** Control settings: port index -> value; an empty one leaves every control at its default. */
export type Combo = [number, number][];

/** Shuffles `items` in place in a seeded order. */
function shuffle<T>(items: T[], prng: Prng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = prng.below(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * The control settings a plugin is run with, at most `max`, the defaults
 * first (an empty setting): every combination of the controls' points
 * (controlPoints) when there are few enough; else all controls at their
 * lower points, at their upper points, at their middles, then each control
 * alone at each point and seeded random combinations, in a seeded order.
 */
export function controlCombos(plugin: LadspaPlugin, max: number, prng: Prng): Combo[] {
  const ports = plugin.ports.filter(isControlInput).map((p) => ({ index: p.index, points: controlPoints(p) }))
    .filter((p) => p.points.length > 0);
  const grid = ports.reduce((n, p) => n * p.points.length, 1);
  const out = new Map<string, Combo>([["", []]]);
  const add = (c: Combo) => {
    const key = c.map(([i, v]) => `${i}=${v}`).join(" ");
    if (!out.has(key)) out.set(key, c);
  };
  if (grid <= max - 1) {
    let combos: Combo[] = [[]];
    for (const p of ports) combos = combos.flatMap((c) => p.points.map((v) => [...c, [p.index, v]] as Combo));
    for (const c of combos) add(c);
    return [...out.values()];
  }
  add(ports.map((p) => [p.index, p.points[0]!]));
  add(ports.map((p) => [p.index, p.points[1] ?? p.points[0]!]));
  add(ports.map((p) => [p.index, p.points.at(-1)!]));
  const alone: Combo[] = ports.flatMap((p) => p.points.map((v) => [[p.index, v]] as Combo));
  for (const c of shuffle(alone, prng)) add(c);
  for (let tries = 0; out.size < max && tries < max * 4; tries++) {
    add(ports.map((p) => [p.index, p.points[prng.below(p.points.length)]!]));
  }
  return [...out.values()].slice(0, max);
}

/** Calls per plugin at the least, whatever the size of the library. */
export const MIN_CALLS_PER_PLUGIN = 15;

/**
 * `ladspa.processing`: every usable plugin with its control settings
 * (controlCombos), with silence, seeded noise and an impulse at 1, 64 and
 * 4096 frames. {@link PROCESSING_BUDGET} calls in all, shared evenly by the
 * plugins (at least {@link MIN_CALLS_PER_PLUGIN} each): the defaults get
 * every signal and block size; when the other settings cannot all have
 * them, each gets a seeded share of them (one at the least), and the
 * settings that come last are left out.
 */
export function processingPlan(lib: LadspaLibrary, seed: number): PlannedCall[] {
  const plugins = usablePlugins(lib);
  const cases = SIGNALS.flatMap((s) => BLOCKS.map((n) => `${s} frames=${n}`));
  const budget = Math.max(MIN_CALLS_PER_PLUGIN, Math.floor(PROCESSING_BUDGET / Math.max(1, plugins.length)));
  const prng = new Prng(seed, 0x1ad59a);
  return plugins.flatMap(({ plugin, method }) => {
    const left = budget - cases.length;
    const others = controlCombos(plugin, 1 + left, prng).slice(1);
    const each = others.length === 0 ? 0 : Math.min(cases.length, Math.max(1, Math.floor(left / others.length)));
    const kept = others.slice(0, Math.floor(left / Math.max(1, each)));
    const calls = cases.map((c) => ({ method, input: c }));
    for (const combo of kept) {
      const controls = combo.map(([i, v]) => ` #${i}=${v}`).join("");
      const chosen = each === cases.length ? cases : shuffle([...cases], prng).slice(0, each);
      for (const c of chosen) calls.push({ method, input: `${c}${controls}` });
    }
    return calls;
  });
}
