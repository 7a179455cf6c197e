/**
 * The speed of two builds, method by method, measured interleaved: in each
 * round, a batch of calls on the old build and a batch on the new one, back
 * to back (the order alternating from round to round), each call timed in
 * the sandbox child that ran it. Per round the ratio of the two batches'
 * typical call times (the mean without the slowest tenth); per method the median ratio and its 95 % bootstrap
 * interval over the rounds (`bootstrap.ts`): slower beyond `maxSlowdown` is a
 * regression only when the whole interval is above it, so noise that hits
 * both builds cancels and noise that does not widens the interval.
 *
 * @example
 * ```ts ignore
 * import { compareSpeed } from "./speed.ts";
 * const diffs = await compareSpeed(oldPlugin, newPlugin, { rounds: 9, seed: 1, maxSlowdown: 1.2 });
 * ```
 *
 * @module
 */
import { type Difference, ratioText } from "../report/compare/mod.ts";
import { median } from "../util/median.ts";
import { duration } from "../report/units.ts";
import type { InstanceHandle, PluginHandle } from "../plugin/handle.ts";
import { LatencyHistogram } from "../util/histogram.ts";
import { medianInterval } from "./bootstrap.ts";

/** How long a batch of one build should take (ms): long enough to time, short enough for many rounds. */
const BATCH_MS = 40;
const MIN_CALLS = 8;
const MAX_CALLS = 20_000;
/** Share of each batch's slowest calls left out of its mean (a preempted call is the machine's, not the build's). */
const TRIM = 0.1;

/** What {@link compareSpeed} needs. */
export interface SpeedOptions {
  /** Rounds (each: a batch on each build); default 9. */
  rounds?: number;
  seed: number;
  maxSlowdown: number;
  /** Each call's deadline (ms). */
  timeoutMs?: number;
  /** Methods to time (default: every method both builds have). */
  methods?: readonly string[];
}

/** The input a method is timed with: its first example (the new build's, else the old's), else one byte. */
export function speedInput(method: string, a: PluginHandle, b: PluginHandle): Uint8Array {
  const example = [b, a].map((p) => p.describe().methods.find((m) => m.name === method)?.examples[0]).find(Boolean);
  return new TextEncoder().encode(example?.input ?? "x");
}

/**
 * A batch's typical call time: the mean of its calls without the slowest tenth. Not the median: the clock ticks in
 * steps of ~0.1 us, which a call of a few tenths of a microsecond cannot be told apart with; a mean of thousands of
 * ticks can.
 */
function trimmedMean(xs: ArrayLike<number>): number {
  const s = Array.from(xs).sort((x, y) => x - y);
  const kept = s.slice(0, Math.max(1, Math.floor(s.length * (1 - TRIM))));
  return kept.reduce((sum, x) => sum + x, 0) / kept.length;
}

async function batch(inst: InstanceHandle, method: string, input: Uint8Array, n: number, timeoutMs: number) {
  if (inst.invokeCalls === undefined) {
    // In process: each call timed here (both builds pay the same dispatch).
    const ms = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await inst.invoke(method, input, { timeoutMs });
      ms[i] = performance.now() - t;
    }
    return ms;
  }
  const r = await inst.invokeCalls(Array.from({ length: n }, () => ({ method, input })), { timeoutMs });
  const failed = r.errors.find((e) => e !== undefined);
  if (failed) throw failed;
  return r.ms.subarray(0, r.ran);
}

/** The speed differences of the methods both builds have (a method that fails on its input is left out, said so). */
export async function compareSpeed(a: PluginHandle, b: PluginHandle, options: SpeedOptions): Promise<Difference[]> {
  const rounds = options.rounds ?? 9;
  const timeoutMs = options.timeoutMs ?? 5000;
  const names = new Set(b.describe().methods.map((m) => m.name));
  const methods = (options.methods ?? a.describe().methods.map((m) => m.name)).filter((m) => names.has(m));
  const diffs: Difference[] = [];
  await using ia = await a.createInstance();
  await using ib = await b.createInstance();
  for (const method of methods) {
    const input = speedInput(method, a, b);
    let n: number;
    try {
      // Calibration, on the old build (also a warm-up of both).
      const warm = await batch(ia, method, input, MIN_CALLS, timeoutMs);
      await batch(ib, method, input, MIN_CALLS, timeoutMs);
      n = Math.max(MIN_CALLS, Math.min(MAX_CALLS, Math.ceil(BATCH_MS / Math.max(1e-4, median(warm)))));
    } catch (e) {
      diffs.push({
        area: "performance",
        item: `${method} speed`,
        old: null,
        new: null,
        verdict: "change",
        detail: `not timed: its input fails (${e instanceof Error ? e.message : e})`,
      });
      continue;
    }
    const ha = new LatencyHistogram(), hb = new LatencyHistogram();
    const typicalA: number[] = [], typicalB: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      const got: Float64Array[] = [new Float64Array(), new Float64Array()];
      for (const which of order) got[which] = await batch(which === 0 ? ia : ib, method, input, n, timeoutMs);
      for (const ms of got[0]!) ha.recordMs(ms);
      for (const ms of got[1]!) hb.recordMs(ms);
      typicalA.push(trimmedMean(got[0]!));
      typicalB.push(trimmedMean(got[1]!));
    }
    const ci = medianInterval(typicalB.map((b, r) => b / typicalA[r]!), options.seed);
    const max = options.maxSlowdown;
    const verdict = ci.low > max ? "regression" : ci.high < 1 / max ? "improvement" : "same";
    const [sa, sb] = [ha.summary(), hb.summary()];
    // Calls a second at the typical call time of the median round (the sandbox's dispatch left out, as in the ratio).
    const perSecond = (typical: number[]) => Math.round(1000 / median(typical));
    diffs.push({
      area: "performance",
      item: `${method} speed`,
      old: perSecond(typicalA),
      new: perSecond(typicalB),
      verdict,
      detail: `${ratioText(ci.median)}x the old cost a call (95% interval ${ratioText(ci.low)}-${
        ratioText(ci.high)
      }x over ${rounds} rounds of ${n} calls each); ${perSecond(typicalB)} vs ${perSecond(typicalA)} calls/s, p50 ${
        duration(sb.p50_ms)
      } vs ${duration(sa.p50_ms)}, p99 ${duration(sb.p99_ms)} vs ${duration(sa.p99_ms)}`,
    });
  }
  return diffs;
}
