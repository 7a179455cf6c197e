/**
 * The LADSPA checks that run a plugin in the adapter's other modes
 * (docs/ladspa.md, "inplace", "run-adding", "reset", "block-size"): each compares what a
 * plugin gives one way with what it gives another, through the words of the
 * adapter's text input (`fresh`: a new LADSPA instance for the run; `inplace`:
 * audio outputs share the audio inputs' buffers; `adding gain=G`: run_adding
 * compared with run by the adapter itself; `keep`: no reset before the run;
 * `cleanup`: instantiate then cleanup, nothing between; `block=N`: the run in
 * blocks of N frames).
 *
 * A comparison means something only for a plugin whose output is a function
 * of its input on a fresh instance: each check first runs {@link PROBE} twice
 * on fresh instances and leaves out (with a note) a plugin that answers
 * differently (a noise generator drawing from the C library's `rand()`) or
 * fails (ladspa.processing reports that).
 *
 * @example
 * ```ts ignore
 * import { inplace, reset, runAdding } from "./ladspa_modes.ts";
 * const outcome = await inplace(ctx, lib);
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginError, PluginTimeoutError } from "../../errors/errors.ts";
import { errorLine, lines, withPlugin } from "../check_helpers.ts";
import { type CheckContext, fail, type Outcome, pass, plural, skip, warn } from "../spec.ts";
import { difference } from "./ladspa_independence.ts";
import { type LadspaLibrary, type LadspaPlugin, usablePlugins } from "./ladspa_doc.ts";
import { invokeRepro, MAX_STOPS, planLine, type PlannedCall } from "./ladspa_runs.ts";
import type { InstanceHandle } from "../../plugin/handle.ts";

/** The instance config of the three checks. */
const CONFIG = { max_block: 4096 } as const;
/** Run twice on fresh instances: equal answers make a plugin comparable. */
export const PROBE = "noise seed=1 frames=1024 fresh";
/** `ladspa.inplace`: each input alone and in place, on fresh instances. */
export const INPLACE_INPUTS: readonly string[] = ["noise seed=1", "impulse"].flatMap((s) =>
  [1, 64, 1024].map((n) => `${s} frames=${n}`)
);
/** `ladspa.run_adding`: the adapter compares run_adding with run for each. */
export const ADDING_INPUTS: readonly string[] = [
  "noise seed=1 frames=1024 adding gain=0.5",
  "impulse frames=64 adding gain=0.25",
];
/** `ladspa.reset`: what a fresh instance and a reset one are compared on, and the audio run before the reset. */
export const RESET_INPUTS: readonly string[] = ["noise seed=2 frames=1024", "impulse frames=1024"];
export const WARM_UP = "noise seed=1 frames=4096";
/** `ladspa.block_size`: this input in one run, then in blocks of each size (each on a fresh instance). */
export const BLOCK_INPUT = "noise seed=1 frames=4096";
export const BLOCK_SIZES: readonly number[] = [1, 64, 1000];

const decoder = new TextDecoder();

/** A crash or hang of one call: the check's outcome, with the call. */
class Stopped extends Error {
  constructor(readonly call: PlannedCall, readonly error: PluginCrashError | PluginTimeoutError) {
    super(errorLine(error));
  }
}

/** One adapter instance's calls, counted: an answer is the output text, or `error: <line>`. */
interface Asker {
  ask(method: string, input: string): Promise<string>;
  calls: number;
  /** Plugins left out after a crash or hang of a plain run (ladspa.processing's finding). */
  crashes: number;
}

/**
 * Runs `body` with an asker on an adapter instance of the plugin (in the
 * check's sandbox, a new one after a crash): a crash or hang that escapes
 * `body` ends the check as its outcome, naming the call, with the
 * `plugcheck invoke` that repeats it.
 */
