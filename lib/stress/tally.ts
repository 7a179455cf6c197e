/**
 * The counts of one stress phase: calls, successes, errors by typed class
 * (with the first message of each), timeouts, RESOURCE_LIMIT answers, and
 * latency in an HDR histogram (constant memory however long the run).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Tally } from "./tally.ts";
 * const t = new Tally();
 * t.succeeded(0.25);
 * assert.ok(t.calls === 1 && t.latency.count === 1);
 * ```
 *
 * @module
 */
import { LatencyHistogram, type LatencyPoint, type LatencySummary } from "../util/histogram.ts";
import { escapeControl } from "../util/safe_text.ts";

/** Errors of one class: how many, and the first one's message. */
export interface ErrorCount {
  count: number;
  first: string;
}

/** A phase's counts as they appear in the report. */
export interface TallySummary {
  calls: number;
  /** How long the phase ran (ms). */
  duration_ms: number;
  ok: number;
  failed: number;
  per_second: number;
  latency: LatencySummary;
  /** The latency at percentiles from 0 to 100 (for a percentile plot). */
  latency_distribution: LatencyPoint[];
  errors: Record<string, ErrorCount>;
  timeouts: number;
  resource_limit: number;
}

/** Counts of one phase. */
export class Tally {
  calls = 0;
  ok = 0;
  timeouts = 0;
  resourceLimit = 0;
  readonly latency: LatencyHistogram = new LatencyHistogram();
  readonly errors: Map<string, ErrorCount> = new Map();
  #startedAt = performance.now();
  #endedAt: number | undefined;

  /** A call returned its output after `ms`. */
  succeeded(ms: number): void {
    this.calls++;
    this.ok++;
    this.latency.recordMs(ms);
  }

  /** A call failed with `error` after `ms` (a timeout's time is its deadline, not recorded as latency). */
  failed(error: Error, ms: number | undefined): void {
    this.calls++;
    if (ms !== undefined) this.latency.recordMs(ms);
    const e = this.errors.get(error.name);
    if (e) e.count++;
    else this.errors.set(error.name, { count: 1, first: escapeControl(error.message).slice(0, 500) });
  }

  /** Failed calls judged by their input (not hangs, nor calls lost with their sandbox child). */
  judgedFailures(): number {
    const lost = ["PluginCrashError", "PluginDisabledError", "SandboxProtocolError"]
      .reduce((n, name) => n + (this.errors.get(name)?.count ?? 0), 0);
    return this.calls - this.ok - this.timeouts - lost;
  }

  /** Starts the clock again (the phase begins now). */
  restart(): void {
    this.#startedAt = performance.now();
    this.#endedAt = undefined;
  }

  /** Stops the clock (the phase is over). */
  stop(): void {
    this.#endedAt ??= performance.now();
  }

  /** Milliseconds the phase ran. */
  get elapsedMs(): number {
    return (this.#endedAt ?? performance.now()) - this.#startedAt;
  }

  summary(): TallySummary {
    const seconds = this.elapsedMs / 1000;
    return {
      calls: this.calls,
      duration_ms: Math.round(this.elapsedMs),
      ok: this.ok,
      failed: this.calls - this.ok,
      per_second: seconds > 0 ? Math.round(this.calls / seconds) : 0,
      latency: this.latency.summary(),
      latency_distribution: this.latency.distribution(),
      errors: Object.fromEntries(this.errors),
      timeouts: this.timeouts,
      resource_limit: this.resourceLimit,
    };
  }
}
