/**
 * `plugcheck check`: the conformance suite for CI. Runs every named check
 * (or those `--filter`/`--exclude`/`--shard` select) on one plugin, in
 * sandbox children, and prints a table (or `--format json`),
 * with `--junit FILE` and `--sarif FILE` for CI systems and `--html FILE`
 * for people. A directory (or,
 * with no path, the directories of `LADSPA_PATH`) is a target too: every
 * plugin library in it, one summary and one report for all (`check_dir.ts`).
 * The engine is `lib/check/`.
 *
 * @example
 * ```ts ignore
 * import { run } from "./check.ts";
 * const code = await run(["build/fixtures/libref_c.so", "--seed", "1", "--junit", "check.xml"]);
 * ```
 *
 * @module
 */
import { UsageError } from "../errors/errors.ts";
import { MAX_SEED } from "../util/prng.ts";
import { CHECKS, parseShard, selectChecks } from "../check/catalog.ts";
import { CONFIG_FILE, DEFAULT_THRESHOLDS, loadCheckConfig } from "../check/config.ts";
import { SMOKE_MAX_MS } from "../check/checks/fuzz_smoke.ts";
import { junitXml } from "../report/junit.ts";
import { checkListJson, renderCheckList } from "../report/check_list.ts";
import { checkReportJson, renderCheckReport } from "../report/check_report.ts";
import { type CheckOptions, DEFAULT_CHECK_JOBS, runChecks } from "../check/run_checks.ts";
import { sarifLog } from "../report/sarif.ts";
import { defineCommand, LOADING_FLAGS } from "./command.ts";
import type { CommandContext } from "./context.ts";
import { EXIT } from "./exit_codes.ts";
import { userPath } from "./input.ts";
import { abortOnInterrupt, interruptExitCode } from "./interrupt.ts";
import { configureCliLogging } from "./logging.ts";
import { parseLogDirectives } from "../plugin/log_directives.ts";
import { paintOut } from "./output.ts";
import { HTML_FLAG, rememberUmask, reportPath, writeWhole } from "./report_file.ts";
import { checkPage } from "../report/html/check_page.ts";
import { AGAINST_FLAGS, againstFlags, runAgainst } from "./against.ts";
import { checkAgainst } from "../against/run_against.ts";
import { checkDirectories, ladspaPathDirectories } from "./check_dir.ts";
import { DEFAULT_LIBRARY_JOBS } from "../check/run_directory.ts";

