/**
 * Coverage-guided fuzzing (issue 9), one job each, in one run:
 *
 * 1. Time to first crash, median over seeds 1-3, on the clang-instrumented
 *    fixture `fixtures/fuzz/cov_magic.c`: method `magic` (a crash behind
 *    `memcmp(input, "FUZZ", 4)`) and `number` (an abort behind a 4-byte
 *    integer compare), as `runFuzz` reports it (`first_seconds`: from the
 *    run's start, children's start-up included) and over the whole CLI
 *    process (`plugcheck fuzz --runs ...` exits when done, so that is not
 *    "time to first"; we take the report's figure). libFuzzer on the same
 *    memcmp bug (`fixtures/fuzz/lf_cov_magic.c` built with
 *    `clang -O2 -fsanitize=fuzzer`; it stops at its first crash): wall time
 *    of the whole process.
 * 2. exec/s with guidance on against off (`coverage: false`) on the same
 *    target in the same run: the `length` method of cov_magic (159 edges),
 *    and a generated harness with ~4,200 edges that an input never reaches
 *    (the cost of scanning a large, idle counter map after every input).
 *    Rounds interleave on and off; medians, and the ratio off/on.
 *
 * Needs clang (Debian: `apt-get install clang`).
 * Run: `deno task bench`, or `deno run -A bench/coverage_guided.ts [--rounds N] [--runs N]`.
 * Goals (issue 9): time to first crash <= 1 s each; guidance costs <= 2x.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { runFuzz } from "../mod.ts";
import { coverageFixture, ROOT } from "../tests/_helpers.ts";
import { clang, median } from "./_tools.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "3" }, runs: { type: "string", default: "5000000" } },
});
const ROUNDS = Number(values.rounds);
const RUNS = Number(values.runs);
const BENCH = join(ROOT, "build/bench");

/** A harness with `n` functions of about four edges each that no input reaches (the table is called only for huge inputs). */
async function wideTarget(n: number): Promise<string> {
  const lines = ["#include <stddef.h>", "#include <stdint.h>", "static volatile int g;"];
  for (let i = 0; i < n; i++) {
    lines.push(
      `__attribute__((noinline)) static int f${i}(int x) { if (x == ${i}) g += 3; else if (x > ${i}) g += 1; ` +
        `else g -= 1; if (g & ${i}) g ^= x; return g; }`,
    );
  }
  lines.push(`static int (*const table[])(int) = {${Array.from({ length: n }, (_, i) => `f${i}`).join(", ")}};`);
  lines.push(
    '__attribute__((visibility("default"))) int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {',
    "  volatile int s = 0;",
    `  if (n > ((size_t)1 << 40)) for (int i = 0; i < ${n}; i++) s += table[i](d[0]);`,
    "  return 0;",
    "}",
  );
  const src = join(BENCH, "cov_wide.c"), lib = join(BENCH, "libcov_wide.so");
  await Deno.writeTextFile(src, lines.join("\n") + "\n");
  await clang([
    "-O1",
    "-fPIC",
    "-shared",
    "-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp",
    "-o",
    lib,
    src,
  ]);
  return lib;
}

await Deno.mkdir(BENCH, { recursive: true });
const covMagic = coverageFixture("cov_magic");
const artifacts = await Deno.makeTempDir({ prefix: "plugcheck-bench-cov-" });

// 1. Time to first crash.
const first: Record<string, number[]> = { magic: [], number: [] };
for (const method of ["magic", "number"]) {
  for (const seed of [1, 2, 3]) {
    const r = await runFuzz(covMagic, { methods: [method], runs: 2_000_000, seed, artifactsDir: artifacts });
    const f = r.findings[0];
    first[method]!.push(f ? f.first_seconds : Infinity);
  }
}
const lfBinary = join(BENCH, "lf_cov_magic_libfuzzer");
await clang(["-O2", "-fsanitize=fuzzer", "-o", lfBinary, join(ROOT, "fixtures/fuzz/lf_cov_magic.c")]);
const lf: number[] = [];
for (const seed of [1, 2, 3]) {
  const t0 = performance.now();
  await new Deno.Command(lfBinary, {
    args: [`-seed=${seed}`, "-runs=10000000", `-artifact_prefix=${artifacts}/`],
    stdout: "null",
    stderr: "null",
  }).output();
  lf.push((performance.now() - t0) / 1000);
}

// 2. exec/s, guidance on and off.
const wide = await wideTarget(700);
const speed = async (path: string, methods: string[] | undefined, coverage: boolean) => {
  const r = await runFuzz(path, { ...methods && { methods }, runs: RUNS, seed: 1, coverage, artifactsDir: artifacts });
  return { perSecond: r.run.per_second, edges: r.coverage?.instrumented };
};
const targets = [
  { name: "cov_magic `length`", path: covMagic, methods: ["length"] },
  { name: "generated harness, edges no input reaches", path: wide, methods: undefined },
];
const rows: { name: string; on: number[]; off: number[]; edges?: number }[] = targets.map((t) => ({
  name: t.name,
  on: [],
  off: [],
}));
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, t] of targets.entries()) {
    const on = await speed(t.path, t.methods, true);
    rows[i]!.on.push(on.perSecond);
    rows[i]!.edges = on.edges ?? 0;
    rows[i]!.off.push((await speed(t.path, t.methods, false)).perSecond);
  }
}
await Deno.remove(artifacts, { recursive: true });

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const secs = (xs: number[]) => `${median(xs).toFixed(3)} s (${xs.map((x) => x.toFixed(3)).join(", ")})`;
console.log("| bug (seeds 1-3) | time to first crash, median (each) |");
console.log("| --- | --- |");
console.log(`| plugcheck, memcmp "FUZZ" (\`magic\`) | ${secs(first.magic!)} |`);
console.log(`| plugcheck, 4-byte compare (\`number\`) | ${secs(first.number!)} |`);
console.log(`| libFuzzer, memcmp "FUZZ" (lf_cov_magic.c, whole process) | ${secs(lf)} |`);
console.log("");
console.log("| target | guided exec/s | blind exec/s | cost of guidance |");
console.log("| --- | --- | --- | --- |");
for (const r of rows) {
  const on = median(r.on), off = median(r.off);
  console.log(`| ${r.name}, ${r.edges} edges | ${fmt(on)} | ${fmt(off)} | ${(off / on).toFixed(2)}x |`);
}
