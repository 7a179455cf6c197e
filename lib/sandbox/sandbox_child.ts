/**
 * One sandbox child process, seen from the parent: spawning it with a cleared environment and narrowed permissions,
 * the handshake, requests pipelined by id (many in flight, each with its own deadline), the last 64 KiB of its stderr,
 * and turning its end into typed errors that carry the request each caller had in flight. A batch of calls is watched
 * on the child's call board (`call_board.ts`): a deadline per call, the call it was on named when it crashed or hung,
 * and the culprit of a crash (the call whose thread faulted) among every call in flight.
 *
 * The child runs under the sandbox launcher (`spawn.ts`) and dies with this process; its end is read from the
 * launcher's exit status, not its pipes (the plugin's forks may hold them); the launcher ends and lists what the plugin
 * left running. `child_end.ts` turns its end into each caller's error; engines hold the policy (restarts, reaping).
 *
 * @example
 * ```ts ignore
 * import { SandboxChild } from "./sandbox_child.ts";
 * const child = await SandboxChild.start(spec);
 * const reply = await child.request(KIND.STATS, {}, [], { op: "read stats", timeoutMs: 1000, inFlight: { kind: "stats" } });
 * ```
 *
 * @module
 */
import type { CrashBlame, InFlightRequest } from "../errors/errors.ts";
import { ProcessGuard } from "../ffi/process_guard.ts";
import { childKilledError, CONSEQUENCES, loadError, protocolError, timeoutError } from "../errors/host_errors.ts";
import { sleep } from "../util/timers.ts";
import { stallAwareTimer, stallGrace, withStallDeadline } from "../ffi/stall_deadline.ts";
import { emitForwardedLog } from "../plugin/logtape_out.ts";
import { type ChildSpec, readLauncherReport, spawnChild, type SpawnedChild } from "./spawn.ts";
import { PendingRequests, type RequestControl } from "./pending.ts";
import { ByteTail } from "./tail.ts";
import {
  blameOf,
  type ChildEnd,
  endError,
  endFromStatus,
  type EndReason,
  type Leftover,
  leftoversOf,
  signalChild,
} from "./child_end.ts";
import { type ChildMemory, MemoryWatch } from "./memory_watch.ts";
import { CallBoard } from "./call_board.ts";
import { StartPhases } from "./start_phases.ts";
import {
  encodeFrameParts,
  errorFromWire,
  type Frame,
  FrameError,
  KIND,
  PROTOCOL_VERSION,
  readFrames,
  readStream,
  type Reply,
} from "./protocol.ts";
import { childExited, childStarted } from "./live_children.ts";

export type { ChildSpec, Reply };
/** See {@link SandboxChild.start}. */
export type StartOptions = { signal?: AbortSignal; whileBooting?: () => void };

const STDERR_TAIL_BYTES = 64 * 1024;
const NO_BOOT = "the child's Deno runtime did not boot";
/** Deadline for the child's Deno runtime to boot and load plugcheck's modules (not the plugin). */
export const BOOT_TIMEOUT_MS = 30_000;
/** How long the output of a child that exited may still drain. */
const DRAIN_MS = 500;
export class SandboxChild {
  readonly #proc: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #maxFrame: number;
  readonly #guard: ProcessGuard;
  readonly #stderr = new ByteTail(STDERR_TAIL_BYTES);
  readonly #pending = new PendingRequests<Reply>();
  /** The call board, if the child has one; usable once the child said it mapped it. */
  readonly #board: CallBoard | undefined;
  #boardMapped = false;
  #hello: { resolve: (f: Frame) => void; reject: (e: unknown) => void } | undefined;
  #booted: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  /** The start's deadline, phase by phase (PHASE frames), until HELLO. */
  #phases: StartPhases | undefined;
  #fatal: string | undefined;
  #retired: EndReason | undefined;
  #holds = 0;
  /** Set once the child is gone, or being killed on purpose, with why. */
  end: ChildEnd | undefined;
  /** Resolves once the process has exited, its group is ended and its output drained (briefly). */
  readonly exited: Promise<ChildEnd>;
  /** The handshake's HELLO header. */
  hello: Record<string, unknown> = {};
  /** Processes the plugin left running (daemons too), ended once the child was gone. */
  leftovers: Leftover[] = [];
  /** Receives the handler's EVENT frames (a fuzz child's findings and progress). */
  onEvent: (frame: Frame) => void = () => {};
  #childPid: number | undefined; // the child's own pid, from BOOTED (the launcher is #proc)

