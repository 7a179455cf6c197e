/**
 * Binding of plugcheck's native log helper (`native/npa_host.c`): one bounded
 * queue per process, one context per loaded plugin, and the drain that turns
 * queued records into {@link LogRecord}s.
 *
 * Plugin threads never wait on the JS thread: they write into the C queue and
 * return. The queue lives as long as the process; a context is released for
 * reuse only once the library it served is verifiably unmapped, because a
 * plugin may log at any time, even after it was closed.
 *
 * @example
 * ```ts ignore
 * import { HostLog } from "./host_log.ts";
 * const log = HostLog.get();
 * if (log.pending[0] !== 0) console.log(log.drain());
 * ```
 *
 * @module
 */
import { type HostSymbols, hostSymbols } from "./native_helper.ts";
import { HOST_LOG_SYMBOLS } from "./symbols.ts";

/** One message a plugin logged. */
export interface LogRecord {
  pluginId: number;
  /** npa level: 1 error .. 5 trace. */
  level: number;
  target: string;
  message: string;
  truncated: boolean;
}

/** Per-plugin log counters kept by the native helper. */
export interface LogCounters {
  /** Queued for delivery. */
  accepted: number;
  /** Lost because the queue was full. */
  droppedFull: number;
  /** Above the level the host asked for (a plugin that skips `log_enabled`). */
  filtered: number;
  /** Arrived after the plugin was closed. */
  afterClose: number;
  /** Cut to the helper's 8 KiB message limit. */
  truncated: number;
  /** Calls of `log_enabled`. */
  enabledQueries: number;
}

const QUEUE_BYTES = 4 * 1024 * 1024;
const DRAIN_BYTES = 1024 * 1024;
/** `sizeof(NpaHost)` on 64-bit targets. */
export const NPA_HOST_SIZE = 32;

/** The counters of a plugin that logged nothing (or whose context is gone). */
export const NO_LOG_COUNTERS: Readonly<LogCounters> = {
  accepted: 0,
  droppedFull: 0,
  filtered: 0,
  afterClose: 0,
  truncated: 0,
  enabledQueries: 0,
};

/** How many log contexts the helper made, reused, and holds free (reuse keeps reload churn bounded). */
export interface ContextStats {
  allocated: number;
  reused: number;
  free: number;
}

/** The process-wide log queue. */
export class HostLog {
  readonly #lib: HostSymbols<typeof HOST_LOG_SYMBOLS>;
  readonly #queue: Deno.PointerObject;
  readonly #drainBuf = new Uint8Array(DRAIN_BYTES);
  readonly #counterBuf = new BigUint64Array(6);
  readonly #decoder = new TextDecoder();
  /** Non-zero while records wait: read after each call instead of an FFI call. */
  readonly pending: Uint32Array;

