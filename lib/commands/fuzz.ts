/**
 * `plugcheck fuzz`: mutational fuzzing of a plugin's methods (or of a
 * libFuzzer harness) in sandbox children, at native speed, keeping on after
 * crashes, with every finding written the moment it is known and each bug
 * reported once. Also `--minimize FILE` (shrink a finding's input) and
 * `--replay FILE` (run one input once). The engine is `lib/fuzz/`.
 *
 * @example
 * ```ts ignore
 * import { run } from "./fuzz.ts";
 * const code = await run(["build/fixtures/fuzz/libmagic_prefix.so", "--runs", "200000", "--seed", "1"]);
 * ```
 *
 * @module
 */
import { UsageError } from "../errors/errors.ts";
import {
  DEFAULT_FUZZ_TIMEOUT_MS,
  DEFAULT_MAX_LEN,
  DEFAULT_RSS_LIMIT_MB,
  type FuzzOptions,
  MAX_JOBS,
  MAX_MAX_LEN,
  parseDictionary,
  RETIRE_AFTER,
  runFuzz,
} from "../fuzz/mod.ts";
import { renderFuzzReport } from "../report/fuzz_text.ts";
import { MAX_SEED } from "../util/prng.ts";
import { defineCommand, LOADING_FLAGS } from "./command.ts";
import type { CommandContext } from "./context.ts";
import { parseConfigFlag, readUserFile, userPath } from "./input.ts";
import { abortOnInterrupt } from "./interrupt.ts";
import { paintOut } from "./output.ts";
import { HTML_FLAG, reportPath, writeWhole as writeReportFile } from "./report_file.ts";
import { runMerge, runMinimize, runReplay, runReporters } from "./fuzz_modes.ts";
import { findingInputs, fuzzPage } from "../report/html/fuzz_page.ts";
import { AGAINST_FLAGS, AGAINST_JUNIT_FLAG, againstFlags, againstJunit, fuzzAgainstCommand } from "./against.ts";

/** The fuzz options the flags give (checked: a bad one is a usage error before anything loads). */
function optionsFrom(ctx: CommandContext): FuzzOptions {
  const o: FuzzOptions = {
    jobs: ctx.positiveInt("jobs", 1),
    maxLen: ctx.positiveInt("max-len", DEFAULT_MAX_LEN),
    timeoutMs: ctx.delayMs("timeout", DEFAULT_FUZZ_TIMEOUT_MS),
    rssLimitMb: ctx.count("rss-limit", DEFAULT_RSS_LIMIT_MB),
    corpus: ctx.list("corpus").map(userPath),
    env: ctx.list("env"),
    leaks: !ctx.flag("no-leaks"),
    coverage: !ctx.flag("no-coverage"),
    forkServer: !ctx.flag("no-fork-server"),
    binaryDictionary: !ctx.flag("no-binary-dict"),
    outOfRange: ctx.flag("out-of-range"),
    ...ctx.adapter !== undefined && { adapter: ctx.adapter },
  };
  if (o.jobs! > MAX_JOBS) throw new UsageError(`Option --jobs must be at most ${MAX_JOBS}: got ${o.jobs}`);
  if (o.maxLen! > MAX_MAX_LEN) throw new UsageError(`Option --max-len must be at most ${MAX_MAX_LEN}: got ${o.maxLen}`);
  const methods = ctx.list("method");
  if (methods.length > 0 && ctx.flag("all")) throw new UsageError("Options --method and --all exclude each other");
  if (methods.length > 0) o.methods = methods;
  const runs = ctx.string("runs");
  if (runs !== undefined) o.runs = ctx.positiveInt("runs", 1);
  if (ctx.string("max-findings") !== undefined) o.maxFindings = ctx.positiveInt("max-findings", 1);
  const duration = ctx.durationMs("duration");
  if (duration !== undefined) o.durationMs = duration;
  if (runs !== undefined && duration !== undefined) {
    throw new UsageError("Options --runs and --duration exclude each other: give one");
  }
  const seed = ctx.count("seed", -1);
  if (seed > MAX_SEED) throw new UsageError(`Option --seed must be at most ${MAX_SEED}: got ${seed}`);
  if (seed >= 0) o.seed = seed;
  const artifacts = ctx.string("artifacts");
  if (artifacts !== undefined) o.artifactsDir = userPath(artifacts);
  const target = ctx.string("target");
  if (target !== undefined) {
    if (target !== "npa" && target !== "libfuzzer") {
      throw new UsageError(`Option --target takes npa or libfuzzer: got ${JSON.stringify(target)}`);
    }
    o.target = target;
  }
  const sanitizer = ctx.string("sanitizer");
  if (sanitizer !== undefined) {
    if (sanitizer !== "asan" && sanitizer !== "none") {
      throw new UsageError(`Option --sanitizer takes asan or none: got ${JSON.stringify(sanitizer)}`);
    }
    o.sanitizer = sanitizer;
  }
  const config = parseConfigFlag(ctx.string("config"));
  if (config !== undefined) o.config = config;
  const dict = ctx.string("dict");
  if (dict !== undefined) o.dictionary = readDictionary(dict);
  return o;
}

