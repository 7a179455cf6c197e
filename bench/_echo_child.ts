/**
 * The floor for bench/sandbox_bench.ts: a Deno child that echoes stdin to
 * stdout, with the same stream APIs the sandbox child uses and no protocol.
 *
 * @module
 */
for await (const chunk of Deno.stdin.readable) {
  let d = chunk;
  while (d.length > 0) d = d.subarray(Deno.stdout.writeSync(d));
}
