/**
 * `runChecksOnDirectory(dirs, options)`: the conformance suite over every
 * plugin library of one or more directories (`plugcheck check DIR`, or the
 * directories of `LADSPA_PATH`). A library is a regular file (or a link to
 * one) whose name ends in `.so`, not looked for in subdirectories, taken in
 * the order of the directories, then by name. Each library gets a run of
 * `runChecks` with the same options and seed, `jobs` libraries at a time,
 * each with its own sandbox children, so a library that crashes or hangs
 * ends its own checks and the next goes on. A file that cannot be loaded is
 * a failed library (abi.loads), not an error of the run. Then the rule over
 * the directory as a whole: LADSPA unique IDs two libraries declare
 * (`ladspa.unique_ids_across`, see `across.ts`).
 *
 * @example
 * ```ts ignore
 * import { runChecksOnDirectory } from "./run_directory.ts";
 * const report = await runChecksOnDirectory("/usr/lib/ladspa", { seed: 1, filter: ["^ladspa\\."] });
 * for (const row of report.libraries) console.log(row.library, row.failed, row.firstFailure?.id);
 * console.log(report.collisions.length, report.exitCode);
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { UsageError } from "../errors/errors.ts";
import { MAX_SEED, randomSeed } from "../util/prng.ts";
import { CHECKS, selectChecks } from "./catalog.ts";
import { ACROSS_CHECK, acrossResult, type UniqueIdCollision, uniqueIdCollisions } from "./across.ts";
import { errorLine } from "./check_helpers.ts";
import { ladspaLibrary } from "./checks/ladspa_doc.ts";
import { CheckGate } from "./gate.ts";
import type { CheckResult } from "./result.ts";
import { type CheckOptions, type CheckReport, DEFAULT_CHECK_JOBS, runChecks, TOOL_VERSION } from "./run_checks.ts";
import { type CheckSpec, skip } from "./spec.ts";

/** Libraries at once by default: each library's run already has `DEFAULT_CHECK_JOBS` checks at once. */
export const DEFAULT_LIBRARY_JOBS = 1;

/** A directory to look in: its path, and as the user wrote it (for the reports and repro commands). */
export interface DirectoryTarget {
  path: string;
  shown?: string;
}

/** Options of {@link runChecksOnDirectory}: those of `runChecks` for each library, and the directory's own. */
export interface DirectoryCheckOptions
  extends Omit<CheckOptions, "jobs" | "shown" | "onStart" | "onResult" | "checks" | "gate" | "inProcess"> {
  /** Libraries at once (default {@link DEFAULT_LIBRARY_JOBS}). */
  jobs?: number;
  /** Checks at once within a library (default `DEFAULT_CHECK_JOBS`). */
  checkJobs?: number;
  /** Directories that do not exist are left out (the `LADSPA_PATH` way) rather than a UsageError. */
  missingOk?: boolean;
  /** Called as each library's run starts, as each of its checks ends, and as it ends. */
  onLibraryStart?: (library: string) => void;
  onResult?: (library: string, result: CheckResult, done: number, of: number) => void;
  onLibrary?: (row: LibraryRun, done: number, of: number) => void;
}

/** One library's line of the summary, and its whole report. */
export interface LibraryRun {
  /** The library as shown: its path under the directory as the user wrote it. */
  library: string;
  /** The file's name. */
  name: string;
  /** The methods describe() lists (for LADSPA: its plugins); undefined when it did not get that far. */
  plugins: number | undefined;
  passed: number;
  /** Checks that failed, crashed or timed out (with `strict`, warned too). */
  failed: number;
  warned: number;
  skipped: number;
  /** The first check (in catalog order) that failed, with its details; an unloadable library's is abi.loads. */
  firstFailure: { id: string; details: string } | undefined;
  /** 0 passed, 1 failed, 3 could not be loaded (a failed library too). */
  exitCode: 0 | 1 | 3;
  ok: boolean;
  durationMs: number;
  /** The run of its checks; undefined when plugcheck itself failed on it (`error`). */
  report: CheckReport | undefined;
  /** plugcheck's own failure on this library (a bug of plugcheck): the library counts as failed, the run goes on. */
  error?: string;
}

