/**
 * Resources of the process that holds the plugin (this one, or the sandbox
 * child), sampled while a stress run goes on: resident memory, threads, open
 * descriptors, and the plugin's own counters (`npa_plugin_stats`). At most 2048 points are kept; when full, every other one is
 * dropped and the interval doubles, so a run of any length keeps its shape
 * in constant memory. The RSS trend is a least-squares slope against calls
 * made, so a leak shows as growth per 10k calls whatever the call rate.
 *
 * @example
 * ```ts ignore
 * const watch = new ResourceWatch(ProcInfo.get(), () => plugin.processId, 100, () => tally.calls);
 * watch.start();
 * // ... run ...
 * watch.stop();
 * console.log(watch.rssSlopePer10k()); // bytes per 10k calls
 * ```
 *
 * @module
 */
import type { ProcInfo, ProcSample } from "../ffi/proc_info.ts";

/** One sample, as the report shows it. */
export interface ResourcePoint {
  /** Milliseconds since the watch started. */
  t_ms: number;
  /** Calls made by then. */
  calls: number;
  rss_bytes: number;
  threads: number;
  fds: number;
  /** `npa_plugin_stats` counters read at the same time (null without the capability, or until the read returns). */
  live_instances: number | null;
  live_buffers: number | null;
}

const MAX_POINTS = 2048;

/** Samples one process while a run goes on. */
export class ResourceWatch {
  readonly #proc: ProcInfo;
  readonly #pid: () => number | undefined;
  readonly #calls: () => number;
  readonly #stats: (() => Promise<Record<string, number> | null>) | undefined;
  #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #t0 = performance.now();
  #every = 1;
  #tick = 0;
  readonly points: ResourcePoint[] = [];
  /** The highest of each reading. */
  peak: ProcSample | undefined;
  /** The last reading. */
  last: ProcSample | undefined;

  /**
   * `intervalMs` 0: no timer (samples only when asked). `stats` reads the
   * plugin's counters for each point (they arrive a moment later: a sandbox
   * child answers a request).
   */
  constructor(
    proc: ProcInfo,
    pid: () => number | undefined,
    intervalMs: number,
    calls: () => number,
    stats?: () => Promise<Record<string, number> | null>,
  ) {
    this.#proc = proc;
    this.#pid = pid;
    this.#intervalMs = intervalMs;
    this.#calls = calls;
    this.#stats = stats;
  }

  /** Starts sampling (and takes a first sample now). */
  start(): void {
    this.#t0 = performance.now();
    this.sampleNow();
    if (this.#intervalMs > 0 && this.#timer === undefined) {
      const timer = setInterval(() => this.#onTick(), this.#intervalMs);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Stops sampling (after one last sample). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.sampleNow();
  }

  /** Takes and records a sample now; undefined when the process is gone. */
  sampleNow(): ProcSample | undefined {
    const pid = this.#pid();
    if (pid === undefined) return undefined;
    const s = this.#proc.sample(pid);
    if (s === undefined) return undefined;
    this.last = s;
    this.peak = this.peak === undefined ? { ...s } : {
      rssBytes: Math.max(this.peak.rssBytes, s.rssBytes),
      threads: Math.max(this.peak.threads, s.threads),
      fds: Math.max(this.peak.fds, s.fds),
    };
    const point: ResourcePoint = {
      t_ms: Math.round(performance.now() - this.#t0),
      calls: this.#calls(),
      rss_bytes: s.rssBytes,
      threads: s.threads,
      fds: s.fds,
      live_instances: null,
      live_buffers: null,
    };
    this.points.push(point);
    this.#stats?.().then((stats) => {
      point.live_instances = stats?.live_instances ?? null;
      point.live_buffers = stats?.live_buffers ?? null;
    }, () => {}); // a failed read leaves the point without counters
    if (this.points.length >= MAX_POINTS) this.#halve();
    return s;
  }

  /** The current sampling interval (it doubles each time the points are thinned). */
  get intervalMs(): number {
    return this.#intervalMs * this.#every;
  }

  /**
   * Least-squares slope of RSS against calls, in bytes per 10 000 calls,
   * over the points from `fromCalls` on; 0 with fewer than 3 points or no
   * calls between them.
   */
  rssSlopePer10k(fromCalls = 0): number {
    return slope(this.points.filter((p) => p.calls >= fromCalls).map((p) => [p.calls, p.rss_bytes])) * 10_000;
  }

  #onTick(): void {
    if (++this.#tick % this.#every === 0) this.sampleNow();
  }

  #halve(): void {
    const kept = this.points.filter((_, i) => i % 2 === 0);
    this.points.length = 0;
    this.points.push(...kept);
    this.#every *= 2;
  }
}

/** Least-squares slope of y against x; 0 with fewer than 3 points or no spread in x. */
export function slope(xy: readonly (readonly [number, number])[]): number {
  const n = xy.length;
  if (n < 3) return 0;
  let sx = 0, sy = 0;
  for (const [x, y] of xy) {
    sx += x;
    sy += y;
  }
  const mx = sx / n, my = sy / n;
  let num = 0, den = 0;
  for (const [x, y] of xy) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return den === 0 ? 0 : num / den;
}
