/**
 * plugcheck's synchronous call path against a C host doing the same work in
 * the same run: `npa_instance_invoke` + copy of the output + `npa_buffer_free`
 * on the C reference plugin's `echo`, at 64 B and 4 KiB (`bench/c_host.c`,
 * built by `deno task build`). Rounds interleave the C host and plugcheck so
 * machine noise hits both; the table shows medians and ratios. Last, a second
 * plugin is loaded and called, and `invokeSync` is measured again: call
 * sites shared by two plugins must not slow it down.
 *
 * Run: `deno task bench`, or `deno run -A bench/sync_path.ts [--rounds N]`.
 * Goals (issue 6): invokeSync <= 300 ns at 64 B; invokeInto <= 2x the C host
 * at 64 B and <= 1.3x at 4 KiB.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadPlugin } from "../mod.ts";
import { fixture, ROOT } from "../tests/_helpers.ts";

const { values } = parseArgs({ args: Deno.args, options: { rounds: { type: "string", default: "7" } } });
const ROUNDS = Number(values.rounds);
const C_HOST = join(ROOT, "build", "bench", "c_host");
const CASES = [{ size: 64, iterations: 2_000_000 }, { size: 4096, iterations: 400_000 }];

async function cHost(size: number, iterations: number): Promise<number> {
  const out = await new Deno.Command(C_HOST, {
    args: [fixture("ref_c"), "echo", String(size), String(iterations)],
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error(`c_host failed with code ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)).ns_per_call;
}

/**
 * ns per call of `loop(n)` after a warm-up. Each measured case has a loop
 * function of its own: a shared loop calling a different closure per case
 * goes megamorphic and adds ~20 ns per iteration that the C host never pays.
 */
function perCall(iterations: number, loop: (n: number) => void): number {
  loop(20_000);
  const t0 = performance.now();
  loop(iterations);
  return ((performance.now() - t0) * 1e6) / iterations;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const plugin = await loadPlugin(fixture("ref_c"));
const inst = await plugin.createInstance();
const inputs = new Map(CASES.map((c) => [c.size, new Uint8Array(c.size).fill(7)]));
const dst = new Uint8Array(8192);

const small = inputs.get(64)!;
const large = inputs.get(4096)!;
const LOOPS: Record<number, { sync: (n: number) => void; into: (n: number) => void }> = {
  64: {
    sync: (n) => {
      for (let i = 0; i < n; i++) inst.invokeSync("echo", small);
    },
    into: (n) => {
      for (let i = 0; i < n; i++) inst.invokeInto("echo", small, dst);
    },
  },
  4096: {
    sync: (n) => {
      for (let i = 0; i < n; i++) inst.invokeSync("echo", large);
    },
    into: (n) => {
      for (let i = 0; i < n; i++) inst.invokeInto("echo", large, dst);
    },
  },
};

type Row = { c: number[]; sync: number[]; into: number[] };
const rows = new Map<number, Row>(CASES.map((c) => [c.size, { c: [], sync: [], into: [] }]));
for (let r = 0; r < ROUNDS; r++) {
  for (const { size, iterations } of CASES) {
    const row = rows.get(size)!;
    row.c.push(await cHost(size, iterations));
    row.sync.push(perCall(iterations, LOOPS[size]!.sync));
    row.into.push(perCall(iterations, LOOPS[size]!.into));
  }
}

// A second plugin loaded and called through the same code: the call sites now see two plugins.
// Then ref_c's invokeSync again, against its figure from before (rows above).
const second = await loadPlugin(fixture("ref_rust"));
const secondInst = await second.createInstance();
for (let i = 0; i < 100_000; i++) {
  secondInst.invokeSync("echo", small);
  secondInst.invokeInto("echo", small, dst);
}
const afterSecond: number[] = [];
for (let r = 0; r < ROUNDS; r++) afterSecond.push(perCall(2_000_000, LOOPS[64]!.sync));

const ns = (x: number) => `${x.toFixed(0)} ns`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
console.log(`Sync path vs a C host, ref_c echo, median of ${ROUNDS} interleaved rounds\n`);
console.log("| size | C host | invokeSync | ratio | invokeInto | ratio |");
console.log("| ---- | ------ | ---------- | ----- | ---------- | ----- |");
for (const { size } of CASES) {
  const row = rows.get(size)!;
  const [c, sync, into] = [median(row.c), median(row.sync), median(row.into)];
  console.log(`| ${size} B | ${ns(c)} | ${ns(sync)} | ${ratio(sync, c)} | ${ns(into)} | ${ratio(into, c)} |`);
}
const before = median(rows.get(64)!.sync);
const after = median(afterSecond);
console.log(
  `\nA second plugin loaded and called: ref_c invokeSync 64 B ${ns(after)}, against ${ns(before)} with one plugin (${
    ratio(after, before)
  }).`,
);
await secondInst.destroy();
await second.close();
await inst.destroy();
await plugin.close();
