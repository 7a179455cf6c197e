/**
 * One fuzz job: a sandbox child running the fuzz loop, supervised. The
 * parent only watches: it sends the FUZZ request (seeds, dictionary,
 * budget), takes the child's events (findings, corpus entries, progress),
 * and reads the child's input file every few milliseconds. An exec counter
 * that stops moving inside a plugin call for `timeoutMs` is a hang: the
 * child is asked for the stuck thread's backtrace (SIGUSR2), then killed. An
 * RSS over the limit is an out-of-memory finding. When the child dies, the
 * input in flight is read from the file and recorded before a new child
 * starts, with the rest of the budget, a fresh PRNG stream and every corpus
 * entry found so far.
 *
 * Its run's needs: `job_session.ts`; requests: `job_request.ts`; hangs, RSS: `watchdog.ts`.
 *
 * @example
 * ```ts ignore
 * import { FuzzJob } from "./job.ts";
 * const job = new FuzzJob(0, session);
 * await job.fuzz(100_000);
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { HostInternalError } from "../../errors/errors.ts";
import { SandboxChild } from "../../sandbox/sandbox_child.ts";
import { type Frame, KIND } from "../../sandbox/protocol.ts";
import { stopChild } from "../../sandbox/stop.ts";
import { SpareChild } from "./spare_child.ts";
import { childFinding, type FindingCandidate } from "../crash/finding.ts";
import { sha1Hex } from "./artifacts.ts";
import { DeathBudget, RETIRE_AFTER, STILLBORN_CAP } from "./budget.ts";
import { InputFile } from "./input_file.ts";
import { fuzzRequest, type JobRequest, onceRequest, replayIndex } from "./job_request.ts";
import type { JobSession } from "./job_session.ts";
import { type KilledFor, watchChild } from "./watchdog.ts";
import type { ForkWorker } from "./fork_worker.ts";
import type { RemoteLoop } from "./remote_loop.ts";
import { fuzzInForkServer } from "./served_job.ts";
import { findingOfDeath } from "./death.ts";
import type { FuzzEvent, FuzzRequest, FuzzResult, MergedEvent } from "../wire.ts";

/** How a request to a child ended: a reply, or the child's end. */
type Outcome = { result: FuzzResult } | { error: unknown };

/** One job of a fuzz run. */
export class FuzzJob {
  readonly index: number;
  readonly #s: JobSession;
  /** The running child's input file, and the spare's (they swap when the spare takes over). */
  #file: InputFile;
  #spareFile: InputFile;
  #child: SandboxChild | undefined;
  readonly #spare = new SpareChild();
  /** Executions of children that have ended. */
  #done = 0;
  #lives = 0;
  #killedFor: KilledFor | undefined;
  /** When the last child was seen dead (epoch ms), for the restart time. */
  #deadAt: number | undefined;
  /** Restart times (ms): a child seen dead (a fork server's worker: its fatal batch sent) -> the next's first input. */
  readonly restartMs: number[] = [];
  /** Known bugs that end lives at once (see budget.ts). */
  readonly #budget = new DeathBudget();

  readonly #spares: boolean;

  /** `spares`: keep a child started ahead (default true; a single replay needs none). */
  constructor(index: number, session: JobSession, options: { spares?: boolean } = {}) {
    this.index = index;
    this.#s = session;
    this.#spares = options.spares ?? true;
    const file = (n: number) =>
      InputFile.create(
        join(session.artifactsDir, `.plugcheck-input-${Deno.pid}-${index}-${n}`),
        session.arenaBytes,
      );
    this.#file = file(0);
    this.#spareFile = file(1);
  }

  /** Executions so far, the running child's (or fork server worker's) included. */
  get execs(): number {
    return this.#done + (this.#child || this.#worker ? this.#file.execs : 0);
  }

  /** The running child's (or worker's) process id. */
  get pid(): number | undefined {
    return this.#child?.pid ?? this.#worker?.pid;
  }

