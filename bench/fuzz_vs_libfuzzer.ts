/**
 * `plugcheck fuzz` against libFuzzer on the same C sources, both sides timed the
 * same way: whole processes, from spawn (`performance.now()` taken right before
 * `Deno.Command(...).spawn()`) to the moment a given line appears on the
 * process's stderr (read as it comes), or to the process's exit where that is
 * the event. Same start event, same end event, on both sides; rounds
 * interleave them (plugcheck, libFuzzer, plugcheck, libFuzzer, ...); each
 * figure is a median.
 *
 * 1. Time to first finding, seeds 1..N, each seed once per side per round, on
 *    `fixtures/fuzz/lf_dns_name_asan.c` (a one-byte heap overflow, c-ares'
 *    CVE-2016-5180 shape, with ASan) and `fixtures/fuzz/lf_cov_magic.c` (a
 *    SIGSEGV behind `memcmp(input, "FUZZ", 4)`, no sanitizer), and the same
 *    magic in an npa plugin (`fixtures/fuzz/cov_magic.c`, method `magic`,
 *    against libFuzzer on lf_cov_magic: libFuzzer has no npa host):
 *    - plugcheck: `plugcheck fuzz LIB --seed S --max-findings 1 --runs 5000000
 *      --artifacts DIR` on the fixture `deno task build` made, up to its first
 *      stderr line matching `/NEW crash-/`;
 *    - libFuzzer: `BINARY -seed=S -artifact_prefix=DIR/`, the same source built
 *      here into `build/bench/` (`clang -O1 -g -fsanitize=address,fuzzer
 *      -fno-omit-frame-pointer`; `clang -O1 -g -fsanitize=fuzzer
 *      -fno-builtin-memcmp` for lf_cov_magic, no ASan, as its fixture), up to
 *      its first stderr line matching
 *      `/^SUMMARY: |==ERROR: libFuzzer: deadly signal/` (ASan's SUMMARY for the
 *      ASan target; for the plain one, the SUMMARY of the UndefinedBehaviorSanitizer
 *      SEGV handler that clang 14's `-fsanitize=fuzzer` installs).
 *    A process without its line 60 s after spawn is killed and counted as a
 *    failure (infinite time).
 * 2. Start-up, spawn to exit, median of 5: `plugcheck fuzz LIB --runs 1
 *    --artifacts DIR` and `BINARY -runs=1`, on both targets; and where
 *    plugcheck's went, from its report's `run.startup` (the process before the
 *    run: Deno and the CLI; the run's preparation; to the first input running:
 *    the fork server started, the harness loaded and initialized).
 * 3. Crash storm: `plugcheck fuzz build/fixtures/fuzz/liblf_crash_third_asan.so
 *    --seed 1 --runs 3000 --format json --artifacts DIR` (a third of inputs
 *    overflow): exec/s and restarts from its report, and the milliseconds a
 *    known crash costs: (spawn to exit) minus (spawn to exit of the same
 *    command with `--runs 1`), divided by the restarts; beside the report's
 *    `run.restart_ms.median`, and the floor under it, interleaved with it:
 *    `bench/c_fork_crash.c` (built here) loads the harness once and forks a
 *    child per crashing input, under the runtimes and `ASAN_OPTIONS` plugcheck's
 *    fork server gets (`sanitizerEnv`), its stderr piped here as the server's
 *    is to plugcheck: what the fork, ASan's report and the process's end cost
 *    with no fuzzer around them.
 *
 * Goals (issue 20): time to first finding at most 1.2x libFuzzer's on every
 * target; `fuzz --runs 1` (start-up, whose first input runs before its end)
 * within 0.3 s plain and 0.45 s with ASan; a known crash at most 5 ms with
 * ASan. Ratios above 1 are plugcheck slower.
 *
 * Needs `deno task build` (with clang) first.
 * Run: `deno run -A bench/fuzz_vs_libfuzzer.ts [--seeds N] [--rounds N]` (defaults: 5 seeds, 1 round).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { CLI_ARGS, coverageFixture, ROOT } from "../tests/_helpers.ts";
import { clang, median } from "./_tools.ts";
import { sanitizerEnv } from "../lib/load/sanitizer.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seeds: { type: "string", default: "5" }, rounds: { type: "string", default: "1" } },
});
const SEEDS = Number(values.seeds);
const ROUNDS = Number(values.rounds);
const BENCH = join(ROOT, "build/bench");
const PLUGCHECK = [Deno.execPath(), ...CLI_ARGS, "fuzz"];
const DEADLINE_MS = 60_000;

/** `build/bench/NAME_libfuzzer`, built from `fixtures/fuzz/NAME.c` when missing or older than it. */
async function libFuzzerBinary(name: string, flags: string[]): Promise<string> {
  const src = join(ROOT, "fixtures/fuzz", `${name}.c`), out = join(BENCH, `${name}_libfuzzer`);
  const mtime = (path: string) => Deno.stat(path).then((s) => s.mtime?.getTime() ?? 0, () => -1);
  if (await mtime(out) < await mtime(src)) await clang(["-O1", "-g", ...flags, "-o", out, src]);
  return out;
}

