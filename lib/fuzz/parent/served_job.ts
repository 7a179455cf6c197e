/**
 * A fuzz job in a fork server (`fork_server.ts`), on a libFuzzer harness or
 * an npa plugin (judged here by `RemoteNpaTarget`):
 * one engine here for the whole job (one PRNG stream, its corpus kept across
 * deaths), a worker forked per life. A worker's death is read as a child's
 * is (the input in flight from the file, the crash record, its stderr:
 * `death.ts`), and the engine goes on in a new worker after the input that
 * killed the last one. A crash costs a `fork()` and is never held against
 * its method, but a method whose known hang (or RSS kill) ends lives at once
 * is retired (`budget.ts`): each costs a deadline.
 *
 * @example
 * ```ts ignore
 * import { fuzzInForkServer } from "./served_job.ts";
 * await fuzzInForkServer(host, 100_000); // FuzzJob passes itself as the host
 * ```
 *
 * @module
 */
import { loadError, timeoutError } from "../../errors/host_errors.ts";
import { FuzzEngine } from "../engine/fuzz_engine.ts";
import type { FuzzRequest } from "../wire.ts";
import { sha1Hex } from "../../util/sha1.ts";
import { DeathBudget, RETIRE_AFTER, STILLBORN_CAP } from "./budget.ts";
import { findingOfDeath } from "./death.ts";
import { ForkServer, type ForkServerOptions, ForkServerStartError } from "./fork_server.ts";
import type { ForkWorker } from "./fork_worker.ts";
import type { InputFile } from "./input_file.ts";
import { fuzzRequest } from "./job_request.ts";
import type { JobSession } from "./job_session.ts";
import { RemoteLoop, WorkerDied } from "./remote_loop.ts";
import { RemoteNpaTarget } from "./remote_target.ts";
import { type KilledFor, watchChild } from "./watchdog.ts";

/** What the served loop needs of its job (`FuzzJob`), which keeps the counts its report reads. */
export interface ServedHost {
  readonly index: number;
  readonly session: JobSession;
  readonly file: InputFile;
  /** True before the job's first life (its first server validates the harness for the run). */
  firstLife(): boolean;
  allRetired(): boolean;
  /** A worker's life began, on `loop`. */
  began(worker: ForkWorker, loop: RemoteLoop): void;
  /** The watch is killing the worker. */
  killed(why: KilledFor): void;
  /**
   * The life ended after `execs` executions (when it died: the batch it died in was sent at `since`, epoch ms);
   * the job's executions so far and why the watch killed it, if it did.
   */
  ended(execs: number, died: boolean, since: number): { done: number; killedFor: KilledFor | undefined };
  /** An event of the engine's (corpus entries, the first input running). */
  event(header: Record<string, unknown>, blobs: Uint8Array[], req: FuzzRequest): void;
  /** The job no longer runs a worker. */
  closed(): void;
}

/**
 * A fork server for the job, or undefined when the target is better fuzzed
 * in Deno children (see `ForkServerStartError.inChild`; for an npa plugin,
 * any failure to start but a hang: a Deno child's guard then names the
 * error exactly). Throws the run's error otherwise.
 */
async function startServer(
  s: JobSession,
  options: ForkServerOptions,
  whileStarting?: () => void,
): Promise<ForkServer | undefined> {
  try {
    return await ForkServer.start(options, whileStarting);
  } catch (e) {
    if (e instanceof ForkServerStartError && options.npa !== undefined && e.timedOut) {
      // Not tried again in a Deno child: a plugin that hangs as it starts would cost a second deadline.
      throw timeoutError(
        "start the plugin in the fuzz fork server",
        options.startTimeoutMs,
        "the fork server was killed while it loaded the plugin (dlopen, init, describe or create)",
      );
    }
    if (e instanceof ForkServerStartError && (e.inChild || options.npa !== undefined)) {
      s.serveInChildren(
        e.threads
          ? `${s.pluginPath} left threads running once started, which a forked worker would lack: fuzzed in Deno children, which restart slower`
          : undefined,
      );
      return undefined;
    }
    if (e instanceof ForkServerStartError && e.initResult !== undefined) {
      throw loadError(s.pluginPath, `LLVMFuzzerInitialize returned ${e.initResult}`);
    }
    throw loadError(s.pluginPath, e instanceof Error ? e.message : String(e));
  }
}

/**
 * Fuzzes until `runs` executions (null: until the run stops), then ends the
 * server. False when the server cannot serve the target (an npa plugin that
 * did not start there, a target that left threads running): the run's jobs
 * then fuzz in Deno children (`JobSession.serveInChildren`).
 */
