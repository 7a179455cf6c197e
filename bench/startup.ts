/**
 * What plugcheck's start costs, as whole processes (spawn to exit, stdout and
 * stderr dropped), from the prebuilt `build/js/` and from the sources
 * (`PLUGCHECK_PREBUILT=0`), beside a bare Deno script (`bench/_cat_child.ts`
 * on a 1-byte file): `--version` (the command line alone), `invoke --help`
 * (a command's modules), `invoke` of a 1-byte echo in process and with
 * `--isolate` (a sandbox child), and a `fuzz --runs 1` (the fuzz child).
 * Rounds interleave the commands; each figure is a median.
 *
 * With `--cli PATH` (the `cli.ts` of another checkout, built), each command
 * also runs from there, in the same rounds: the figures before a change.
 *
 * Run: `deno run -A bench/startup.ts [--rounds N] [--cli PATH]` (after `deno task build`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { CLI_ARGS, fixture, fuzzFixture, ROOT } from "../tests/_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "11" }, cli: { type: "string" } },
});
const rounds = Number(values.rounds);
const dir = await Deno.makeTempDir({ prefix: "plugcheck-bench-startup-" });
const one = join(dir, "one.bin");
await Deno.writeFile(one, new Uint8Array([0x78]));
const deno = Deno.execPath();

const state = await new Deno.Command(deno, { args: [...CLI_ARGS, "--version", "--verbose"], stdout: "null" }).output();
const running = new TextDecoder().decode(state.stderr).trim();
if (!running.startsWith("running the prebuilt")) {
  console.error(`the bundle is not fresh (${running}): run deno task build first`);
  Deno.exit(2);
}

const plugcheck: { name: string; args: string[] }[] = [
  { name: "`--version`", args: ["--version"] },
  { name: "`invoke --help`", args: ["invoke", "--help"] },
  { name: "`invoke` 1-byte echo", args: ["invoke", fixture("ref_c"), "echo", "--input-file", one] },
  {
    name: "`invoke --isolate` 1-byte echo",
    args: ["invoke", fixture("ref_c"), "echo", "--input-file", one, "--isolate"],
  },
  {
    name: "`fuzz --runs 1`",
    args: ["fuzz", fuzzFixture("magic_prefix"), "--runs", "1", "--seed", "1", "--artifacts", join(dir, "fuzz")],
  },
];
const rows: { name: string; argv: string[]; env?: Record<string, string> }[] = [
  {
    name: "bare Deno script (`bench/_cat_child.ts`, 1 byte)",
    argv: [deno, "run", "--cached-only", "--allow-read", join(ROOT, "bench", "_cat_child.ts"), one],
  },
  ...plugcheck.flatMap((c) => [
    { name: `${c.name}, prebuilt`, argv: [deno, ...CLI_ARGS, ...c.args] },
    { name: `${c.name}, sources`, argv: [deno, ...CLI_ARGS, ...c.args], env: { PLUGCHECK_PREBUILT: "0" } },
    ...values.cli === undefined ? [] : [{
      name: `${c.name}, \`--cli\``,
      argv: [deno, ...CLI_ARGS.slice(0, -1), values.cli, ...c.args],
    }],
  ]),
];

async function timed(argv: string[], env: Record<string, string> = {}): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  const ms = performance.now() - t0;
  // fuzz of the planted-crash fixture may find it (exit 1); anything else is a broken run.
  if (out.code !== 0 && out.code !== 1) throw new Error(`${argv.join(" ")} exited ${out.code}`);
  return ms;
}

const times = rows.map(() => [] as number[]);
for (let r = 0; r < rounds; r++) {
  for (const [i, row] of rows.entries()) times[i]!.push(await timed(row.argv, row.env));
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
console.log(`plugcheck's start, whole processes, median of ${rounds} interleaved rounds\n`);
console.log(`| command | ms | prebuilt / sources |${values.cli === undefined ? "" : " prebuilt / `--cli` |"}`);
console.log(`| ------- | -- | ------------------ |${values.cli === undefined ? "" : " ------------------ |"}`);
for (const [i, row] of rows.entries()) {
  const m = median(times[i]!);
  const ratio = (k: number) => row.name.endsWith(", prebuilt") ? `${(m / median(times[i + k]!)).toFixed(2)}x` : "";
  console.log(`| ${row.name} | ${m.toFixed(0)} | ${ratio(1)} |${values.cli === undefined ? "" : ` ${ratio(2)} |`}`);
}
await Deno.remove(dir, { recursive: true });