/** What one timed process did: ms from spawn to its `event` line (undefined: none) and to its exit. */
interface Timed {
  eventMs?: number;
  exitMs: number;
  code: number;
  stdout: string;
}

/**
 * Spawns `argv(dir)` (dir: a new artifacts directory, removed after), reads its stderr as it comes, and notes when a
 * line first matches `event`. Past the deadline it gets SIGTERM (plugcheck then stops its children), 5 s later SIGKILL.
 */
async function timed(
  argv: (dir: string) => string[],
  event?: RegExp,
  stdout: "piped" | "null" = "null",
): Promise<Timed> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-bench-vs-lf-" });
  try {
    const [cmd, ...args] = argv(dir);
    const t0 = performance.now();
    const child = new Deno.Command(cmd!, {
      args,
      cwd: ROOT,
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdin: "null",
      stdout,
      stderr: "piped",
    }).spawn();
    const exited = child.status.then((s) => ({ code: s.code, ms: performance.now() - t0 }));
    const kill = (signal: Deno.Signal) => () => {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
    };
    const timers = [setTimeout(kill("SIGTERM"), DEADLINE_MS), setTimeout(kill("SIGKILL"), DEADLINE_MS + 5_000)];
    const out = stdout === "piped" ? new Response(child.stdout).text() : Promise.resolve("");
    const decoder = new TextDecoder();
    let eventMs: number | undefined, pending = "";
    for await (const chunk of child.stderr) {
      if (event === undefined || eventMs !== undefined) continue; // drain the rest
      const now = performance.now();
      const lines = (pending + decoder.decode(chunk, { stream: true })).split(/\r?\n|\r/);
      pending = lines.pop()!;
      if (lines.some((line) => event.test(line))) eventMs = now - t0;
    }
    const { code, ms } = await exited;
    timers.forEach(clearTimeout);
    return { ...eventMs !== undefined && { eventMs }, exitMs: ms, code, stdout: await out };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Spawn to exit, for a command that must exit 0 or 1 (1: plugcheck found something). */
async function wall(argv: (dir: string) => string[]): Promise<number> {
  const r = await timed(argv);
  if (r.code !== 0 && r.code !== 1) throw new Error(`${argv("DIR").join(" ")} exited ${r.code}`);
  return r.exitMs;
}

await Deno.mkdir(BENCH, { recursive: true });
const targets: { name: string; lib: string; args?: string[]; binary: string }[] = [
  {
    name: "lf_dns_name_asan (ASan)",
    lib: coverageFixture("lf_dns_name_asan"),
    binary: await libFuzzerBinary("lf_dns_name_asan", ["-fsanitize=address,fuzzer", "-fno-omit-frame-pointer"]),
  },
  {
    name: "lf_cov_magic (plain)",
    lib: coverageFixture("lf_cov_magic"),
    binary: await libFuzzerBinary("lf_cov_magic", ["-fsanitize=fuzzer", "-fno-builtin-memcmp"]),
  },
  {
    // The same planted magic as an npa plugin (its calls judged by the guard): plugcheck fuzzes its method `magic`;
    // libFuzzer has no npa host, so it runs the harness above.
    name: "cov_magic, method magic (npa plugin; libFuzzer: lf_cov_magic)",
    lib: coverageFixture("cov_magic"),
    args: ["--method", "magic"],
    binary: await libFuzzerBinary("lf_cov_magic", ["-fsanitize=fuzzer", "-fno-builtin-memcmp"]),
  },
];
const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);

