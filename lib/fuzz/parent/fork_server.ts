/**
 * A fuzz job runs in a fork server (`native/fuzz_server/npah_fuzz_server.c`):
 * a small native process, no Deno in it, that loads the target once (a
 * libFuzzer harness and its `LLVMFuzzerInitialize`; an npa plugin
 * initialized, described and given one instance; the ASan runtime up) and
 * forks a worker from that state for each life, so a crash costs a `fork()`,
 * not a start. The engine runs here, in the parent
 * (`RemoteLoop` is its batch loop): it writes each batch into the input
 * file's arena and the worker runs it, answering with which inputs were
 * fresh and the comparison tables (`remote_loop.ts`).
 *
 * This module speaks the server's pipe protocol (the C file's header has
 * it; the workers' side of it is `fork_worker.ts`), refuses what is no
 * message of the server's, and keeps each worker's stderr apart (the server
 * marks a worker's end on stderr before it reports it).
 *
 * @example
 * ```ts ignore
 * import { ForkServer } from "./fork_server.ts";
 * import { RemoteLoop } from "./remote_loop.ts";
 * const server = await ForkServer.start({ program, file, harness, mode: "guided", env: [], setEnv, startTimeoutMs: 10_000 });
 * const worker = await server.fork();
 * const loop = new RemoteLoop(file, server.tables);
 * loop.attach(worker);
 * await server.quit();
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { hostLibraryPath } from "../../ffi/native_helper.ts";
import { readLauncherReport, spawnNative } from "../../sandbox/spawn.ts";
import { sleep } from "../../util/timers.ts";
import type { InputFile } from "./input_file.ts";
import { diedOf, ForkWorker, type Message, STDERR_TAIL, T, type WorkerServer } from "./fork_worker.ts";

/** The server's executable, next to the native helper (`deno task build` puts both in `build/`). */
export const FORK_SERVER_NAME = "npah_fuzz_server";

/** The tags of what the server and its workers send. */
const REPLIES: ReadonlySet<number> = new Set([T.HELLO, T.BORN, T.RAN, T.DONE, T.DIED, T.STATSD]);
/** No reply is longer: a batch's flags, the comparison tables, and a stopped call's two buffers (64 MiB each at most). */
const MAX_REPLY_BYTES = 160 * 1024 * 1024;
/** How long a dead worker's stderr may take to reach the marker the server writes after it. */
const STDERR_DRAIN_MS = 2000;
/** The line the server writes to stderr after a worker's end (ESC keeps a plugin from writing it by chance). */
// deno-lint-ignore no-control-regex
const MARK = /\n\x1b\[plugcheck worker (\d+) ended\]\n/;

/** Options of {@link ForkServer.start}. */
export interface ForkServerOptions {
  file: InputFile;
  /** The harness, or the npa plugin. */
  library: string;
  /**
   * For an npa plugin: the output bound of its calls, its instance's config
   * (UTF-8 JSON or empty), and for a library of another ABI the adapter that
   * serves it.
   */
  npa?: { maxOutputBytes: number; config: string; adapter?: string };
  mode: "guided" | "compare" | "blind";
  /** Variables passed on from this process, and set. */
  env: readonly string[];
  setEnv: Record<string, string>;
  startTimeoutMs: number;
}

/**
 * Why a fork server did not come up, with what it said on stderr
 * (`initResult`: what LLVMFuzzerInitialize returned). `inChild`: the target
 * is better fuzzed in a Deno fuzz child (an npa plugin that failed to start,
 * whose error the child's guard names exactly, or a target that left threads
 * running, which a forked worker would lack).
 */
export class ForkServerStartError extends Error {
  readonly initResult: number | undefined;
  readonly inChild: boolean;
  /** The target left threads running. */
  readonly threads: boolean;
  /** No HELLO within the start deadline (the server was killed). */
  readonly timedOut: boolean;
  constructor(
    message: string,
    o: { initResult?: number; inChild?: boolean; threads?: boolean; timedOut?: boolean } = {},
  ) {
    super(message);
    this.initResult = o.initResult;
    this.inChild = o.inChild ?? false;
    this.threads = o.threads ?? false;
    this.timedOut = o.timedOut ?? false;
  }
}

/** What {@link ForkServer} waits for did not come within its deadline. */
class NoAnswer extends Error {}

/** HELLO statuses: an npa plugin did not start; the target left threads running. */
const START_FAILED = -8, THREADS_LEFT = -9;

