/**
 * A big echo through the sandbox against the same echo in process (C
 * reference plugin, 64 MiB by default): the frame path must stay linear in
 * the frame's size. Rounds interleave the two so machine noise hits both;
 * the result is the median of each and their ratio.
 *
 * Run: `deno task bench`, or `deno run -A bench/sandbox_echo.ts [--mib N] [--rounds N]`.
 * Goal (issue 6, B6): 64 MiB under `--isolate` within 3x the in-process time.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadPlugin } from "../mod.ts";
import { fixture } from "../tests/_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { mib: { type: "string", default: "64" }, rounds: { type: "string", default: "7" } },
});
const size = Number(values.mib) * 1024 * 1024;
const rounds = Number(values.rounds);
const maxOutputBytes = 2 * size;

const input = new Uint8Array(size).fill(5);
const local = await loadPlugin(fixture("ref_c"), { maxOutputBytes });
const localInst = await local.createInstance();
const boxed = await loadPlugin(fixture("ref_c"), { isolate: true, maxOutputBytes, idleTimeoutMs: Infinity });
const boxedInst = await boxed.createInstance();

const inProcess: number[] = [];
const sandboxed: number[] = [];
for (let r = 0; r < rounds; r++) {
  let t0 = performance.now();
  const a = await localInst.invoke("echo", input, { timeoutMs: 60_000 });
  inProcess.push(performance.now() - t0);
  t0 = performance.now();
  const b = await boxedInst.invoke("echo", input, { timeoutMs: 60_000 });
  sandboxed.push(performance.now() - t0);
  if (a.length !== size || b.length !== size || b[size - 1] !== 5) throw new Error("wrong echo");
}
await boxedInst.destroy();
await boxed.close();
await localInst.destroy();
await local.close();

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
const [l, s] = [median(inProcess), median(sandboxed)];
console.log(`Echo of ${values.mib} MiB, ref_c, median of ${rounds} interleaved rounds\n`);
console.log("| path | time | ratio |");
console.log("| ---- | ---- | ----- |");
console.log(`| in process (\`invoke\`) | ${l.toFixed(0)} ms | 1x |`);
console.log(`| sandbox (\`--isolate\`) | ${s.toFixed(0)} ms | ${(s / l).toFixed(2)}x |`);