async function onInstance(ctx: CheckContext, body: (a: Asker) => Promise<Outcome>): Promise<Outcome> {
  const timeoutMs = ctx.thresholds.callTimeoutMs;
  try {
    return await withPlugin(ctx, async (plugin) => {
      let inst: InstanceHandle | undefined;
      const asker: Asker = {
        calls: 0,
        crashes: 0,
        async ask(method, input) {
          asker.calls++;
          try {
            if (inst?.state !== "live") {
              await inst?.destroy().catch(() => {});
              inst = undefined;
              inst = await plugin.createInstance(CONFIG, { timeoutMs });
            }
            return decoder.decode(await inst.invoke(method, input, { timeoutMs }));
          } catch (error) {
            if (error instanceof PluginCrashError || error instanceof PluginTimeoutError) {
              throw new Stopped({ method, input }, error);
            }
            if (error instanceof PluginError) return `error: ${errorLine(error)}`;
            throw error;
          }
        },
      };
      try {
        return await body(asker);
      } finally {
        if (inst?.state === "live") await inst.destroy().catch(() => {});
      }
    }, { restartCap: MAX_STOPS + 1 });
  } catch (error) {
    if (!(error instanceof Stopped)) throw error;
    const crashed = error.error instanceof PluginCrashError;
    return {
      status: crashed ? "crash" : "timeout",
      details: `${planLine(error.call)} ${crashed ? "crashed" : "did not return in time"}`,
      evidence: [`${planLine(error.call)}: ${error.message}`],
      ...invokeRepro(ctx, error.call, CONFIG),
    };
  }
}

/**
 * Why a plugin cannot be compared (its plain run fails, crashes or hangs, or
 * two fresh runs differ), or undefined. A crash or hang of the plain run is
 * ladspa.processing's finding: the plugin is left out and the check goes on
 * in a new sandbox child, up to {@link MAX_STOPS} times (a hang in process
 * ends it: its thread still runs).
 */
async function notComparable(ctx: CheckContext, a: Asker, method: string): Promise<string | undefined> {
  let one: string;
  try {
    one = await a.ask(method, PROBE);
  } catch (error) {
    const hang = error instanceof Stopped && error.error instanceof PluginTimeoutError;
    if (!(error instanceof Stopped) || ++a.crashes > MAX_STOPS || (hang && !ctx.isolate)) throw error;
    return `${method}: ${hang ? "hangs" : "crashes"} on ${JSON.stringify(PROBE)} (ladspa.processing's finding)`;
  }
  if (one.startsWith("error:")) return `${method}: fails on ${JSON.stringify(PROBE)} (${message(one)})`;
  const two = await a.ask(method, PROBE);
  if (one !== two) return `${method}: two fresh instances gave other outputs for ${JSON.stringify(PROBE)}`;
  return undefined;
}

/** An error answer without its class and status prefix: the adapter's message. */
const message = (answer: string) =>
  answer.replace(/^error: /, "").replace(/^.*?plugin returned status \d+ \([A-Z_]+\): /, "");

const audioPorts = (p: LadspaPlugin, direction: string) =>
  p.ports.filter((port) => port.direction === direction && port.kind === "audio").length;

/** A finding: the call that showed it and how the answers differ. */
interface Differ {
  call: PlannedCall;
  how: string;
}

/**
 * Runs `compare` on each plugin the asker can compare ({@link notComparable}: why not, kept in `left` for the notes),
 * until the check's signal; `compare` answers the first difference it found in that plugin, if any.
 */
async function compareEach(
  ctx: CheckContext,
  a: Asker,
  plugins: readonly { method: string }[],
  compare: (method: string) => Promise<Differ | undefined>,
): Promise<{ differ: Differ[]; left: string[]; compared: number }> {
  const differ: Differ[] = [];
  const left: string[] = [];
  let compared = 0;
  for (const { method } of plugins) {
    if (ctx.signal.aborted) break;
    const why = await notComparable(ctx, a, method);
    if (why !== undefined) {
      left.push(why);
      continue;
    }
    compared++;
    const found = await compare(method);
    if (found !== undefined) differ.push(found);
  }
  return { differ, left, compared };
}

/** What was left out, for the details: "; not compared: a (why)". */
const noted = (what: string, items: readonly string[]) =>
  items.length === 0 ? "" : `; ${what}: ${items.slice(0, 3).join(", ")}${items.length > 3 ? ", ..." : ""}`;

/**
 * The verdict of a comparing check. `oneCall`: the first finding's call shows it on its own (the adapter judged it),
 * so its `plugcheck invoke` is the repro; else one call cannot show a difference between two runs, and the repro is
 * the check again (the runner's).
 */
