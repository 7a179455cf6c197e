/**
 * `plugcheck stress` in a sandbox child against in process, timed as whole
 * processes the same way on both sides: `plugcheck stress <ref_c> --method
 * echo --iterations N --json`, with and without `--isolate`, each run from
 * spawn to exit (start-up, baselines, the run, the dispatch floor and the
 * end included). Rounds interleave the two (alternating which goes first) so
 * machine noise hits both; the table shows medians of calls/s (N over the
 * whole process's time, and the run's own figure from the report) and the
 * isolated/in-process ratio of each.
 *
 * Run: `deno task bench`, or `deno run -A bench/stress_isolate.ts [--rounds N] [--calls N] [--concurrency N]`.
 * Goal: isolated >= 0.5x in process (batched calls: one round trip per batch, not per call).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { StressReportSchema } from "../mod.ts";
import { CLI_ARGS, fixture, ROOT } from "../tests/_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    calls: { type: "string", default: "300000" },
    concurrency: { type: "string", default: "4" },
  },
});
const ROUNDS = Number(values.rounds);
const CALLS = Number(values.calls);
const PATH = fixture("ref_c");

interface Run {
  /** Calls over the whole process's time (spawn to exit). */
  process: number;
  /** The report's calls/s of the run itself. */
  run: number;
}

/** One `plugcheck stress` process, timed from spawn to exit. */
async function stress(isolate: boolean): Promise<Run> {
  const args = [
    ...CLI_ARGS,
    "stress",
    PATH,
    "--method",
    "echo",
    "--iterations",
    String(CALLS),
    "--concurrency",
    values.concurrency!,
    "--seed",
    "1",
    "--json",
    ...isolate ? ["--isolate"] : [],
  ];
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped", stderr: "piped" }).output();
  const seconds = (performance.now() - t0) / 1000;
  if (out.code !== 0) throw new Error(`stress${isolate ? " --isolate" : ""} exited ${out.code}`);
  const report = StressReportSchema.parse(JSON.parse(new TextDecoder().decode(out.stdout)));
  if (report.run.calls !== CALLS || report.run.ok !== CALLS) throw new Error(`${report.run.ok} of ${CALLS} calls ok`);
  return { process: CALLS / seconds, run: report.run.per_second };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows = { local: [] as Run[], isolated: [] as Run[] };
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    rows.local.push(await stress(false));
    rows.isolated.push(await stress(true));
  } else {
    rows.isolated.push(await stress(true));
    rows.local.push(await stress(false));
  }
}

const fmt = (x: number) => `${Math.round(x).toLocaleString("en-US")}/s`;
const med = (side: Run[], k: keyof Run) => median(side.map((x) => x[k]));
const ratios = (k: keyof Run) => rows.isolated.map((x, i) => x[k] / rows.local[i]![k]);
console.log(
  `plugcheck stress ref_c echo, ${CALLS.toLocaleString("en-US")} calls, ${values.concurrency} loops, ` +
    `median of ${ROUNDS} interleaved rounds\n`,
);
console.log("| process | calls/s, whole process | calls/s, the run (report) |");
console.log("| ------- | ---------------------- | ------------------------- |");
console.log(`| in process | ${fmt(med(rows.local, "process"))} | ${fmt(med(rows.local, "run"))} |`);
console.log(`| \`--isolate\` | ${fmt(med(rows.isolated, "process"))} | ${fmt(med(rows.isolated, "run"))} |`);
console.log(
  `| ratio (median of the rounds' ratios) | ${median(ratios("process")).toFixed(2)}x | ${
    median(ratios("run")).toFixed(2)
  }x |`,
);