// 1. Time to first finding: per target, per seed, the ms of each round (Infinity: no finding by the deadline).
const PLUGCHECK_EVENT = /NEW crash-/;
const LIBFUZZER_EVENT = /^SUMMARY: |==ERROR: libFuzzer: deadly signal/;
const first = targets.map(() => seeds.map(() => ({ plugcheck: [] as number[], libfuzzer: [] as number[] })));
for (let round = 0; round < ROUNDS; round++) {
  for (const [t, target] of targets.entries()) {
    for (const [s, seed] of seeds.entries()) {
      const p = await timed(
        (dir) => [
          ...PLUGCHECK,
          target.lib,
          ...target.args ?? [],
          ...["--seed", `${seed}`, "--max-findings", "1", "--runs", "5000000", "--artifacts", dir],
        ],
        PLUGCHECK_EVENT,
      );
      first[t]![s]!.plugcheck.push(p.eventMs ?? Infinity);
      const l = await timed((dir) => [target.binary, `-seed=${seed}`, `-artifact_prefix=${dir}/`], LIBFUZZER_EVENT);
      first[t]![s]!.libfuzzer.push(l.eventMs ?? Infinity);
    }
  }
}

// 2. Start-up, spawn to exit; and where plugcheck's went, as its report says (`run.startup`).
interface Startup {
  boot_ms: number;
  prepare_ms: number;
  first_input_ms?: number;
}
const startup = targets.map(() => ({ plugcheck: [] as number[], libfuzzer: [] as number[], parts: [] as Startup[] }));
for (let round = 0; round < 5; round++) {
  for (const [t, target] of targets.entries()) {
    const r = await timed(
      (dir) => [...PLUGCHECK, target.lib, ...target.args ?? [], "--runs", "1", "--format", "json", "--artifacts", dir],
      undefined,
      "piped",
    );
    if (r.code !== 0 && r.code !== 1) throw new Error(`plugcheck fuzz --runs 1 exited ${r.code}`);
    startup[t]!.plugcheck.push(r.exitMs);
    startup[t]!.parts.push((JSON.parse(r.stdout) as { run: { startup: Startup } }).run.startup);
    startup[t]!.libfuzzer.push(await wall(() => [target.binary, "-runs=1"]));
  }
}

// 3. Crash storm.
interface StormReport {
  run: { execs: number; seconds: number; restarts: number; restart_ms: { median: number } };
}
const storm = (runs: number) => (dir: string) => [
  ...PLUGCHECK,
  coverageFixture("lf_crash_third_asan"),
  ...["--seed", "1", "--runs", `${runs}`, "--format", "json", "--artifacts", dir],
];
const forkCrash = join(BENCH, "c_fork_crash");
{
  const gcc = await new Deno.Command("gcc", {
    args: ["-std=c11", "-O2", "-o", forkCrash, join(ROOT, "bench", "c_fork_crash.c"), "-ldl"],
  }).output();
  if (!gcc.success) throw new Error(`gcc failed: ${new TextDecoder().decode(gcc.stderr)}`);
}
const stormLib = coverageFixture("lf_crash_third_asan");
const floorEnv = await sanitizerEnv(stormLib, { asan: true, coverageRuntime: true, symbolize: false });
/** ms a crash costs the C floor (input byte 0 overflows). */
async function floorMs(): Promise<number> {
  const out = await new Deno.Command(forkCrash, { args: [stormLib, "0", "300"], env: floorEnv, stderr: "piped" })
    .output();
  const m = /^([\d.]+) ms a crash/.exec(new TextDecoder().decode(out.stdout));
  if (!out.success || m === null) throw new Error(`c_fork_crash failed: ${new TextDecoder().decode(out.stdout)}`);
  return Number(m[1]);
}
const stormRuns: { ms: number; report: StormReport["run"] }[] = [], baseMs: number[] = [], floors: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const r = await timed(storm(3000), undefined, "piped");
  if (r.code !== 1) throw new Error(`the crash storm exited ${r.code}, not 1`);
  stormRuns.push({ ms: r.exitMs, report: (JSON.parse(r.stdout) as StormReport).run });
  baseMs.push(await wall(storm(1)));
  floors.push(await floorMs());
}

