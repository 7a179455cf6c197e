/**
 * The full conformance suite (`plugcheck check`, default fuzz smoke of
 * 50,000 runs, default jobs) on both reference plugins and on one LADSPA
 * library (ladspa-sdk's `amp.so`, when installed): wall time of the whole CLI
 * process, median over rounds, and whether no check failed.
 *
 * Run: `deno task bench`, or `deno run -A bench/check_suite.ts [--rounds N]`.
 * Goals on these 2-core machines: <= 10 s per reference plugin (issues 10
 * and 19), <= 5 s for one LADSPA library (issue 18).
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
const AMP = "/usr/lib/ladspa/amp.so";
const targets = [
  { name: "ref_c", path: join(ROOT, "build/fixtures/libref_c.so"), goal: 10 },
  { name: "ref_rust", path: join(ROOT, "build/fixtures/libref_rust.so"), goal: 10 },
  ...(await Deno.stat(AMP).then(() => true, () => false)) ? [{ name: "amp.so", path: AMP, goal: 5 }] : [],
];
for (const { name, path, goal } of targets) {
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
        path,
        "--seed",
        String(round),
        "--json",
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    times.push((performance.now() - t0) / 1000);
    const doc = JSON.parse(new TextDecoder().decode(out.stdout));
    summary = `exit ${out.code}, ${doc.counts.pass}/${doc.results.length} passed, ${doc.counts.fail} failed`;
    if (out.code !== 0) throw new Error(`${name}: plugcheck check failed in round ${round}: ${summary}`);
  }
  const m = median(times);
  console.log(
    `  ${name.padEnd(9)} ${m.toFixed(1)} s  (${
      times.map((t) => t.toFixed(1)).join(", ")
    })  ${summary}  goal <= ${goal} s: ${m <= goal ? "met" : "NOT met"}`,
  );
}