/** A running fork server. */
export class ForkServer implements WorkerServer {
  readonly #proc: Deno.ChildProcess;
  readonly #leftovers: string | undefined;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #queue: Message[] = [];
  #waiting: { resolve: (m: Message) => void; reject: (e: unknown) => void } | undefined;
  #gone: Error | undefined;
  /** Stderr since the last worker's end marker, and the texts of ended workers by pid. */
  #stderr = "";
  readonly #endedText = new Map<number, string>();
  #stderrWaiter: (() => void) | undefined;
  readonly exited: Promise<Deno.CommandStatus>;
  /** Edges instrumented (guided mode). */
  edges = 0;
  /** The comparison tables' shape (slots and slot sizes), when the worker sends them. */
  tables: { cmpSlots: number; cmpSlot: number; memSlots: number; memSlot: number } | undefined;
  /** An npa plugin's describe() document, and whether it exports `npa_plugin_stats`. */
  npa: { describe: string; stats: boolean } | undefined;

  private constructor(proc: Deno.ChildProcess, leftovers: string | undefined) {
    this.#proc = proc;
    this.#leftovers = leftovers;
    this.#writer = proc.stdin.getWriter();
    this.#writer.closed.catch(() => {});
    this.exited = proc.status;
    this.#readReplies();
    this.#readStderr();
  }

  /** The server's executable path. */
  static program(): string {
    return join(dirname(hostLibraryPath()), FORK_SERVER_NAME);
  }

  /**
   * Starts the server and waits for its HELLO; `whileStarting` runs once it
   * is spawned (work that need not wait for it). Throws {@link ForkServerStartError}.
   */
  static async start(o: ForkServerOptions, whileStarting?: () => void): Promise<ForkServer> {
    const { proc, leftovers } = await spawnNative(
      ForkServer.program(),
      [
        o.file.path,
        String(o.file.size),
        o.library,
        o.mode,
        ...o.npa === undefined
          ? ["libfuzzer"]
          : ["npa", String(o.npa.maxOutputBytes), o.npa.config, ...o.npa.adapter !== undefined ? [o.npa.adapter] : []],
      ],
      { env: o.env, setEnv: o.setEnv },
    );
    const server = new ForkServer(proc, leftovers);
    server.#startTimeoutMs = o.startTimeoutMs;
    try {
      whileStarting?.();
    } catch (e) {
      server.kill();
      await server.exited;
      throw e;
    }
    let hello: Message;
    try {
      hello = await server.#next(o.startTimeoutMs);
    } catch (e) {
      server.kill();
      await server.exited;
      const said = server.#stderr.trim().split("\n").slice(-6).join("\n");
      throw new ForkServerStartError(
        e instanceof NoAnswer
          ? `the fuzz fork server was not ready within ${o.startTimeoutMs} ms (it was killed)`
          : `the fuzz fork server ended before it was ready (${e instanceof Error ? e.message : e})${
            said ? `; it said:\n${said}` : ""
          }`,
        { timedOut: e instanceof NoAnswer },
      );
    }
    const v = new DataView(hello.payload.buffer, hello.payload.byteOffset, hello.payload.byteLength);
    const status = v.getInt32(0, true);
    const value = Number(v.getBigInt64(8, true));
    if (hello.tag !== T.HELLO || status !== 0) {
      await server.quit();
      const said = server.#stderr.trim().split("\n").slice(-6).join("\n");
      throw new ForkServerStartError(
        `the fuzz fork server could not start (status ${status})${said ? `: ${said}` : ""}`,
        {
          ...status === -4 && { initResult: value },
          inChild: status === START_FAILED || status === THREADS_LEFT,
          threads: status === THREADS_LEFT,
        },
      );
    }
    server.edges = value;
    if (hello.payload.length >= 32) {
      const [cmpSlots, cmpSlot, memSlots, memSlot] = [16, 20, 24, 28].map((at) => v.getUint32(at, true));
      if (cmpSlots! > 0) {
        server.tables = { cmpSlots: cmpSlots!, cmpSlot: cmpSlot!, memSlots: memSlots!, memSlot: memSlot! };
      }
    }
    if (o.npa !== undefined && hello.payload.length >= 40) {
      const len = v.getUint32(36, true);
      const text = new TextDecoder().decode(hello.payload.subarray(40, 40 + len));
      server.npa = { describe: text, stats: v.getUint32(32, true) === 1 };
    }
    return server;
  }