function judged(
  differ: Differ[],
  failed: string,
  passed: string,
  notes: string,
  oneCall?: CheckContext,
  verdict: typeof fail | typeof warn = fail,
): Outcome {
  if (differ.length === 0) return pass(`${passed}${notes}`);
  const methods = new Set(differ.map((d) => d.call.method));
  return {
    ...verdict(
      `${plural(methods.size, "plugin")} ${failed}: ${planLine(differ[0]!.call)}: ${differ[0]!.how}`,
      lines(differ, (d) => `${planLine(d.call)}: ${d.how}`),
    ),
    ...oneCall && invokeRepro(oneCall, differ[0]!.call, CONFIG),
  };
}

/** `ladspa.inplace`: unless INPLACE_BROKEN, each input gives the same outputs in place as with separate buffers. */
export function inplace(ctx: CheckContext, lib: LadspaLibrary): Promise<Outcome> {
  const both = usablePlugins(lib).filter(({ plugin }) =>
    audioPorts(plugin, "input") > 0 && audioPorts(plugin, "output") > 0
  );
  const broken = both.filter(({ plugin }) => plugin.properties.includes("INPLACE_BROKEN")).map((p) => p.method);
  const plugins = both.filter(({ plugin }) => !plugin.properties.includes("INPLACE_BROKEN"));
  if (plugins.length === 0) {
    return Promise.resolve(
      skip(
        both.length === 0
          ? "no plugin with an audio input and an audio output"
          : `every plugin declares INPLACE_BROKEN`,
      ),
    );
  }
  return onInstance(ctx, async (a) => {
    const { differ, left, compared } = await compareEach(ctx, a, plugins, async (method) => {
      for (const input of INPLACE_INPUTS) {
        const alone = await a.ask(method, `${input} fresh`);
        const shared = await a.ask(method, `${input} fresh inplace`);
        if (alone !== shared) {
          return { call: { method, input: `${input} fresh inplace` }, how: `in place, ${difference(alone, shared)}` };
        }
      }
      return undefined;
    });
    const notes = noted("declare INPLACE_BROKEN (not run in place)", broken) + noted("not compared", left);
    if (compared === 0) return skip(`no plugin to compare${notes}`);
    return judged(
      differ,
      "gave other outputs with each audio output sharing an audio input's buffer, without declaring INPLACE_BROKEN",
      `${plural(a.calls, "call")}: the same outputs in place as with separate buffers (${plural(compared, "plugin")})`,
      notes,
    );
  });
}

/** `ladspa.run_adding`: run_adding and set_run_adding_gain come as a pair, and run_adding adds gain x run's output. */
export function runAdding(ctx: CheckContext, lib: LadspaLibrary): Promise<Outcome> {
  const usable = usablePlugins(lib);
  const half = usable.filter(({ plugin: p }) =>
    p.has_run_adding !== undefined && p.has_run_adding !== p.has_set_run_adding_gain
  );
  const plugins = usable.filter(({ plugin: p }) =>
    p.has_run_adding === true && p.has_set_run_adding_gain === true && audioPorts(p, "output") > 0
  );
  if (half.length === 0 && plugins.length === 0) return Promise.resolve(skip("no plugin has run_adding"));
  const unpaired = half.map(({ method, plugin: p }) =>
    `${method}: has ${p.has_run_adding ? "run_adding" : "set_run_adding_gain"} without ${
      p.has_run_adding ? "set_run_adding_gain" : "run_adding"
    } (LADSPA: both or neither)`
  );
  return onInstance(ctx, async (a) => {
    const { differ, left, compared } = await compareEach(ctx, a, plugins, async (method) => {
      for (const input of ADDING_INPUTS) {
        const got = await a.ask(method, input);
        if (got.startsWith("error:")) return { call: { method, input }, how: message(got) };
      }
      return undefined;
    });
    const notes = noted("not compared", left);
    if (unpaired.length > 0) {
      return fail(`${plural(unpaired.length, "plugin")} ${unpaired[0]}`, [
        ...unpaired,
        ...differ.map((d) => `${planLine(d.call)}: ${d.how}`),
      ]);
    }
    if (compared === 0) return skip(`no plugin to compare${notes}`);
    return judged(
      differ,
      "did not add gain x the run output with run_adding",
      `${plural(a.calls, "call")}: run_adding adds gain x the run output (${plural(compared, "plugin")})`,
      notes,
      ctx,
    );
  });
}

/**
 * `ladspa.reset`: every plugin survives cleanup right after instantiate;
 * after audio, deactivate + activate gives the output a fresh instance gives
 * (plugins with activate that are comparable).
 */