export async function fuzzInForkServer(host: ServedHost, runs: number | null): Promise<boolean> {
  const s = host.session;
  const options = s.serverOptions(host.file);
  // The dictionary (the binary decoded) is made while the first server loads the target.
  let server = await startServer(s, options, () => void s.dictionary);
  if (server === undefined) return false;
  let worker: ForkWorker | undefined;
  // The first worker is forked while the run reads the HELLO (an npa plugin's describe(): zod) and builds the request.
  let forking: Promise<ForkWorker> | undefined = server.fork();
  forking.catch(() => {});
  try {
    const npa = server.npa;
    if (host.firstLife()) s.accept({ edges: server.edges, ...npa && { describe: npa.describe, stats: npa.stats } });
    const { req, blobs } = fuzzRequest(s, host.index * 4096, runs, true);
    const seeds = blobs.slice(0, req.seeds);
    const known = blobs.slice(req.seeds, req.seeds + (req.known ?? 0));
    const dict = blobs.slice(req.seeds + (req.known ?? 0));
    const maxOut = options.npa?.maxOutputBytes ?? 0;
    const loop = new RemoteLoop(host.file, server.tables, maxOut);
    if (s.stopping) loop.requestStop();
    const send = (header: Record<string, unknown>, out: Uint8Array[]) => host.event(header, out, req);
    const target = npa !== undefined
      ? new RemoteNpaTarget(loop, maxOut, npa.stats)
      : { judge: () => ({ warnings: [] }) };
    const engine = new FuzzEngine(loop, target, req, seeds, dict, send, server.tables !== undefined, known);
    let stillborn = 0;
    // A seed of this job's dies once at most (the engine never runs it again): such a death is no strike.
    const freshSeeds = new Set(seeds.map(sha1Hex));
    const budget = new DeathBudget();
    while (!s.stopping && !host.allRetired()) {
      if (server.gone) {
        // The plugin took its server down (it killed its worker's parent): a new one, the engine going on.
        await server.quit();
        const next = await startServer(s, options);
        if (next === undefined) throw loadError(s.pluginPath, "the fuzz fork server could not start again");
        server = next;
      }
      worker = await (forking ?? server.fork());
      forking = undefined;
      host.began(worker, loop);
      loop.attach(worker);
      engine.newProcess();
      let hangMs: number | undefined;
      const limits = { timeoutMs: s.timeoutMs, rssLimitMb: s.rssLimitMb, hungBefore: (m: number) => s.hungBefore(m) };
      const stopWatch = watchChild(worker, host.file, limits, (why, ms) => {
        host.killed(why);
        hangMs = ms;
      });
      let died = false;
      try {
        await engine.run();
      } catch (e) {
        if (!(e instanceof WorkerDied)) throw e;
        died = true;
      } finally {
        stopWatch();
      }
      const lifeExecs = host.file.execs;
      if (!died) await worker.finish();
      const { done, killedFor } = host.ended(lifeExecs, died, loop.lastSentAt);
      const end = worker.end;
      worker = undefined;
      if (!died) return true;
      const { finding, current } = findingOfDeath(s, host.file, { job: host.index, execs: done }, {
        signal: end?.signal,
        exitCode: end?.exitCode,
        killedFor,
        hangMs,
        stderrTail: end?.stderrTail ?? "",
        hostGone: end?.hostGone,
      });
      if (finding === undefined) {
        s.warn(
          `Job ${host.index}: a fuzz worker ended (${
            end?.signal ?? `exit code ${end?.exitCode}`
          }) with no input in flight`,
        );
      } else {
        const repeat = s.knownKey(finding.key);
        s.finding(finding);
        if (!repeat) engine.addKnown(finding.input);
        // A crash costs a fork(); a hang (or a kill over the RSS limit) costs a deadline an input, and a lost server a
        // start: only those count.
        const method = current?.method ?? 0;
        if (killedFor !== undefined || end?.hostGone === true) {
          const freshSeed = freshSeeds.has(sha1Hex(finding.input));
          if (budget.death({ method, repeat, freshSeed, fuzzedExecs: lifeExecs })) {
            s.retire(method, RETIRE_AFTER);
            engine.retire(method);
            budget.clear();
          }
        }
      }
      stillborn = lifeExecs === 0 ? stillborn + 1 : 0;
      if (stillborn >= STILLBORN_CAP) {
        s.warn(`Job ${host.index}: ${STILLBORN_CAP} fuzz workers in a row died before running an input`);
        return true;
      }
      if (runs !== null && engine.execs >= runs) return true;
    }
    return true;
  } finally {
    host.closed();
    worker?.kill("closed");
    (await forking?.catch(() => undefined))?.kill("closed");
    await server.quit();
  }
}
