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

const round = (ns: number) => Number((ns / 1e6).toFixed(4));

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
}
