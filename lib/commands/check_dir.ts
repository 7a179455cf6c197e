/**
 * `plugcheck check DIR` (and `plugcheck check` with `LADSPA_PATH` set): the
 * part of the `check` command that checks every plugin library of a
 * directory (`runChecksOnDirectory`), shows the progress per library,
 * prints the summary (or `--format json`) and writes one JUnit file and one
 * SARIF log for all the libraries.
 *
 * @example
 * ```ts ignore
 * import { ladspaPathDirectories } from "./check_dir.ts";
 * ladspaPathDirectories("/usr/lib/ladspa::/usr/local/lib/ladspa"); // ["/usr/lib/ladspa", "/usr/local/lib/ladspa"]
 * ```
 *
 * @module
 */
import { basename } from "node:path";
import { UsageError } from "../errors/errors.ts";
import type { CheckOptions } from "../check/run_checks.ts";
import { DEFAULT_LIBRARY_JOBS, type DirectoryTarget, runChecksOnDirectory } from "../check/run_directory.ts";
import {
  directoryJunitXml,
  directoryReportJson,
  directorySarifLog,
  renderDirectoryReport,
} from "../report/check_dir_report.ts";
import type { CommandContext } from "./context.ts";
import { userPath } from "./input.ts";
import { abortOnInterrupt, interruptExitCode } from "./interrupt.ts";
import { paintOut } from "./output.ts";
import { writeWhole } from "./report_file.ts";
import { checkDirectoryPage } from "../report/html/check_page.ts";
import { compareDirectories } from "../report/compare/mod.ts";
import { runAgainst } from "./against.ts";

/** The directories of a `LADSPA_PATH` value, in order (empty entries left out). */
export function ladspaPathDirectories(value: string): string[] {
  return value.split(":").filter((d) => d !== "");
}

/** What the `check` command prepared that a directory run uses too. */
export interface DirectoryRun {
  targets: string[];
  /** The targets come from LADSPA_PATH: those that do not exist are left out. */
  fromLadspaPath: boolean;
  options: Omit<CheckOptions, "jobs" | "shown" | "inProcess">;
  junit: string | undefined;
  sarif: string | undefined;
  html: string | undefined;
  /** `--against OLD_DIR`: the old directory (as the user wrote it) and the tolerance. */
  against?: { oldDirectory: string; maxSlowdown: number };
}

/** Runs the checks over the directories, prints the summary, writes the reports; returns the exit code. */
export async function checkDirectories(ctx: CommandContext, run: DirectoryRun): Promise<number> {
  if (ctx.flag("in-process")) {
    throw new UsageError("Option --in-process takes one library, not a directory (a crash would end the whole run)");
  }
  const against = run.against;
  if (against !== undefined) {
    // --against OLD_DIR: the old directory first, then the new one, compared library by library.
    return await runAgainst(ctx, { junit: run.junit, html: run.html }, async (signal) => {
      const old = await checkTargets(ctx, [against.oldDirectory], run, signal);
      const now = await checkTargets(ctx, run.targets, run, signal);
      return {
        comparison: compareDirectories(directoryReportJson(old), directoryReportJson(now), against.maxSlowdown),
      };
    });
  }
  const { signal, release } = abortOnInterrupt();
  let report;
  try {
    report = await checkTargets(ctx, run.targets, run, signal);
  } finally {
    release();
    ctx.status.done();
  }
  if (run.junit !== undefined) await writeWhole(run.junit, directoryJunitXml(report));
  if (run.sarif !== undefined) await writeWhole(run.sarif, `${JSON.stringify(directorySarifLog(report), null, 2)}\n`);
  if (run.html !== undefined) await writeWhole(run.html, checkDirectoryPage(directoryReportJson(report)));
  if (ctx.format === "json") ctx.json(directoryReportJson(report));
  else ctx.out(renderDirectoryReport(report, paintOut));
  return signal.aborted ? interruptExitCode() : report.exitCode;
}

/** The checks over `shown` (directories as the user wrote them), with the status line kept. */
async function checkTargets(ctx: CommandContext, shown: readonly string[], run: DirectoryRun, signal: AbortSignal) {
  const targets: DirectoryTarget[] = shown.map((t) => ({ path: userPath(t), shown: t }));
  let libsDone = 0;
  let libsOf = 0;
  let last = "";
  return await runChecksOnDirectory(targets, {
    ...run.options,
    jobs: ctx.positiveInt("jobs", DEFAULT_LIBRARY_JOBS),
    missingOk: run.fromLadspaPath,
    signal,
    onResult: (library, _r, done, of) => {
      const at = libsOf === 0 ? "" : `${libsDone}/${libsOf} libraries, `;
      ctx.status.update(`check: ${at}${basename(library)} ${done}/${of} checks${last}`);
    },
    onLibrary: (row, done, of) => {
      libsDone = done;
      libsOf = of;
      last = `, last ${basename(row.library)}: ${row.ok ? "passed" : `${row.failed} failed`}`;
      ctx.status.update(`check: ${done}/${of} libraries${last}`);
    },
  });
}
