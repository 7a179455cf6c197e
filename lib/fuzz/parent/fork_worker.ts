/**
 * A fork server's worker as the parent sees it (`fork_server.ts` forks it):
 * the protocol's tags, requests addressed to the worker by its pid, and its
 * end (a raw wait status and its stderr) once the server reported it.
 *
 * @example
 * ```ts ignore
 * import { T } from "./fork_worker.ts";
 * const worker = await server.fork();
 * const reply = await worker.request(T.STATS); // undefined: the worker died first
 * await worker.finish();
 * ```
 *
 * @module
 */
import { signalName } from "../crash/finding.ts";

/** The message tags (`native/fuzz_server/npah_fuzz_server.c`). */
export const T = {
  HELLO: 1,
  FORK: 2,
  BORN: 3,
  RUN: 4,
  RAN: 5,
  FORGET: 6,
  DONE: 7,
  END: 8,
  DIED: 9,
  QUIT: 10,
  STATS: 11,
  STATSD: 12,
} as const;
/** A worker's stderr kept: the last 64 KiB. */
export const STDERR_TAIL = 64 * 1024;

/** One message: its tag and payload. */
export interface Message {
  tag: number;
  payload: Uint8Array;
}

/** What a worker's end was. */
export interface WorkerEnd {
  signal?: string;
  exitCode?: number;
  /** Its stderr, from its birth to its end (the last 64 KiB). */
  stderrTail: string;
  /** Its server ended under it (it died with it, or was killed when the server's tree was): no status is known. */
  hostGone?: true;
}

/** A raw wait status (waitpid's, of a process that ended) as a worker's end. */
function endOf(status: number, stderrTail: string): WorkerEnd {
  const sig = status & 0x7f;
  return sig === 0 ? { exitCode: (status >> 8) & 0xff, stderrTail } : { signal: signalName(sig), stderrTail };
}

/** A DIED message: which worker, and its raw wait status. */
export function diedOf(m: Message): { pid: number; status: number } {
  const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
  return { pid: v.getUint32(0, true), status: v.getUint32(4, true) };
}

/** What a worker needs of its server. */
export interface WorkerServer {
  send(tag: number, payload?: Uint8Array): Promise<void>;
  /** A reply for the worker, or its end (DIED). */
  reply(): Promise<Message>;
  /** The running worker's stderr so far. */
  readonly stderrNow: string;
  /** The whole stderr of worker `pid`, once it ended. */
  stderrOf(pid: number): Promise<string>;
  /** The server ended (its pipe closed). */
  readonly gone: boolean;
}

/** A worker forked by the server: runs batches until it ends or dies. */
export class ForkWorker {
  readonly #server: WorkerServer;
  readonly pid: number;
  /** Its end, once the server reported it. */
  end: WorkerEnd | undefined;

  constructor(server: WorkerServer, pid: number) {
    this.#server = server;
    this.pid = pid;
  }

  /** Its stderr so far (while it runs). */
  get stderrTail(): string {
    return this.end?.stderrTail ?? this.#server.stderrNow.slice(-STDERR_TAIL);
  }

  /** Kills it now (a hang, RSS over the limit: the watch knows why). */
  kill(_reason: string, _why?: string): void {
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch {
      // gone already
    }
  }

  /** A request's payload as the worker takes it: its pid first, so that no other worker acts on it. */
  #addressed(payload?: Uint8Array): Uint8Array {
    const out = new Uint8Array(4 + (payload?.length ?? 0));
    new DataView(out.buffer).setUint32(0, this.pid, true);
    if (payload) out.set(payload, 4);
    return out;
  }

  /** Sends a request and takes its reply; a DIED instead ends the worker (returned as undefined). */
  async request(tag: number, payload?: Uint8Array): Promise<Message | undefined> {
    if (this.end) return undefined;
    let m: Message;
    try {
      await this.#server.send(tag, this.#addressed(payload));
      m = await this.#server.reply();
    } catch (e) {
      this.#lost(e);
      return undefined;
    }
    if (m.tag !== T.DIED) return m;
    await this.#ended(m);
    return undefined;
  }

  /** Takes its end from the server's DIED, once its stderr is read to the end. */
  async #ended(m: Message): Promise<void> {
    const { pid, status } = diedOf(m);
    this.end = endOf(status, await this.#server.stderrOf(pid));
  }

  /** Asks it to exit, and waits for its end. */
  async finish(): Promise<void> {
    if (this.end) return;
    try {
      await this.#server.send(T.END, this.#addressed());
      for (;;) {
        const m = await this.#server.reply();
        if (m.tag === T.DIED) return await this.#ended(m);
      }
    } catch (e) {
      this.#lost(e);
    }
  }

  /** After `e` in a request: its end when the server is gone (it went with it), else `e` again. */
  #lost(e: unknown): void {
    if (!this.#server.gone) throw e;
    this.end = { stderrTail: this.#server.stderrNow.slice(-STDERR_TAIL), hostGone: true };
  }
}
