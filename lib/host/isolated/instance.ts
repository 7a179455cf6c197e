/**
 * An instance living in a sandbox child. It remembers the child it lives in:
 * when that child was reaped for idleness, the instance is re-created in the
 * current child (from its config) on its next call; when that child crashed
 * or was killed for a missed deadline, the instance is wedged (its state is
 * gone).
 *
 * `invokeCalls` (what `stress` runs in a sandbox) sends many calls in one
 * request and gets their outputs, errors and times in one reply: the round
 * trip is paid once per batch, while each call keeps its own deadline and a
 * crash or hang still names the call it interrupted (`call_board.ts`).
 *
 * @example
 * ```ts ignore
 * await using inst = await sandboxed.createInstance({ counter_start: 1 });
 * await inst.invokeBatch("sum", ["[1]", "[2, 3]"]);
 * ```
 *
 * @module
 */
import { InstanceWedgedError, type PluginError } from "../../errors/errors.ts";
import { closedError, wedgedError } from "../../errors/host_errors.ts";
import { DEFAULT_INVOKE_TIMEOUT_MS } from "../../plugin/options.ts";
import {
  type BatchResult,
  type CallsResult,
  inputBytes,
  type InstanceHandle,
  type InvokeInput,
  type InvokeOptions,
  type MethodCall,
} from "../../plugin/handle.ts";
import { checkDelay } from "../../util/timers.ts";
import type { Reply, SandboxChild } from "../../sandbox/sandbox_child.ts";
import { errorFromWire, KIND } from "../../sandbox/protocol.ts";
import type { SandboxSession } from "./session.ts";

/** Output bytes after which a child starts no more calls of a batch (the rest come back unrun). */
const REPLY_BUDGET = 16 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

/** A batch reply as per-call results: outputs, errors (by index) and times. */
function callsResult(reply: Reply): CallsResult {
  const ran = Number(reply.header.ran ?? 0);
  const errors: (PluginError | undefined)[] = new Array(ran).fill(undefined);
  const failed = Array.isArray(reply.header.failed) ? reply.header.failed as [number, unknown][] : [];
  for (const [i, data] of failed) errors[i] = errorFromWire(data) as PluginError;
  const times = reply.blobs[ran] ?? EMPTY;
  return {
    ran,
    outputs: reply.blobs.slice(0, ran),
    errors,
    ms: new Float64Array(times.slice().buffer, 0, Math.min(ran, times.length >> 3)),
  };
}

/** Where an instance lives: its id in a child. */
export interface Placement {
  id: number;
  child: SandboxChild;
}

/** An instance living in a sandbox child. */
export class SandboxedInstance implements InstanceHandle {
  readonly #session: SandboxSession;
  readonly #config: Uint8Array | undefined;
  readonly #timeoutMs: number;
  readonly #noop: boolean;
  #at: Placement;
  #state: "live" | "wedged" | "destroyed" = "live";
  #why = "";

  /** @internal Creates an instance (a no-op one with `noop`) in the session's current child. */
  static async create(
    session: SandboxSession,
    config: Uint8Array | undefined,
    timeoutMs: number,
    noop = false,
  ): Promise<Placement> {
    const { reply, child } = await session.request(
      KIND.CREATE,
      { hasConfig: config !== undefined, ...noop && { noop: true } },
      config === undefined ? [] : [config],
      { op: noop ? "create no-op instance" : "create instance", timeoutMs },
    );
    return { id: Number(reply.header.instance), child };
  }

  /** @internal Use `createInstance()` or `noopInstance()`. */
  constructor(
    session: SandboxSession,
    config: Uint8Array | undefined,
    at: Placement,
    timeoutMs: number,
    noop = false,
  ) {
    this.#session = session;
    this.#config = config;
    this.#at = at;
    this.#timeoutMs = timeoutMs;
    this.#noop = noop;
  }

  get state(): "live" | "wedged" | "destroyed" {
    return this.#state;
  }

