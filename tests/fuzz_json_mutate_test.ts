/**
 * The fuzzer's JSON mutations: the tree parser agrees with JSON.parse on
 * what is JSON and keeps what it would lose; every mutation comes out as
 * valid JSON within maxLen, usually a different value, replayed for a seed,
 * and every kind of edit is reached.
 */
import assert from "node:assert/strict";
import { Prng } from "../lib/util/prng.ts";
import { JSON_MUTATIONS, mutateJson } from "../lib/fuzz/mutate/json_mutate.ts";
import { parseJsonTree, serializeJson } from "../lib/fuzz/mutate/json_tree.ts";

const encode = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder("utf-8", { fatal: true }).decode(b);

const DOCUMENTS = [
  '{"name":"plugcheck","sizes":[1,2,3.5],"ok":true,"tag":null}',
  "[1, -2, 3e5, 0.25, -0, 12345678901234567890]",
  '{"a":{"b":{"c":[{"d":[[]]},{}]}},"e":[["x"],["y",{"z":false}]]}',
  '"quotes \\" backslash \\\\ newline \\n tab \\t unicode \\u00e9 \\ud83d\\ude00 nul \\u0000"',
  '{"k":"\u00e9\u20ac","k":2, "empty":{}, "list":[]}',
  "42",
  "null",
  "[]",
];

Deno.test("parseJsonTree() accepts exactly what JSON.parse accepts", () => {
  const cases = [
    ...DOCUMENTS,
    " \t\n\r1 ",
    "-0.0e-0",
    '"\\/\\b\\f\\r"',
    '{"a":1,}',
    "[1,]",
    "01",
    "1.",
    ".5",
    "+1",
    "-",
    "1e",
    "NaN",
    "Infinity",
    "'a'",
    '"a',
    '"\\x41"',
    '"\\u12G4"',
    '"raw\ttab"',
    "[1 2]",
    '{"a" 1}',
    "{1:2}",
    "tru",
    "nulll",
    "",
    " ",
    "\ufeff1",
    "\u00a01",
    "[" + "[".repeat(100) + "]".repeat(100) + "]",
  ];
  for (const text of cases) {
    let valid = true;
    try {
      JSON.parse(text);
    } catch {
      valid = false;
    }
    assert.equal(parseJsonTree(text) !== undefined, valid, JSON.stringify(text));
  }
  assert.equal(parseJsonTree("[".repeat(600) + "]".repeat(600)), undefined, "deeper than the limit");
});

Deno.test("serializeJson() keeps number texts and duplicate keys, and every layout parses", () => {
  const tree = parseJsonTree('{"a": -0, "a": [9007199254740993, 1e400], "s": "\u00e9\\ud800\\n"}')!;
  assert.equal(serializeJson(tree), '{"a":-0,"a":[9007199254740993,1e400],"s":"\u00e9\\ud800\\n"}');
  assert.equal(
    serializeJson(tree, { asciiOnly: true }),
    '{"a":-0,"a":[9007199254740993,1e400],"s":"\\u00e9\\ud800\\n"}',
  );
  const layouts = [{ indent: "  " }, { indent: "\t", newline: "\r\n" }, { colon: " : ", comma: " , ", pad: " \n" }];
  for (const text of DOCUMENTS) {
    const expected = JSON.parse(text);
    for (const layout of layouts) assert.deepEqual(JSON.parse(serializeJson(parseJsonTree(text)!, layout)), expected);
  }
});

Deno.test("mutateJson() always returns valid JSON within maxLen (thousands of runs, several seeds)", () => {
  for (const seed of [1, 2, 3, 4]) {
    const prng = new Prng(seed);
    for (const doc of DOCUMENTS) {
      const maxLen = seed === 4 ? doc.length + 16 : 2048;
      let input = encode(doc);
      for (let run = 0; run < 250; run++) {
        const out = mutateJson(prng, input, maxLen, [encode("DICTWORD"), new Uint8Array([0xff, 0x22])]);
        if (out === undefined) continue;
        assert.ok(out.length <= maxLen, `${out.length} > ${maxLen}`);
        const text = decode(out);
        assert.doesNotThrow(() => JSON.parse(text), text);
        if (run % 3 !== 0) input = out; // mutate the mutants too: generations of edits
      }
    }
  }
});