const ms = (x: number) => Number.isFinite(x) ? x.toFixed(0) : "fail";
const ratio = (a: number, b: number) => Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}x` : "-";
const found = (xs: number[]) => `${xs.filter(Number.isFinite).length}/${xs.length}`;
console.log(
  "Whole processes, from spawn (performance.now() right before spawn) to a line on stderr (first finding) or to " +
    "exit (start-up, crash storm), the same events for plugcheck and libFuzzer; sides interleaved; medians.\n",
);
console.log(`| time to first finding (seeds 1-${SEEDS}, ${ROUNDS} round(s)) | plugcheck ms | libFuzzer ms | ratio |`);
console.log("| --- | --- | --- | --- |");
for (const [t, target] of targets.entries()) {
  const p = first[t]!.flatMap((s) => s.plugcheck), l = first[t]!.flatMap((s) => s.libfuzzer);
  const [mp, ml] = [median(p), median(l)];
  console.log(`| ${target.name} | ${ms(mp)} (found ${found(p)}) | ${ms(ml)} (found ${found(l)}) | ${ratio(mp, ml)} |`);
}
console.log("\n| target | seed | plugcheck ms | libFuzzer ms |");
console.log("| --- | --- | --- | --- |");
for (const [t, target] of targets.entries()) {
  for (const [s, seed] of seeds.entries()) {
    const { plugcheck, libfuzzer } = first[t]![s]!;
    console.log(`| ${target.name} | ${seed} | ${plugcheck.map(ms).join(", ")} | ${libfuzzer.map(ms).join(", ")} |`);
  }
}
console.log(
  "\n| start-up, spawn to exit (median of 5) | plugcheck `fuzz --runs 1` ms | libFuzzer `-runs=1` ms | ratio |",
);
console.log("| --- | --- | --- | --- |");
for (const [t, target] of targets.entries()) {
  const [p, l] = [median(startup[t]!.plugcheck), median(startup[t]!.libfuzzer)];
  console.log(`| ${target.name} | ${ms(p)} | ${ms(l)} | ${ratio(p, l)} |`);
}
console.log(
  "\n| plugcheck `fuzz --runs 1`, its report's `run.startup` (median ms) | boot (CLI) | prepare | to first input |",
);
console.log("| --- | --- | --- | --- |");
for (const [t, target] of targets.entries()) {
  const parts = startup[t]!.parts;
  const of = (k: keyof Startup) => ms(median(parts.map((x) => x[k] ?? Infinity)));
  console.log(`| ${target.name} | ${of("boot_ms")} | ${of("prepare_ms")} | ${of("first_input_ms")} |`);
}
const mid = stormRuns.toSorted((a, b) => a.ms - b.ms)[Math.floor((stormRuns.length - 1) / 2)]!;
const perCrash = (mid.ms - median(baseMs)) / mid.report.restarts;
console.log(
  "\n| crash storm (lf_crash_third_asan, 3000 runs) | exec/s | restarts | wall ms (`--runs 1`) | ms per known crash " +
    "| report's restart_ms.median | C floor ms a crash (`c_fork_crash`) | ratio to the floor |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
const floor = median(floors);
console.log(
  `| plugcheck, seed 1 | ${Math.round(mid.report.execs / mid.report.seconds)} | ${mid.report.restarts} | ` +
    `${ms(mid.ms)} (${ms(median(baseMs))}) | ${perCrash.toFixed(2)} | ${mid.report.restart_ms.median} | ` +
    `${floor.toFixed(2)} | ${ratio(perCrash, floor)} |`,
);