  private constructor(spawned: SpawnedChild, maxFrame: number, guard: ProcessGuard, board: CallBoard | undefined) {
    const proc = this.#proc = spawned.proc;
    this.#guard = guard;
    this.#board = board;
    // An idle child must not keep this process alive (a caller may forget close()): referenced only while waited on.
    proc.unref();
    this.#writer = proc.stdin.getWriter();
    this.#maxFrame = maxFrame;
    const output = Promise.allSettled([this.#readStdout(), this.#readStderr()]);
    const memory = MemoryWatch.start(() => this.pid); // the child itself, once it said its pid
    this.exited = proc.status.then(async (status) => {
      const report = readLauncherReport(spawned.leftovers);
      this.leftovers = leftoversOf(this.#guard, report.ended, this.#childPid);
      const drain = sleep(DRAIN_MS);
      await Promise.race([output, drain.done]);
      drain.cancel();
      return this.#onExit(status, memory.stop(report.maxRssBytes));
    });
    childStarted(this);
  }

  /** Spawns the child, handshakes; throws the typed error of a failed start (or of `o.signal`'s abort). `o.whileBooting`
   * runs once the process is spawned: the caller's own work overlaps the child's start. */
  static async start(spec: ChildSpec, o: StartOptions = {}): Promise<SandboxChild> {
    const { signal, whileBooting } = o;
    let guard: ProcessGuard;
    let proc: SpawnedChild;
    const board = spec.callBoard ? CallBoard.create() : undefined; // none: batches run unwatched, one request each
    try {
      guard = ProcessGuard.get();
      proc = await spawnChild(spec, board?.path);
    } catch (cause) {
      board?.close();
      throw loadError(spec.label, "cannot start a sandbox child process", cause);
    }
    const child = new SandboxChild(proc, spec.maxFrame, guard, board);
    const abort = () => child.kill("closed", "no longer needed");
    if (signal?.aborted) abort();
    signal?.addEventListener("abort", abort);
    const handshake = child.#handshake(spec).finally(() => signal?.removeEventListener("abort", abort));
    whileBooting?.();
    await handshake;
    return child;
  }

  /** Completes the handshake: BOOTED within the boot deadline, then HELLO within the start deadline. */
  async #handshake(spec: ChildSpec): Promise<void> {
    const hello = new Promise<Frame>((resolve, reject) => (this.#hello = { resolve, reject }));
    hello.catch(() => {}); // rejected with booted if the child dies first; awaited below otherwise
    const booted = new Promise<void>((resolve, reject) => (this.#booted = { resolve, reject }));
    const release = this.hold(); // until the handshake is over (also while waiting for a failed child's exit)
    const expired = (op: string, ms: number, consequence: string) => {
      this.kill("timed_out", `${op} had no reply within ${ms} ms`);
      return timeoutError(op, ms, consequence);
    };
    // Made before BOOTED, so no PHASE frame is missed: only the plugin's calls count against its deadline.
    // Each deadline waits out a loaded machine: the child's time waiting for a CPU is added (stall_deadline.ts).
    const pids = () => [this.pid];
    const phases = this.#phases = new StartPhases(spec.startTimeoutMs, expired, stallAwareTimer(pids));
    try {
      const noBoot = () => expired("start sandbox child", BOOT_TIMEOUT_MS, NO_BOOT);
      await withStallDeadline(booted, BOOT_TIMEOUT_MS, pids, noBoot);
      const frame = await phases.wait(hello);
      const h = frame.header;
      if (h.protocol !== PROTOCOL_VERSION) {
        this.kill("protocol");
        throw protocolError(
          "start sandboxed plugin",
          `the child speaks protocol ${JSON.stringify(h.protocol)}, this host speaks ${PROTOCOL_VERSION}`,
        );
      }
      if (h.ok !== true) {
        await this.exited;
        throw errorFromWire(h.error);
      }
      this.hello = h;
    } finally {
      release();
    }
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

  /** Waits for the child's end, keeping this process alive meanwhile (an unref'd child alone would not). */
  async waitExit(): Promise<ChildEnd> {
    const release = this.hold();
    try {
      return await this.exited;
    } finally {
      release();
    }
  }

  /** The child's process id (and process group id); the launcher's until the child has booted. */
  get pid(): number {
    return this.#childPid ?? this.#proc.pid;
  }

  /** The launcher's process id: the child's parent, which adopts the daemons its plugin starts (a subreaper). */
  get launcherPid(): number {
    return this.#proc.pid;
  }

  /** The last 64 KiB of the child's stderr, decoded leniently. */
  get stderrTail(): string {
    return this.#stderr.text();
  }

  /** True while the process runs and takes new requests. */
  get alive(): boolean {
    return this.end === undefined && this.#retired === undefined;
  }

  /** Why the child takes no new requests (it is being closed or reaped), if it does not. */
  get retired(): EndReason | undefined {
    return this.#retired;
  }

  /** Requests waiting for their reply. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Sends one request; many may be in flight. The request is recorded before it is written, so a crash report always
   * carries it. When `timeoutMs` passes without a reply the child is killed: this request fails with
   * `PluginTimeoutError`, the others in flight with `InstanceWedgedError`.
   *
   * With `calls` (a batch of them, in order), `timeoutMs` is each call's deadline and errors name the call the batch
   * was on (`call_board.ts`); the header gets the batch's board `slot`. Without a free slot (no board, or every slot
   * held) the batch runs unwatched: one deadline of `timeoutMs` per call, summed, and errors name the whole batch.
   * With `waitOutStalls`, the child's time waiting for a CPU is added.
   */
  request(kind: number, header: Record<string, unknown>, blobs: Uint8Array[], ctl: RequestControl): Promise<Reply> {
    const release = this.hold();
    if (this.end !== undefined) {
      return this.exited.then(() => Promise.reject(this.#endError(ctl.op, ctl.inFlight))).finally(release);
    }
    // A batch is watched on the child's call board, once the child has mapped it and while a slot is free.
    const watch = ctl.calls && this.#boardMapped ? this.#board?.watch(ctl.calls, ctl.timeoutMs) : undefined;
    const timeoutMs = ctl.calls && !watch ? ctl.timeoutMs * ctl.calls.length : ctl.timeoutMs;
    const grace = ctl.waitOutStalls && !watch ? stallGrace(timeoutMs, () => [this.pid]) : undefined;
    const { id, reply: replied } = this.#pending.add(
      watch ? () => watch.info() : { op: ctl.op, inFlight: ctl.inFlight },
      watch ? watch.tickMs : timeoutMs,
      (expired) => {
        const more = watch?.check() ?? grace?.() ?? 0;
        if (more > 0) return more;
        this.#expire(expired, timeoutMs);
      },
    );
    if (watch) header = { ...header, slot: watch.slot };
    // All parts are queued at once, so frames of concurrent requests never interleave.
    for (const part of encodeFrameParts({ id, kind, header, blobs })) {
      this.#writer.write(part).catch(() => {
        // A broken pipe means the child died; its exit reports it with the request.
      });
    }
    return replied.then((reply) => {
      if (reply.header.ok !== true) throw errorFromWire(reply.header.error);
      return reply;
    }).finally(() => {
      release();
      if (watch) this.#board!.release(watch.slot);
    });
  }

  /** No new requests from now on; the child is being closed or reaped. */
  retire(reason: EndReason): void {
    this.#retired ??= reason;
  }

  /** Kills the child and every process it started now (SIGKILL), recording why. Idempotent. */
  kill(reason: EndReason, why?: string): void {
    if (this.end === undefined) this.end = why === undefined ? { reason } : { reason, why };
    this.signal("SIGKILL");
  }

  /** Sends `sig` to the child (`signalChild`): SIGTERM and SIGKILL end it and every process it started. */
  signal(sig: Deno.Signal): void {
    signalChild(this.#proc, this.#childPid, sig);
  }

  async #readStdout(): Promise<void> {
    try {
      for await (const frame of readFrames(readStream(this.#proc.stdout), this.#maxFrame)) this.#dispatch(frame);
    } catch (e) {
      if (this.end !== undefined) return; // killed on purpose: a cut-off frame is no news
      const what = e instanceof FrameError
        ? e.message.startsWith("the input ended")
          ? e.message.replace("the input ended", "the child's output ended")
          : `malformed frame: ${e.message}`
        : `cannot read the child's output: ${e}`;
      this.#protocolFailure(what, e);
    }
  }

  async #readStderr(): Promise<void> {
    try {
      for await (const chunk of this.#proc.stderr) this.#stderr.push(chunk);
    } catch {
      // The tail so far is what there is.
    }
  }

  /** What a failure now interrupts: start-up, the one request in flight, or the child as a whole. */
  get #currentOp(): string {
    if (this.#hello) return "start sandboxed plugin";
    return this.#pending.only ?? "talk to the sandbox child";
  }

  /** Fails whatever waits on the child: boot, handshake, and every request in flight. */
  #rejectAll(errorFor: (op: string, inFlight: InFlightRequest | undefined) => unknown): void {
    this.#booted?.reject(errorFor("start sandbox child", { kind: "start" }));
    this.#hello?.reject(errorFor("start sandboxed plugin", { kind: "start" }));
    this.#booted = this.#hello = undefined;
    this.#pending.rejectAll(errorFor);
  }

  #expire(id: number, timeoutMs: number): void {
    const op = this.#pending.op(id);
    if (op === undefined) return;
    const why = `${op} had no reply within ${timeoutMs} ms`;
    this.kill("timed_out", why);
    this.#pending.reject(id, () => timeoutError(op, timeoutMs, CONSEQUENCES.sandbox));
    this.#rejectAll((other) => childKilledError(other, why));
  }

  #protocolFailure(what: string, cause?: unknown): void {
    const error = protocolError(this.#currentOp, what, cause);
    this.kill("protocol", what);
    this.#rejectAll(() => error);
  }

  #dispatch(frame: Frame): void {
    switch (frame.kind) {
      case KIND.LOG:
        return emitForwardedLog(frame.header);
      case KIND.EVENT:
        return this.onEvent(frame);
      case KIND.FATAL:
        this.#fatal = String(frame.header.message ?? "unknown failure");
        return;
      case KIND.PHASE:
        return this.#phases?.phase(typeof frame.header.op === "string" ? frame.header.op : null);
      case KIND.BOOTED:
        if (typeof frame.header.pid === "number") this.#childPid = frame.header.pid;
        // The child has mapped its call board by now (or says it could not): the file can go.
        this.#boardMapped = frame.header.board === true;
        this.#board?.fileDone();
        this.#booted?.resolve();
        this.#booted = undefined;
        return;
      case KIND.HELLO:
        if (this.#childPid === undefined && typeof frame.header.pid === "number") this.#childPid = frame.header.pid;
        this.#board?.fileDone();
        this.#booted?.resolve(); // a child may skip BOOTED
        this.#booted = undefined;
        if (this.#hello === undefined) return this.#protocolFailure("a second HELLO frame");
        this.#hello.resolve(frame);
        this.#hello = undefined;
        return;
      case KIND.REPLY: {
        const ids = this.#pending.ids;
        if (this.#pending.resolve(frame.id, { header: frame.header, blobs: frame.blobs })) return;
        return this.#protocolFailure(
          `a reply with id ${frame.id} while ${
            ids.length > 0 ? `waiting for id ${ids.join(", ")}` : "no request was pending"
          }`,
        );
      }
      default:
        return this.#protocolFailure(`unknown frame kind ${frame.kind}`);
    }
  }

  #onExit(status: Deno.CommandStatus, memory: ChildMemory): ChildEnd {
    childExited(this);
    const end = endFromStatus(status, this.end, this.#fatal, this.#retired, memory);
    this.end = end;
    const blame = blameOf(end, this.#board?.fault(), this.#pending.inFlight(), this.stderrTail); // the culprit
    this.#rejectAll((op, inFlight) => this.#endError(op, inFlight, blame));
    this.#board?.close(); // every request is settled: nothing reads it any more
    return end;
  }

  /** The error for a request the child's end interrupted (or that came after it). */
  #endError(op: string, inFlight: InFlightRequest | undefined, blame?: CrashBlame): Error {
    return endError(this.end!, this.#fatal, () => this.stderrTail, op, inFlight, blame);
  }
}
