/**
 * Cost of the fuzzer's mutations: one `Mutator.mutate()` call (a stack of 1
 * to 5 byte mutations, with a crossover partner and a dictionary) on 16 B,
 * 64 B and 1 KiB inputs with a 4 KiB cap, against the copy of the input
 * back into the buffer that every iteration also does (the baseline: the
 * mutation's own cost is the difference); and one `mutateJson()` call on a
 * small and a larger JSON document. Run: `deno bench bench/fuzz_mutate_bench.ts`.
 *
 * @module
 */
import { Prng } from "../lib/util/prng.ts";
import { Mutator } from "../lib/fuzz/mutate/byte_mutations.ts";
import { mutateJson } from "../lib/fuzz/mutate/json_mutate.ts";

const CAP = 4096;
const encoder = new TextEncoder();
const dictionary = ["GET", "POST", "null", "true", "Content-Length", "\xff\xfe"].map((w) => encoder.encode(w));

function sample(size: number, seed: number): Uint8Array {
  const p = new Prng(seed);
  const text = "the quick brown fox 1234 jumps over 56 lazy dogs; ";
  return Uint8Array.from(
    { length: size },
    (_, i) => p.below(4) === 0 ? p.below(256) : text.charCodeAt(i % text.length),
  );
}

for (const size of [16, 64, 1024]) {
  const input = sample(size, size);
  const partner = sample(size, size + 1);
  const buf = new Uint8Array(CAP);
  const mutator = new Mutator(new Prng(1), { dictionary });
  const group = size < 1024 ? `${size} B` : "1 KiB";
  Deno.bench(`copy the input back (${group})`, { group, baseline: true }, () => {
    buf.set(input);
  });
  Deno.bench(`mutate() ${group}`, { group }, () => {
    buf.set(input);
    mutator.mutate(buf, 0, size, CAP, partner);
  });
}

const smallJson = encoder.encode('{"name":"plugcheck","sizes":[1,2,3.5],"ok":true,"tag":null}');
const largeJson = encoder.encode(JSON.stringify({
  users: Array.from({ length: 20 }, (_, i) => ({ id: i, name: `user ${i}`, roles: ["a", "b"], score: i * 1.5 })),
  meta: { page: 1, total: 20, next: null, query: 'name:"x" \\ \u00e9' },
}));
const jsonPrng = new Prng(2);
Deno.bench(`mutateJson() ${smallJson.length} B`, { group: "json" }, () => {
  mutateJson(jsonPrng, smallJson, CAP, dictionary);
});
Deno.bench(`mutateJson() ${largeJson.length} B`, { group: "json" }, () => {
  mutateJson(jsonPrng, largeJson, CAP * 4, dictionary);
});
