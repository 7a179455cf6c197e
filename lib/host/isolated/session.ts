/**
 * The life of a sandboxed plugin's children: the current child, a fresh one
 * after a crash or a killed hang, the crash cap that disables the plugin,
 * idle reaping, and close. `SandboxedPlugin` and its instances hold a session
 * privately; nothing here is public API.
 *
 * A child being reaped or closed is retired at once: it is never handed out
 * again, and its clean exit is not a crash. Everything a session keeps grows
 * only up to a bound (warnings, failure times within the window).
 *
 * @example
 * ```ts ignore
 * const session = new SandboxSession(spec, policy, accept, firstChild);
 * const { reply, child } = await session.request(KIND.STATS, {}, [], { op: "read stats", timeoutMs: 1000 });
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginTimeoutError, SandboxProtocolError } from "../../errors/errors.ts";
import { closedError, disabledError, unloadError } from "../../errors/host_errors.ts";
import type { ResolvedSandboxOptions } from "../../plugin/options.ts";
import { timer } from "../../util/timers.ts";
import { leftoverWarning, stdoutWarning } from "../../errors/leak_check.ts";
import { type ChildSpec, type Reply, SandboxChild } from "../../sandbox/sandbox_child.ts";
import { KIND_NAMES } from "../../sandbox/protocol.ts";
import { stopChild, type UnloadEnd } from "../../sandbox/stop.ts";
import { leftNow } from "../../sandbox/child_end.ts";
import { ProcessGuard } from "../../ffi/process_guard.ts";
import type { RequestControl } from "../../sandbox/pending.ts";

const MAX_WARNINGS = 1000;

/** A snapshot of a sandboxed plugin's health. */
export interface SandboxHealth {
  /** `idle`: no request running; `running`: one is; `recovering`: the child died, the next request restarts it; `disabled`. */
  state: "idle" | "running" | "recovering" | "disabled";
  /** Crashes and killed hangs within the restart window. */
  crashesInWindow: number;
  /** Children started after the first. */
  restarts: number;
  /** When the last request started, if any. */
  lastUse: Date | undefined;
  /** The last crash or killed hang. */
  lastCrash: { at: Date; message: string; signal?: string | undefined } | undefined;
  /** Why the plugin is disabled, if it is. */
  disabledReason: string | undefined;
  /** Process id of the current child, if one runs. */
  pid: number | undefined;
}

/** How a request is made through the session: as to a child (what it had in flight is the session's to say), and: */
export interface SessionRequest extends Omit<RequestControl, "inFlight"> {
  /**
   * Mark the request `sync: true` when nothing else is in flight (decided as
   * it is counted, so a burst of concurrent requests cannot all see "alone").
   */
  syncWhenAlone?: boolean;
  method?: string;
  inputs?: Uint8Array[];
}

/** Checks a fresh child's handshake against the first one's; an error refuses the child. */
export type AcceptChild = (child: SandboxChild, op: string) => Error | undefined;

export class SandboxSession {
  readonly #spec: ChildSpec;
  readonly #policy: ResolvedSandboxOptions;
  readonly #accept: AcceptChild;
  readonly warnings: string[] = [];
  #child: SandboxChild | undefined;
  #starting: Promise<SandboxChild> | undefined;
  #failures: number[] = [];
  readonly #counted = new WeakSet<SandboxChild>();
  /** Leftover processes already reported at a child's CLOSE reply (its exit reports only the others). */
  readonly #leftoversSeen = new WeakMap<SandboxChild, Set<number>>();
  #restarts = 0;
  #lastUse: Date | undefined;
  #lastCrash: SandboxHealth["lastCrash"];
  #disabledReason: string | undefined;
  #cancelIdle = () => {};
  #running = 0;
  #closed = false;
  /** The header of the last CLOSE reply (log counters at the end of a child). */
  lastClose: Record<string, unknown> | undefined;

  constructor(spec: ChildSpec, policy: ResolvedSandboxOptions, accept: AcceptChild, first: SandboxChild) {
    this.#spec = spec;
    this.#policy = policy;
    this.#accept = accept;
    this.#adopt(first);
    this.#armIdle();
  }

