/**
 * One sandbox child process, seen from the parent: spawning it with a
 * cleared environment and narrowed permissions, the handshake, one request
 * at a time with its deadline, the last 64 KiB of its stderr, and turning its
 * death into a typed error that carries the request in flight.
 *
 * The policy around it (restarts, the crash cap, idle reaping) lives in
 * `sandboxed_plugin.ts`.
 *
 * @example
 * ```ts ignore
 * import { SandboxChild } from "./child_process.ts";
 * const child = await SandboxChild.start({ pluginPath, hostLibraryPath, log: "info", env: [], ... });
 * const reply = await child.request(KIND.STATS, {}, [], { op: "read stats", timeoutMs: 1000, inFlight: { kind: "stats" } });
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { getLogger, type LogLevel } from "../deps.ts";
import type { InFlightRequest } from "../errors.ts";
import { CONSEQUENCES, crashed, protocolError, timedOut } from "../guard.ts";
import { type ErrorData, fromData } from "../error_data.ts";
import type { ChildOptions } from "./child.ts";
import { encodeFrame, type Frame, FrameError, FrameReader, KIND, PROTOCOL_VERSION } from "./protocol.ts";

const STDERR_TAIL_BYTES = 64 * 1024;
/** Deadline for the child's Deno runtime to boot and load plugcheck's modules (not the plugin). */
export const BOOT_TIMEOUT_MS = 30_000;

/** How the child is started. */
export interface ChildSpec {
  /** Resolved path of the plugin library. */
  pluginPath: string;
  hostLibraryPath: string;
  log: string;
  maxOutputBytes: number;
  /** Environment variable names copied from this process into the child. */
  env: readonly string[];
  /** Deadline for dlopen, init and describe, counted from the child's BOOTED frame (ms). */
  startTimeoutMs: number;
  /** The child script (tests substitute misbehaving ones). */
  childModule?: string | undefined;
}

/** A reply from the child. */
export interface Reply {
  header: Record<string, unknown>;
  blobs: Uint8Array[];
}

/** How the child ended, once it has. */
export type ChildEnd = {
  reason: "crashed" | "timed_out" | "protocol" | "closed" | "reaped";
  signal?: string;
  exitCode?: number;
};

let denoDirPromise: Promise<string> | undefined;

/** The Deno cache directory of this process, so the child (with a cleared env) finds its modules. */
function denoDir(): Promise<string> {
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return Promise.resolve(fromEnv);
  denoDirPromise ??= new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped", stderr: "null" })
    .output()
    .then((o) => String(JSON.parse(new TextDecoder().decode(o.stdout)).denoDir));
  return denoDirPromise;
}

const ROOT_CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const CHILD_MODULE = fileURLToPath(new URL("./child.ts", import.meta.url));

/** Largest frame either side accepts: room for big outputs and batches. */
export function maxFrameFor(maxOutputBytes: number): number {
  return Math.max(4 * maxOutputBytes, 256 * 1024 * 1024);
}

export class SandboxChild {
  readonly #proc: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: FrameReader;
  #stderr = new Uint8Array(0);
  #nextId = 1;
  #pending: { id: number; resolve: (r: Reply) => void; reject: (e: unknown) => void } | undefined;
  #hello: { resolve: (f: Frame) => void; reject: (e: unknown) => void } | undefined;
  #booted: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Set once the child is gone (or being killed), with why. */
  end: ChildEnd | undefined;
  /** Resolves when the process has exited and its output is drained. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** The handshake's HELLO header. */
  hello: Record<string, unknown> = {};
  /** The request running now, if any. */
  inFlight: InFlightRequest | undefined;
  #op = "start sandboxed plugin";

  #holds = 0;

  private constructor(proc: Deno.ChildProcess, maxFrame: number) {
    this.#proc = proc;
    // An idle child must not keep this process alive (a caller may forget close()):
    // it is referenced only while something waits on it (see hold()).
    proc.unref();
    this.#writer = proc.stdin.getWriter();
    this.#reader = new FrameReader(maxFrame);
    const out = this.#readStdout();
    const err = this.#readStderr();
    this.exited = Promise.all([proc.status, out, err]).then(([status]) => {
      this.#onExit(status);
      return status;
    });
  }

