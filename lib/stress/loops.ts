/**
 * The loops of a stress run. Steady: each loop calls its lane's instance
 * (lanes are shared by several loops only when the plugin declares
 * `thread_safe_instances`; otherwise loops on one lane take turns). Churn:
 * each loop creates an instance, calls it once and destroys it, again and
 * again. Inputs are picked from the plan by a seeded generator per loop.
 * The dispatch floor is the steady loop on no-op instances: the same code,
 * the plugin taken out.
 *
 * In a sandbox child the steady loop sends its calls in batches
 * ({@link batchedLoop}): one round trip per batch instead of per call. The
 * batch grows from 1 call while it takes under {@link BATCH_TARGET_MS} (up to
 * {@link MAX_BATCH}), so slow methods stay one call per round trip and a run
 * ends at most one batch (under 32 ms) late; big batches matter, as each
 * costs both processes ~0.1-0.3 ms besides its calls (on a busy 2-core
 * machine, 4 ms batches gave 0.6x the in-process calls/s, 16 ms 0.8x).
 * Nothing else changes: the same inputs
 * in the same order, each output judged, each failure counted, each call's
 * latency (measured in the child, the round trip left out), each call its
 * own deadline; a crash or hang names the call it interrupted.
 *
 * What a call's failure means is decided in one place ({@link Phase.failed}):
 * a timeout in process wedges the instance, which is replaced, and the run
 * goes on; in a sandbox child a timeout or a crash ends the run (the child's
 * state is gone), and the error is kept as the run's crash.
 *
 * @example
 * ```ts ignore
 * const phase = new Phase({ plugin, plan, book, tally, stop, timeoutMs: 5000, seed: 1, config: undefined });
 * await Promise.all(lanesFor(4).map((lane, k) => steadyLoop(phase, k, lane)));
 * ```
 *
 * @module
 */
import {
  CallSlotsExhaustedError,
  InstanceWedgedError,
  PluginCrashError,
  PluginDisabledError,
  PluginError,
  PluginTimeoutError,
  ResourceLimitError,
  SandboxProtocolError,
} from "../errors/errors.ts";
import { LatencyHistogram } from "../util/histogram.ts";
import { sameCall } from "../errors/host_errors.ts";
import type { CallsResult, InstanceHandle, InvokeOptions, MethodCall, PluginHandle } from "../plugin/handle.ts";
import { Prng } from "../util/prng.ts";
import type { OutcomeBook, PlannedInput } from "./plan.ts";
import type { Tally } from "./tally.ts";

/** When a phase stops starting calls: a duration, a call count, an abort, or a fatal error. */
export class Stopper {
  readonly #endAt: number;
  #left: number;
  #signal: AbortSignal | undefined;
  /** Why it stopped early (an abort, a crash), if it did. */
  reason: string | undefined;

  constructor(limit: { durationMs?: number | undefined; calls?: number | undefined }, signal?: AbortSignal) {
    this.#endAt = limit.durationMs === undefined ? Infinity : performance.now() + limit.durationMs;
    this.#left = limit.calls ?? Infinity;
    this.#signal = signal;
  }