/** A finished run over the directories. */
export interface DirectoryReport {
  /** The directories, as shown. */
  directories: string[];
  /** Directories left out because they do not exist (with `missingOk`). */
  missing: string[];
  libraries: LibraryRun[];
  /** Libraries not run: the run was interrupted first. */
  notRun: string[];
  collisions: UniqueIdCollision[];
  /** The rules over the directory as a whole (`ladspa.unique_ids_across`), when selected. */
  across: CheckResult[];
  ok: boolean;
  /** 0 every library passed and no rule across them broke, 1 otherwise. */
  exitCode: 0 | 1;
  seed: number;
  strict: boolean;
  jobs: number;
  toolVersion: string;
  startedAt: Date;
  durationMs: number;
}

/** For the selection only (`--filter`, `--exclude`, `--shard` over the ids): the runner computes the rule itself. */
const ACROSS_SPEC: CheckSpec = {
  ...ACROSS_CHECK,
  needs: "plugin",
  run: () => Promise.resolve(skip("computed over a directory by runChecksOnDirectory")),
};

/** The plugin libraries in `dirs`: regular files (or links to one) named `*.so`, directory by directory, by name. */
export async function listLibraries(
  dirs: readonly DirectoryTarget[],
  missingOk = false,
): Promise<{ libraries: { path: string; shown: string; name: string }[]; missing: string[] }> {
  const libraries: { path: string; shown: string; name: string }[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    const shown = dir.shown ?? dir.path;
    let real: string;
    try {
      real = await Deno.realPath(dir.path);
      if (!(await Deno.stat(real)).isDirectory) throw new UsageError(`Not a directory: ${shown}`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      if (missingOk) {
        missing.push(shown);
        continue;
      }
      throw new UsageError(`No such directory: ${shown}`);
    }
    if (seen.has(real)) continue; // named twice (LADSPA_PATH=/a:/a)
    seen.add(real);
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir.path)) {
      if (!entry.name.endsWith(".so") || entry.isDirectory) continue;
      try {
        if ((await Deno.stat(join(dir.path, entry.name))).isFile) names.push(entry.name);
      } catch {
        // a dangling link: no library
      }
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      // A link is checked at its target: the sandbox children are allowed to read the library's real path only.
      const path = await Deno.realPath(join(dir.path, name)).catch(() => join(dir.path, name));
      libraries.push({ path, shown: join(shown, name), name });
    }
  }
  return { libraries, missing };
}

/** The summary line of one library's report. */
export function libraryRow(
  lib: { shown: string; name: string },
  report: CheckReport | undefined,
  durationMs: number,
  error?: string,
): LibraryRun {
  const base = { library: lib.shown, name: lib.name, durationMs, report };
  if (report === undefined) {
    return {
      ...base,
      plugins: undefined,
      passed: 0,
      failed: 1,
      warned: 0,
      skipped: 0,
      firstFailure: { id: "plugcheck.internal", details: `plugcheck failed on this library (a bug): ${error}` },
      exitCode: 1,
      ok: false,
      ...error !== undefined && { error },
    };
  }
  const c = report.counts;
  const strict = report.strict;
  const bad = (r: CheckResult) =>
    r.status === "fail" || r.status === "crash" || r.status === "timeout" || (strict && r.status === "warn");
  const first = report.results.find(bad);
  let firstFailure = first && { id: first.id, details: first.details };
  if (report.exitCode === 3 && (first === undefined || first.id !== "abi.loads")) {
    // Cannot be loaded: a failed library whatever the selection ran.
    firstFailure = { id: "abi.loads", details: report.stageError ?? "the library cannot be loaded" };
  }
  const failed = c.fail + c.crash + c.timeout + (strict ? c.warn : 0);
  return {
    ...base,
    plugins: report.description?.methods.length,
    passed: c.pass,
    failed: report.exitCode === 3 ? Math.max(failed, 1) : failed,
    warned: c.warn,
    skipped: c.skip,
    firstFailure,
    exitCode: report.exitCode,
    ok: report.exitCode === 0,
  };
}

