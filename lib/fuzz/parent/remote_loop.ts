/**
 * The fuzz engine's batch loop over a fork server's worker
 * (`fork_server.ts`): the engine builds each batch here, in the parent; it is
 * written into the worker's input file and run there, and the reply says
 * which inputs were fresh and what the comparison tables hold. For an npa
 * plugin each RUN names the method, and a call the loop stopped at comes back
 * with its buffers taken over by the worker (copied within the output bound,
 * freed by the plugin's own free there): {@link RemoteLoop.raw} and
 * {@link RemoteLoop.take} give them to the guard as if the call had run here.
 * A worker's death ends a run with {@link WorkerDied}, carrying the input in
 * flight.
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
import type { RawBuf, TakenBuffer } from "../../ffi/memory.ts";
import { appendEntry, INBOX_HEADER } from "../inbox.ts";
import type { BatchLoop, LoopDeath } from "../engine/batch_loop.ts";
import type { ForkServer } from "./fork_server.ts";
import { type ForkWorker, T } from "./fork_worker.ts";
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

/** A buffer as the worker sent it ({u32 kind, u32 pad, u64 length, the bytes when copied}), and where it ends. */
function readTaken(p: Uint8Array, at: number, max: number): { taken: TakenBuffer; len: bigint; end: number } {
  const v = new DataView(p.buffer, p.byteOffset + at, 16);
  const kind = v.getUint32(0, true);
  const len = v.getBigUint64(8, true);
  switch (kind) {
    case 0:
      return { taken: { kind: "empty" }, len, end: at + 16 };
    case 1: {
      const end = at + 16 + Number(len);
      return { taken: { kind: "bytes", bytes: p.slice(at + 16, end) }, len, end };
    }
    case 2:
      return { taken: { kind: "null_with_length", len }, len, end: at + 16 };
    default:
      return { taken: { kind: "oversize", len, max }, len, end: at + 16 };
  }
}

/** Stand-ins for the worker's buffer addresses (non-zero where the plugin's were): what `take` maps back. */
const OUT = 1n, ERR = 2n, STATS_OUT = 3n;

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
  /** The method of the next RUNs ({u32 flags, u32 length, the name} after from and count); empty for a harness. */
  #method = new Uint8Array(8);
  #methodName = "";
  #methodJson = false;
  /** The call the last RUN stopped at, and the buffers of it and of the last STATS, by stand-in address. */
  #raw: CallResult | undefined;
  readonly #taken = new Map<bigint, TakenBuffer>();
  readonly #maxOutputBytes: number;

  /** `maxOutputBytes`: the bound the worker copies buffers within (an npa plugin's). */
  constructor(file: InputFile, shape: ForkServer["tables"], maxOutputBytes = 0) {
    this.#file = file;
    this.#maxOutputBytes = maxOutputBytes;
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

  /** The method of the next batches (an npa plugin's; a harness's one entry point ignores it). */
  method(name: string, json: boolean): void {
    if (name === this.#methodName && json === this.#methodJson) return;
    this.#methodName = name;
    this.#methodJson = json;
    const bytes = new TextEncoder().encode(name);
    this.#method = new Uint8Array(8 + bytes.length);
    const v = new DataView(this.#method.buffer);
    v.setUint32(0, json ? 1 : 0, true); // FLAG_JSON_OUTPUT
    v.setUint32(4, bytes.length, true);
    this.#method.set(bytes, 8);
  }

  comparisons(): ComparisonTables | undefined {
    return this.#tables;
  }

  /** The npa call the last batch stopped at (its buffers by stand-in address: the guard reads them with `take`). */
  raw(): CallResult {
    if (this.#raw === undefined) throw new Error("The fuzz worker's batch did not stop at a call");
    return this.#raw;
  }

  /** A (non-NULL) buffer the worker took over, for the guard (`GuardContext.take`); each is given once. */
  take(raw: RawBuf): TakenBuffer {
    const taken = this.#taken.get(raw.ptr);
    if (taken === undefined) throw new Error("The guard asked twice for a buffer the fuzz worker sent once");
    this.#taken.delete(raw.ptr);
    return taken;
  }

  /** The worker's `npa_plugin_stats` call, its output taken over there (read it with `take`). */
  async stats(): Promise<CallResult> {
    const worker = this.#worker;
    if (worker === undefined) throw new Error("No fuzz worker is attached");
    const m = await worker.request(T.STATS);
    if (m === undefined) throw new WorkerDied(this.#file.inFlightIndex());
    const p = m.payload;
    const status = new DataView(p.buffer, p.byteOffset, 8).getInt32(0, true);
    const out = readTaken(p, 8, this.#maxOutputBytes);
    return { status, out: this.#standIn(out.taken, STATS_OUT, out.len), err: { ptr: 0n, len: 0n } };
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
    const req = new Uint8Array(8 + this.#method.length);
    const v = new DataView(req.buffer);
    v.setUint32(0, from, true);
    v.setUint32(4, count, true);
    req.set(this.#method, 8);
    this.lastSentAt = performance.timeOrigin + performance.now();
    const m = await worker.request(T.RUN, req);
    if (m === undefined) throw new WorkerDied(this.#file.inFlightIndex());
    const p = m.payload;
    const rv = new DataView(p.buffer, p.byteOffset, p.byteLength);
    const r = rv.getInt32(0, true);
    this.fresh.set(p.subarray(8, 8 + count));
    const t = this.#tables;
    let at = 8 + count;
    if (t !== undefined && p.length >= at + t.cmps.length + t.mems.length) {
      t.seq[0] = rv.getUint32(4, true);
      t.cmps.set(p.subarray(at, at + t.cmps.length));
      t.mems.set(p.subarray(at + t.cmps.length, at + t.cmps.length + t.mems.length));
      at += t.cmps.length + t.mems.length;
    }
    this.#raw = undefined;
    if (r >= 0 && r < count && p.length >= at + 8) this.#raw = this.#stopped(p, at);
    return r;
  }

  /** The npa call a batch stopped at, from RAN's tail: its status, and both buffers kept for `take`. */
  #stopped(p: Uint8Array, at: number): CallResult {
    const status = new DataView(p.buffer, p.byteOffset + at, 8).getInt32(0, true);
    const out = readTaken(p, at + 8, this.#maxOutputBytes);
    const err = readTaken(p, out.end, this.#maxOutputBytes);
    return { status, out: this.#standIn(out.taken, OUT, out.len), err: this.#standIn(err.taken, ERR, err.len) };
  }

  /** The buffer as the guard sees it: NULL where the plugin's was, else stand-in address `id`, kept for `take`. */
  #standIn(taken: TakenBuffer, id: bigint, len: bigint): RawBuf {
    if (taken.kind === "empty" || taken.kind === "null_with_length") return { ptr: 0n, len };
    this.#taken.set(id, taken);
    return { ptr: id, len };
  }
}
