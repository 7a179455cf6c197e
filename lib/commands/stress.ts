/**
 * `plugcheck stress`: calls a plugin from many loops at once (steady), or
 * through create -> invoke -> destroy cycles (churn), or through whole
 * load -> unload cycles (reload), and reports throughput, latency against
 * the dispatch floor, the resources of the process that holds the plugin,
 * and verdicts: leaks, threads and descriptors left behind, wrong results,
 * unexpected errors, hangs, crashes. The engine is `lib/stress/`.
 *
 * @example
 * ```ts ignore
 * import { run } from "./stress.ts";
 * const code = await run(["build/fixtures/libref_c.so", "--iterations", "10000", "--seed", "1"]);
 * ```
 *
 * @module
 */
import { UsageError } from "../errors/errors.ts";
import { MAX_SEED } from "../util/prng.ts";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_RSS_GROWTH_MB,
  DEFAULT_SAMPLE_INTERVAL_MS,
  DEFAULT_STRESS_TIMEOUT_MS,
  resolveStressOptions,
  type StressOptions,
} from "../stress/options.ts";
import { renderStressReport } from "../report/stress_text.ts";
import { stressStatus } from "../report/progress.ts";
import { runStress } from "../stress/run_stress.ts";
import { defineCommand } from "./command.ts";
import type { CommandContext } from "./context.ts";
import { DEFAULT_MAX_INPUT_BYTES, parseConfigFlag, readInput } from "./input.ts";
import { abortOnInterrupt } from "./interrupt.ts";
import { paintOut } from "./output.ts";
import { HTML_FLAG, rememberUmask, reportPath, writeWhole } from "./report_file.ts";
import { stressPage } from "../report/html/stress_page.ts";
import { AGAINST_FLAGS, AGAINST_JUNIT_FLAG, againstFlags, againstJunit, runAgainst } from "./against.ts";
import { stressAgainst } from "../against/run_against.ts";
import { callSlots } from "../plugin/call_slots.ts";

/** The stress options the flags give (checked: a bad one is a usage error before anything loads). */
async function optionsFrom(ctx: CommandContext): Promise<StressOptions> {
  const given = ["input", "input-file"].some((k) => ctx.string(k) !== undefined);
  const o: StressOptions = {
    methods: ctx.list("method"),
    concurrency: ctx.positiveInt("concurrency", DEFAULT_CONCURRENCY),
    timeoutMs: ctx.timeoutMs,
    churn: ctx.flag("churn"),
    exclusive: ctx.flag("exclusive"),
    maxRssGrowthMb: ctx.positiveNumber("max-rss-growth", DEFAULT_MAX_RSS_GROWTH_MB),
    sampleIntervalMs: ctx.count("sample-interval", DEFAULT_SAMPLE_INTERVAL_MS),
    heap: !ctx.flag("no-heap"),
  };
  const seed = ctx.count("seed", -1);
  if (seed > MAX_SEED) throw new UsageError(`Option --seed must be at most ${MAX_SEED}: got ${seed}`);
  if (seed >= 0) o.seed = seed;
  const instances = ctx.string("instances");
  if (instances !== undefined) o.instances = ctx.positiveInt("instances", 1);
  const reload = ctx.string("reload");
  if (reload !== undefined) o.reload = ctx.positiveInt("reload", 1);
  const iterations = ctx.string("iterations");
  if (iterations !== undefined) o.iterations = ctx.positiveInt("iterations", 1);
  const durationMs = ctx.durationMs("duration");
  if (durationMs !== undefined) o.durationMs = durationMs;
  const config = parseConfigFlag(ctx.string("config"));
  if (config !== undefined) o.config = config;
  if (given) {
    if (o.methods!.length === 0) {
      throw new UsageError("An input needs the method(s) to call with it: add --method NAME");
    }
    o.input = await readInput(
      { input: ctx.string("input"), "input-file": ctx.string("input-file") },
      ctx.positiveInt("max-input-bytes", DEFAULT_MAX_INPUT_BYTES),
    );
  }
  // Checked now, with the flags' names in the messages, so nothing loads when one is wrong.
  o.seed = resolveStressOptions(o, (option) => FLAGS[option] ?? option).seed;
  return o;
}