  async #readReplies(): Promise<void> {
    let buf = new Uint8Array(0);
    try {
      for await (const chunk of this.#proc.stdout) {
        const joined = new Uint8Array(buf.length + chunk.length);
        joined.set(buf);
        joined.set(chunk, buf.length);
        buf = joined;
        let at = 0;
        while (buf.length - at >= 8) {
          const v = new DataView(buf.buffer, buf.byteOffset + at, 8);
          const tag = v.getUint32(0, true), len = v.getUint32(4, true);
          if (!REPLIES.has(tag) || len > MAX_REPLY_BYTES) throw new Error(`the fuzz fork server sent a bad message`);
          if (buf.length - at - 8 < len) break;
          this.#deliver({ tag, payload: buf.slice(at + 8, at + 8 + len) });
          at += 8 + len;
        }
        buf = buf.slice(at);
      }
    } catch (e) {
      // the pipe broke (the server is gone), or what came through it is no message of the server's
      if (e instanceof Error && e.message.includes("bad message")) this.kill();
    }
    this.#gone = new Error("the fuzz fork server ended");
    this.#waiting?.reject(this.#gone);
    this.#waiting = undefined;
  }

  #deliver(m: Message): void {
    const w = this.#waiting;
    if (w) {
      this.#waiting = undefined;
      w.resolve(m);
    } else this.#queue.push(m);
  }

  async #readStderr(): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of this.#proc.stderr) {
        this.#stderr += dec.decode(chunk, { stream: true });
        for (let m = MARK.exec(this.#stderr); m; m = MARK.exec(this.#stderr)) {
          this.#endedText.set(Number(m[1]), this.#stderr.slice(0, m.index).slice(-STDERR_TAIL));
          this.#stderr = this.#stderr.slice(m.index + m[0].length);
        }
        if (this.#stderr.length > 2 * STDERR_TAIL) this.#stderr = this.#stderr.slice(-STDERR_TAIL);
        this.#stderrWaiter?.();
      }
    } catch {
      // gone
    }
    this.#stderrWaiter?.();
  }

  /** The next message (a reply or a worker's end), within `timeoutMs` when given. */
  #next(timeoutMs?: number): Promise<Message> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#gone) return Promise.reject(this.#gone);
    const p = new Promise<Message>((resolve, reject) => (this.#waiting = { resolve, reject }));
    if (timeoutMs === undefined) return p;
    const t = sleep(timeoutMs);
    return Promise.race([p, t.done.then(() => Promise.reject(new NoAnswer(`no answer within ${timeoutMs} ms`)))])
      .finally(() => t.cancel());
  }

  async send(tag: number, payload?: Uint8Array): Promise<void> {
    const msg = new Uint8Array(8 + (payload?.length ?? 0));
    const v = new DataView(msg.buffer);
    v.setUint32(0, tag, true);
    v.setUint32(4, payload?.length ?? 0, true);
    if (payload) msg.set(payload, 8);
    await this.#writer.write(msg);
  }

  /** How long a fork may take (the start deadline). */
  #startTimeoutMs = 10_000;
  /** The last worker died unclean: the server forks the next one without being asked. */
  #bornComing = false;

  /** Forks a worker (or takes the one forked after the last death). Throws when the server is gone or mute. */
  async fork(): Promise<ForkWorker> {
    if (!this.#bornComing) await this.send(T.FORK);
    this.#bornComing = false;
    const m = await this.#next(this.#startTimeoutMs);
    if (m.tag !== T.BORN) throw new Error(`the fuzz fork server answered ${m.tag} to FORK`);
    const pid = new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0, true);
    return new ForkWorker(this, pid);
  }

  /** A reply for the worker, or its end (after a DIED of an unclean end, the server forks the next worker itself). */
  async reply(): Promise<Message> {
    const m = await this.#next();
    if (m.tag === T.DIED) this.#bornComing = diedOf(m).status !== 0; // anything but exit(0): the server forks again
    return m;
  }

  /** The server ended (its reply pipe closed or broke). */
  get gone(): boolean {
    return this.#gone !== undefined;
  }

  /** Its stderr since the last worker ended (the running worker's so far). */
  get stderrNow(): string {
    return this.#stderr;
  }

  /** Waits for the end marker of worker `pid` on stderr (at most {@link STDERR_DRAIN_MS}); its stderr. */
  async stderrOf(pid: number): Promise<string> {
    const until = performance.now() + STDERR_DRAIN_MS;
    while (!this.#endedText.has(pid) && performance.now() < until && !this.#gone) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.#stderrWaiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.#stderrWaiter = undefined;
    const text = this.#endedText.get(pid) ?? this.#stderr.slice(-STDERR_TAIL);
    this.#endedText.delete(pid);
    return text;
  }

  /** Ends the server (and with it any worker): QUIT, then SIGKILL if it lingers. */
  async quit(): Promise<void> {
    try {
      await this.send(T.QUIT);
      await this.#writer.close();
    } catch {
      // gone already
    }
    const t = sleep(1000);
    const done = await Promise.race([this.exited.then(() => true), t.done.then(() => false)]);
    t.cancel();
    if (!done) {
      this.kill();
      await this.exited;
    }
    readLauncherReport(this.#leftovers);
  }

  kill(): void {
    try {
      this.#proc.kill("SIGKILL");
    } catch {
      // gone already
    }
  }
}