  private constructor(lib: HostSymbols<typeof HOST_LOG_SYMBOLS>, queue: Deno.PointerObject) {
    this.#lib = lib;
    this.#queue = queue;
    const flag = lib.npah_queue_flag(queue)!;
    this.pending = new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(flag, 4));
  }

  static #instance: HostLog | undefined;

  /** Opens the helper and its queue once per process (never closed). Throws the raw error. */
  static get(): HostLog {
    if (HostLog.#instance) return HostLog.#instance;
    const lib = hostSymbols(HOST_LOG_SYMBOLS);
    const queue = lib.npah_queue_new(QUEUE_BYTES);
    if (queue === null) throw new Error("Cannot allocate the plugin log queue");
    HostLog.#instance = new HostLog(lib, queue);
    return HostLog.#instance;
  }

  /** A context for one plugin (filtering as `setFilter` says) plus the `NpaHost` bytes to pass to init. */
  newContext(
    pluginId: number,
    filter: { defaultLevel: number; spec: string },
  ): { ctx: Deno.PointerObject; host: Uint8Array<ArrayBuffer> } {
    const ctx = this.#lib.npah_ctx_new(this.#queue, pluginId, filter.defaultLevel);
    if (ctx === null) throw new Error("Cannot allocate a plugin log context");
    const host = new Uint8Array(NPA_HOST_SIZE);
    const n = this.#lib.npah_fill_host(ctx, host, host.length);
    if (n !== NPA_HOST_SIZE) throw new Error(`NpaHost size mismatch: helper wrote ${n} bytes`);
    this.setFilter(ctx, filter);
    return { ctx, host };
  }

  /** Installs a default level and per-target levels (`"<level> <prefix>\n"` lines). */
  setFilter(ctx: Deno.PointerObject, filter: { defaultLevel: number; spec: string }): void {
    const spec = new TextEncoder().encode(filter.spec);
    const n = this.#lib.npah_ctx_set_filter(ctx, filter.defaultLevel, spec, spec.length);
    if (n < 0) throw new Error(`The native log helper rejected the filter spec ${JSON.stringify(filter.spec)}`);
  }

  /** From now on, messages for `ctx` are dropped and counted as after-close. */
  closeContext(ctx: Deno.PointerObject): void {
    this.#lib.npah_ctx_close(ctx);
  }

  /** Records where the (loaded) library at `libraryPath` lives, so {@link releaseContext} can tell it is gone. */
  bindContext(ctx: Deno.PointerObject, libraryPath: string): void {
    const path = new TextEncoder().encode(libraryPath);
    this.#lib.npah_ctx_bind(ctx, path, path.length);
  }

  /**
   * After the library was unloaded: releases a closed context for reuse if
   * the library's code is really gone. False when it stays (still mapped,
   * e.g. linked nodelete): its counters keep counting late messages.
   */
  releaseContext(ctx: Deno.PointerObject): boolean {
    return this.#lib.npah_ctx_release(ctx) === 1;
  }

  /** Contexts allocated, reused and free now, process-wide. */
  contextStats(): ContextStats {
    const out = new BigUint64Array(3);
    this.#lib.npah_ctx_stats(out, 3);
    return { allocated: Number(out[0]), reused: Number(out[1]), free: Number(out[2]) };
  }

  /**
   * Records the queue took back, process-wide, because their writer never
   * finished them: a plugin thread cancelled or jumping out of the log
   * function mid-message (the queue holds no lock such a thread could keep).
   */
  abandoned(): number {
    return this.#lib.npah_queue_abandoned(this.#queue);
  }

  counters(ctx: Deno.PointerObject): LogCounters {
    this.#lib.npah_ctx_counters(ctx, this.#counterBuf, this.#counterBuf.length);
    const c = Array.from(this.#counterBuf, Number);
    return {
      accepted: c[0] ?? 0,
      droppedFull: c[1] ?? 0,
      filtered: c[2] ?? 0,
      afterClose: c[3] ?? 0,
      truncated: c[4] ?? 0,
      enabledQueries: c[5] ?? 0,
    };
  }

  /** Takes every queued record (cheap when the queue is empty). */
  drain(): LogRecord[] {
    const records: LogRecord[] = [];
    const s = this.#lib;
    while (this.pending[0] !== 0) {
      const n = s.npah_drain(this.#queue, this.#drainBuf, this.#drainBuf.length);
      if (n === 0) break;
      const view = new DataView(this.#drainBuf.buffer, 0, n);
      let off = 0;
      while (off + 20 <= n) {
        const pluginId = view.getUint32(off, true);
        const level = view.getUint32(off + 4, true);
        const flags = view.getUint32(off + 8, true);
        const tlen = view.getUint32(off + 12, true);
        const mlen = view.getUint32(off + 16, true);
        off += 20;
        const target = this.#decoder.decode(this.#drainBuf.subarray(off, off + tlen));
        off += tlen;
        const message = this.#decoder.decode(this.#drainBuf.subarray(off, off + mlen));
        off += mlen;
        records.push({ pluginId, level, target, message, truncated: (flags & 1) !== 0 });
      }
    }
    return records;
  }
}