  /** The fork server's running worker, and the engine's loop over it (a harness fuzzed in a fork server). */
  #worker: ForkWorker | undefined;
  #remote: RemoteLoop | undefined;

  /** Children started after the first. */
  get restarts(): number {
    return Math.max(0, this.#lives - 1);
  }

  /** Asks the running child to stop before its next input. */
  stop(): void {
    this.#file.requestStop();
    this.#remote?.requestStop();
  }

  /** The most coverage a child of this job has reported (guided mode). */
  #coverage = { edges: 0, features: 0 };

  /** Guided mode: edges and features, the best of this job's children so far. */
  coverage(): { edges: number; features: number } {
    if (this.#child !== undefined || this.#worker !== undefined) {
      const now = this.#file.coverage();
      if (now.features > this.#coverage.features) this.#coverage = { edges: now.edges, features: now.features };
    }
    return this.#coverage;
  }

  /** Hands the running child a corpus entry another job found (dropped when it has no room: its next life gets them all). */
  share(input: Uint8Array, method: number): void {
    if (this.#remote !== undefined) this.#remote.share(input, method);
    else if (this.#child !== undefined && this.#sharing) this.#file.share(input, method);
  }

  /** True while the running child fuzzes (not in a replay or merge). */
  #sharing = false;

  /** Starts a spare child on the spare input file, unless one waits already. */
  #startSpare(): void {
    if (this.#spares && !this.#s.stopping) this.#spare.start(this.#s.spec(this.#spareFile));
  }

  /** The child for the next life: the spare when one is up and alive (its file becomes the current one), else a fresh one. */
  async #nextChild(): Promise<SandboxChild> {
    const spare = await this.#spare.take();
    if (spare !== undefined) {
      [this.#file, this.#spareFile] = [this.#spareFile, this.#file];
      return spare;
    }
    // The dictionary (the plugin's binary decoded: ~35 ms for 0.5 MB) is made while the child boots.
    return await SandboxChild.start(this.#s.spec(this.#file), { whileBooting: () => this.#s.dictionary });
  }

  /** Fuzzes until `runs` executions (null: until the run stops). */
  async fuzz(runs: number | null): Promise<void> {
    if (this.#s.forkServer && await this.#fuzzServed(runs)) return;
    let stillborn = 0;
    try {
      while (!this.#s.stopping && (runs === null || this.#done < runs) && !this.#allRetired()) {
        const build = () =>
          fuzzRequest(
            this.#s,
            this.index * 4096 + this.#lives - 1,
            runs === null ? null : runs - this.#done,
            this.#lives === 1,
          );
        const before = this.#done;
        const ended = await this.#life(build);
        if (ended) return;
        stillborn = this.#done === before ? stillborn + 1 : 0;
        if (stillborn >= STILLBORN_CAP) {
          this.#s.warn(`Job ${this.index}: ${STILLBORN_CAP} fuzz children in a row died before running an input`);
          return;
        }
      }
    } finally {
      await this.close();
    }
  }

  /**
   * Fuzzes in a fork server: one engine here for the whole job (one PRNG
   * stream, its corpus kept across deaths), a worker forked per life. A
   * worker's death is read as a child's is (the input in flight from the
   * file, the crash record, its stderr), and the engine goes on in a new
   * worker after the input that killed the last one. False when the server
   * cannot serve the target: the job then fuzzes in Deno children.
   */
  async #fuzzServed(runs: number | null): Promise<boolean> {
    return await fuzzInForkServer({
      index: this.index,
      session: this.#s,
      file: this.#file,
      firstLife: () => this.#lives === 0,
      allRetired: () => this.#allRetired(),
      began: (worker, loop) => {
        this.#lives++;
        this.#killedFor = undefined;
        this.#worker = worker;
        this.#remote = loop;
      },
      killed: (why) => (this.#killedFor = why),
      ended: (execs, died, since) => {
        if (died) this.#deadAt = since;
        this.coverage();
        this.#done += execs;
        this.#worker = undefined;
        return { done: this.#done, killedFor: this.#killedFor };
      },
      event: (header, blobs, req) =>
        this.#event({ id: 0, kind: KIND.EVENT, header, blobs }, req, (f) => this.#s.finding(f)),
      closed: () => {
        this.#remote = undefined;
        this.#worker = undefined; // also when the job failed mid-life: its file is not read again
      },
    }, runs);
  }

  /** True once the run retired every method (known only after the first child said what they are). */
  #allRetired(): boolean {
    return this.#s.methods.length > 0 && this.#s.retired.size >= this.#s.methods.length;
  }

  /**
   * Runs `inputs` once each for method `methods[0]` in one child, stopping
   * at the first finding; returns it with its index, or undefined when none
   * was found. Used to reproduce and to minimize.
   */
  async replay(inputs: readonly Uint8Array[]): Promise<{ index: number; finding: FindingCandidate } | undefined> {
    let first: { index: number; finding: FindingCandidate } | undefined;
    const take = (f: FindingCandidate, index: number) => (first ??= { index, finding: f });
    await this.#life(() => onceRequest(this.#s, "replay", inputs), take);
    return first;
  }

  /** Merge: takes the running child's `merged` events. */
  #onMerged: ((e: MergedEvent) => void) | undefined;

  /**
   * Runs `inputs` once each, in order, for method `methods[0]` in one child,
   * and says which reached something the inputs before them had not
   * (`fresh`, indices) for the first `upTo`. When the child dies, `died` is
   * the input that was running (its finding recorded); inputs from `upTo` up
   * to it ran, but what they reached is lost with the child.
   */
  async merge(inputs: readonly Uint8Array[]): Promise<{ fresh: number[]; upTo: number; died?: number }> {
    const fresh: number[] = [];
    let upTo = 0;
    let last: number | undefined;
    this.#onMerged = (e) => {
      fresh.push(...e.fresh);
      upTo = e.upTo;
    };
    try {
      const finished = await this.#life(() => onceRequest(this.#s, "merge", inputs), (f, index) => {
        last = index;
        this.#s.finding(f);
      });
      if (finished) return { fresh, upTo };
      return { fresh, upTo, died: last ?? upTo };
    } finally {
      this.#onMerged = undefined;
    }
  }

  /** Ends the spare child and removes the input files (after the last fuzz or replay). */
  async close(): Promise<void> {
    await this.#spare.end();
    this.#file.remove();
    this.#spareFile.remove();
  }

  /**
   * One child from start to end. True when it ended by finishing its
   * request (budget spent or stopped); false when it died (its finding is
   * recorded) and the job should go on with a new child.
   */
  async #life(
    build: () => JobRequest,
    onFinding: (f: FindingCandidate, index: number) => void = (f) => this.#s.finding(f),
  ): Promise<boolean> {
    this.#killedFor = undefined;
    let child: SandboxChild;
    try {
      child = await this.#nextChild();
    } catch (e) {
      // The first child's failure is the load's; a later one (init crashed this time) is retried.
      if (this.#lives === 0) throw e;
      this.#s.warn(`Job ${this.index}: a fuzz child failed to start: ${e instanceof Error ? e.message : e}`);
      this.#lives++;
      return false;
    }
    if (this.#lives++ === 0) {
      try {
        this.#s.accept(child.hello);
      } catch (e) {
        child.kill("protocol");
        throw e;
      }
    }
    if (this.#s.stopping) {
      // Stopped while this child started: its file's stop flag was cleared when it mapped it, so it would never stop.
      await stopChild(child, this.#s.graceMs, "closed");
      return true;
    }
    const { req, blobs } = build();
    this.#file.resetInbox();
    this.#sharing = req.mode === "fuzz";
    this.#child = child;
    child.onEvent = (frame) => this.#event(frame, req, onFinding);
    const fuzzing = req.mode === "fuzz";
    const limits = {
      timeoutMs: this.#s.timeoutMs,
      rssLimitMb: this.#s.rssLimitMb,
      ...fuzzing && { hungBefore: (m: number) => this.#s.hungBefore(m) },
    };
    let hangMs: number | undefined;
    const stopHeartbeat = watchChild(child, this.#file, limits, (why, ms) => {
      this.#killedFor = why;
      hangMs = ms;
    });
    const replied: Promise<Outcome> = child.request(KIND.FUZZ, { ...req }, blobs, {
      op: "fuzz",
      timeoutMs: Infinity,
      inFlight: { kind: "fuzz" },
    }).then((r) => ({ result: r.header as unknown as FuzzResult }), (error) => ({ error }));
    // Once the request is on its way (neither delays the first inputs): the spare's spawn, and the seeds no bug had
    // when the life began (a death on one is no strike, see budget.ts). The first life goes without a spare: a run
    // that never crashes, or ends at its first finding, never pays for one (nor shares the CPU with it).
    if (this.#lives > 1) this.#startSpare();
    const freshSeeds = new Set(
      fuzzing ? blobs.slice(0, req.seeds).map(sha1Hex).filter((h) => !this.#s.isBugInput(h)) : [],
    );
    const outcome = await replied;
    stopHeartbeat();
    this.coverage(); // the child's last figures, before its file is reused
    this.#sharing = false;
    if ("result" in outcome) {
      this.#budget.clear();
      this.#done += outcome.result.execs;
      this.#child = undefined;
      await stopChild(child, this.#s.graceMs, "closed");
      return true;
    }
    const end = await child.waitExit();
    this.#deadAt = performance.timeOrigin + performance.now();
    const lifeExecs = this.#file.execs;
    this.#done += lifeExecs;
    this.#child = undefined;
    if (end.reason === "fatal" || outcome.error instanceof HostInternalError) throw outcome.error;
    const { finding, current } = findingOfDeath(this.#s, this.#file, { job: this.index, execs: this.#done }, {
      signal: end.signal,
      exitCode: end.exitCode,
      killedFor: this.#killedFor,
      hangMs,
      stderrTail: child.stderrTail,
    });
    if (finding === undefined) {
      this.#s.warn(
        `Job ${this.index}: a fuzz child ended (${end.signal ?? `exit code ${end.exitCode}`}) with no input in flight`,
      );
      return req.mode === "replay";
    }
    const repeat = this.#s.knownKey(finding.key);
    onFinding(finding, replayIndex(req, blobs, current?.bytes));
    if (fuzzing && current !== undefined) this.#spend(req, current.method, repeat, freshSeeds, finding, lifeExecs);
    return req.mode === "replay";
  }

  /** Counts a death against its known bug's budget; retires the method when it is spent. */
  #spend(
    req: FuzzRequest,
    method: number,
    repeat: boolean,
    freshSeeds: ReadonlySet<string>,
    finding: FindingCandidate,
    lifeExecs: number,
  ): void {
    const active = req.methods.length - (req.retired?.length ?? 0);
    const death = {
      method,
      repeat,
      freshSeed: freshSeeds.has(sha1Hex(finding.input)),
      fuzzedExecs: lifeExecs - req.seeds * active,
    };
    if (this.#budget.death(death)) {
      this.#s.retire(method, RETIRE_AFTER);
      this.#budget.clear();
    }
  }

  #event(frame: Frame, req: FuzzRequest, onFinding: (f: FindingCandidate, index: number) => void): void {
    const e = frame.header as unknown as FuzzEvent & { type: string; at?: number; index?: number };
    const input = frame.blobs[0] ?? new Uint8Array(0);
    switch (e.type) {
      case "corpus":
        if (req.mode === "fuzz") this.#s.corpusEntry(input.slice(), e.method, this.index);
        return;
      case "started":
        this.#s.fuzzingStarted();
        if (this.#deadAt !== undefined && e.at !== undefined) this.restartMs.push(e.at - this.#deadAt);
        this.#deadAt = undefined;
        return;
      case "finding":
        return onFinding(childFinding(e, input.slice(), this.index, this.#done), e.index ?? 0);
      case "merged":
        return this.#onMerged?.(e as MergedEvent);
    }
  }
}