  /** The child requests go to now (alive, not retired), if any. */
  get current(): SandboxChild | undefined {
    return this.#child?.alive ? this.#child : undefined;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The last 64 KiB of the stderr of the current (or last) child: plugin output and logs that went there. */
  get stderrTail(): string {
    return this.#child?.stderrTail ?? "";
  }

  /** How long a child gets to unload and exit after its CLOSE reply (ms): the plugin's `timeoutMs`. */
  get unloadMs(): number {
    return this.#spec.startTimeoutMs;
  }

  /** The grace a closing child gets before SIGTERM (ms). */
  get graceMs(): number {
    return this.#policy.graceMs;
  }

  /** Records a contract warning (bounded). */
  warn(message: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(message);
  }

  /** The current child, or a fresh one (restart policy applied). */
  async ensure(op: string): Promise<SandboxChild> {
    if (this.#closed) throw closedError(op, "plugin");
    if (this.#disabledReason !== undefined) throw disabledError(op, this.#disabledReason);
    const child = this.#child;
    if (child?.alive) return child;
    if (child && child.end?.reason === "crashed" && !this.#counted.has(child)) {
      // Died between requests (e.g. a plugin thread crashed it while idle).
      this.#countFailure(child, new Error(`the child ${child.end.signal ?? "exited"} while idle`));
      if (this.#disabledReason !== undefined) throw disabledError(op, this.#disabledReason);
    }
    this.#starting ??= this.#start(op).finally(() => (this.#starting = undefined));
    return await this.#starting;
  }

  async #start(op: string): Promise<SandboxChild> {
    let child: SandboxChild;
    try {
      child = await SandboxChild.start(this.#spec);
    } catch (error) {
      // A child that dies or hangs while starting counts like any other crash.
      if (
        error instanceof PluginCrashError || error instanceof PluginTimeoutError ||
        error instanceof SandboxProtocolError
      ) {
        this.#count(error, error instanceof PluginCrashError ? error.signal : undefined);
      }
      throw error;
    }
    const refused = this.#accept(child, op);
    if (refused || this.#closed) {
      child.kill(refused ? "protocol" : "closed");
      throw refused ?? closedError(op, "plugin"); // close() came while this child started: it must not outlive it
    }
    this.#restarts++;
    this.#adopt(child);
    return child;
  }

  #adopt(child: SandboxChild): void {
    this.#child = child;
    child.exited.then(() => {
      const seen = this.#leftoversSeen.get(child) ?? new Set();
      const left = child.leftovers.filter((p) => !seen.has(p.pid));
      if (left.length > 0) this.warn(leftoverWarning(left));
    });
  }

  /** Runs one request on a live child, applying the restart policy; returns the child that answered. */
  async request(
    kind: number,
    header: Record<string, unknown>,
    blobs: Uint8Array[],
    ctl: SessionRequest,
  ): Promise<{ reply: Reply; child: SandboxChild }> {
    const child = await this.ensure(ctl.op);
    if (ctl.syncWhenAlone) header = { ...header, sync: this.#running === 0 };
    this.#running++;
    this.#lastUse = new Date();
    this.#cancelIdle();
    const inFlight = { kind: KIND_NAMES[kind] ?? String(kind), ...ctl.method !== undefined && { method: ctl.method } };
    try {
      const reply = await child.request(kind, header, blobs, {
        op: ctl.op,
        timeoutMs: ctl.timeoutMs,
        inFlight: ctl.inputs ? { ...inFlight, inputs: ctl.inputs } : inFlight,
        calls: ctl.calls,
        waitOutStalls: ctl.waitOutStalls,
      });
      const warnings = reply.header.warnings;
      if (Array.isArray(warnings)) { for (const w of warnings) this.warn(String(w)); }
      return { reply, child };
    } catch (error) {
      if (child.end !== undefined) this.#countFailure(child, error);
      throw error;
    } finally {
      this.#running--;
      this.#armIdle();
    }
  }

  /** Counts a crash or killed hang of `child` against the restart cap, once per child. */
  #countFailure(child: SandboxChild, error: unknown): void {
    const reason = child.end?.reason;
    if (this.#counted.has(child) || reason === "reaped" || reason === "closed" || reason === "fatal") return;
    this.#counted.add(child);
    this.#count(error, child.end?.signal);
  }

  #count(error: unknown, signal: string | undefined): void {
    const now = Date.now();
    this.#failures = this.#failures.filter((t) => now - t < this.#policy.restartWindowMs);
    this.#failures.push(now);
    const message = error instanceof Error ? error.message : String(error);
    this.#lastCrash = { at: new Date(now), message, signal };
    if (this.#failures.length >= this.#policy.restartCap) {
      this.#disabledReason =
        `${this.#failures.length} crashes within ${this.#policy.restartWindowMs} ms; last: ${message}`;
    }
  }

  #armIdle(): void {
    this.#cancelIdle();
    if (this.#closed || this.#running > 0) return;
    this.#cancelIdle = timer(this.#policy.idleTimeoutMs, () => {
      const child = this.current;
      if (this.#running === 0 && child) this.#stop(child, "reaped").catch(() => {});
    }, { unref: true });
  }

  /**
   * Stops a child gracefully (it is retired at once); keeps what its CLOSE
   * reply said. Its unloading, after the reply, gets `unloadMs`: a closed
   * child's is returned (`unloading`), a reaped child's problem becomes a
   * warning.
   */
  async #stop(
    child: SandboxChild,
    reason: "closed" | "reaped",
  ): Promise<{ inTime: boolean; signal?: string; unloading?: Promise<UnloadEnd> }> {
    const result = await stopChild(child, this.#policy.graceMs, reason, this.unloadMs);
    if (result.header) {
      this.lastClose = result.header;
      const warnings = result.header.warnings;
      if (Array.isArray(warnings)) { for (const w of warnings) this.warn(String(w)); }
      const bytes = Number(result.header.stdoutBytes ?? 0);
      if (bytes > 0) this.warn(stdoutWarning(bytes));
    }
    if (result.unloading === undefined) {
      await child.waitExit(); // its leftovers are noted by then
      return result;
    }
    // The child unloads and exits after the results are out: what its plugin left running is counted now.
    const left = leftNow(ProcessGuard.get(), child.pid, child.launcherPid);
    if (left.length > 0) {
      this.#leftoversSeen.set(child, new Set(left.map((p) => p.pid)));
      this.warn(leftoverWarning(left));
    }
    const unloading = result.unloading.then(async (how) => {
      await child.waitExit();
      return how;
    });
    if (reason === "reaped") {
      const how = await unloading;
      if (!how.ok) this.warn(unloadError("unload an idle sandbox child", how).message);
      return { inTime: result.inTime };
    }
    return { ...result, unloading };
  }

  /** A snapshot of the sandbox's health. */
  health(): SandboxHealth {
    const now = Date.now();
    const crashesInWindow = this.#failures.filter((t) => now - t < this.#policy.restartWindowMs).length;
    const state = this.#closed
      ? "idle"
      : this.#disabledReason !== undefined
      ? "disabled"
      : this.#running > 0
      ? "running"
      : this.current === undefined && this.#lastCrash
      ? "recovering"
      : "idle";
    return {
      state,
      crashesInWindow,
      restarts: this.#restarts,
      lastUse: this.#lastUse,
      lastCrash: this.#lastCrash,
      disabledReason: this.#disabledReason,
      pid: this.current?.pid,
    };
  }

  /** Clears a disabled state and the crash window. */
  enable(): void {
    this.#disabledReason = undefined;
    this.#failures = [];
  }

  /**
   * Closes: waits for a child being started, then stops the current child
   * gracefully. Idempotent; undefined when there was no child to stop.
   */
  async close(): Promise<{ inTime: boolean; signal?: string; unloading?: Promise<UnloadEnd> } | undefined> {
    if (this.#closed) return undefined;
    this.#closed = true;
    this.#cancelIdle();
    await this.#starting?.catch(() => {});
    const child = this.current;
    if (child === undefined) {
      if (this.#child) await this.#child.waitExit();
      return undefined;
    }
    return await this.#stop(child, "closed");
  }
}
