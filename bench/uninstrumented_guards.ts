/**
 * Time to find a bug behind a guard on an uninstrumented plugin, against
 * libFuzzer on the same code instrumented (issue 19): the fixtures
 * `exit_on_magic` (`exit(0)` behind a `memcmp` against "halt-now!") and
 * `crash_on_prefix` (SIGSEGV behind `input[0] == 'Z' && input[1] == 'Q'`) and
 * `hang_on_length` (a hang behind `len == 37 && input[0] == 0xA7`; both
 * fuzzers give each input 1 s, libFuzzer's least `-timeout`).
 * plugcheck fuzzes the `gcc -O2` build `deno task build` made, which it never
 * recompiles; libFuzzer gets the same source built with
 * `clang -O2 -fsanitize=fuzzer-no-link` behind the harness `plugcheck harness`
 * writes (`clang -fsanitize=fuzzer`), so its coverage and comparison tracing
 * see inside the plugin. Both are timed the same way: the whole process, from
 * spawn to exit, which both make at their first finding (`--max-findings 1`;
 * libFuzzer stops at its first crash). Seeds 1-5, interleaved; medians.
 *
 * Needs clang (Debian: `apt-get install clang`).
 *
 * Run: `deno task bench`, or `deno run -A bench/uninstrumented_guards.ts`.
 * Goal (issue 19): plugcheck's time at most 1.5x libFuzzer's.
 *
 * @module
 */
import { join } from "node:path";
import { CLI_ARGS, fault, ROOT } from "../tests/_helpers.ts";
import { timedFuzz } from "./_timed_fuzz.ts";
import { median } from "./_tools.ts";

const SEEDS = [1, 2, 3, 4, 5];
const TARGETS = [["exit_on_magic", "command"], ["crash_on_prefix", "decode"], ["hang_on_length", "frame"]] as const;
const OUT = join(ROOT, "build/bench/guards");

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Deno.CommandOutput> {
  return await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
}

/** Builds the instrumented plugin and its libFuzzer harness; the harness's path, or undefined without clang. */
async function buildLibFuzzer(name: string, method: string): Promise<{ harness: string; plugin: string } | undefined> {
  await Deno.mkdir(OUT, { recursive: true });
  const plugin = join(OUT, `lib${name}_lf.so`);
  const harness = join(OUT, `${name}_harness`);
  const source = join(OUT, `${name}_harness.c`);
  const gen = await run(Deno.execPath(), [...CLI_ARGS, "harness", fault(name), "--method", method, "--output", source]);
  if (!gen.success) throw new Error(`plugcheck harness failed: ${new TextDecoder().decode(gen.stderr)}`);
  try {
    const lib = await run("clang", [
      "-O2",
      "-fsanitize=fuzzer-no-link",
      "-fPIC",
      "-shared",
      "-I",
      join(ROOT, "include"),
      "-o",
      plugin,
      join(ROOT, "fixtures/faults", `${name}.c`),
      "-lpthread",
    ]);
    if (!lib.success) throw new Error(new TextDecoder().decode(lib.stderr));
    // -rdynamic: the plugin it dlopens finds libFuzzer's coverage symbols in the harness.
    const h = await run("clang", ["-O2", "-fsanitize=fuzzer", "-rdynamic", "-o", harness, source, "-ldl"]);
    if (!h.success) throw new Error(new TextDecoder().decode(h.stderr));
  } catch (e) {
    console.error(`libFuzzer half skipped for ${name}: ${e instanceof Error ? e.message : e}`);
    return undefined;
  }
  return { harness, plugin };
}

/** Seconds from spawn to exit of libFuzzer, which stops at its first finding; and whether it found one. */
async function libFuzzer(b: { harness: string; plugin: string }, seed: number): Promise<{ s: number; found: boolean }> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-bench-guards-" });
  try {
    const t0 = performance.now();
    const out = await new Deno.Command(b.harness, {
      args: [`-seed=${seed}`, "-runs=2000000", "-max_len=4096", "-timeout=1", `-artifact_prefix=${dir}/`],
      env: { NPA_PLUGIN: b.plugin },
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    return {
      s: (performance.now() - t0) / 1000,
      found: /Test unit written to .*\/(crash|timeout)-|libFuzzer: fuzz target exited/.test(stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Seconds from spawn to exit of `plugcheck fuzz --max-findings 1` on the gcc build; and whether it found the bug. */
async function plugcheck(name: string, method: string, seed: number): Promise<{ s: number; found: boolean }> {
  const args = ["--method", method, "--runs", "2000000", "--max-findings", "1", "--seed", String(seed)];
  const { seconds, out } = await timedFuzz([fault(name), ...args, "--timeout", "1000"]);
  return { s: seconds, found: out.code === 1 };
}

console.log("plugcheck fuzz on the gcc -O2 build vs libFuzzer on the clang-instrumented build (whole processes)\n");
console.log("| fixture | plugcheck (median, s) | libFuzzer (median, s) | ratio | found (plugcheck, libFuzzer) |");
console.log("| --- | --- | --- | --- | --- |");
for (const [name, method] of TARGETS) {
  const lf = await buildLibFuzzer(name, method);
  const pc: { s: number; found: boolean }[] = [];
  const l: { s: number; found: boolean }[] = [];
  for (const seed of SEEDS) {
    pc.push(await plugcheck(name, method, seed));
    if (lf !== undefined) l.push(await libFuzzer(lf, seed));
  }
  const p = median(pc.map((r) => r.s));
  const q = l.length > 0 ? median(l.map((r) => r.s)) : NaN;
  const found = `${pc.filter((r) => r.found).length}/5, ${
    lf === undefined ? "-" : `${l.filter((r) => r.found).length}/5`
  }`;
  console.log(
    `| ${name} | ${p.toFixed(3)} | ${Number.isNaN(q) ? "-" : q.toFixed(3)} | ${
      Number.isNaN(q) ? "-" : `${(p / q).toFixed(2)}x`
    } | ${found} |`,
  );
}
console.log("\ngoal (issue 19): plugcheck <= 1.5x libFuzzer");
