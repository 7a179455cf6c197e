/**
 * A fuzz run's progress over time, for the report's `timeline` (and the plots
 * of `--html`): the status line's figures, sampled as often as it is drawn,
 * kept at most {@link MAX_POINTS} points however long the run (when full,
 * every other point is dropped and sampling halves its rate).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Timeline } from "./timeline.ts";
 * const t = new Timeline();
 * for (let i = 1; i <= 1000; i++) t.add({ execs: i, perSecond: 10, corpus: 1, findings: 0, rssBytes: undefined, elapsedMs: i });
 * assert.ok(t.points().length <= 600 && t.points().at(-1)!.execs === 1000);
 * ```
 *
 * @module
 */
import type { FuzzProgress } from "./options.ts";

/** Most points a timeline keeps. */
export const MAX_POINTS = 600;

/** One sample of a run's progress. */
export interface TimelinePoint {
  /** Seconds since the run began (as a finding's `first_seconds`). */
  t_s: number;
  execs: number;
  /** Executions per second over the last interval. */
  per_second: number;
  corpus: number;
  findings: number;
  /** The largest RSS of the running children (or fork-server workers), when one was running. */
  rss_bytes: number | null;
  /** Guided runs: edges and features, by the job that saw most. */
  edges?: number;
  features?: number;
}

/** Samples of a run, thinned as it grows. */
export class Timeline {
  #points: TimelinePoint[] = [];
  #stride = 1;
  #ticks = 0;
  #last: TimelinePoint | undefined;

  /** Records a sample (kept when it falls on the current stride; the last one is always kept). */
  add(p: FuzzProgress): void {
    const prev = this.#last;
    const dt = prev === undefined ? p.elapsedMs / 1000 : p.elapsedMs / 1000 - prev.t_s;
    const point: TimelinePoint = {
      t_s: Math.round(p.elapsedMs) / 1000,
      execs: p.execs,
      // A last interval shorter than half a tick (the run's end) says little: it keeps the rate before it.
      per_second: prev !== undefined && dt < 0.05
        ? prev.per_second
        : dt > 0
        ? Math.round((p.execs - (prev?.execs ?? 0)) / dt)
        : 0,
      corpus: p.corpus,
      findings: p.findings,
      rss_bytes: p.rssBytes ?? null,
      ...p.coverage && { edges: p.coverage.edges, features: p.coverage.features },
    };
    this.#last = point;
    if (this.#ticks++ % this.#stride !== 0) return;
    this.#points.push(point);
    if (this.#points.length >= MAX_POINTS) {
      this.#points = this.#points.filter((_, i) => i % 2 === 0);
      this.#stride *= 2;
    }
  }

  /** The kept samples, and the latest one when it was not kept. */
  points(): TimelinePoint[] {
    const last = this.#last;
    return last === undefined || this.#points.at(-1) === last ? [...this.#points] : [...this.#points, last];
  }
}
