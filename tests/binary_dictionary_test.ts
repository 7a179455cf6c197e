/**
 * The fuzzer's dictionary from the plugin's binary: the x86-64 compare
 * decoder against `objdump -d` (binutils, which gcc brings), the ELF
 * sections it reads, the words it makes (strings, constants in both byte
 * orders, guards of neighbouring bytes), and the fuzz report that shows
 * them.
 */
import assert from "node:assert/strict";
import { elfSections, functionStarts, sectionBytes } from "../lib/load/elf_sections.ts";
import { decodeInstruction, immediateCompares } from "../lib/load/x86_compares.ts";
import {
  binaryDictionary,
  dictionaryOf,
  guardedWords,
  MAX_STRING,
  printableStrings,
} from "../lib/fuzz/parent/binary_dictionary.ts";
import { runChecks, runFuzz } from "../mod.ts";
import { parseCheckConfig } from "../lib/check/config.ts";
import { fault, fixture, runCli } from "./_helpers.ts";

const enc = new TextEncoder();
const key = (w: Uint8Array) => w.join();
const has = (words: readonly Uint8Array[], w: Uint8Array | string) =>
  words.some((x) => key(x) === key(typeof w === "string" ? enc.encode(w) : w));

/** `address op value` of every cmp/test/movabs with an immediate that `objdump -d` shows in `path`. */
function objdumpCompares(path: string): Set<string> {
  const out = new Deno.Command("objdump", { args: ["-d", "-w", path], stdout: "piped", stderr: "null" }).outputSync();
  assert.ok(out.success, `objdump -d ${path}`);
  const found = new Set<string>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^\s*([0-9a-f]+):\t[0-9a-f ]+\t(?:\S+ )*?(cmp|test|movabs)[bwlq]?\s+\$0x([0-9a-f]+),/.exec(line);
    if (m) found.add(`${m[1]} ${m[2]} ${m[3]}`);
  }
  return found;
}

/** The same, as plugcheck's decoder finds them. */
function ourCompares(path: string): Set<string> {
  const bytes = Deno.readFileSync(path);
  const sections = elfSections(bytes);
  const starts = functionStarts(bytes, sections);
  const found = new Set<string>();
  for (const s of sections.filter((s) => s.executable)) {
    for (const c of immediateCompares(sectionBytes(bytes, s), s.address, starts)) {
      found.add(`${c.address.toString(16)} ${c.op} ${c.value.toString(16)}`);
    }
  }
  return found;
}

// Fixtures (gcc -O2 C, rustc release), a C++ LADSPA library with SSE code, and glibc (AVX2 and AVX-512 code).
const LIBS = [
  fixture("ref_c"),
  fixture("ref_rust"),
  fault("crash_on_prefix"),
  fault("exit_on_magic"),
  fault("hang_on_length"),
  "/usr/lib/ladspa/caps.so",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
];

for (const lib of LIBS) {
  Deno.test(`immediateCompares() finds exactly the compares objdump -d shows in ${lib.split("/").pop()}`, () => {
    const theirs = objdumpCompares(lib);
    const ours = ourCompares(lib);
    assert.ok(theirs.size > 0);
    assert.deepEqual([...ours].filter((c) => !theirs.has(c)), [], "found by plugcheck, not by objdump");
    assert.deepEqual([...theirs].filter((c) => !ours.has(c)), [], "shown by objdump, missed by plugcheck");
  });
}

Deno.test("decodeInstruction() measures prefixes, REX, VEX, EVEX, the 0F38/0F3A maps, SIB and RIP-relative operands", () => {
  const cases: [number[], number][] = [
    [[0xc3], 1], // ret
    [[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00], 6], // nopw 0x0(%rax,%rax,1)
    [[0x48, 0x8b, 0x05, 1, 2, 3, 4], 7], // mov 0x4030201(%rip),%rax
    [[0x48, 0xc7, 0x44, 0x24, 0x08, 1, 0, 0, 0], 9], // movq $0x1,0x8(%rsp)
    [[0xc5, 0xf9, 0x6f, 0x07], 4], // vmovdqa (%rdi),%xmm0
    [[0xc4, 0xe3, 0x79, 0x0f, 0xc1, 0x08], 6], // vpalignr $0x8,%xmm1,%xmm0,%xmm0 (0F3A map: imm8)
    [[0x62, 0xf1, 0x7e, 0x48, 0x6f, 0x07], 6], // vmovdqu32 (%rdi),%zmm0
    [[0x66, 0x0f, 0x38, 0x00, 0xc1], 5], // pshufb %xmm1,%xmm0
    [[0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8], 10], // movabs $0x807060504030201,%rax
    [[0x0f, 0x84, 0, 0, 0, 0], 6], // je rel32
    [[0x06], 1], // not an instruction in 64-bit mode: skipped alone
  ];
  for (const [bytes, length] of cases) {
    assert.equal(
      decodeInstruction(Uint8Array.from(bytes), 0).length,
      length,
      bytes.map((b) => b.toString(16)).join(" "),
    );
  }
  // An instruction cut off by the end of the code is no instruction.
  assert.equal(decodeInstruction(Uint8Array.from([0x48, 0xb8, 1, 2]), 0).length, 1);
});

