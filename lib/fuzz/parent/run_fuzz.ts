/**
 * `runFuzz(path, options)`: fuzzes a plugin's methods (or a libFuzzer
 * harness) in sandbox children, keeps going after crashes, records every
 * finding the moment it is known (libFuzzer-style artifacts with a JSON
 * sidecar), reports each bug once with its smallest input, and returns the
 * report `plugcheck fuzz` prints. The parent only supervises (`job.ts`);
 * mutation, scheduling and execution happen in the children (`engine.ts`).
 *
 * @example
 * ```ts ignore
 * import { runFuzz } from "./run_fuzz.ts";
 * const report = await runFuzz("build/fixtures/fuzz/libmagic_prefix.so", { runs: 200_000, seed: 1, artifactsDir: "/tmp/a" });
 * for (const f of report.findings) console.log(f.kind, f.artifact, f.repro);
 * ```
 *
 * @module
 */
import { provenance } from "../../load/provenance.ts";
import { HostInternalError } from "../../errors/errors.ts";
import { ProcInfo } from "../../ffi/proc_info.ts";
import { FuzzJob } from "./job.ts";
import { type FuzzOptions, type FuzzProgress, resolveFuzzOptions } from "./options.ts";
import { bestCoverage, buildReport, type FuzzReport } from "./report.ts";
import { type PreparedRun, prepareRun } from "./prepare_run.ts";
import { Timeline } from "./timeline.ts";

const PROGRESS_MS = 100;

/** Fuzzes the library at `path`; see {@link FuzzOptions}. Throws `UsageError` / `LoadError` before anything runs. */
export async function runFuzz(path: string, options: FuzzOptions = {}): Promise<FuzzReport> {
  // performance.now() counts from the process's start: what came before runFuzz is the host's (the CLI's) boot.
  const entered = performance.now();
  const o = resolveFuzzOptions(options);
  const run = await prepareRun(path, o);
  const started = performance.now();
  // The library as it was when the run began (read off the critical path: it waits for nothing).
  const made = provenance(run.pluginPath);
  let firstInput: number | undefined;
  run.session.fuzzing.then(() => (firstInput = performance.now()));
  const jobs = Array.from({ length: o.jobs }, (_, i) => new FuzzJob(i, run.session));
  const budget = (i: number) =>
    o.runs === undefined ? null : Math.floor(o.runs / o.jobs) + (i < o.runs % o.jobs ? 1 : 0);
  let stopReason: FuzzReport["run"]["stopped"] = o.runs === undefined ? "duration" : "runs";
  const stopAll = (why: typeof stopReason) => {
    if (run.session.stopping) return;
    stopReason = why;
    run.session.stopping = true;
    for (const j of jobs) j.stop();
  };
  // The duration is fuzzing time: it starts when the first child runs its first inputs (a smoke test of 250 ms is
  // not spent on start-up, or on a plugin's slow init).
  let deadline: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  if (o.durationMs !== undefined) {
    const ms = o.durationMs;
    run.session.fuzzing.then(() => {
      if (!ended && !run.session.stopping) deadline = setTimeout(() => stopAll("duration"), ms);
    });
  }
  const onAbort = () => stopAll("interrupted");
  o.signal?.addEventListener("abort", onAbort);
  if (o.signal?.aborted) onAbort();
  const proc = ProcInfo.get();
  const timeline = new Timeline();
  const progress = setInterval(() => {
    const now = progressOf(jobs, run, proc, started);
    timeline.add(now);
    o.onProgress?.(now);
  }, PROGRESS_MS);
  run.session.onFinding = (f) => {
    o.onFinding?.(f);
    if (o.maxFindings !== undefined && run.book.all.length >= o.maxFindings) stopAll("max-findings");
  };
  // One job's discovery seeds the others while they run (through their input files' inboxes).
  run.session.onCorpus = (input, method, from) => {
    for (const j of jobs) if (j.index !== from) j.share(input, method);
  };
  let failure: unknown;
  try {
    // The first job's first child validates the plugin (describe(), methods) before the others start.
    const first = jobs[0]!.fuzz(budget(0));
    await Promise.race([run.session.ready, first]);
    const rest = jobs.slice(1).map((j) => j.fuzz(budget(j.index)));
    const settled = await Promise.allSettled([first, ...rest]);
    const rejected = settled.find((s) => s.status === "rejected");
    if (rejected) failure = (rejected as PromiseRejectedResult).reason;
  } catch (e) {
    failure = e;
  } finally {
    clearInterval(progress);
    ended = true;
    if (deadline !== undefined) clearTimeout(deadline);
    o.signal?.removeEventListener("abort", onAbort);
    await Promise.all(jobs.map((j) => j.close()));
  }
  if (failure !== undefined && run.session.acceptedMethods === undefined) throw failure;
  if (run.session.allRetired && !run.session.stopping) stopReason = "retired";
  if (failure !== undefined) {
    stopReason = "error";
    run.session.warn(`The run ended early: ${failure instanceof Error ? failure.message : String(failure)}`);
    if (failure instanceof HostInternalError) throw failure;
  }
  await run.book.locate(run.pluginPath);
  const startup = {
    boot_ms: entered,
    prepare_ms: started - entered,
    ...firstInput !== undefined && { first_input_ms: firstInput - started },
  };
  timeline.add(progressOf(jobs, run, proc, started));
  const seconds = (performance.now() - started) / 1000;
  return buildReport(run, jobs, {
    seconds,
    stopped: stopReason,
    startup,
    provenance: await made,
    timeline: timeline.points(),
  });
}

function progressOf(jobs: readonly FuzzJob[], run: PreparedRun, proc: ProcInfo, started: number): FuzzProgress {
  const execs = jobs.reduce((n, j) => n + j.execs, 0);
  const elapsedMs = performance.now() - started;
  let rss: number | undefined;
  for (const j of jobs) {
    const pid = j.pid;
    const s = pid === undefined ? undefined : proc.sample(pid);
    if (s) rss = Math.max(rss ?? 0, s.rssBytes);
  }
  return {
    execs,
    perSecond: elapsedMs > 0 ? Math.round(execs / (elapsedMs / 1000)) : 0,
    corpus: run.session.corpusSize,
    findings: run.book.all.length,
    rssBytes: rss,
    elapsedMs,
    ...run.session.guided && { coverage: bestCoverage(jobs) },
  };
}