/** Runs the conformance suite on every plugin library of `dirs`. Throws UsageError for bad options, a missing or empty directory. */
export async function runChecksOnDirectory(
  dirs: string | DirectoryTarget | readonly (string | DirectoryTarget)[],
  options: DirectoryCheckOptions = {},
): Promise<DirectoryReport> {
  const started = new Date();
  const t0 = performance.now();
  const targets = (Array.isArray(dirs) ? dirs : [dirs]).map((d: string | DirectoryTarget) =>
    typeof d === "string" ? { path: d, shown: d } : { path: d.path, shown: d.shown ?? d.path }
  );
  const seed = options.seed ?? randomSeed();
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new UsageError(`seed must be an integer from 0 to ${MAX_SEED}: got ${seed}`);
  }
  const jobs = options.jobs ?? DEFAULT_LIBRARY_JOBS;
  if (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > 16) throw new UsageError(`jobs must be 1 to 16: got ${jobs}`);
  const checkJobs = options.checkJobs ?? DEFAULT_CHECK_JOBS;
  const selected = selectChecks([...CHECKS, ACROSS_SPEC], options);
  const perLibrary = selected.filter((c) => c !== ACROSS_SPEC);
  const { libraries, missing } = await listLibraries(targets, options.missingOk);
  if (libraries.length === 0) {
    throw new UsageError(`no plugin library in ${targets.map((t) => t.shown).join(", ")} (looked for *.so files)`);
  }
  const rows: (LibraryRun | undefined)[] = libraries.map(() => undefined);
  const gate = new CheckGate(); // an `alone` check is alone across the libraries too
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < libraries.length && !options.signal?.aborted) {
      const i = next++;
      const lib = libraries[i]!;
      options.onLibraryStart?.(lib.shown);
      const l0 = performance.now();
      let row: LibraryRun;
      try {
        const report = await runChecks(lib.path, {
          ...options,
          shown: lib.shown,
          seed,
          jobs: checkJobs,
          checks: perLibrary,
          gate,
          onResult: (r, d, of) => options.onResult?.(lib.shown, r, d, of),
        });
        row = libraryRow(lib, report, performance.now() - l0);
      } catch (e) {
        if (e instanceof UsageError) throw e;
        // plugcheck's own failure on this library: reported on its row, and the next library goes on.
        row = libraryRow(lib, undefined, performance.now() - l0, errorLine(e));
      }
      rows[i] = row;
      options.onLibrary?.(row, ++done, libraries.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, libraries.length) }, worker));
  const finished = rows.filter((r): r is LibraryRun => r !== undefined);
  const notRun = libraries.filter((_, i) => rows[i] === undefined).map((l) => l.shown);
  let collisions: UniqueIdCollision[] = [];
  const across: CheckResult[] = [];
  if (selected.includes(ACROSS_SPEC)) {
    collisions = uniqueIdCollisions(finished.map((r) => ({ library: r.library, description: r.report?.description })));
    const ladspa = finished.filter((r) => typeof ladspaLibrary(r.report?.description) === "object").length;
    across.push(acrossResult(collisions, ladspa));
  }
  const failed = finished.some((r) => !r.ok) ||
    across.some((r) => r.status === "fail" || (options.strict === true && r.status === "warn"));
  const exitCode = failed ? 1 : 0;
  return {
    directories: targets.map((t) => t.shown),
    missing,
    libraries: finished,
    notRun,
    collisions,
    across,
    ok: exitCode === 0,
    exitCode,
    seed,
    strict: options.strict === true,
    jobs,
    toolVersion: TOOL_VERSION,
    startedAt: started,
    durationMs: performance.now() - t0,
  };
}