Deno.test("decodeInstruction() gives each compare its operand size, sign-extended value and memory operand", () => {
  const compare = (bytes: number[]) => decodeInstruction(Uint8Array.from(bytes), 0).compare;
  assert.deepEqual(compare([0x48, 0x83, 0xfe, 0xff]), { op: "cmp", size: 8, value: 0xffffffffffffffffn }); // cmp $-1,%rsi
  assert.deepEqual(compare([0x80, 0x7e, 0x01, 0x7e]), {
    op: "cmp",
    size: 1,
    value: 0x7en,
    memory: { base: 6, disp: 1 },
  });
  assert.deepEqual(compare([0x41, 0x81, 0x3c, 0x24, 0x52, 0x49, 0x46, 0x46]), {
    op: "cmp",
    size: 4,
    value: 0x46464952n, // "RIFF" at (%r12)
    memory: { base: 12, disp: 0 },
  });
  assert.deepEqual(compare([0xf6, 0xc2, 0x80]), { op: "test", size: 1, value: 0x80n }); // test $0x80,%dl
  // cmpb $0x7b,(%rdi,%rdx,1): a compare, but at an indexed place, so no memory operand to join with others.
  assert.deepEqual(compare([0x80, 0x3c, 0x17, 0x7b]), { op: "cmp", size: 1, value: 0x7bn });
  assert.equal(compare([0x48, 0x89, 0xc7]), undefined); // mov %rax,%rdi
});

Deno.test("printableStrings() takes NUL-terminated printable runs of 3 bytes or more, cut at 64", () => {
  const data = enc.encode("ab\0halt-now!\0\x01\x02xyz\0" + "q".repeat(100) + "\0");
  const words = printableStrings(data).map((w) => new TextDecoder().decode(w));
  assert.deepEqual(words, ["halt-now!", "xyz", "q".repeat(MAX_STRING)]);
});

Deno.test("guardedWords() joins compares of one register's neighbouring bytes into the word they guard", () => {
  const at = (address: number, value: bigint, size: 1 | 2 | 4, base: number, disp: number) => ({
    address,
    op: "cmp" as const,
    size,
    value,
    memory: { base, disp },
  });
  const words = guardedWords([
    at(0x1000, 0xc3n, 1, 6, 0),
    at(0x1040, 0x7en, 1, 6, 1), // with the first: "\xc3\x7e"
    at(0x1100, 0x6f636564n, 4, 12, 0), // "deco"
    at(0x1200, 0x6f686365n, 4, 12, 0), // "echo": the same place, other bytes: a run of its own
    at(0x1240, 0x6564n, 2, 12, 4), // "de" after either
    at(0x9000, 0x41n, 1, 6, 2), // too far from the first run: no word with it
  ], [0x1000]);
  assert.ok(has(words, Uint8Array.from([0xc3, 0x7e])));
  assert.ok(has(words, "decode"));
  assert.ok(!words.some((w) => w.length === 3 && w[2] === 0x41));
});

Deno.test("binaryDictionary() of an uninstrumented gcc -O2 plugin has its .rodata strings and its two-byte guard", () => {
  const magic = binaryDictionary(fault("exit_on_magic"));
  assert.ok(has(magic.words, "halt-now!"), "the command string in .rodata");
  assert.ok(magic.strings > 0);
  const prefix = binaryDictionary(fault("crash_on_prefix"));
  assert.ok(has(prefix.words, "ZQ"), "the two cmpb of the guard as one word");
  assert.ok(has(prefix.words, "Z") && has(prefix.words, "Q"));
  // Constants come in both byte orders: "deco" is compared as the 32-bit 0x6f636564.
  assert.ok(has(prefix.words, "deco") && has(prefix.words, "oced"));
  for (const d of [magic, prefix]) assert.equal(d.skipped, undefined);
});

