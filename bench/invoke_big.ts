/**
 * `plugcheck invoke <ref_c> echo --input-file BIG` (64 MiB of bytes that are
 * not UTF-8, in process, text mode) against a floor: a Deno script that reads
 * the same file into one buffer and writes it to stdout
 * (`bench/_cat_child.ts`); for scale, `cat`, and the same script reading
 * with `Deno.readFile`. Every run is a whole process, timed from spawn to
 * exit, with its stdout sent to the same sink by the same
 * `sh -c 'exec ... > SINK'`: first `/dev/null`, then a file. Each command
 * also runs on a 1-byte file: its fixed cost (start, and for plugcheck
 * loading the plugin), so the bytes' own cost can be told from it. Rounds
 * interleave the commands so machine noise hits all of them; each figure is
 * a median, each ratio a median over the floor's. Before timing, one run of
 * each is checked to write the input back byte for byte.
 *
 * plugcheck runs as `deno task plugcheck` does: `cli.ts`, from the prebuilt
 * `build/js/` when it is fresh (run `deno task build` first), and again from
 * the sources (`PLUGCHECK_PREBUILT=0`).
 *
 * Run: `deno task bench`, or `deno run -A bench/invoke_big.ts [--mib N] [--rounds N] [--cli PATH]`
 * (`--cli`: the `cli.ts` of another checkout, to compare it with the same floor).
 * Goal: plugcheck within 2x of the floor (figures in README.md, "Cost of a call").
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fixture, ROOT } from "../tests/_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "64" },
    rounds: { type: "string", default: "5" },
    cli: { type: "string", default: join(ROOT, "cli.ts") },
  },
});
const mib = Number(values.mib);
const rounds = Number(values.rounds);
const size = mib * 1024 * 1024;

const dir = await Deno.makeTempDir({ prefix: "plugcheck-invoke-big-" });
const big = join(dir, "big.bin");
const tiny = join(dir, "tiny.bin");
const outFile = join(dir, "out.bin");
{
  // Random bytes: not UTF-8, so the JSON document would carry them as base64.
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  await Deno.writeFile(big, bytes);
  await Deno.writeFile(tiny, bytes.subarray(0, 1));
}

// The native floor that includes the plugin's own work (bench/c_invoke_file.c), built here.
const cHost = join(dir, "c_invoke_file");
{
  const gcc = await new Deno.Command("gcc", {
    args: ["-O2", "-I", join(ROOT, "include"), "-o", cHost, join(ROOT, "bench", "c_invoke_file.c"), "-ldl"],
  }).output();
  if (!gcc.success) throw new Error(`gcc failed: ${new TextDecoder().decode(gcc.stderr)}`);
}

const deno = Deno.execPath();
// As `deno task plugcheck` runs it.
const PLUGCHECK = [
  deno,
  "run",
  "--cached-only",
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  values.cli,
];
const commands: { name: string; argv: (input: string) => string[] }[] = [
  { name: "`cat`", argv: (input) => ["cat", input] },
  {
    name: "floor: a Deno script reads the file, writes it (`bench/_cat_child.ts`)",
    argv: (input) => [deno, "run", "--cached-only", "--allow-read", join(ROOT, "bench", "_cat_child.ts"), input],
  },
  {
    name: "a Deno script with `Deno.readFile` (`_cat_child.ts --read-file`)",
    argv: (input) => [
      deno,
      "run",
      "--cached-only",
      "--allow-read",
      join(ROOT, "bench", "_cat_child.ts"),
      "--read-file",
      input,
    ],
  },
  {
    name: "a C host: read, invoke `echo` once, write (`bench/c_invoke_file.c`)",
    argv: (input) => [cHost, fixture("ref_c"), "echo", input],
  },
  ...[true, false].map((prebuilt) => ({
    name: `\`plugcheck invoke <ref_c> echo --input-file\`${
      prebuilt ? "" : " from the sources (`PLUGCHECK_PREBUILT=0`)"
    }`,
    argv: (input: string) => [
      ...prebuilt ? [] : ["env", "PLUGCHECK_PREBUILT=0"],
      ...PLUGCHECK,
      "invoke",
      fixture("ref_c"),
      "echo",
      "--input-file",
      input,
      "--max-input-bytes",
      String(Math.max(size, 1)),
    ],
  })),
];

/** Runs `argv` with stdout sent to `sink`; the wall time from spawn to exit, in ms. */
async function timed(argv: string[], sink: string): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command("sh", {
    args: ["-c", 'sink="$1"; shift; exec "$@" > "$sink"', "sh", sink, ...argv],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    cwd: ROOT,
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) throw new Error(`${argv.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  return ms;
}

const expected = await Deno.readFile(big);
for (const c of commands) {
  await timed(c.argv(big), outFile);
  const got = await Deno.readFile(outFile);
  if (!Buffer.from(got).equals(Buffer.from(expected))) {
    throw new Error(`${c.name} did not write the input back byte for byte`);
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
const ms = (x: number) => `${x.toFixed(0)} ms`;
console.log(`Echo of ${mib} MiB (not UTF-8) and of 1 byte, whole processes, median of ${rounds} interleaved rounds\n`);
console.log(`| stdout to | command | ${mib} MiB | ratio | 1 byte | ${mib} MiB minus 1 byte | ratio |`);
console.log("| --------- | ------- | ------ | ----- | ------ | ---------------- | ----- |");
for (const sink of ["/dev/null", "a file"]) {
  const path = sink === "a file" ? outFile : sink;
  const times = commands.map(() => ({ big: [] as number[], tiny: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of commands.entries()) {
      times[i]!.big.push(await timed(c.argv(big), path));
      times[i]!.tiny.push(await timed(c.argv(tiny), path));
    }
  }
  const floorBig = median(times[1]!.big);
  const floorData = floorBig - median(times[1]!.tiny);
  for (const [i, c] of commands.entries()) {
    const [b, t] = [median(times[i]!.big), median(times[i]!.tiny)];
    console.log(
      `| ${sink} | ${c.name} | ${ms(b)} | ${(b / floorBig).toFixed(2)}x | ${ms(t)} | ${ms(b - t)} | ${
        ((b - t) / floorData).toFixed(2)
      }x |`,
    );
  }
}
console.log(
  "\nratio: to the floor's time; the last two columns: what the bytes cost, the process's fixed cost taken off.",
);
await Deno.remove(dir, { recursive: true });
