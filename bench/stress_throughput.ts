/**
 * Stress throughput against a minimal raw loop, in the same run: N loops of
 * nonblocking `npa_instance_invoke` on the C reference plugin's `echo` (64 B)
 * with `npa_buffer_free` after each, straight on `Deno.dlopen` symbols (what
 * any Deno host pays, and nothing more), against `runStress` with the same
 * concurrency, the same method and input; then `runStress` with resource
 * sampling off, to show what sampling costs, and with the plugin's heap not
 * counted (`heap: false`), to show what counting each of its allocations
 * costs. Rounds interleave the four so machine noise hits all of them; the
 * table shows medians and ratios.
 *
 * The raw loop is the one place outside `lib/ffi/` that binds a plugin
 * itself, on purpose: it is the baseline plugcheck's own path is judged by.
 *
 * Run: `deno task bench`, or `deno run -A bench/stress_throughput.ts [--rounds N] [--calls N] [--concurrency N]`.
 * Goals (issue 7): stress >= 0.8x the raw loop; sampling costs <= 2% of throughput.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadPlugin, runStress } from "../mod.ts";
import { ProcInfo } from "../lib/ffi/proc_info.ts";
import { fixture } from "../tests/_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "7" },
    calls: { type: "string", default: "200000" },
    concurrency: { type: "string", default: "4" },
  },
});
const ROUNDS = Number(values.rounds);
const CALLS = Number(values.calls);
const N = Number(values.concurrency);
const PATH = fixture("ref_c");
const INPUT = new Uint8Array(64).fill(0x61);

// The plugin initialized once through plugcheck; the raw loop opens the same library (same image, same globals).
const plugin = await loadPlugin(PATH, { log: "off" });
const raw = Deno.dlopen(PATH, {
  npa_instance_create: { parameters: ["buffer", "usize", "buffer", "buffer"], result: "i32" },
  npa_instance_destroy: { parameters: ["pointer"], result: "void" },
  npa_instance_invoke: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  npa_buffer_free: { parameters: ["pointer", "usize"], result: "void" },
});
const slot = new BigUint64Array(1);
if (raw.symbols.npa_instance_create(new Uint8Array(0), 0n, slot, new BigUint64Array(2)) !== 0) {
  throw new Error("raw create failed");
}
const instance = Deno.UnsafePointer.create(slot[0]!)!;
const METHOD = new TextEncoder().encode("echo");

/** Calls per second of N raw loops sharing CALLS calls. */
async function rawLoop(): Promise<number> {
  let left = CALLS;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: N }, async () => {
    const out = new BigUint64Array(2), err = new BigUint64Array(2); // one pair per loop: never shared by two calls
    const s = raw.symbols;
    while (left-- > 0) {
      const status = await s.npa_instance_invoke(instance, METHOD, 4n, INPUT, 64n, out, err);
      if (status !== 0) throw new Error(`raw invoke failed with status ${status}`);
      s.npa_buffer_free(Deno.UnsafePointer.create(out[0]!), out[1]!);
    }
  }));
  return CALLS / ((performance.now() - t0) / 1000);
}

/** Calls per second of the stress run's loops (the report's own figure). */
async function stress(sampleIntervalMs: number, heap = true): Promise<number> {
  const report = await runStress(PATH, {
    heap,
    methods: ["echo"],
    input: INPUT,
    iterations: CALLS,
    concurrency: N,
    floor: false,
    sampleIntervalMs,
    seed: 1,
    load: { log: "off" },
  });
  if (!report.ok) throw new Error(`stress failed: ${JSON.stringify(report.verdicts)}`);
  return report.run.per_second;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows = { raw: [] as number[], on: [] as number[], off: [] as number[], noHeap: [] as number[] };
await rawLoop(); // warm-up
await stress(100);
for (let r = 0; r < ROUNDS; r++) {
  rows.raw.push(await rawLoop());
  // Alternate which stress run goes first, so neither is always the one after the raw loop.
  if (r % 2 === 0) {
    rows.on.push(await stress(100));
    rows.off.push(await stress(0));
    rows.noHeap.push(await stress(100, false));
  } else {
    rows.noHeap.push(await stress(100, false));
    rows.off.push(await stress(0));
    rows.on.push(await stress(100));
  }
}

// What one sample costs the thread that takes it (it runs on the JS thread, between calls).
const proc = ProcInfo.get();
const SAMPLES = 2000;
const s0 = performance.now();
for (let i = 0; i < SAMPLES; i++) proc.sample(Deno.pid);
const sampleUs = ((performance.now() - s0) * 1000) / SAMPLES;
raw.symbols.npa_instance_destroy(instance);
await plugin.close();

const [rawMed, on, off, noHeap] = [median(rows.raw), median(rows.on), median(rows.off), median(rows.noHeap)];
const fmt = (x: number) => `${Math.round(x).toLocaleString("en-US")}/s`;
console.log(
  `Stress throughput, ref_c echo 64 B, ${N} loops, ${
    CALLS.toLocaleString("en-US")
  } calls, median of ${ROUNDS} interleaved rounds\n`,
);
console.log("| loop | calls/s | ratio |");
console.log("| ---- | ------- | ----- |");
console.log(`| raw nonblocking invoke + free | ${fmt(rawMed)} | 1.00x |`);
console.log(`| runStress, sampling every 100 ms | ${fmt(on)} | ${(on / rawMed).toFixed(2)}x |`);
console.log(`| runStress, sampling off | ${fmt(off)} | ${(off / rawMed).toFixed(2)}x |`);
console.log(
  `| runStress, sampling every 100 ms, heap not counted | ${fmt(noHeap)} | ${(noHeap / rawMed).toFixed(2)}x |`,
);
console.log(
  `\nSampling: one sample costs ${sampleUs.toFixed(1)} us of the JS thread, 10 a second: ${
    (sampleUs * 10 / 1e4).toFixed(3)
  }% of its time (goal <= 2% of throughput); the throughput measured with it on and off differs by ${
    (((off - on) / off) * 100).toFixed(1)
  }% (run-to-run noise is larger). Counting the plugin's heap (a malloc and a free for each call's output here)
costs ${(((noHeap - on) / noHeap) * 100).toFixed(1)}% of throughput.`,
);