function readDictionary(file: string): Uint8Array[] {
  try {
    return parseDictionary(new TextDecoder().decode(readUserFile(file, "--dict").bytes));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`Cannot use --dict ${JSON.stringify(file)}: ${e instanceof Error ? e.message : e}`);
  }
}

/** The `fuzz` command. */
export const command = defineCommand({
  name: "fuzz",
  summary: "fuzz a plugin in sandbox children; report each bug once",
  positionals: ["library", "dir..."],
  usage: `<library> [--method NAME... | --all] [--runs N | --duration 60s]
                   [--max-findings N] [--seed S] [--jobs N] [--corpus DIR]...
                   [--artifacts DIR] [--dict FILE] [--max-len N] [--timeout MS]
                   [--rss-limit MB] [--target npa|libfuzzer] [--sanitizer asan|none]
                   [--config JSON] [--out-of-range] [--adapter PATH] [--no-coverage]
                   [--no-binary-dict] [--no-fork-server]
                   [--minimize FILE | --replay FILE] [--html FILE]
                   [--against OLD.so [--max-slowdown X] [--junit FILE]] [--format text|json]
       plugcheck fuzz <library> --merge OUT_DIR IN_DIR... [--method NAME]`,
  alwaysIsolated: true,
  description: `Mutates inputs and calls the plugin with them, millions of times, in sandbox
children that keep going after a crash. Seeds are the describe() examples of
the methods fuzzed and the files of --corpus; inputs the plugin answers in a
new way (a new status, or output or error length) join the corpus. For a
library built with SanitizerCoverage, as by clang's
  -fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp
(docs/coverage.md), inputs that reach new edges join it instead, and the
operands of its comparisons feed the mutations. Instrumented or not, the
operands of the memcmp, strcmp, strncmp, bcmp, strstr and memmem calls the
plugin makes feed them too (plugcheck's coverage runtime, preloaded into every
fuzz child, wraps them; --no-coverage turns both off). And the dictionary
(--dict) gets the words of the plugin's binary: the printable strings of its
read-only data and the constants its x86-64 code compares with, each also
tried alone first (--no-binary-dict leaves them out). Findings:
crashes (signal), aborts, Rust panics across the boundary, PANIC statuses,
exit() calls, hangs (--timeout), RSS over --rss-limit, broken contracts
(unknown status, malformed buffer, bad error buffer, non-JSON output of a json
method) and leaked buffers or instances (npa_plugin_stats). Each is written to
--artifacts the moment it is known, as libFuzzer names it (crash-<sha1>,
timeout-, oom-, leak-) with a JSON sidecar (what, where, the repro command),
and each bug is reported once, with a count and its smallest input.

A known bug does not cost its full price again: a hang is one finding per
method, and once a method hung, its calls get a tenth of --timeout (at least
100 ms); a method whose known crash or hang ends ${RETIRE_AFTER} fuzz children in
a row at once (on the first inputs they fuzz; in a fork server, where a crash
costs a fork, only hangs and RSS kills count) is retired, with a warning,
and the run fuzzes the other methods (none left: it ends, "stopped:
retired"). --max-findings N stops the run at the Nth distinct finding
(exit 1), as libFuzzer stops at its first crash.

A library that exports LLVMFuzzerTestOneInput and no npa symbols is fuzzed as a
libFuzzer harness. A harness or an npa plugin runs in a fork server: a small
native process loads it once (LLVMFuzzerInitialize, or the plugin's init,
describe and create, logs off) and forks a worker from there after each
crash, so a known bug met again costs a fork, not a start; plugcheck judges
the calls the workers stop at with the same guard as ever (a LADSPA library
runs there through its adapter). A plugin that fails to start there, changes
the process in init, or leaves threads running (a forked worker would lack
them: the run warns) is fuzzed in Deno sandbox children instead, as
--no-fork-server asks. An AddressSanitizer build runs with the ASan runtime preloaded; its
reports are symbolized by plugcheck, once per bug.

With one job, the same --seed replays the run exactly: the same inputs in the
same order, the same first finding at the same execution count, whatever the
machine's load. With --jobs N, each job's new corpus entries reach the others
while they run, when they arrive: such runs may differ. One bug is one
finding: its class (memory error, abort, signal) and the first frame in the
plugin, not the sanitizer's label.
Ctrl-C or SIGTERM stops the run and prints the report so far (exit 130, 143).

--merge OUT_DIR IN_DIR... runs the inputs of the IN_DIRs (smallest first)
after those of OUT_DIR and copies to OUT_DIR each one that reaches coverage
the ones before had not, as libFuzzer's -merge=1 does (into an empty
OUT_DIR: a small subset of the inputs with all their coverage).
Corpus files are raw inputs named by their SHA-1, as libFuzzer writes them.`,
  flags: {
    method: {
      type: "string",
      multiple: true,
      value: "NAME",
      help: 'a method to fuzz (repeatable; default: all but\nthose describe() marks "fuzz": false)',
    },
    all: {
      type: "boolean",
      help:
        'fuzz every method but those describe() marks "fuzz": false:\nwhat runs when no --method is given, said explicitly',
    },
    runs: { type: "string", value: "N", help: "stop after N executions in all" },
    duration: {
      type: "string",
      value: "D",
      help: "stop after this long of fuzzing (from the first inputs run):\n30s, 10m, 2h (default 60s)",
    },
    "max-findings": {
      type: "string",
      value: "N",
      help: "stop at the Nth distinct finding (default: no limit;\nCI: 1, as libFuzzer stops at its first crash)",
    },
    seed: { type: "string", value: "S", help: "seed of every choice (default: random, reported)" },
    jobs: { type: "string", value: "N", help: "fuzz children at once (default 1)" },
    corpus: {
      type: "string",
      multiple: true,
      value: "DIR",
      help: "seed inputs (repeatable); new entries are written to the\nfirst DIR as <sha1> (created if needed)",
    },
    artifacts: { type: "string", value: "DIR", help: "where findings are written (default: here)" },
    dict: { type: "string", value: "FILE", help: 'an AFL-format dictionary: lines like kw="\\xAB"' },
    "max-len": { type: "string", value: "N", help: `longest input (default ${DEFAULT_MAX_LEN})` },
    timeout: {
      type: "string",
      value: "MS",
      help: `a call running longer is a hang (default ${DEFAULT_FUZZ_TIMEOUT_MS})`,
    },
    "rss-limit": {
      type: "string",
      value: "MB",
      help: `a child's RSS above this is an oom finding (default\n${DEFAULT_RSS_LIMIT_MB}; 0: off)`,
    },
    target: { type: "string", value: "KIND", help: "npa or libfuzzer (default: from the library's symbols)" },
    sanitizer: {
      type: "string",
      value: "NAME",
      help: "asan: preload the AddressSanitizer runtime (default: when\nthe library needs it); none: do not",
    },
    config: { type: "string", value: "JSON", help: "instance config, a JSON object (default: none)" },
    "out-of-range": {
      type: "boolean",
      help:
        'controls may leave their declared ranges, as some hosts\nsend them (a LADSPA library: "out_of_range": true joins\nthe instance config, so each finding\'s repro has it)',
    },
    adapter: LOADING_FLAGS.adapter!,
    env: {
      type: "string",
      multiple: true,
      value: "NAME",
      help: "pass this environment variable to the children (repeatable)",
    },
    "no-leaks": { type: "boolean", help: "do not check npa_plugin_stats for leaks after each batch" },
    "no-binary-dict": {
      type: "boolean",
      help: "leave out the words read from the plugin's binary (its strings\nand the constants its code compares with)",
    },
    "no-fork-server": {
      type: "boolean",
      help: "fuzz in Deno sandbox children, not in the fork server\n(slower restarts; for comparison)",
    },
    "no-coverage": {
      type: "boolean",
      help:
        "fuzz without coverage guidance and without the operands of\nmemcmp, strcmp, ... (as if nothing reported from inside the plugin)",
    },
    merge: {
      type: "boolean",
      help:
        "merge: run the inputs of the DIRs after the library and add\nto the first DIR those that reach new coverage (libFuzzer's\n-merge=1); nothing is fuzzed",
    },
    minimize: { type: "string", value: "FILE", help: "shrink FILE (a finding) while it reproduces the same bug" },
    replay: { type: "string", value: "FILE", help: "run FILE once and say what it does" },
    html: HTML_FLAG,
    ...AGAINST_FLAGS,
    junit: AGAINST_JUNIT_FLAG,
  },
  examples: [
    "plugcheck fuzz build/fixtures/fuzz/libmagic_prefix.so --runs 500000 --seed 1",
    "plugcheck fuzz ./libmine.so --method parse --corpus corpus/ --artifacts findings/ --duration 10m",
    "plugcheck fuzz ./libmine.so --duration 5m --max-findings 1   # CI: stop at the first bug",
    "plugcheck fuzz ./libmine.so --jobs 2 --dict parse.dict --max-len 1024 --format json > fuzz.json",
    "plugcheck fuzz ./libmine.so --duration 10m --html fuzz.html",
    "plugcheck fuzz ./libmine.so --minimize findings/crash-0123abcd...",
    "plugcheck fuzz ./harness.so --target libfuzzer --corpus corpus/",
    "plugcheck fuzz ./libmine.so --method parse --merge corpus-min/ corpus-a/ corpus-b/",
  ],
  run: async (ctx: CommandContext) => {
    const lib = userPath(ctx.positionals[0]!);
    const options = optionsFrom(ctx);
    const minimize = ctx.string("minimize");
    const replay = ctx.string("replay");
    if (minimize !== undefined && replay !== undefined) {
      throw new UsageError("Options --minimize and --replay exclude each other");
    }
    const dirs = ctx.positionals.slice(1).map(userPath);
    if (ctx.flag("merge")) {
      if ([minimize, replay, ctx.string("html"), ctx.string("against")].some((v) => v !== undefined)) {
        throw new UsageError("Option --merge excludes --minimize, --replay, --html and --against");
      }
      return await runMerge(ctx, lib, dirs, options);
    }
    if (dirs.length > 0) {
      throw new UsageError(
        `Expected <library> only, got ${ctx.positionals.length} arguments (directories after it need --merge; seed corpora go with --corpus)`,
      );
    }
    for (const flag of ["html", "against"]) {
      if (ctx.string(flag) !== undefined && (minimize !== undefined || replay !== undefined)) {
        throw new UsageError(`Option --${flag} goes with a fuzz run, not with --minimize or --replay`);
      }
    }
    if (minimize !== undefined) return await runMinimize(ctx, lib, minimize, options);
    if (replay !== undefined) return await runReplay(ctx, lib, replay, options);
    const htmlFile = await reportPath(ctx.string("html"), "html");
    const against = await againstFlags(ctx);
    const junit = await againstJunit(ctx, against);
    if (against !== undefined) return await fuzzAgainstCommand(ctx, lib, options, against, { html: htmlFile, junit });
    const { signal, release } = abortOnInterrupt();
    let report;
    try {
      report = await runFuzz(lib, {
        ...options,
        signal,
        ...runReporters(ctx),
      });
    } finally {
      release();
      ctx.status.done();
    }
    if (htmlFile !== undefined) await writeReportFile(htmlFile, await fuzzPage(report, await findingInputs(report)));
    return ctx.finishRun(report, () => renderFuzzReport(report!, paintOut), signal.aborted);
  },
});