/** The `check` command. */
export const command = defineCommand({
  name: "check",
  summary: "the conformance suite: every ABI rule as a named check, for CI",
  positionals: ["library..."],
  usage: `<library>|<directory> [--filter REGEX]... [--exclude REGEX]... [--shard I/N]
                  [--seed S] [--jobs N] [--fuzz-runs N] [--strict] [--in-process]
                  [--config FILE] [--junit FILE] [--sarif FILE] [--html FILE] [--env NAME]...
                  [--against OLD.so [--max-slowdown X]]
                  [--adapter PATH]
                  [--format text|json] [--color WHEN] [--verbose]
  plugcheck check [--jobs N] ...            (no path: the directories of LADSPA_PATH)
  plugcheck check --list [--filter REGEX]... [--format json]`,
  description: `Checks that the plugin keeps every rule of docs/abi.md: ${CHECKS.length} named checks in
groups (abi, metadata, lifecycle, buffers, errors, outputs, threads,
isolation, timeouts, logging, stdio, limits, resources, fuzz), each
driving one engine: a lifecycle probe, a sweep of every method with its
examples, a short stress run, a short seeded fuzz run. A LADSPA library
also gets the ladspa group, the rules of docs/ladspa.md (others skip it).
--list shows them with the rule each enforces.

Each check runs in sandbox children, with its own deadline, so a crash or
hang ends that check, not the run (checks that only load and run the plugin
share a child, one at a time, until something goes wrong in it). A check ends pass, fail,
crash, timeout, warn (fails only with --strict) or skip (with the reason:
the plugin did not get that far, or the config skips it). Failures carry
their evidence and a repro command.

The config file ${CONFIG_FILE}, found by walking up from the working
directory (or --config FILE), can skip checks with a reason, leave methods
out of the fuzz smoke test and set the thresholds:
  {"check": {"skip": {"resources.reload": "why"},
             "fuzz": {"skip_methods": ["fail_with"]},
             "thresholds": {"call_timeout_ms": ${DEFAULT_THRESHOLDS.callTimeoutMs}, "stress_iterations": ${DEFAULT_THRESHOLDS.stressIterations},
                            "reload_cycles": ${DEFAULT_THRESHOLDS.reloadCycles}, "fuzz_ms_per_method": ${DEFAULT_THRESHOLDS.fuzzMsPerMethod},
                            "max_rss_growth_mb": ${DEFAULT_THRESHOLDS.maxRssGrowthMb}}}}
Methods whose describe() entry says "fuzz": false are left out too. The fuzz
smoke test fuzzes each method for fuzz_ms_per_method of fuzzing time (at most
${SMOKE_MAX_MS / 1000} s in all) and stops at its first finding; "fuzz_runs": N (or
--fuzz-runs N) makes it N runs instead, which repeat exactly with a seed.

--shard I/N runs part I of N (round robin over the selected checks): the
N parts are disjoint and together the whole suite, for a CI matrix.

A directory is a target: every plugin library in it (regular files named
*.so, not in subdirectories, by name) is checked with the same options and
seed, --jobs N libraries at a time (default ${DEFAULT_LIBRARY_JOBS}; each library runs
${DEFAULT_CHECK_JOBS} checks at once, so more jobs oversubscribe a 2-core machine). Each
library's checks run in sandbox children as for one library: a library that
crashes or hangs ends its own checks and the next goes on. A file that
cannot be loaded is a failed library (abi.loads), not an error of the run.
stdout gets one summary table (library, plugins, checks passed, failed
(+warned), time, first failure), a total line and the time taken;
--format json one document (the summary, and each library's report as
'check <library> --format json' prints it); --junit one file with a
testsuite per library; --sarif one log whose results name their library;
--html one page with the summary first and each library's checks.
The rule across the libraries is the check-like row
ladspa.unique_ids_across (docs/ladspa.md#unique-ids-across), shown under
the table and in the reports: two libraries that declare one LADSPA unique
ID fail it (--filter and --exclude select it like any check). With no path
and LADSPA_PATH set, its directories (colon-separated, in order; those that
do not exist are left out) are the target. Exit code: 0 when every library
passed and no ID collides, 1 otherwise (an unloadable library too), 2 when
the directory does not exist or holds no *.so file.

Ctrl-C or SIGTERM stops the run: checks not finished are skipped, and the
report so far is printed and written to --junit, --sarif and --html (exit
130, 143).

--html FILE writes one self-contained page (no script, nothing fetched when
opened): the checks by group, failures first, with their details, evidence
and repro commands, and buttons that show only what failed.

--against OLD.so runs the suite on OLD.so (the previous build) and then on
<library>, gives both the same inputs (every method's examples and a few
fixed ones), and prints the comparison instead of the report: checks that
passed and now fail (regressions), fixes, methods removed or added, answers
that changed; exit 1 on a regression. --junit and --html write the
comparison; --format json prints it ('plugcheck compare' compares two saved
reports the same way). With a directory, --against OLD_DIR checks both
directories and compares each library's checks, matched by file name.`,
  flags: {
    filter: { type: "string", multiple: true, value: "REGEX", help: "run the checks whose id matches (repeatable)" },
    exclude: {
      type: "string",
      multiple: true,
      value: "REGEX",
      help: "leave out the checks whose id matches (repeatable)",
    },
    list: { type: "boolean", help: "list the checks (after the filters) and exit" },
    shard: { type: "string", value: "I/N", help: "run part I of N of the selected checks" },
    seed: { type: "string", value: "S", help: "seed of the stress and fuzz runs (default: random,\nreported)" },
    jobs: {
      type: "string",
      value: "N",
      help:
        `checks at once (default ${DEFAULT_CHECK_JOBS}); for a directory, libraries\nat once (default ${DEFAULT_LIBRARY_JOBS})`,
    },
    "fuzz-runs": {
      type: "string",
      value: "N",
      help:
        `runs of the fuzz smoke test instead of its time budget\n(${DEFAULT_THRESHOLDS.fuzzMsPerMethod} ms a method, at most ${
          SMOKE_MAX_MS / 1000
        } s)`,
    },
    strict: { type: "boolean", help: "warnings fail the run" },
    "in-process": {
      type: "boolean",
      help: "run the plugin in this process (to debug a check:\na crash ends plugcheck)",
    },
    config: { type: "string", value: "FILE", help: `the config file (default: ${CONFIG_FILE} found upwards)` },
    junit: { type: "string", value: "FILE", help: "also write a JUnit XML report (one testcase per check)" },
    sarif: { type: "string", value: "FILE", help: "also write a SARIF 2.1.0 log (one result per failure)" },
    html: HTML_FLAG,
    ...AGAINST_FLAGS,
    env: {
      type: "string",
      multiple: true,
      value: "NAME",
      help: "pass this environment variable to the sandbox children\n(repeatable; every other variable is cleared)",
    },
    adapter: LOADING_FLAGS.adapter!,
  },
  examples: [
    "plugcheck check build/fixtures/libref_c.so",
    "plugcheck check ./libmine.so --junit check.xml --sarif check.sarif --seed 1",
    "plugcheck check ./libmine.so --html check.html",
    "plugcheck check ./new/libmine.so --against ./old/libmine.so --junit compare.xml",
    "plugcheck check ./libmine.so --filter '^errors\\.' --filter '^buffers\\.'",
    "plugcheck check ./libmine.so --shard 2/4 --format json > part2.json",
    "plugcheck check /usr/lib/ladspa",
    "plugcheck check /usr/lib/ladspa --jobs 2 --junit ladspa.xml --sarif ladspa.sarif --seed 1",
    "LADSPA_PATH=/usr/lib/ladspa:$HOME/.ladspa plugcheck check --format json > ladspa.json",
    "plugcheck check --list",
  ],
  run: async (ctx: CommandContext) => {
    const selection = {
      filter: ctx.list("filter"),
      exclude: ctx.list("exclude"),
      ...ctx.string("shard") !== undefined && { shard: parseShard(ctx.string("shard")!) },
    };
    const chosen = selectChecks(CHECKS, selection);
    if (ctx.flag("list")) {
      if (ctx.format === "json") ctx.json(checkListJson(chosen));
      else ctx.out(renderCheckList(chosen));
      return EXIT.OK;
    }
    if (ctx.positionals.length > 1) {
      throw new UsageError(
        `Expected one <library> or <directory>, got ${ctx.positionals.length}: ${ctx.positionals.join(" ")}`,
      );
    }
    const ladspaPath = ladspaPathDirectories(Deno.env.get("LADSPA_PATH") ?? "");
    if (ctx.positionals.length === 0 && ladspaPath.length === 0) {
      throw new UsageError("Missing <library> (see 'plugcheck check --help')");
    }
    const shown = ctx.positionals[0];
    const path = shown === undefined ? undefined : userPath(shown);
    let isDirectory = shown === undefined;
    if (path !== undefined) {
      try {
        isDirectory = (await Deno.stat(path)).isDirectory;
      } catch {
        throw new UsageError(`No such file: ${shown}`);
      }
    }
    const seed = ctx.count("seed", -1);
    if (seed > MAX_SEED) throw new UsageError(`Option --seed must be at most ${MAX_SEED}: got ${seed}`);
    const configFlag = ctx.string("config");
    const config = await loadCheckConfig(
      configFlag === undefined ? undefined : userPath(configFlag),
      Deno.env.get("PLUGCHECK_CWD") || Deno.cwd(),
    );
    rememberUmask(); // before a plugin is loaded (--in-process) that may change it
    const junit = await reportPath(ctx.string("junit"), "junit");
    const sarif = await reportPath(ctx.string("sarif"), "sarif");
    const htmlFile = await reportPath(ctx.string("html"), "html");
    const against = await againstFlags(ctx, isDirectory);
    if (against !== undefined && sarif !== undefined) {
      throw new UsageError("Option --sarif does not go with --against (--junit and --html do)");
    }
    const common: Omit<CheckOptions, "jobs" | "shown" | "inProcess"> = {
      ...selection,
      strict: ctx.flag("strict"),
      config,
      load: { env: ctx.list("env"), ...ctx.adapter !== undefined && { adapter: ctx.adapter } },
    };
    if (seed >= 0) common.seed = seed;
    if (ctx.string("fuzz-runs") !== undefined) common.fuzzRuns = ctx.positiveInt("fuzz-runs", 1);
    // The checks set the plugin's log levels to count what it sends; --verbose shows it too.
    if (isDirectory) {
      configureCliLogging(parseLogDirectives("warning"), ctx.verbose, ctx.verbose);
      const targets = shown === undefined ? ladspaPath : [shown];
      return await checkDirectories(ctx, {
        targets,
        fromLadspaPath: shown === undefined,
        options: common,
        junit,
        sarif,
        html: htmlFile,
        ...against !== undefined &&
          { against: { oldDirectory: ctx.string("against")!, maxSlowdown: against.maxSlowdown } },
      });
    }
    const options: CheckOptions = {
      ...common,
      shown: shown!,
      jobs: ctx.positiveInt("jobs", DEFAULT_CHECK_JOBS),
      inProcess: ctx.flag("in-process"),
    };
    if (options.inProcess) ctx.pluginOptions(shown!); // installs the process guards
    configureCliLogging(parseLogDirectives("warning"), ctx.verbose, ctx.verbose);
    if (against !== undefined) {
      return await runAgainst(
        ctx,
        { junit, html: htmlFile },
        (signal) =>
          checkAgainst(path!, against.oldPath, { ...options, signal }, {
            maxSlowdown: against.maxSlowdown,
            seed: Math.max(0, seed),
            oldShown: ctx.string("against")!,
            load: common.load!,
            onStep: (step) => ctx.status.update(`check --against: ${step}`),
          }),
      );
    }
    const { signal, release } = abortOnInterrupt();
    let report;
    try {
      report = await runChecks(path!, {
        ...options,
        signal,
        onResult: (r, done, of) => ctx.status.update(`check: ${done}/${of} done, last ${r.id}: ${r.status}`),
      });
    } finally {
      release();
      ctx.status.done();
    }
    if (junit !== undefined) await writeWhole(junit, junitXml(report));
    if (sarif !== undefined) await writeWhole(sarif, `${JSON.stringify(sarifLog(report), null, 2)}\n`);
    if (htmlFile !== undefined) await writeWhole(htmlFile, checkPage(checkReportJson(report)));
    if (ctx.format === "json") ctx.json(checkReportJson(report));
    else ctx.out(renderCheckReport(report, paintOut));
    return signal.aborted ? interruptExitCode() : report.exitCode;
  },
});

/** `plugcheck check --help`. */
export const help: string = command.help;
/** Runs `plugcheck check` with the arguments after `check`; returns the exit code. */
export const run: (args: string[]) => Promise<number> = command.run;