Deno.test("binaryDictionary() takes the constants registers are compared with as lengths: the guard's 37, and 38", () => {
  const d = binaryDictionary(fault("hang_on_length"));
  assert.ok(d.lengths.includes(37) && d.lengths.includes(38), `${d.lengths}`);
  assert.ok(has(d.words, Uint8Array.of(0xa7)), "the first byte's guard, a word");
  assert.ok(d.lengths.every((n) => n >= 2 && n <= 4097));
  assert.deepEqual(dictionaryOf(enc.encode("not an ELF file")).lengths, []);
});

Deno.test("binaryDictionary() of a file that is not an ELF library, or is missing, has no words and says why", () => {
  const text = dictionaryOf(enc.encode("not an ELF file at all, just text"));
  assert.deepEqual(text.words, []);
  assert.match(text.skipped ?? "", /not an ELF file/);
  const missing = binaryDictionary("/nonexistent/libnothing.so");
  assert.deepEqual(missing.words, []);
  assert.ok(missing.skipped !== undefined);
});

Deno.test("runFuzz() adds the binary's words to the dictionary and reports them; binaryDictionary: false leaves them out", async () => {
  const artifactsDir = Deno.makeTempDirSync();
  try {
    const base = { runs: 200, seed: 1, artifactsDir, dictionary: [enc.encode("mine")] } as const;
    const on = await runFuzz(fault("crash_on_prefix"), { ...base, methods: ["echo"] });
    const expected = binaryDictionary(fault("crash_on_prefix")).words.filter((w) => key(w) !== key(enc.encode("mine")));
    assert.deepEqual(on.dictionary, { words: expected.length + 1, from_binary: expected.length });
    const off = await runFuzz(fault("crash_on_prefix"), { ...base, methods: ["echo"], binaryDictionary: false });
    assert.deepEqual(off.dictionary, { words: 1, from_binary: 0 });
  } finally {
    Deno.removeSync(artifactsDir, { recursive: true });
  }
});

Deno.test("plugcheck fuzz says how many dictionary entries came from the binary, and --no-binary-dict turns them off", async () => {
  const artifacts = Deno.makeTempDirSync();
  try {
    const args = ["fuzz", fault("crash_on_prefix"), "--method", "echo", "--runs", "100", "--seed", "1"];
    const on = await runCli([...args, "--artifacts", artifacts]);
    assert.equal(on.code, 0, on.stderr);
    const n = binaryDictionary(fault("crash_on_prefix")).words.length;
    assert.match(on.stdout, new RegExp(`^dictionary ${n} entries from the binary$`, "m"));
    const off = await runCli([...args, "--artifacts", artifacts, "--no-binary-dict"]);
    assert.match(off.stdout, /^dictionary 0 entries from the binary$/m);
  } finally {
    Deno.removeSync(artifacts, { recursive: true });
  }
});

/** The uninstrumented gcc -O2 fixtures whose bug sits behind a guard on the input's first bytes, and their method. */
const GUARDED = [
  ["crash_on_prefix", "decode", "crash"],
  ["exit_on_magic", "command", "exit"],
  ["hang_on_length", "frame", "timeout"],
] as const;

for (const [name, method, kind] of GUARDED) {
  Deno.test(`runFuzz() finds the ${kind} behind ${name}'s guard with the binary's words, and not in 4x the runs by mutation alone`, async () => {
    const artifactsDir = Deno.makeTempDirSync();
    try {
      const o = { methods: [method], seed: 1, artifactsDir, maxFindings: 1, timeoutMs: 500 };
      const found = await runFuzz(fault(name), { ...o, runs: 5_000, coverage: false });
      assert.deepEqual(found.findings.map((f) => f.kind), [kind]);
      // Mutation alone: neither the binary's words nor the operands of the calls the plugin makes (fuzz_interpose_test).
      const blind = await runFuzz(fault(name), { ...o, runs: 20_000, binaryDictionary: false, coverage: false });
      assert.deepEqual(blind.findings, [], "mutation alone does not meet the guard");
    } finally {
      Deno.removeSync(artifactsDir, { recursive: true });
    }
  });
}

Deno.test("runChecks(): fuzz.smoke fails on each guarded gcc -O2 fixture on each of 5 seeds", async () => {
  // A short call deadline: the length guard's bug is a hang, found when its call misses it.
  const config = parseCheckConfig(JSON.stringify({ check: { thresholds: { call_timeout_ms: 500 } } }), "test");
  for (const [name] of GUARDED) {
    for (let seed = 1; seed <= 5; seed++) {
      const report = await runChecks(fault(name), { seed, filter: ["^fuzz\\.smoke$"], config });
      assert.equal(report.results[0]?.status, "fail", `${name}, seed ${seed}: ${report.results[0]?.details}`);
    }
  }
});
