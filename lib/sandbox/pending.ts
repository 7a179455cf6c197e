/**
 * The requests a sandbox child has not answered yet: each with its id, what
 * it is (for crash reports), and its deadline timer. What a missed deadline
 * or the child's end means is the child's business; this table only keeps
 * them and settles them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PendingRequests } from "./pending.ts";
 * const table = new PendingRequests<string>();
 * const { id, reply } = table.add("read stats", { kind: "stats" }, Infinity, () => {});
 * table.resolve(id, "answer");
 * assert.ok((await reply) === "answer" && table.size === 0);
 * ```
 *
 * @module
 */
import type { InFlightRequest } from "../errors/errors.ts";
import { timer } from "../util/timers.ts";

interface Entry<R> {
  op: string;
  inFlight: InFlightRequest;
  resolve: (reply: R) => void;
  reject: (error: unknown) => void;
  cancel: () => void;
}

/** Requests in flight, by id. */
export class PendingRequests<R> {
  readonly #entries = new Map<number, Entry<R>>();
  #nextId = 1;

  /** Adds a request; `onExpire(id)` runs if `timeoutMs` passes first. */
  add(
    op: string,
    inFlight: InFlightRequest,
    timeoutMs: number,
    onExpire: (id: number) => void,
  ): { id: number; reply: Promise<R> } {
    const id = this.#nextId++;
    const reply = new Promise<R>((resolve, reject) => {
      const cancel = timer(timeoutMs, () => onExpire(id));
      this.#entries.set(id, { op, inFlight, resolve, reject, cancel });
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
    e.reject(errorFor(e.op, e.inFlight));
    return true;
  }

  /** Fails every pending request. */
  rejectAll(errorFor: (op: string, inFlight: InFlightRequest) => unknown): void {
    for (const id of [...this.#entries.keys()]) this.reject(id, errorFor);
  }

  /** The operation of request `id`, if pending. */
  op(id: number): string | undefined {
    return this.#entries.get(id)?.op;
  }

  /** The one pending operation, when exactly one is pending. */
  get only(): string | undefined {
    return this.#entries.size === 1 ? [...this.#entries.values()][0]!.op : undefined;
  }

  /** Ids of the pending requests. */
  get ids(): number[] {
    return [...this.#entries.keys()];
  }

  get size(): number {
    return this.#entries.size;
  }
}