  /** Why the instance's child is no longer the one to use, if it is not. */
  #gone(): string | undefined {
    const child = this.#at.child;
    return child.end?.reason ?? child.retired;
  }

  /** Makes sure the instance exists in the current child; re-creates it after an idle reap. */
  async #ready(op: string): Promise<void> {
    if (this.#state === "destroyed") throw closedError(op, "instance");
    if (this.#state === "wedged") throw wedgedError(op, this.#why);
    const current = await this.#session.ensure(op);
    if (current === this.#at.child) return;
    const gone = this.#gone();
    if (gone === "reaped") {
      this.#at = await SandboxedInstance.create(this.#session, this.#config, this.#timeoutMs, this.#noop);
      return;
    }
    this.#wedgeFor(gone);
    throw wedgedError(op, this.#why);
  }

  #wedgeFor(reason: string | undefined): void {
    this.#state = "wedged";
    this.#why = reason === "timed_out" ? "a call timed out and its sandbox child was killed" : "its sandbox child died";
  }

  async #call<T>(op: string, run: () => Promise<T>): Promise<T> {
    await this.#ready(op);
    try {
      return await run();
    } catch (error) {
      const gone = this.#gone();
      if (!(error instanceof InstanceWedgedError) && gone !== undefined && gone !== "reaped" && gone !== "closed") {
        this.#wedgeFor(gone);
      }
      throw error;
    }
  }

  async invoke(method: string, input?: InvokeInput, options: InvokeOptions = {}): Promise<Uint8Array> {
    const op = `invoke ${JSON.stringify(method)}`;
    const bytes = inputBytes(input);
    const timeoutMs = checkDelay(options.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS, "timeoutMs");
    return await this.#call(op, async () => {
      const { reply } = await this.#session.request(KIND.INVOKE, { instance: this.#at.id, method }, [bytes], {
        // Alone in flight, the call takes the child's synchronous path (no nonblocking dispatch to pay for):
        // nothing could run beside it, and a hang is still cut off by the deadline, which kills the child.
        syncWhenAlone: true,
        op,
        timeoutMs,
        method,
        inputs: [bytes],
      });
      return reply.blobs[0] ?? new Uint8Array(0);
    });
  }

  async invokeBatch(
    method: string,
    inputs: readonly InvokeInput[],
    options: InvokeOptions = {},
  ): Promise<BatchResult[]> {
    const op = `invoke ${JSON.stringify(method)}`;
    const blobs = inputs.map(inputBytes);
    const timeoutMs = checkDelay(options.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS, "timeoutMs");
    return await this.#call(op, async () => {
      const header = { instance: this.#at.id, methods: [method], sync: true };
      const { reply } = await this.#session.request(KIND.BATCH, header, blobs, {
        op,
        timeoutMs,
        method,
        inputs: blobs,
      });
      const r = callsResult(reply);
      return r.outputs.map((output, i): BatchResult => {
        const error = r.errors[i];
        return error === undefined ? { ok: true, output } : { ok: false, error };
      });
    });
  }

  async invokeCalls(calls: readonly MethodCall[], options: InvokeOptions = {}): Promise<CallsResult> {
    const timeoutMs = checkDelay(options.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS, "timeoutMs");
    const methods: string[] = [];
    const which: number[] = [];
    const blobs: Uint8Array[] = [];
    for (const c of calls) {
      let m = methods.indexOf(c.method);
      if (m < 0) m = methods.push(c.method) - 1;
      which.push(m);
      blobs.push(c.input);
    }
    const op = `invoke ${JSON.stringify(methods[0] ?? "")}`;
    if (calls.length === 0) return { ran: 0, outputs: [], errors: [], ms: new Float64Array(0) };
    return await this.#call(op, async () => {
      const header = {
        instance: this.#at.id,
        methods,
        ...methods.length > 1 && { which },
        budget: REPLY_BUDGET,
      };
      const { reply } = await this.#session.request(KIND.BATCH, header, blobs, {
        // Alone in flight, the batch takes the child's synchronous path; otherwise each call is nonblocking,
        // so calls of batches in flight on a thread-safe instance overlap as single calls would.
        syncWhenAlone: true,
        op,
        timeoutMs,
        inputs: blobs,
        calls,
      });
      return callsResult(reply);
    });
  }

  /** Destroys the instance in its child (a no-op if that child is gone). Idempotent. */
  async destroy(): Promise<void> {
    if (this.#state === "destroyed") return;
    const wasLive = this.#state === "live";
    this.#state = "destroyed";
    if (!wasLive || this.#gone() !== undefined) return;
    await this.#session.request(KIND.DESTROY, { instance: this.#at.id }, [], {
      op: "destroy instance",
      timeoutMs: this.#timeoutMs,
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}
