/**
 * The full conformance suite (`plugcheck check`, default fuzz smoke of
 * 50,000 runs, default jobs) on both reference plugins: wall time of the
 * whole CLI process, median over rounds, and whether every check passed.
 *
 * Run: `deno task bench`, or `deno run -A bench/check_suite.ts [--rounds N]`.
 * Goal (issue 10): <= 10 s per plugin on these 2-core machines.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { ROOT } from "../tests/_helpers.ts";

const { values } = parseArgs({ args: Deno.args, options: { rounds: { type: "string", default: "3" } } });
const ROUNDS = Number(values.rounds);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

console.log(`plugcheck check, full suite, ${ROUNDS} rounds (median wall time of the whole process)`);
for (const name of ["ref_c", "ref_rust"]) {
  const times: number[] = [];
  let summary = "";
  for (let round = 1; round <= ROUNDS; round++) {
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(ROOT, "cli.ts"),
        "check",
        join(ROOT, `build/fixtures/lib${name}.so`),
        "--seed",
        String(round),
        "--json",
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    times.push((performance.now() - t0) / 1000);
    const doc = JSON.parse(new TextDecoder().decode(out.stdout));
    summary = `exit ${out.code}, ${doc.counts.pass}/${doc.results.length} passed`;
    if (out.code !== 0) throw new Error(`${name}: plugcheck check failed in round ${round}: ${summary}`);
  }
  const m = median(times);
  console.log(
    `  ${name.padEnd(9)} ${m.toFixed(1)} s  (${times.map((t) => t.toFixed(1)).join(", ")})  ${summary}  goal <= 10 s: ${
      m <= 10 ? "met" : "NOT met"
    }`,
  );
}
