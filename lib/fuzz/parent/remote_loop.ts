/**
 * The fuzz engine's batch loop over a fork server's worker
 * (`fork_server.ts`): the engine builds each batch here, in the parent; it is
 * written into the worker's input file and run there, and the reply says
 * which inputs were fresh and what the comparison tables hold. A worker's
 * death ends a run with {@link WorkerDied}, carrying the input in flight.
 *
 * @example
 * ```ts ignore
 * import { RemoteLoop } from "./remote_loop.ts";
 * const loop = new RemoteLoop(file, server.tables);
 * loop.attach(await server.fork());
 * await new FuzzEngine(loop, target, req, seeds, dict, send, true).run();
 * ```
 *
 * @module
 */
import { type ComparisonTables, FUZZ_INBOX_BYTES } from "../../ffi/fuzz_loop.ts";
import type { CallResult } from "../../ffi/calls.ts";
import { appendEntry, INBOX_HEADER } from "../inbox.ts";
import type { BatchLoop, LoopDeath } from "../engine/batch_loop.ts";
import { type ForkServer, type ForkWorker, T } from "./fork_server.ts";
import type { InputFile } from "./input_file.ts";

/** The worker's death, as the engine sees it: the input of the batch that was running. */
export class WorkerDied extends Error implements LoopDeath {
  readonly loopDied = true as const;
  readonly index: number;
  constructor(index: number) {
    super("the fuzz worker died");
    this.index = index;
  }
}

/**
 * The engine's batch loop over a fork server's worker: the batch is built
 * here, written into the input file, and run there.
 */
export class RemoteLoop implements BatchLoop {
  readonly arena: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly fresh: Uint8Array;
  readonly inbox = new Uint8Array(FUZZ_INBOX_BYTES);
  methodIndex = 0;
  batch = 0;
  #stop = false;
  readonly #file: InputFile;
  #worker: ForkWorker | undefined;
  readonly #tables: ComparisonTables | undefined;
  #written = -1;

  constructor(file: InputFile, shape: ForkServer["tables"]) {
    this.#file = file;
    const maxBatch = file.maxBatch;
    this.arena = new Uint8Array(file.arenaBytes);
    this.offsets = new Uint32Array(maxBatch);
    this.lengths = new Uint32Array(maxBatch);
    this.fresh = new Uint8Array(maxBatch);
    this.#tables = shape && {
      cmps: new Uint8Array(shape.cmpSlots * shape.cmpSlot),
      cmpSlot: shape.cmpSlot,
      mems: new Uint8Array(shape.memSlots * shape.memSlot),
      memSlot: shape.memSlot,
      seq: new Uint32Array(1),
    };
  }

  /** The worker the next batches run in. */
  attach(worker: ForkWorker): void {
    this.#worker = worker;
    this.#written = -1;
  }

  #inboxUsed = 0;

  /** Leaves another job's corpus entry for the engine (false when the inbox is full). */
  share(input: Uint8Array, method: number): boolean {
    const entry = appendEntry(input, method, this.#inboxUsed, this.inbox.length);
    if (entry === undefined) return false;
    this.inbox.set(entry.bytes, INBOX_HEADER + this.#inboxUsed);
    this.#inboxUsed = entry.used;
    new DataView(this.inbox.buffer).setUint32(0, entry.used, true);
    return true;
  }

  /** Asks the engine to stop after the batch (the worker also sees the file's stop flag). */
  requestStop(): void {
    this.#stop = true;
  }

  get stopRequested(): boolean {
    return this.#stop;
  }

  method(): void {
    // a harness has one entry point
  }

  comparisons(): ComparisonTables | undefined {
    return this.#tables;
  }

  raw(): CallResult {
    throw new Error("A libFuzzer harness's batch never stops for the guard");
  }

  /** When the last RUN went to the worker (epoch ms): where the cost of a death in it starts. */
  lastSentAt = 0;

  async run(from: number, count: number): Promise<number> {
    const worker = this.#worker;
    if (worker === undefined) throw new Error("No fuzz worker is attached");
    if (this.#written !== this.batch) {
      let used = 0;
      for (let i = 0; i < count; i++) used = Math.max(used, this.offsets[i]! + this.lengths[i]!);
      this.#file.writeBatch(this.arena.subarray(0, used), this.offsets, this.lengths, count, this.methodIndex);
      this.#written = this.batch;
    }
    const req = new Uint8Array(8);
    const v = new DataView(req.buffer);
    v.setUint32(0, from, true);
    v.setUint32(4, count, true);
    this.lastSentAt = performance.timeOrigin + performance.now();
    const m = await worker.request(T.RUN, req);
    if (m === undefined) throw new WorkerDied(this.#file.inFlightIndex());
    const p = m.payload;
    const rv = new DataView(p.buffer, p.byteOffset, p.byteLength);
    const r = rv.getInt32(0, true);
    this.fresh.set(p.subarray(8, 8 + count));
    const t = this.#tables;
    if (t !== undefined && p.length >= 8 + count + t.cmps.length + t.mems.length) {
      t.seq[0] = rv.getUint32(4, true);
      t.cmps.set(p.subarray(8 + count, 8 + count + t.cmps.length));
      t.mems.set(p.subarray(8 + count + t.cmps.length, 8 + count + t.cmps.length + t.mems.length));
    }
    return r;
  }
}
