/**
 * The floor for bench/invoke_big.ts: a Deno script that reads a file into
 * memory and writes it to stdout, nothing else. It reads the way plugcheck
 * reads `--input-file` (one buffer sized from the file, no copies) and writes
 * with `writeSync`, so it is the least a Deno program can do for the same
 * bytes in and out. With `--read-file` it reads with `Deno.readFile` instead,
 * as a script written without care for copies would (slower: for scale).
 *
 * Run: `deno run --allow-read bench/_cat_child.ts [--read-file] <file>`.
 *
 * @module
 */
async function readOnce(path: string): Promise<Uint8Array> {
  const f = await Deno.open(path);
  const buf = new Uint8Array((await f.stat()).size);
  let total = 0;
  while (total < buf.length) {
    const n = await f.read(buf.subarray(total));
    if (n === null) break;
    total += n;
  }
  f.close();
  return buf.subarray(0, total);
}

const readFile = Deno.args[0] === "--read-file";
const path = Deno.args.at(-1)!;
let rest = readFile ? await Deno.readFile(path) : await readOnce(path);
while (rest.length > 0) rest = rest.subarray(Deno.stdout.writeSync(rest));
