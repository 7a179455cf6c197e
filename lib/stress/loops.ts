/**
 * The loops of a stress run. Steady: each loop calls its lane's instance
 * (lanes are shared by several loops only when the plugin declares
 * `thread_safe_instances`; otherwise loops on one lane take turns). Churn:
 * each loop creates an instance, calls it once and destroys it, again and
 * again. Inputs are picked from the plan by a seeded generator per loop.
 * The dispatch floor is the steady loop on no-op instances: the same code,
 * the plugin taken out.
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
import type { InstanceHandle, InvokeOptions, PluginHandle } from "../plugin/handle.ts";
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
    this.fatal ??= error;
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