  /** Spawns the child and completes the handshake. Throws the typed error for a failed start. */
  static async start(spec: ChildSpec): Promise<SandboxChild> {
    const env: Record<string, string> = {
      DENO_DIR: await denoDir(),
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
    };
    for (const name of spec.env) {
      const v = Deno.env.get(name);
      if (v !== undefined) env[name] = v;
    }
    const options: ChildOptions = {
      log: spec.log,
      hostLibraryPath: spec.hostLibraryPath,
      maxOutputBytes: spec.maxOutputBytes,
      maxFrame: maxFrameFor(spec.maxOutputBytes),
    };
    const libs = `${spec.pluginPath},${spec.hostLibraryPath}`;
    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        "--cached-only",
        `--config=${ROOT_CONFIG}`,
        // Unscoped: Deno's UnsafePointer APIs refuse path-scoped FFI permission,
        // and native code is unrestricted by Deno permissions anyway.
        "--allow-ffi",
        `--allow-read=${libs}`,
        spec.childModule ?? CHILD_MODULE,
        spec.pluginPath,
        JSON.stringify(options),
      ],
      clearEnv: true,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const child = new SandboxChild(proc, options.maxFrame);
    const hello = new Promise<Frame>((resolve, reject) => (child.#hello = { resolve, reject }));
    hello.catch(() => {}); // rejected with booted if the child dies first; awaited below otherwise
    const booted = new Promise<void>((resolve, reject) => (child.#booted = { resolve, reject }));
    child.inFlight = { kind: "start" };
    const release = child.hold();
    let frame: Frame;
    try {
      await child.#withDeadline(
        booted,
        "start sandbox child",
        BOOT_TIMEOUT_MS,
        "the child's Deno runtime did not boot",
      );
      frame = await child.#withDeadline(
        hello,
        "start sandboxed plugin",
        spec.startTimeoutMs,
        "the sandbox child was killed while it loaded the plugin (dlopen, init or describe)",
      );
    } finally {
      release();
    }
    child.inFlight = undefined;
    const h = frame.header;
    if (h.protocol !== PROTOCOL_VERSION) {
      child.kill("protocol");
      throw protocolError(
        "start sandboxed plugin",
        `the child speaks protocol ${JSON.stringify(h.protocol)}, this host speaks ${PROTOCOL_VERSION}`,
      );
    }
    if (h.ok !== true) {
      await child.exited;
      throw fromData((h.error ?? {}) as Partial<ErrorData>);
    }
    child.hello = h;
    return child;
  }

  /** Keeps this process alive for the child until the returned release is called. */
  hold(): () => void {
    if (this.#holds++ === 0) this.#proc.ref();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) this.#proc.unref();
    };
  }

  /** The child's process id. */
  get pid(): number {
    return this.#proc.pid;
  }

  /** The last 64 KiB of the child's stderr, decoded leniently. */
  get stderrTail(): string {
    return new TextDecoder().decode(this.#stderr);
  }

  /** True while the process runs and has not been given up on. */
  get alive(): boolean {
    return this.end === undefined;
  }

  /**
   * Sends one request and waits for its reply, one request at a time. The
   * request is recorded as in flight before it is written, so a crash report
   * always carries it. On deadline the child is killed.
   */
  request(
    kind: number,
    header: Record<string, unknown>,
    blobs: Uint8Array[],
    ctl: { op: string; timeoutMs: number; inFlight: InFlightRequest },
  ): Promise<Reply> {
    const run = this.#queue.then(() => this.#requestNow(kind, header, blobs, ctl));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #requestNow(
    kind: number,
    header: Record<string, unknown>,
    blobs: Uint8Array[],
    ctl: { op: string; timeoutMs: number; inFlight: InFlightRequest },
  ): Promise<Reply> {
    if (this.end) throw await this.#deathError(ctl.op, ctl.inFlight);
    const id = this.#nextId++;
    this.inFlight = ctl.inFlight;
    this.#op = ctl.op;
    const replied = new Promise<Reply>((resolve, reject) => (this.#pending = { id, resolve, reject }));
    const release = this.hold();
    try {
      this.#writer.write(encodeFrame({ id, kind, header, blobs })).catch(() => {
        // A broken pipe means the child died; #onExit reports it with the request.
      });
      const reply = await this.#withDeadline(replied, ctl.op, ctl.timeoutMs);
      if (reply.header.ok !== true) throw fromData((reply.header.error ?? {}) as Partial<ErrorData>);
      return reply;
    } finally {
      release();
      this.#pending = undefined;
      this.inFlight = undefined;
    }
  }

  async #withDeadline<T>(
    promise: Promise<T>,
    op: string,
    timeoutMs: number,
    consequence: string = CONSEQUENCES.sandbox,
  ): Promise<T> {
    if (timeoutMs === Infinity) return await promise;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill("timed_out");
        reject(timedOut(op, timeoutMs, consequence));
      }, timeoutMs);
    });
    try {
      return await Promise.race([promise, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the child now (SIGKILL), recording why. Idempotent. */
  kill(reason: ChildEnd["reason"]): void {
    if (this.end === undefined) this.end = { reason };
    try {
      this.#proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /** Sends a signal without recording an end (for graceful shutdown). */
  signal(sig: Deno.Signal): void {
    try {
      this.#proc.kill(sig);
    } catch {
      // already gone
    }
  }

  /** Closes the child's stdin: a well-behaved child then closes the plugin and exits. */
  async closeStdin(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  async #readStdout(): Promise<void> {
    try {
      for await (const chunk of this.#proc.stdout) {
        for (const frame of this.#reader.push(chunk)) this.#dispatch(frame);
      }
      if (this.#reader.pending > 0 && this.end === undefined) {
        this.#protocolFailure(`the child's output ended in the middle of a frame (${this.#reader.pending} bytes)`);
      }
    } catch (e) {
      const what = e instanceof FrameError ? `malformed frame: ${e.message}` : `cannot read the child's output: ${e}`;
      this.#protocolFailure(what, e);
    }
  }

  async #readStderr(): Promise<void> {
    for await (const chunk of this.#proc.stderr) {
      const joined = new Uint8Array(this.#stderr.length + chunk.length);
      joined.set(this.#stderr);
      joined.set(chunk, this.#stderr.length);
      this.#stderr = joined.length > STDERR_TAIL_BYTES ? joined.slice(joined.length - STDERR_TAIL_BYTES) : joined;
    }
  }

  /** What a failure now interrupts: the running request or start-up, else nothing in particular. */
  get #currentOp(): string {
    return this.#pending || this.#hello ? this.#op : "talk to the sandbox child";
  }

  /** Fails whatever is waiting on the child: boot, handshake, or the pending reply. */
  #rejectWaiters(error: unknown): void {
    this.#booted?.reject(error);
    this.#hello?.reject(error);
    this.#pending?.reject(error);
  }

  #protocolFailure(what: string, cause?: unknown): void {
    const error = protocolError(this.#currentOp, what, cause);
    this.kill("protocol");
    this.#rejectWaiters(error);
  }

  #dispatch(frame: Frame): void {
    switch (frame.kind) {
      case KIND.LOG:
        return emitLog(frame.header);
      case KIND.BOOTED:
        this.#booted?.resolve();
        this.#booted = undefined;
        return;
      case KIND.HELLO:
        this.#booted?.resolve(); // a child may skip BOOTED
        this.#booted = undefined;
        if (this.#hello === undefined) return this.#protocolFailure("a second HELLO frame");
        this.#hello.resolve(frame);
        this.#hello = undefined;
        return;
      case KIND.REPLY:
        if (this.#pending === undefined || frame.id !== this.#pending.id) {
          return this.#protocolFailure(
            `a reply with id ${frame.id} while ${
              this.#pending ? `waiting for id ${this.#pending.id}` : "no request was pending"
            }`,
          );
        }
        this.#pending.resolve({ header: frame.header, blobs: frame.blobs });
        return;
      default:
        return this.#protocolFailure(`unknown frame kind ${frame.kind}`);
    }
  }

  #onExit(status: Deno.CommandStatus): void {
    const end: ChildEnd = this.end ?? { reason: "crashed" };
    if (status.signal) end.signal = status.signal;
    else end.exitCode = status.code;
    this.end = end;
    if (end.reason !== "crashed") {
      // Killed on purpose (deadline, protocol, close, reap): the caller already has its error.
      this.#rejectWaiters(protocolError("talk to the sandbox child", "the child exited before replying"));
      return;
    }
    this.#rejectWaiters(crashed(this.#currentOp, {
      signal: end.signal,
      exitCode: end.exitCode,
      stderrTail: this.stderrTail,
    }, this.inFlight));
  }

  /** The error for a request made after the child died. */
  async #deathError(op: string, request: InFlightRequest): Promise<Error> {
    await this.exited;
    const end = this.end!;
    return crashed(op, { signal: end.signal, exitCode: end.exitCode, stderrTail: this.stderrTail }, request);
  }
}

const LEVELS = new Set<LogLevel>(["trace", "debug", "info", "warning", "error", "fatal"]);

/** Re-emits a plugin log record the child forwarded, under the same category. */
function emitLog(h: Record<string, unknown>): void {
  const category = Array.isArray(h.category) ? h.category.map(String) : ["plugin"];
  const level = LEVELS.has(h.level as LogLevel) ? h.level as LogLevel : "info";
  const message = String(h.message ?? "");
  const props = h.props !== null && typeof h.props === "object" ? h.props as Record<string, unknown> : {};
  getLogger(category).emit({
    timestamp: Date.now(),
    level,
    message: [message],
    rawMessage: message,
    properties: { ...props, sandboxed: true },
  });
}