  /**
   * May one more call start? (Counts it.) `now` saves reading the clock
   * when the caller has just read it (the end of its previous call).
   */
  take(now?: number): boolean {
    if (this.reason !== undefined) return false;
    if (this.#signal?.aborted) {
      this.reason = "interrupted";
      return false;
    }
    if (this.#left <= 0 || (this.#endAt !== Infinity && (now ?? performance.now()) >= this.#endAt)) return false;
    this.#left--;
    return true;
  }

  /** How many of `n` more calls may start (0: none; counts them). */
  takeUpTo(n: number, now?: number): number {
    if (!this.take(now)) return 0;
    const more = Math.min(n - 1, this.#left);
    this.#left -= more;
    return 1 + more;
  }

  /** Gives back calls taken that never started (a batch cut short). */
  giveBack(n: number): void {
    this.#left += n;
  }

  /** Stops the phase for `reason`. */
  stop(reason: string): void {
    this.reason ??= reason;
  }
}

/** A lane: the instance some loops call, replaced when a call on it timed out. */
export interface Lane {
  instance: InstanceHandle;
}

/** Counts of instances made, destroyed and lost, and lifecycle latencies. */
export class Lifecycle {
  created = 0;
  destroyed = 0;
  /** Instances given up after a call on them timed out. */
  wedged = 0;
  readonly createLatency: LatencyHistogram = new LatencyHistogram();
  readonly destroyLatency: LatencyHistogram = new LatencyHistogram();
  /** The largest number of live instances at once. */
  maxLive = 0;
  #live = 0;

  made(ms: number): void {
    this.created++;
    this.createLatency.recordMs(ms);
    this.maxLive = Math.max(this.maxLive, ++this.#live);
  }

  gone(ms?: number): void {
    this.destroyed++;
    this.#live--;
    if (ms !== undefined) this.destroyLatency.recordMs(ms);
  }

  lost(): void {
    this.wedged++;
    this.#live--;
  }

  /** Creates an instance of `plugin`, timed and counted. */
  async create(plugin: PluginHandle, config: Uint8Array | undefined, call: InvokeOptions): Promise<InstanceHandle> {
    const t0 = performance.now();
    const inst = await plugin.createInstance(config, call);
    this.made(performance.now() - t0);
    return inst;
  }

  /** Destroys an instance, timed and counted. */
  async destroy(inst: InstanceHandle): Promise<void> {
    const t0 = performance.now();
    await inst.destroy();
    this.gone(performance.now() - t0);
  }
}

/** What the loops of one phase share. */
export interface PhaseInit {
  plugin: PluginHandle;
  plan: readonly PlannedInput[];
  /** Judges outcomes; none for the floor (no-op outputs say nothing). */
  book: OutcomeBook | undefined;
  tally: Tally;
  stop: Stopper;
  timeoutMs: number;
  seed: number;
  config: Uint8Array | undefined;
  lifecycle?: Lifecycle;
}

/** One phase: its shared state and the failure rules. */
export class Phase {
  readonly plugin: PluginHandle;
  readonly plan: readonly PlannedInput[];
  readonly book: OutcomeBook | undefined;
  readonly tally: Tally;
  readonly stop: Stopper;
  readonly call: { timeoutMs: number };
  readonly seed: number;
  readonly config: Uint8Array | undefined;
  readonly lifecycle: Lifecycle;
  /** The error that ended the run (a crash, or a hang that killed the sandbox child). */
  fatal: PluginError | undefined;

  constructor(init: PhaseInit) {
    this.plugin = init.plugin;
    this.plan = init.plan;
    this.book = init.book;
    this.tally = init.tally;
    this.stop = init.stop;
    this.call = { timeoutMs: init.timeoutMs };
    this.seed = init.seed;
    this.config = init.config;
    this.lifecycle = init.lifecycle ?? new Lifecycle();
  }

  /**
   * Records a failed call of plan input `i` (-1: a create or destroy, whose
   * time `ms` is not a call's latency: undefined) on `lane`'s instance. Returns
   * false when the loop must end. Throws what is not a plugin error (a bug).
   */
  async failed(error: unknown, i: number, ms: number | undefined, lane: Lane | undefined): Promise<boolean> {
    if (!(error instanceof PluginError)) throw error;
    const isolated = this.plugin.isolated;
    if (
      error instanceof PluginCrashError || error instanceof PluginDisabledError || error instanceof SandboxProtocolError
    ) {
      this.tally.failed(error, ms);
      return this.#fatal(error);
    }
    if (error instanceof PluginTimeoutError) {
      this.tally.timeouts++;
      this.tally.failed(error, undefined);
      if (isolated) return this.#fatal(error);
      return lane === undefined ? true : await this.#replace(lane);
    }
    if (error instanceof InstanceWedgedError) {
      // Another loop's call on this lane timed out (or its child died): not a call of this one.
      if (isolated && this.fatal) return false;
      return lane === undefined ? true : await this.#replace(lane);
    }
    if (error instanceof CallSlotsExhaustedError) {
      this.tally.failed(error, ms);
      this.stop.stop("every call slot is held by a call that never returned");
      return false;
    }
    this.tally.failed(error, ms);
    if (error instanceof ResourceLimitError) {
      this.tally.resourceLimit++;
      return true;
    }
    if (i < 0) this.book?.lifecycleFailed(error);
    else this.book?.failed(i, error);
    return true;
  }

  #fatal(error: PluginError): boolean {
    // Of the errors one crash gives every lane, the culprit's own (its thread faulted) is the one kept.
    const culprit = error instanceof PluginCrashError && error.blame?.culprit;
    if (this.fatal === undefined || (culprit && sameCall(error.request, culprit))) this.fatal = error;
    this.stop.stop(error instanceof PluginTimeoutError ? "a call hung and its sandbox child was killed" : "crashed");
    return false;
  }

  /** Replaces a lane's wedged instance (once, whichever loop sees it first); false if that fails. */
  async #replace(lane: Lane): Promise<boolean> {
    const wedged = lane.instance;
    if (wedged.state === "live") return true;
    const pending = replacing.get(lane);
    if (pending) return await pending;
    const attempt = (async () => {
      this.lifecycle.lost();
      wedged.destroy().catch(() => {}); // runs when the stuck call returns, if ever
      try {
        lane.instance = await this.lifecycle.create(this.plugin, this.config, this.call);
        return true;
      } catch (error) {
        if (!(error instanceof PluginError)) throw error;
        this.stop.stop(`a replacement instance could not be created: ${error.message}`);
        return false;
      } finally {
        replacing.delete(lane);
      }
    })();
    replacing.set(lane, attempt);
    return await attempt;
  }
}

const replacing = new WeakMap<Lane, Promise<boolean>>();

/** Calls lane `lane`'s instance until the phase stops. Loop `k` has a generator of its own. */
export async function steadyLoop(phase: Phase, k: number, lane: Lane): Promise<void> {
  if (lane.instance.invokeCalls !== undefined) return await batchedLoop(phase, k, lane);
  const rng = new Prng(phase.seed, k + 1);
  const { plan, tally, book, stop, call } = phase;
  const n = plan.length;
  let end: number | undefined;
  while (stop.take(end)) {
    const i = n === 1 ? 0 : rng.below(n);
    const p = plan[i]!;
    const t0 = performance.now();
    try {
      const out = await lane.instance.invoke(p.method, p.bytes, call);
      end = performance.now();
      tally.succeeded(end - t0);
      book?.ok(i, out);
    } catch (error) {
      end = performance.now();
      if (!await phase.failed(error, i, end - t0, lane)) return;
    }
  }
}

/** The most calls in one batch. */
export const MAX_BATCH = 1024;
/** A batch grows while it takes less than this (ms), and shrinks when it takes more than twice as long. */
export const BATCH_TARGET_MS = 16;

/** The next batch's size after one of `size` calls (`asked` given, `ran` made) took `ms`. */
export function nextBatchSize(size: number, asked: number, ran: number, ms: number): number {
  if (ran < asked) return Math.max(1, ran); // its outputs filled the reply
  if (asked < size) return size; // the phase's last calls
  if (ms < BATCH_TARGET_MS) return Math.min(MAX_BATCH, size * 2);
  if (ms > 2 * BATCH_TARGET_MS) return Math.max(1, size >> 1);
  return size;
}

/**
 * {@link steadyLoop} in batches (an instance with `invokeCalls`: in a
 * sandbox child): the same inputs in the same order as one call at a time,
 * and each call's outcome recorded as its own.
 */
async function batchedLoop(phase: Phase, k: number, lane: Lane): Promise<void> {
  const rng = new Prng(phase.seed, k + 1);
  const { plan, tally, book, stop, call } = phase;
  const n = plan.length;
  const planned: MethodCall[] = plan.map((p) => ({ method: p.method, input: p.bytes }));
  const picks: number[] = [];
  const calls: MethodCall[] = [];
  let size = 1;
  let end: number | undefined;
  for (;;) {
    const asked = stop.takeUpTo(size, end);
    if (asked === 0) return;
    picks.length = calls.length = 0;
    for (let j = 0; j < asked; j++) {
      const i = n === 1 ? 0 : rng.below(n);
      picks.push(i);
      calls.push(planned[i]!);
    }
    const t0 = performance.now();
    let r: CallsResult;
    try {
      r = await lane.instance.invokeCalls!(calls, call);
    } catch (error) {
      // The batch as a whole: its child crashed or hung (the error names the call), or the instance is gone.
      end = performance.now();
      if (!await phase.failed(error, picks[0]!, undefined, lane)) return;
      continue;
    }
    end = performance.now();
    if (r.ran < asked) stop.giveBack(asked - r.ran);
    let go = true;
    for (let j = 0; j < r.ran; j++) {
      const error = r.errors[j];
      if (error === undefined) {
        tally.succeeded(r.ms[j]!);
        book?.ok(picks[j]!, r.outputs[j]!);
      } else if (!await phase.failed(error, picks[j]!, r.ms[j], lane)) go = false; // the rest ran: still counted
    }
    if (!go) return;
    size = nextBatchSize(size, asked, r.ran, end - t0);
  }
}

/** Create -> invoke -> destroy until the phase stops. */
export async function churnLoop(phase: Phase, k: number): Promise<void> {
  const rng = new Prng(phase.seed, k + 1);
  const { plan, tally, book, stop, call, lifecycle } = phase;
  const n = plan.length;
  while (stop.take()) {
    let lane: Lane;
    try {
      lane = { instance: await lifecycle.create(phase.plugin, phase.config, call) };
    } catch (error) {
      if (!await phase.failed(error, -1, undefined, undefined)) return;
      continue;
    }
    const i = n === 1 ? 0 : rng.below(n);
    const p = plan[i]!;
    const t0 = performance.now();
    try {
      const out = await lane.instance.invoke(p.method, p.bytes, call);
      tally.succeeded(performance.now() - t0);
      book?.ok(i, out);
    } catch (error) {
      if (!await phase.failed(error, i, performance.now() - t0, undefined)) return;
      if (lane.instance.state === "wedged") {
        // A call on it timed out and never returned: the instance is lost, not destroyed.
        lifecycle.lost();
        lane.instance.destroy().catch(() => {}); // runs when the stuck call returns, if ever
        continue;
      }
    }
    try {
      await lifecycle.destroy(lane.instance);
    } catch (error) {
      if (!await phase.failed(error, -1, undefined, undefined)) return;
    }
  }
}