/** The flag of each option the command sets. */
const FLAGS: Partial<Record<keyof StressOptions, string>> = {
  churn: "--churn",
  reload: "--reload",
  instances: "--instances",
  durationMs: "--duration",
  iterations: "--iterations",
  concurrency: "--concurrency",
  timeoutMs: "--timeout",
  maxRssGrowthMb: "--max-rss-growth",
  sampleIntervalMs: "--sample-interval",
  seed: "--seed",
};

/** The `stress` command. */
export const command = defineCommand({
  name: "stress",
  summary: "call a plugin hard; report latency, leaks, threads, wrong results",
  positionals: ["library"],
  usage: `<library> [--method NAME]... [--input TEXT | --input-file PATH]
                   [--config JSON] [--concurrency N] [--instances M]
                   [--duration 10s | --iterations N] [--timeout MS]
                   [--churn | --reload K] [--isolate [--env NAME]... [--grace MS]]
                   [--seed S] [--max-rss-growth MB] [--no-heap] [--exclusive] [--adapter PATH]
                   [--html FILE] [--against OLD.so [--max-slowdown X] [--junit FILE]]
                   [--format text|json] [--log DIRECTIVES] [--verbose]`,
  description: `Calls the plugin from N loops at once and judges what it sees. Inputs are
the given one (for each --method), or every describe() example of the
methods named (default: of every method with examples), in a seeded order.

  steady (default)  N loops over M long-lived instances; loops share an
                    instance only if describe() says thread_safe_instances
  --churn           every loop creates an instance, calls it once and
                    destroys it, again and again
  --reload K        K cycles of load, init, create, call every input,
                    destroy, shutdown, unload (own library each cycle; a
                    fresh sandbox child each cycle with --isolate)

A run never holds more live instances than describe()'s max_instances: it
keeps fewer instances (steady) or runs fewer loops (churn), and says so.

It reports calls/s and latency percentiles (an HDR histogram), next to the
dispatch floor: the same loop on a native no-op, so you see how much of the
latency is the plugin. While it runs it samples RSS, threads and open
descriptors of the process that holds the plugin. Verdicts, each with its
evidence: crash, timeouts, unexpected errors, wrong results of pure methods,
max_instances not enforced with RESOURCE_LIMIT, instances or buffers not back
to their baseline (npa_plugin_stats), threads or descriptors left after
destroy (steady, churn) or after shutdown (reload), RSS still growing beyond
--max-rss-growth, and heap_growth: blocks the plugin's own code allocated
during the run and still holds once every instance is destroyed, lost in both
halves of the run, whatever their size (every malloc, calloc, realloc, strdup,
posix_memalign and C++ new of the plugin is counted until it is freed; the
verdict names the function and line that allocated them). Ctrl-C or SIGTERM stops the run and prints the report so far
(exit 130, 143).`,
  flags: {
    method: {
      type: "string",
      multiple: true,
      value: "NAME",
      help: "a method to call (repeatable; default: every\nmethod with examples)",
    },
    input: { type: "string", value: "TEXT", help: "input for every --method, as UTF-8 text" },
    "input-file": { type: "string", value: "PATH", help: "input for every --method, read from a file" },
    config: { type: "string", value: "JSON", help: "instance config, a JSON object (default: none)" },
    concurrency: {
      type: "string",
      value: "N",
      help: `calls at once (default ${DEFAULT_CONCURRENCY}, at most ${callSlots.limit})`,
    },
    instances: {
      type: "string",
      value: "M",
      help: "steady: live instances the loops share (default 1 if\nthread_safe_instances, else one per loop)",
    },
    duration: { type: "string", value: "D", help: "how long to run: 500ms, 10s, 2m (default 10s)" },
    iterations: { type: "string", value: "N", help: "how many calls to make, instead of a duration" },
    churn: { type: "boolean", help: "create -> invoke -> destroy cycles from every loop" },
    reload: { type: "string", value: "K", help: "K load -> init -> ... -> shutdown -> unload cycles" },
    seed: { type: "string", value: "S", help: "seed of the input order (default: random, reported)" },
    "max-rss-growth": {
      type: "string",
      value: "MB",
      help:
        `RSS growth (MiB) that fails the run when RSS is still\ngrowing at the end (default ${DEFAULT_MAX_RSS_GROWTH_MB})`,
    },
    "no-heap": {
      type: "boolean",
      help:
        "do not count the plugin's heap (heap_growth is skipped;\neach allocation of the plugin costs a lock otherwise)",
    },
    exclusive: { type: "boolean", help: "in process: a private copy of the library" },
    "sample-interval": {
      type: "string",
      value: "MS",
      help: `time between resource samples (default ${DEFAULT_SAMPLE_INTERVAL_MS}; 0: start\nand end only)`,
    },
    "max-input-bytes": {
      type: "string",
      value: "N",
      help: `largest input read (default ${DEFAULT_MAX_INPUT_BYTES}, 64 MiB)`,
    },
    html: HTML_FLAG,
    ...AGAINST_FLAGS,
    junit: AGAINST_JUNIT_FLAG,
  },
  // Thousands of calls would flood the terminal with the plugin's logs: shown only when asked for.
  logDefault: "off",
  timeout: {
    default: DEFAULT_STRESS_TIMEOUT_MS,
    help:
      `deadline of each call, load and lifecycle call included\n(default ${DEFAULT_STRESS_TIMEOUT_MS}); a call past it is a hang: in process its\ninstance is given up, with --isolate the child is killed`,
  },
  examples: [
    "plugcheck stress build/fixtures/libref_c.so --duration 5s",
    "plugcheck stress ./libmine.so --method parse --input-file sample.json --concurrency 8",
    "plugcheck stress ./libmine.so --churn --iterations 20000 --isolate",
    "plugcheck stress ./libmine.so --reload 20 --format json > stress.json",
    "plugcheck stress ./libmine.so --duration 30s --html stress.html",
    "plugcheck stress ./new/libmine.so --against ./old/libmine.so --duration 5s --max-slowdown 1.3",
  ],
  run: async (ctx: CommandContext) => {
    const options = await optionsFrom(ctx);
    const htmlFile = await reportPath(ctx.string("html"), "html");
    const against = await againstFlags(ctx);
    const junit = await againstJunit(ctx, against);
    rememberUmask(); // before a plugin is loaded in process, which may change it
    const { real, options: load } = ctx.pluginOptions(ctx.positionals[0]!);
    const { isolate, ...rest } = load;
    if (against !== undefined) {
      return await runAgainst(ctx, { junit, html: htmlFile }, async (signal) => {
        const compared = await stressAgainst(real, against.oldPath, {
          ...options,
          isolate: isolate === true,
          load: rest,
          signal,
          onProgress: (p) => ctx.status.update(stressStatus(p)),
        }, {
          maxSlowdown: against.maxSlowdown,
          seed: options.seed ?? 1,
          load: rest,
          onStep: (step) => ctx.status.update(`stress --against: ${step}`),
        });
        ctx.status.done(); // before what closing says (stdout bytes, processes left)
        await ctx.close();
        return compared;
      });
    }
    const { signal, release } = abortOnInterrupt();
    let report;
    try {
      report = await runStress(real, {
        ...options,
        isolate: isolate === true,
        load: rest,
        signal,
        onProgress: (p) => ctx.status.update(stressStatus(p)),
      });
    } finally {
      release();
      ctx.status.done();
    }
    await ctx.close();
    report.warnings.push(...ctx.warnings);
    if (htmlFile !== undefined) await writeWhole(htmlFile, await stressPage(report));
    return ctx.finishRun(report, () => renderStressReport(report!, paintOut), signal.aborted);
  },
});

/** `plugcheck stress --help`. */
export const help: string = command.help;
/** Runs `plugcheck stress` with the arguments after `stress`; returns the exit code. */
export const run: (args: string[]) => Promise<number> = command.run;
