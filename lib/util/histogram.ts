/**
 * Latency as an HDR histogram (`node:perf_hooks` `createHistogram`, three
 * significant figures), not a sorted array of every sample: memory stays
 * constant however many calls are timed. Used by `invoke --repeat` and the
 * stress engine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LatencyHistogram } from "./histogram.ts";
 * const h = new LatencyHistogram();
 * for (const ms of [0.5, 1, 2]) h.recordMs(ms);
 * assert.ok(h.count === 3 && h.summary().max_ms >= 1.99);
 * ```
 *
 * @module
 */
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";

/** Percentiles of the recorded latencies, in milliseconds (JSON keys). */
export interface LatencySummary {
  count: number;
  min_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

/** One point of a latency distribution: the latency (ms) below which `percentile` % of the calls fall. */
export interface LatencyPoint {
  percentile: number;
  ms: number;
}

const round = (ns: number) => Number((ns / 1e6).toFixed(4));

/** Where a distribution is read: even steps to 90 %, then each further nine in halves (HDR's percentile plot). */
const DISTRIBUTION_PERCENTILES = [
  0,
  10,
  20,
  30,
  40,
  50,
  60,
  70,
  80,
  90,
  95,
  97.5,
  99,
  99.5,
  99.75,
  99.9,
  99.95,
  99.975,
  99.99,
  99.995,
  99.999,
  100,
];

/** Latencies, recorded in nanoseconds. */
export class LatencyHistogram {
  readonly #h: RecordableHistogram = createHistogram();

  /** Records one latency given in milliseconds (as `performance.now()` differences are). */
  recordMs(ms: number): void {
    this.#h.record(Math.max(1, Math.round(ms * 1e6))); // the histogram takes integers >= 1
  }

  get count(): number {
    return this.#h.count;
  }

  /** The recorded latencies summarized; zeros when nothing was recorded. */
  summary(): LatencySummary {
    const h = this.#h;
    if (h.count === 0) return { count: 0, min_ms: 0, p50_ms: 0, p90_ms: 0, p99_ms: 0, p999_ms: 0, max_ms: 0 };
    return {
      count: h.count,
      min_ms: round(h.min),
      p50_ms: round(h.percentile(50)),
      p90_ms: round(h.percentile(90)),
      p99_ms: round(h.percentile(99)),
      p999_ms: round(h.percentile(99.9)),
      max_ms: round(h.max),
    };
  }

  /** The latency at each of a fixed list of percentiles (0 to 100); empty when nothing was recorded. */
  distribution(): LatencyPoint[] {
    const h = this.#h;
    if (h.count === 0) return [];
    return DISTRIBUTION_PERCENTILES.map((percentile) => ({
      percentile,
      ms: round(percentile === 0 ? h.min : percentile === 100 ? h.max : h.percentile(percentile)),
    }));
  }
}
