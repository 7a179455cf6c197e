/**
 * Fuzzing speed against libFuzzer, in the same run, one job each: the
 * near-empty target `fixtures/fuzz/lf_near_empty.c` (touches its input and
 * returns) built two ways from the same source, as a libFuzzer binary
 * (`clang -O2 -fsanitize=fuzzer`) and as a shared library `plugcheck fuzz`
 * loads (`--target libfuzzer`, detected). Both run the same number of
 * executions; each figure is executions over the whole process's wall time
 * (libFuzzer's own exec/s line divides by whole seconds), and plugcheck's is
 * also shown as its report has it (the run, without the CLI's start-up).
 * Rounds interleave the two; the table shows medians and the ratio.
 *
 * Then restarts: a child seen dead -> the next child's first input running,
 * as the fuzz report measures it (`run.restart_ms`), on a plugin whose bug
 * is found now and then (the spare child is ready) and on one that crashes
 * on every tenth input (a crash storm: restarts wait for a child to start).
 *
 * Needs clang (Debian: `apt-get install clang`) for the libFuzzer half.
 *
 * Run: `deno task bench`, or `deno run -A bench/fuzz_speed.ts [--rounds N] [--runs N]`.
 * Goals (issue 8): exec/s >= 1.0x libFuzzer on the near-empty target; restart <= 30 ms.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { runFuzz } from "../mod.ts";
import { fuzzFixture, ROOT } from "../tests/_helpers.ts";
import { timedFuzz } from "./_timed_fuzz.ts";
import { median } from "./_tools.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    runs: { type: "string", default: "20000000" },
  },
});
const ROUNDS = Number(values.rounds);
const RUNS = Number(values.runs);
const SOURCE = join(ROOT, "fixtures/fuzz/lf_near_empty.c");
const BINARY = join(ROOT, "build/bench/lf_near_empty_libfuzzer");

async function buildLibFuzzer(): Promise<boolean> {
  await Deno.mkdir(join(ROOT, "build/bench"), { recursive: true });
  try {
    const out = await new Deno.Command("clang", {
      args: ["-O2", "-fsanitize=fuzzer", "-o", BINARY, SOURCE],
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return true;
  } catch (e) {
    console.error(
      `libFuzzer half skipped: cannot build ${SOURCE} with clang -fsanitize=fuzzer (${
        e instanceof Error ? e.message : e
      })`,
    );
    console.error("install clang (Debian: apt-get install clang) to compare with libFuzzer");
    return false;
  }
}

/** Executions per second of libFuzzer over its process's wall time. */
async function libFuzzer(seed: number): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-bench-lf-" });
  try {
    const t0 = performance.now();
    const out = await new Deno.Command(BINARY, {
      args: [`-runs=${RUNS}`, `-seed=${seed}`, "-max_len=4096", "-print_final_stats=1"],
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    const s = (performance.now() - t0) / 1000;
    if (!out.success) throw new Error(`libFuzzer failed: ${new TextDecoder().decode(out.stderr).slice(-500)}`);
    return RUNS / s;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** plugcheck fuzz as a user runs it: executions per second over the whole process, and as the report says. */
async function plugcheck(seed: number): Promise<{ process: number; report: number }> {
  const { seconds, out } = await timedFuzz(
    [fuzzFixture("lf_near_empty"), `--runs=${RUNS}`, `--seed=${seed}`, "--json"],
    "piped",
  );
  const report = JSON.parse(new TextDecoder().decode(out.stdout));
  if (report.run?.execs !== RUNS) throw new Error(`plugcheck fuzz ran ${report.run?.execs} of ${RUNS}`);
  return { process: RUNS / seconds, report: report.run.per_second };
}

const haveLibFuzzer = await buildLibFuzzer();
const lf: number[] = [];
const pcProcess: number[] = [];
const pcReport: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  if (haveLibFuzzer) lf.push(await libFuzzer(r + 1));
  const p = await plugcheck(r + 1);
  pcProcess.push(p.process);
  pcReport.push(p.report);
}
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`\nnear-empty target, ${fmt(RUNS)} executions, one job, median of ${ROUNDS} interleaved rounds\n`);
console.log("| fuzzer | exec/s (process wall time) | ratio |");
console.log("| --- | --- | --- |");
const base = haveLibFuzzer ? median(lf) : NaN;
if (haveLibFuzzer) console.log(`| libFuzzer (clang -fsanitize=fuzzer, in process) | ${fmt(base)} | 1.00x |`);
console.log(
  `| plugcheck fuzz (sandbox child) | ${fmt(median(pcProcess))} | ${
    haveLibFuzzer ? `${(median(pcProcess) / base).toFixed(2)}x` : "-"
  } |`,
);
console.log(
  `| plugcheck fuzz, as its report says (no CLI start-up) | ${fmt(median(pcReport))} | ${
    haveLibFuzzer ? `${(median(pcReport) / base).toFixed(2)}x` : "-"
  } |`,
);

/** Restart times of a run over crashing seeds (the report's restart_ms). */
async function restarts(label: string, lib: string, options: Parameters<typeof runFuzz>[1]): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-bench-restart-" });
  try {
    const report = await runFuzz(lib, { ...options, artifactsDir: dir });
    const r = report.run;
    console.log(
      `| ${label} | ${r.restarts} | ${r.restart_ms?.median ?? "-"} ms | ${r.restart_ms?.max ?? "-"} ms | ${
        fmt(r.per_second)
      } |`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
console.log("\n| restarts (child dead -> next input running) | restarts | median | max | exec/s |");
console.log("| --- | --- | --- | --- | --- |");
await restarts("magic_prefix: a crash now and then (the spare is ready)", fuzzFixture("magic_prefix"), {
  runs: 2_000_000,
  seed: 1,
});
await restarts("two_bugs: a crash storm (restarts wait for a start)", fuzzFixture("two_bugs"), {
  runs: 20_000,
  seed: 1,
});
Deno.exit(0);