Deno.test("mutateJson() changes the value most of the time", () => {
  const prng = new Prng(21);
  let runs = 0, changed = 0;
  for (const doc of DOCUMENTS) {
    const canonical = JSON.stringify(JSON.parse(doc));
    for (let i = 0; i < 300; i++) {
      const out = mutateJson(prng, encode(doc), 4096);
      assert.ok(out !== undefined);
      runs++;
      if (JSON.stringify(JSON.parse(decode(out))) !== canonical) changed++;
    }
  }
  assert.ok(changed / runs > 0.9, `${changed} of ${runs} changed`);
});

Deno.test("mutateJson() returns undefined for input that is not UTF-8 JSON, or when nothing fits maxLen", () => {
  const prng = new Prng(5);
  const bad = ["", "{", "[1,]", "01", "'a'", "NaN", '"\u0001"', "1 2", "\ufeff1", "{a:1}"].map(encode);
  bad.push(new Uint8Array([0x22, 0xff, 0x22]), new Uint8Array([0x22, 0xc3, 0x22]));
  for (const input of bad) assert.equal(mutateJson(prng, input, 4096), undefined, String(input));
  assert.equal(mutateJson(prng, encode('{"a":[1,2,3]}'), 0), undefined);
});

Deno.test("mutateJson() replays the same outputs for the same seed", () => {
  const run = (seed: number) => {
    const prng = new Prng(seed);
    return Array.from({ length: 300 }, (_, i) => {
      const out = mutateJson(prng, encode(DOCUMENTS[i % DOCUMENTS.length]!), 1024, [encode("w")]);
      return out === undefined ? "-" : decode(out);
    });
  };
  assert.deepEqual(run(8), run(8));
  assert.notDeepEqual(run(8), run(9));
});

Deno.test("mutateJson() gives the same outputs as when they were recorded", () => {
  const prng = new Prng(77);
  const outputs = Array.from({ length: 3 }, () => decode(mutateJson(prng, encode('{"a":[1,"x",true,null]}'), 256)!));
  assert.deepEqual(outputs, [
    '{"":2.2250738585072014e-308,"a":[1,"",true,null]}',
    '{"a":"x"}',
    '{"a":[1,"x","x",true,null]}',
  ]);
});

Deno.test("mutateJson() reaches every kind of edit, type changes, added keys and nesting included", () => {
  const prng = new Prng(33);
  const counts = new Map<string, number>();
  const outputs = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const trace: string[] = [];
    const out = mutateJson(prng, encode(DOCUMENTS[i % DOCUMENTS.length]!), 4096, [encode("DICTWORD")], trace);
    assert.ok(out !== undefined && trace.length >= 1 && trace.length <= 4, trace.join());
    for (const name of trace) counts.set(name, (counts.get(name) ?? 0) + 1);
    outputs.add(decode(out));
  }
  for (const name of JSON_MUTATIONS) assert.ok((counts.get(name) ?? 0) >= 10, `${name}: ${counts.get(name)}`);
  assert.deepEqual([...counts.keys()].filter((k) => !JSON_MUTATIONS.includes(k)), []);
  const all = [...outputs].join("\n");
  for (const piece of ["DICTWORD", "9007199254740993", '\\"', "\\u0000", "\n  ", "\\u00e9", "[[", "-0"]) {
    assert.ok(all.includes(piece), `some output holds ${JSON.stringify(piece)}`);
  }
  const single = Array.from({ length: 300 }, () => decode(mutateJson(prng, encode('{"only":1}'), 4096)!));
  assert.ok(single.some((o) => o.split('"only"').length > 2), "some output repeats a key");
});
