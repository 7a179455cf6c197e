/**
 * `plugcheck fuzz` of a LADSPA plugin (ladspa-sdk's `amp_mono`, 64-frame
 * blocks: `--config '{"max_block": 64}'`) against a C loop that calls the
 * plugin's `run` directly on random blocks, controls and samples
 * (`bench/c_ladspa_loop.c`, built here): the same number of executions, each
 * side a whole process timed from spawn to exit, rounds interleaved, medians.
 * For scale, `plugcheck fuzz` of the C reference plugin's `echo` (an npa
 * method that does nothing): the fuzz engine's own cost per execution.
 *
 * Needs ladspa-sdk (Debian: `apt-get install ladspa-sdk`; `.ci/run` installs it).
 *
 * Run: `deno task bench`, or `deno run -A bench/ladspa_fuzz_speed.ts [--rounds N] [--runs N]`.
 * Goal (issue 18): at least 0.8x the C loop's executions per second.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { CLI_ARGS, fixture, ROOT } from "../tests/_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "3" }, runs: { type: "string", default: "500000" } },
});
const ROUNDS = Number(values.rounds);
const RUNS = Number(values.runs);
const AMP = "/usr/lib/ladspa/amp.so";
try {
  Deno.statSync(AMP);
} catch {
  console.log(`${AMP} is absent: install ladspa-sdk (Debian: apt-get install ladspa-sdk)`);
  Deno.exit(0);
}

const dir = await Deno.makeTempDir({ prefix: "plugcheck-ladspa-bench-" });
const loop = join(dir, "c_ladspa_loop");
const gcc = await new Deno.Command("gcc", {
  args: ["-O2", "-I", join(ROOT, "include"), "-o", loop, join(ROOT, "bench", "c_ladspa_loop.c"), "-ldl"],
}).output();
if (!gcc.success) throw new Error(`gcc failed: ${new TextDecoder().decode(gcc.stderr)}`);

const fuzz = (lib: string, method: string, extra: string[] = []) => [
  Deno.execPath(),
  ...CLI_ARGS,
  "fuzz",
  lib,
  "--method",
  method,
  "--runs",
  String(RUNS),
  "--seed",
  "1",
  "--artifacts",
  dir,
  ...extra,
];
const commands = [
  { name: "C loop calling `run` (`bench/c_ladspa_loop.c`)", argv: [loop, AMP, String(RUNS)] },
  {
    name: "`plugcheck fuzz amp.so --method amp_mono` (64-frame blocks)",
    argv: fuzz(AMP, "amp_mono", ["--max-len", "132", "--config", '{"max_block":64}']),
  },
  { name: "`plugcheck fuzz libref_c.so --method echo` (for scale)", argv: fuzz(fixture("ref_c"), "echo") },
];

async function timed(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(argv[0]!, { args: argv.slice(1), stdout: "null", stderr: "piped" }).output();
  const ms = performance.now() - t0;
  if (!out.success) throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return ms;
}

const times = commands.map(() => [] as number[]);
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, c] of commands.entries()) times[i]!.push(await timed(c.argv));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const loopRate = RUNS / (median(times[0]!) / 1000);
console.log(`${RUNS.toLocaleString("en-US")} executions, whole processes, median of ${ROUNDS} interleaved rounds\n`);
console.log("| command | wall | executions/s | vs the C loop |");
console.log("| ------- | ---- | ------------ | ------------- |");
for (const [i, c] of commands.entries()) {
  const ms = median(times[i]!);
  const rate = RUNS / (ms / 1000);
  console.log(
    `| ${c.name} | ${ms.toFixed(0)} ms | ${Math.round(rate).toLocaleString("en-US")} | ${
      (rate / loopRate).toFixed(3)
    }x |`,
  );
}
await Deno.remove(dir, { recursive: true });
