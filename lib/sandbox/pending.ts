/**
 * The requests a sandbox child has not answered yet: each with its id, what
 * it is (for crash reports), and its deadline timer. What a missed deadline
 * or the child's end means is the child's business; this table only keeps
 * them and settles them. A request can be described when it is settled (a
 * batch names the call it was on then), and its expiry can ask for more time
 * (a batch's deadline is per call).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PendingRequests } from "./pending.ts";
 * const table = new PendingRequests<string>();
 * const { id, reply } = table.add({ op: "read stats", inFlight: { kind: "stats" } }, Infinity, () => {});
 * table.resolve(id, "answer");
 * assert.ok((await reply) === "answer" && table.size === 0);
 * ```
 *
 * @module
 */
import type { InFlightRequest } from "../errors/errors.ts";
import type { MethodCall } from "../plugin/handle.ts";
import { timer } from "../util/timers.ts";

/** What a request is: its operation, and what it had in flight (for crash reports). */
export interface RequestInfo {
  op: string;
  inFlight: InFlightRequest;
}

/** How a request to a sandbox child is run (`SandboxChild.request`): what it is, and its deadline. */
export interface RequestControl extends RequestInfo {
  timeoutMs: number;
  /** A batch's calls: each gets `timeoutMs`, and errors name the call the batch was on. */
  calls?: readonly MethodCall[] | undefined;
  /** The child's time waiting for a CPU does not count against `timeoutMs` (a reading of the host's, not a call). */
  waitOutStalls?: boolean | undefined;
}

interface Entry<R> {
  info: RequestInfo | (() => RequestInfo);
  resolve: (reply: R) => void;
  reject: (error: unknown) => void;
  cancel: () => void;
}

const infoOf = <R>(e: Entry<R>): RequestInfo => typeof e.info === "function" ? e.info() : e.info;

/** Requests in flight, by id. */
export class PendingRequests<R> {
  readonly #entries = new Map<number, Entry<R>>();
  #nextId = 1;

  /**
   * Adds a request, described by `info` (or by what `info()` says when it is
   * settled). `onExpire(id)` runs if `timeoutMs` passes first; when it
   * returns a number of ms, the request waits that much longer (and
   * `onExpire` runs again then).
   */
  add(
    info: RequestInfo | (() => RequestInfo),
    timeoutMs: number,
    onExpire: (id: number) => number | void,
  ): { id: number; reply: Promise<R> } {
    const id = this.#nextId++;
    const reply = new Promise<R>((resolve, reject) => {
      const entry: Entry<R> = { info, resolve, reject, cancel: () => {} };
      const arm = (ms: number) => {
        entry.cancel = timer(ms, () => {
          const more = onExpire(id);
          if (typeof more === "number" && more > 0 && this.#entries.get(id) === entry) arm(more);
        });
      };
      this.#entries.set(id, entry);
      arm(timeoutMs);
    });
    return { id, reply };
  }

  /** Settles request `id` with its reply; false when no such request is pending. */
  resolve(id: number, reply: R): boolean {
    const e = this.#entries.get(id);
    if (e === undefined) return false;
    this.#entries.delete(id);
    e.cancel();
    e.resolve(reply);
    return true;
  }

  /** Removes request `id` and fails it with what `errorFor` makes of it; false when it is not pending. */
  reject(id: number, errorFor: (op: string, inFlight: InFlightRequest) => unknown): boolean {
    const e = this.#entries.get(id);
    if (e === undefined) return false;
    this.#entries.delete(id);
    e.cancel();
    const { op, inFlight } = infoOf(e);
    e.reject(errorFor(op, inFlight));
    return true;
  }

  /** Fails every pending request. */
  rejectAll(errorFor: (op: string, inFlight: InFlightRequest) => unknown): void {
    for (const id of [...this.#entries.keys()]) this.reject(id, errorFor);
  }

  /** What each pending request has in flight now, in the order they were sent. */
  inFlight(): InFlightRequest[] {
    return [...this.#entries.values()].map((e) => infoOf(e).inFlight);
  }

  /** The operation of request `id`, if pending. */
  op(id: number): string | undefined {
    const e = this.#entries.get(id);
    return e === undefined ? undefined : infoOf(e).op;
  }

  /** The one pending operation, when exactly one is pending. */
  get only(): string | undefined {
    return this.#entries.size === 1 ? infoOf([...this.#entries.values()][0]!).op : undefined;
  }

  /** Ids of the pending requests. */
  get ids(): number[] {
    return [...this.#entries.keys()];
  }

  get size(): number {
    return this.#entries.size;
  }
}