export function reset(ctx: CheckContext, lib: LadspaLibrary): Promise<Outcome> {
  const usable = usablePlugins(lib);
  if (usable.length === 0) return Promise.resolve(skip("no plugin the adapter can run"));
  return onInstance(ctx, async (a) => {
    const differ: Differ[] = [];
    const left: string[] = [];
    const noActivate: string[] = [];
    let compared = 0, stateful = 0;
    for (const { method, plugin } of usable) {
      if (ctx.signal.aborted) break;
      const probe = await a.ask(method, "cleanup");
      if (probe.startsWith("error:")) {
        differ.push({ call: { method, input: "cleanup" }, how: `instantiate then cleanup: ${message(probe)}` });
        continue;
      }
      if (plugin.has_activate === false) {
        noActivate.push(method);
        continue;
      }
      const why = await notComparable(ctx, a, method);
      if (why !== undefined) {
        left.push(why);
        continue;
      }
      compared++;
      const fresh: string[] = [];
      for (const input of RESET_INPUTS) fresh.push(await a.ask(method, `${input} fresh`));
      for (const [i, input] of RESET_INPUTS.entries()) {
        await a.ask(method, WARM_UP);
        // Without the reset, the state the warm-up left shows (or the plugin keeps none): the comparison's weight.
        if (i === 0 && await a.ask(method, `${input} keep`) !== fresh[i]) stateful++;
        const after = await a.ask(method, input); // the adapter resets before it: deactivate + activate
        if (after !== fresh[i]) {
          differ.push({
            call: { method, input },
            how: `after ${JSON.stringify(WARM_UP)} and deactivate + activate, ${difference(fresh[i]!, after)} (fresh)`,
          });
          break;
        }
      }
    }
    const notes = noted("no activate (cannot be reset)", noActivate) + noted("not compared", left);
    const resets = compared === 0
      ? "no plugin to reset"
      : `${plural(compared, "plugin")} reset to a fresh instance's output (${stateful} keeping state from run to run)`;
    return judged(
      differ,
      differ.some((d) => d.call.input !== "cleanup")
        ? "did not come back to a fresh instance's output after deactivate + activate"
        : "failed cleanup right after instantiate",
      `${plural(a.calls, "call")}: ${plural(usable.length, "plugin")} clean up without activate; ${resets}`,
      notes,
    );
  });
}

/**
 * `ladspa.block_size` (a warning): the same input gives the same outputs run
 * in one block and in blocks of 1, 64 and 1000 frames (every port reconnected
 * to its block, as hosts with their own buffers do). A host picks the block
 * size, and may change it from one call to the next; a plugin that does work
 * per call (smoothing a control over the block, restarting a fade) sounds
 * different under each. A warning, not a failure: LADSPA does not forbid it.
 */
export function blockSize(ctx: CheckContext, lib: LadspaLibrary): Promise<Outcome> {
  const plugins = usablePlugins(lib).filter(({ plugin }) => audioPorts(plugin, "output") > 0);
  if (plugins.length === 0) return Promise.resolve(skip("no plugin with an audio output"));
  return onInstance(ctx, async (a) => {
    const { differ, left, compared } = await compareEach(ctx, a, plugins, async (method) => {
      const whole = await a.ask(method, `${BLOCK_INPUT} fresh`);
      for (const size of BLOCK_SIZES) {
        const input = `${BLOCK_INPUT} fresh block=${size}`;
        const blocks = await a.ask(method, input);
        if (blocks === whole) continue;
        // A failure only in blocks (NaN from a block of 1 frame) shows the adapter's message, not a cut answer.
        const how = blocks.startsWith("error:") ? message(blocks) : difference(whole, blocks);
        return { call: { method, input }, how: `in blocks of ${size}, ${how}` };
      }
      return undefined;
    });
    const notes = noted("not compared", left);
    if (compared === 0) return skip(`no plugin to compare${notes}`);
    return judged(
      differ,
      "gave other outputs for the same audio in smaller blocks: the host's block size changes what it sounds like",
      `${plural(a.calls, "call")}: the same outputs in one block and in blocks of ${BLOCK_SIZES.join(", ")} (${
        plural(compared, "plugin")
      })`,
      notes,
      undefined,
      warn,
    );
  });
}
