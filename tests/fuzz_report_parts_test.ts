/**
 * The parts the fuzzer uses to say where a crash happened, against real
 * artefacts: the ELF reader (lib/load/elf.ts) on built fixtures and on libraries
 * compiled here (with and without AddressSanitizer, damaged on purpose), the
 * symbolizer (lib/fuzz/crash/symbolize.ts) through llvm-symbolizer and addr2line
 * on a `gcc -g` library, and the AddressSanitizer report parser
 * (lib/fuzz/crash/asan_report.ts) on reports of programs compiled here with
 * `gcc -fsanitize=address`. Needs gcc (with libasan) and binutils; the
 * llvm-symbolizer tests are skipped where it is not installed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readElfDynamic, readElfDynamicSync } from "../lib/load/elf.ts";
import {
  asanRuntimeNeeded,
  type ElfDynamicInfo,
  isLibFuzzerHarness,
  sanitizerOf,
  usesSanitizerCoverage,
} from "../lib/load/elf_info.ts";
import { findAsanRuntime } from "../lib/load/asan_runtime.ts";
import { formatFrame, type RawFrame, symbolize } from "../lib/fuzz/crash/symbolize.ts";
import { parseAsanReport } from "../lib/fuzz/crash/asan_report.ts";
import { runTool } from "../lib/util/run_tool.ts";
import { Prng } from "../lib/util/prng.ts";
import { fixture, ROOT, text } from "./_helpers.ts";

const REF_C = fixture("ref_c");
const NOT_A_LIBRARY = join(ROOT, "fixtures", "faults", "not_a_library.so");

function onPath(tool: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return Deno.statSync(join(dir, tool)).isFile;
    } catch {
      return false;
    }
  });
}
const HAVE_LLVM_SYMBOLIZER = onPath("llvm-symbolizer");

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-report-parts-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Compiles `source` (written to `<dir>/<name>.c`) with gcc; returns the output's path. */
async function gcc(dir: string, name: string, source: string, flags: string[], output: string): Promise<string> {
  const src = join(dir, `${name}.c`);
  await Deno.writeTextFile(src, source);
  const out = join(dir, output);
  const r = await new Deno.Command("gcc", { args: [...flags, "-o", out, src], stdout: "piped", stderr: "piped" })
    .output();
  assert.equal(r.code, 0, `gcc ${flags.join(" ")} ${name}.c failed:\n${text(r.stderr)}`);
  return out;
}

/** The 1-based line of `source` that holds `marker`. */
function lineOf(source: string, marker: string): number {
  const i = source.split("\n").findIndex((l) => l.includes(marker));
  assert.ok(i >= 0, `marker ${marker} in the source`);
  return i + 1;
}

/** Runs a program built with ASan and returns its stderr (leak detection off; it must fail). */
async function asanStderr(program: string, args: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const r = await new Deno.Command(program, {
    args,
    env: { ASAN_OPTIONS: "detect_leaks=0", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.notEqual(r.code, 0, "the program failed");
  return text(r.stderr);
}

/** The address of each defined symbol of a library (from `nm --defined-only`). */
async function symbolAddresses(library: string): Promise<Map<string, number>> {
  const run = await runTool("nm", ["--defined-only", library]);
  assert.ok(run.ran && run.code === 0, "nm ran");
  const found = new Map<string, number>();
  for (const line of run.stdout.split("\n")) {
    const m = /^([0-9a-f]+) [A-Za-z] (\S+)$/.exec(line);
    if (m) found.set(m[2]!, Number.parseInt(m[1]!, 16));
  }
  return found;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** A copy of `bytes` with `patch` applied, written to `<dir>/<name>`. */
async function patched(dir: string, name: string, bytes: Uint8Array, patch: (b: Uint8Array) => void): Promise<string> {
  const copy = bytes.slice();
  patch(copy);
  const path = join(dir, name);
  await Deno.writeFile(path, copy);
  return path;
}

/** Zeroes e_shoff, e_shnum and e_shstrndx: a library whose section headers are gone (as sstrip leaves it). */
function dropSectionHeaders(b: Uint8Array): void {
  b.fill(0, 40, 48);
  b.fill(0, 60, 64);
}

const ELF_ERROR = /^(?:Not an ELF file|Truncated ELF file|Inconsistent ELF file|Unsupported ELF file)/;

function assertElfError(e: unknown, what: string): void {
  assert.ok(e instanceof Error, `${what}: an Error`);
  assert.match(e.message, ELF_ERROR, what);
}

// ---------------------------------------------------------------------------
// lib/load/elf.ts

Deno.test("readElfDynamic reads libref_c.so: its DT_NEEDED, its npa_* exports, its libc imports, its machine", async () => {
  assert.ok(await isFile(REF_C), `${REF_C} exists (run: deno task build)`);
  const info = await readElfDynamic(REF_C);
  assert.deepEqual(info.needed, ["libc.so.6"]);
  for (const name of ["npa_abi_version", "npa_plugin_describe", "npa_instance_create", "npa_buffer_free"]) {
    assert.ok(info.defined.has(name), name);
    assert.ok(!info.undefined.has(name), name);
  }
  assert.ok(info.undefined.has("malloc") || info.undefined.has("free"), [...info.undefined].join(" "));
  assert.ok(!info.defined.has("malloc"));
  assert.ok(!info.defined.has("") && !info.undefined.has(""), "the empty name is skipped");
  const machine = { x86_64: "x86_64", aarch64: "aarch64" }[Deno.build.arch];
  assert.equal(info.machine, machine);
});

Deno.test("readElfDynamicSync gives what readElfDynamic gives", async () => {
  const a = await readElfDynamic(REF_C);
  const b = readElfDynamicSync(REF_C);
  assert.deepEqual(b, a);
});

Deno.test('readElfDynamic rejects a file that is not ELF: Not an ELF file: "<path>"', async () => {
  await assert.rejects(() => readElfDynamic(NOT_A_LIBRARY), { message: `Not an ELF file: "${NOT_A_LIBRARY}"` });
  assert.throws(() => readElfDynamicSync(NOT_A_LIBRARY), { message: `Not an ELF file: "${NOT_A_LIBRARY}"` });
  await withTempDir(async (dir) => {
    const tiny = join(dir, "tiny.so");
    await Deno.writeFile(tiny, new Uint8Array([0x7f, 0x45]));
    await assert.rejects(() => readElfDynamic(tiny), { message: `Not an ELF file: "${tiny}"` });
    await assert.rejects(() => readElfDynamic(dir), { message: `Not a file: "${dir}"` });
  });
});

Deno.test("readElfDynamic rejects a truncated ELF, saying what is cut off", async () => {
  const bytes = await Deno.readFile(REF_C);
  await withTempDir(async (dir) => {
    const cut = async (length: number) => {
      const path = join(dir, `cut_${length}.so`);
      await Deno.writeFile(path, bytes.subarray(0, length));
      return path;
    };
    const header = await cut(40);
    await assert.rejects(() => readElfDynamic(header), {
      message:
        `Truncated ELF file "${header}": 64 bytes at offset 0 (the ELF header) reach past the end of the file (40 bytes)`,
    });
    // The section headers are at the end of the file: one byte less cuts them.
    const tail = await cut(bytes.length - 1);
    await assert.rejects(
      () => readElfDynamic(tail),
      /^Error: Truncated ELF file ".*": \d+ bytes at offset \d+ \(the section headers\) reach past the end/,
    );
    assert.throws(() => readElfDynamicSync(tail), /^Error: Truncated ELF file/);
    // Cut anywhere: an ELF error, never another exception.
    for (const length of [4, 63, 64, 65, 200, 1000, 4096, bytes.length >> 1]) {
      const path = await cut(length);
      await assert.rejects(() => readElfDynamic(path), (e) => (assertElfError(e, `cut at ${length}`), true));
    }
  });
});

Deno.test("readElfDynamic rejects 32-bit and big-endian ELF files", async () => {
  const bytes = await Deno.readFile(REF_C);
  await withTempDir(async (dir) => {
    const elf32 = await patched(dir, "elf32.so", bytes, (b) => (b[4] = 1));
    await assert.rejects(() => readElfDynamic(elf32), {
      message: `Unsupported ELF file "${elf32}": it is 32-bit (only 64-bit ELF is read)`,
    });
    const big = await patched(dir, "big.so", bytes, (b) => (b[5] = 2));
    await assert.rejects(() => readElfDynamic(big), {
      message: `Unsupported ELF file "${big}": it is big-endian (only little-endian ELF is read)`,
    });
  });
});

Deno.test("readElfDynamic reads a library without section headers from its program headers (GNU and SysV hash)", async () => {
  await withTempDir(async (dir) => {
    const source = "int exported_fn(int x) { return x + 1; }\nint exported_obj = 3;\nextern int imported(int);\n" +
      "int calls(int x) { return imported(x); }\n";
    for (const style of ["gnu", "sysv", "both"]) {
      const lib = await gcc(dir, `hash_${style}`, source, [
        "-shared",
        "-fPIC",
        `-Wl,--hash-style=${style}`,
        "-Wl,--unresolved-symbols=ignore-all",
      ], `libhash_${style}.so`);
      const withSections = await readElfDynamic(lib);
      assert.ok(withSections.defined.has("exported_fn") && withSections.defined.has("exported_obj"), style);
      assert.ok(withSections.undefined.has("imported"), style);
      const stripped = await patched(dir, `stripped_${style}.so`, await Deno.readFile(lib), dropSectionHeaders);
      assert.deepEqual(await readElfDynamic(stripped), withSections, style);
    }
  });
});

Deno.test("readElfDynamic never reads out of bounds or loops on corrupted headers: an ELF error or an answer", async () => {
  const original = await Deno.readFile(REF_C);
  const view = new DataView(original.buffer, original.byteOffset, original.byteLength);
  const shoff = Number(view.getBigUint64(40, true));
  const shnum = view.getUint16(60, true);
  const phnum = view.getUint16(56, true);
  // The structures the reader follows: ELF and program headers, the start of the file (.dynsym, .dynstr, the
  // hash tables), the section headers.
  const regions: [number, number][] = [[0, 64 + phnum * 56], [0, 0x1000], [shoff, shoff + shnum * 64]];
  const prng = new Prng(20261202);
  await withTempDir(async (dir) => {
    for (let round = 0; round < 300; round++) {
      const [from, to] = regions[prng.below(regions.length)]!;
      const path = await patched(dir, `m${round}.so`, original, (b) => {
        if (round % 2) dropSectionHeaders(b);
        for (let k = 1 + prng.below(6); k > 0; k--) {
          const at = from + prng.below(to - from);
          b[at] = prng.below(4) === 0 ? 0xff : prng.below(256);
        }
      });
      try {
        const info = await readElfDynamic(path);
        assert.ok(Array.isArray(info.needed) && info.defined instanceof Set);
      } catch (e) {
        assertElfError(e, `round ${round}`);
      }
      await Deno.remove(path);
    }
  });
});

Deno.test("sanitizerOf, asanRuntimeNeeded and findAsanRuntime recognise a gcc -fsanitize=address library", async () => {
  await withTempDir(async (dir) => {
    const lib = await gcc(
      dir,
      "asan_lib",
      "#include <stdlib.h>\nint poke(int i) { char *p = malloc(4); p[i] = 1; int v = p[0]; free(p); return v; }\n",
      ["-g", "-fsanitize=address", "-shared", "-fPIC"],
      "libasan_lib.so",
    );
    const info = await readElfDynamic(lib);
    assert.equal(sanitizerOf(info), "asan");
    assert.match(asanRuntimeNeeded(info) ?? "", /^libasan\.so\.\d+$/);
    assert.ok(info.undefined.has("__asan_init"));
    const runtime = await findAsanRuntime(info);
    assert.ok(runtime !== undefined, "a runtime is found");
    assert.ok(runtime.startsWith("/") && (await isFile(runtime)), runtime);
    assert.equal(runtime, await Deno.realPath(runtime), "symlinks are resolved");
    assert.match(runtime, /libasan\.so/);
  });
});

Deno.test("findAsanRuntime finds a runtime for an ASan build that links none (clang's, else gcc's libasan.so)", async () => {
  const info: ElfDynamicInfo = {
    needed: ["libc.so.6"],
    defined: new Set(["poke"]),
    undefined: new Set(["__asan_init", "malloc"]),
    machine: "x86_64",
  };
  assert.equal(sanitizerOf(info), "asan");
  assert.equal(asanRuntimeNeeded(info), undefined);
  const runtime = await findAsanRuntime(info);
  assert.ok(runtime !== undefined && (await isFile(runtime)), String(runtime));
  assert.match(runtime, /libasan\.so|libclang_rt\.asan/);
});

Deno.test("sanitizerOf and findAsanRuntime: a library built without ASan has none", async () => {
  const info = await readElfDynamic(REF_C);
  assert.equal(sanitizerOf(info), undefined);
  assert.equal(asanRuntimeNeeded(info), undefined);
  assert.equal(await findAsanRuntime(info), undefined);
});

Deno.test("isLibFuzzerHarness tells a libFuzzer harness from an npa plugin", async () => {
  assert.equal(isLibFuzzerHarness(await readElfDynamic(REF_C)), false);
  await withTempDir(async (dir) => {
    const harness = "#include <stddef.h>\n#include <stdint.h>\n" +
      "int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return size && data[0] == 'x'; }\n";
    const lib = await gcc(dir, "harness", harness, ["-shared", "-fPIC"], "libharness.so");
    assert.equal(isLibFuzzerHarness(await readElfDynamic(lib)), true);
    const both = await gcc(dir, "both", `${harness}int npa_abi_version(void) { return 1; }\n`, [
      "-shared",
      "-fPIC",
    ], "libboth.so");
    assert.equal(isLibFuzzerHarness(await readElfDynamic(both)), false, "an npa plugin that also has the entry");
  });
});

Deno.test("usesSanitizerCoverage sees a -fsanitize-coverage build by its undefined __sanitizer_cov_* symbols", async () => {
  assert.equal(usesSanitizerCoverage(await readElfDynamic(REF_C)), false);
  await withTempDir(async (dir) => {
    const lib = await gcc(dir, "cov", "int branchy(int x) { return x > 3 ? x * 2 : x - 1; }\n", [
      "-shared",
      "-fPIC",
      "-fsanitize-coverage=trace-pc",
      "-Wl,--unresolved-symbols=ignore-all",
    ], "libcov.so");
    const info = await readElfDynamic(lib);
    assert.ok(info.undefined.has("__sanitizer_cov_trace_pc"), [...info.undefined].join(" "));
    assert.equal(usesSanitizerCoverage(info), true);
  });
});

// ---------------------------------------------------------------------------
// lib/fuzz/crash/symbolize.ts

const SYMBOLIZE_SOURCE = `static inline __attribute__((always_inline)) int inner(int x) {
  return x * 3 + 1; /* INNER */
}
int parse_record(const char *p, int n) { /* PARSE */
  int s = 0;
  for (int i = 0; i < n; i++) s += p[i];
  return s;
}
int outer(int x) { /* OUTER */
  return inner(x) + 2;
}
`;

/** Builds the symbolizer's test library and gives its path and the addresses of parse_record and outer. */
async function symbolizeLibrary(dir: string): Promise<{ lib: string; parse: number; outer: number; size: number }> {
  const lib = await gcc(dir, "symbols", SYMBOLIZE_SOURCE, ["-g", "-O0", "-shared", "-fPIC"], "libsymbols.so");
  const addresses = await symbolAddresses(lib);
  const parse = addresses.get("parse_record");
  const outer = addresses.get("outer");
  assert.ok(parse !== undefined && outer !== undefined, "nm lists parse_record and outer");
  return { lib, parse, outer, size: (await Deno.stat(lib)).size };
}

/** What both tools must say of the test library. */
async function checkSymbolized(tool: "llvm-symbolizer" | "addr2line"): Promise<void> {
  await withTempDir(async (dir) => {
    const { lib, parse, outer } = await symbolizeLibrary(dir);
    const frames: RawFrame[] = [
      { module: lib, offset: parse },
      { module: lib, offset: parse + 4 },
      { module: join(dir, "missing.so"), offset: 0x10 },
      { module: lib, offset: outer },
      { module: lib, offset: 0x7fffff }, // in no function
    ];
    const out = await symbolize(frames, { tool });
    assert.equal(out.length, frames.length);
    out.forEach((f, i) => {
      assert.equal(f.module, frames[i]!.module);
      assert.equal(f.offset, frames[i]!.offset);
    });
    for (const f of [out[0]!, out[1]!]) {
      assert.equal(f.function, "parse_record");
      assert.equal(f.file, join(dir, "symbols.c"), "the file as the tool prints it (gcc -g records it absolute)");
      assert.equal(f.line, lineOf(SYMBOLIZE_SOURCE, "PARSE"));
      assert.equal(f.inlinedInto, undefined);
      if (tool === "llvm-symbolizer") assert.ok((f.column ?? 0) > 0, "llvm-symbolizer gives a column");
      else assert.equal(f.column, undefined);
    }
    assert.deepEqual(out[2], frames[2], "a missing module: as it came");
    assert.equal(out[3]!.function, "outer");
    assert.equal(out[3]!.line, lineOf(SYMBOLIZE_SOURCE, "OUTER"));
    assert.deepEqual(out[4], frames[4], "an offset in no function: as it came");
    assert.equal(
      formatFrame(out[0]!),
      `parse_record at ${join(dir, "symbols.c")}:${out[0]!.line} (libsymbols.so+0x${parse.toString(16)})`,
    );
  });
}

Deno.test({
  name: "symbolize with llvm-symbolizer gives function, file, line and column of a gcc -g library's frames",
  ignore: !HAVE_LLVM_SYMBOLIZER,
  fn: () => checkSymbolized("llvm-symbolizer"),
});

Deno.test("symbolize with addr2line (tool: addr2line) gives function, file and line of a gcc -g library's frames", () =>
  checkSymbolized("addr2line"));

Deno.test({
  name: "symbolize names the inlined function and the one it was inlined into, alike with both tools",
  ignore: !HAVE_LLVM_SYMBOLIZER,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { lib, outer } = await symbolizeLibrary(dir);
      // Every byte of outer(): some of them are inner()'s inlined code.
      const frames = Array.from({ length: 40 }, (_, i) => ({ module: lib, offset: outer + i }));
      const llvm = await symbolize(frames, { tool: "llvm-symbolizer" });
      const binutils = await symbolize(frames, { tool: "addr2line" });
      const inlined = llvm.filter((f) => f.function === "inner");
      assert.ok(inlined.length > 0, "some of outer's code is inner's");
      for (const f of inlined) {
        assert.equal(f.inlinedInto, "outer");
        assert.equal(f.line, lineOf(SYMBOLIZE_SOURCE, "INNER"));
        assert.match(formatFrame(f), /^inner at .*symbols\.c:2, inlined into outer \(libsymbols\.so\+0x[0-9a-f]+\)$/);
      }
      const strip = (f: { function?: string; file?: string; line?: number; inlinedInto?: string }) => ({
        function: f.function,
        file: f.file,
        line: f.line,
        inlinedInto: f.inlinedInto,
      });
      assert.deepEqual(binutils.map(strip), llvm.map(strip));
    });
  },
});

Deno.test("symbolize returns frames it cannot symbolize as they came: no file, not ELF, a directory, bad offsets", async () => {
  await withTempDir(async (dir) => {
    const frames: RawFrame[] = [
      { module: join(dir, "nothing.so"), offset: 0x1139 },
      { module: NOT_A_LIBRARY, offset: 0x10 },
      { module: dir, offset: 0x10 },
      { module: "", offset: 0x10 },
      { module: REF_C, offset: -1 },
      { module: REF_C, offset: Number.NaN },
    ];
    for (const tool of [undefined, "addr2line"] as const) {
      const out = await symbolize(frames, tool ? { tool } : {});
      assert.deepEqual(out, frames.map((f) => ({ ...f })), String(tool));
    }
    assert.deepEqual(await symbolize([]), []);
  });
});

Deno.test("symbolize keeps the input's order across modules and repeated frames", async () => {
  await withTempDir(async (dir) => {
    const { lib, parse, outer } = await symbolizeLibrary(dir);
    const copy = join(dir, "libcopy.so");
    await Deno.copyFile(lib, copy);
    const frames: RawFrame[] = [
      { module: lib, offset: outer },
      { module: copy, offset: parse },
      { module: lib, offset: parse },
      { module: copy, offset: outer },
      { module: lib, offset: outer },
    ];
    const out = await symbolize(frames, { tool: "addr2line" });
    assert.deepEqual(out.map((f) => [f.module, f.function]), [
      [lib, "outer"],
      [copy, "parse_record"],
      [lib, "parse_record"],
      [copy, "outer"],
      [lib, "outer"],
    ]);
  });
});

Deno.test("runTool kills a tool that outlives its deadline, and calls a missing one missing", async () => {
  const started = performance.now();
  const slow = await runTool("sleep", ["20"], { timeoutMs: 200 });
  assert.deepEqual(slow.ran ? "ran" : slow.reason, "timeout");
  assert.ok(performance.now() - started < 5000, "killed at its deadline");
  const missing = await runTool("plugcheck-no-such-tool", []);
  assert.equal(missing.ran ? "ran" : missing.reason, "missing");
});

Deno.test("formatFrame shows function, file:line and module+offset; only module+offset when nothing is known", () => {
  assert.equal(
    formatFrame({
      module: "/b/fixtures/fuzz/libmagic_prefix.so",
      offset: 0x1139,
      function: "parse_record",
      file: "fixtures/fuzz/magic_prefix.c",
      line: 31,
      column: 7,
    }),
    "parse_record at fixtures/fuzz/magic_prefix.c:31 (libmagic_prefix.so+0x1139)",
  );
  assert.equal(formatFrame({ module: "/usr/lib/libx.so", offset: 0x1139 }), "libx.so+0x1139");
  assert.equal(formatFrame({ module: "libx.so", offset: 0x10, function: "f" }), "f (libx.so+0x10)");
  assert.equal(formatFrame({ module: "libx.so", offset: 0x10, file: "x.c" }), "at x.c (libx.so+0x10)");
});

// ---------------------------------------------------------------------------
// lib/fuzz/crash/asan_report.ts

/** Compiles `source` with `gcc -g -fsanitize=address`, runs it and parses its stderr. */
async function realReport(source: string, args: string[] = [], env: Record<string, string> = {}) {
  return await withTempDir(async (dir) => {
    const program = await gcc(dir, "prog", source, ["-g", "-O0", "-fsanitize=address"], "prog");
    const stderr = await asanStderr(program, args, env);
    const report = parseAsanReport(`some earlier output\n${stderr}\nand later output\n`);
    assert.ok(report, `a report in:\n${stderr}`);
    return { report, stderr };
  });
}

Deno.test("parseAsanReport reads a heap-buffer-overflow written by a helper function: type, access, stack, top, location", async () => {
  const source = `#include <stdlib.h>
static void fill(char *p, int n) {
  for (int i = 0; i <= n; i++) p[i] = 'x'; /* BUG */
}
int main(void) {
  char *p = malloc(16);
  fill(p, 16); /* CALL */
  free(p);
  return 0;
}
`;
  const { report } = await realReport(source);
  assert.equal(report.errorType, "heap-buffer-overflow");
  assert.match(report.summary, /^AddressSanitizer: heap-buffer-overflow .*prog\.c:\d+ in fill$/);
  assert.match(report.access ?? "", /^WRITE of size 1 at 0x[0-9a-f]+ thread T0$/);
  assert.equal(report.frames[0]!.index, 0);
  assert.match(report.frames[0]!.pc, /^0x[0-9a-f]+$/);
  assert.equal(report.frames[0]!.function, "fill");
  assert.equal(report.frames[1]!.function, "main");
  assert.equal(report.frames[1]!.line, lineOf(source, "CALL"));
  assert.equal(report.top, report.frames[0]);
  assert.equal(report.location, `prog.c:${lineOf(source, "BUG")}`);
  assert.ok(report.frames.every((f, i) => f.index === i), "only the first stack (not the allocation's)");
});

Deno.test("parseAsanReport reads a heap-use-after-free", async () => {
  const source = `#include <stdlib.h>
int main(void) {
  int *p = malloc(4 * sizeof(int));
  free(p);
  return p[2]; /* BUG */
}
`;
  const { report } = await realReport(source);
  assert.equal(report.errorType, "heap-use-after-free");
  assert.match(report.access ?? "", /^READ of size 4 /);
  assert.equal(report.top?.function, "main");
  assert.equal(report.location, `prog.c:${lineOf(source, "BUG")}`);
});

Deno.test("parseAsanReport reads a stack-buffer-overflow", async () => {
  const source = `int main(int argc, char **argv) {
  (void)argv;
  volatile char buf[8];
  buf[argc + 7] = 1; /* BUG */
  return buf[0];
}
`;
  const { report } = await realReport(source);
  assert.equal(report.errorType, "stack-buffer-overflow");
  assert.match(report.access ?? "", /^WRITE of size 1 /);
  assert.equal(report.location, `prog.c:${lineOf(source, "BUG")}`);
});

Deno.test("parseAsanReport skips the memcpy interceptor: top is the caller that overflowed", async () => {
  const source = `#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  (void)argv;
  char src[64] = {0};
  char *p = malloc(16);
  memcpy(p, src, 16 + argc); /* BUG */
  free(p);
  return 0;
}
`;
  const { report } = await realReport(source);
  assert.equal(report.errorType, "heap-buffer-overflow");
  assert.match(report.access ?? "", /^WRITE of size 17 /);
  assert.match(report.frames[0]!.function ?? "", /memcpy/, "#0 is the interceptor");
  assert.equal(report.top?.index, 1);
  assert.equal(report.top?.function, "main");
  assert.equal(report.location, `prog.c:${lineOf(source, "BUG")}`);
});

Deno.test("parseAsanReport reads a SEGV on a NULL pointer: type SEGV, the access from the signal", async () => {
  const source = `#include <stddef.h>
static int deref(int *p) { return *p; } /* BUG */
int main(int argc, char **argv) {
  (void)argv;
  return deref(argc > 5 ? &argc : NULL);
}
`;
  const { report } = await realReport(source);
  assert.equal(report.errorType, "SEGV");
  assert.match(report.summary, /^AddressSanitizer: SEGV /);
  assert.equal(report.access, "The signal is caused by a READ memory access");
  assert.equal(report.top?.function, "deref");
  assert.equal(report.location, `prog.c:${lineOf(source, "BUG")}`);
});

Deno.test("parseAsanReport names an attempted double-free double-free, at the second free's caller", async () => {
  const source = `#include <stdlib.h>
int main(void) {
  char *p = malloc(8);
  free(p);
  free(p); /* BUG */
  return 0;
}
`;
  const { report, stderr } = await realReport(source);
  assert.match(stderr, /ERROR: AddressSanitizer: attempting double-free/);
  assert.equal(report.errorType, "double-free");
  assert.equal(report.access, undefined);
  assert.equal(report.location, `prog.c:${lineOf(source, "BUG")}`);
  // Without the SUMMARY line (a cut stderr tail), the same type from the ERROR line.
  const cut = parseAsanReport(stderr.slice(0, stderr.indexOf("SUMMARY:")));
  assert.equal(cut?.errorType, "double-free");
  assert.equal(cut?.location, report.location);
});

Deno.test("parseAsanReport puts an abort at abort()'s caller, not in libc (handle_abort=1)", async () => {
  const source = `#include <stdlib.h>
static void check(int ok) { if (!ok) abort(); } /* BUG */
int main(int argc, char **argv) {
  (void)argv;
  check(argc > 5);
  return 0;
}
`;
  const { report } = await realReport(source, [], { ASAN_OPTIONS: "detect_leaks=0:handle_abort=1" });
  assert.equal(report.errorType, "ABRT");
  assert.equal(report.top?.function, "check");
  assert.ok(report.top!.index > 0, "libc's frames come first");
  assert.equal(report.location, `prog.c:${lineOf(source, "BUG")}`);
});

Deno.test("parseAsanReport + symbolize: an unsymbolized report from a dlopen'ed ASan library, LD_PRELOADed by findAsanRuntime", async () => {
  await withTempDir(async (dir) => {
    const pluginSource = `#include <stdlib.h>
int boom(int i) {
  char *p = malloc(8);
  p[i] = 1; /* BUG */
  int v = p[0];
  free(p);
  return v;
}
`;
    const lib = await gcc(
      dir,
      "plugin",
      pluginSource,
      ["-g", "-O0", "-fsanitize=address", "-shared", "-fPIC"],
      "libplugin.so",
    );
    const host = await gcc(
      dir,
      "host",
      `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  (void)argc;
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { fprintf(stderr, "%s\\n", dlerror()); return 2; }
  int (*boom)(int) = (int (*)(int))dlsym(h, "boom");
  return boom(8);
}
`,
      [],
      "host",
    );
    const runtime = await findAsanRuntime(await readElfDynamic(lib));
    assert.ok(runtime);
    const stderr = await asanStderr(host, [lib], { LD_PRELOAD: runtime, ASAN_OPTIONS: "detect_leaks=0:symbolize=0" });
    const report = parseAsanReport(stderr);
    assert.ok(report, stderr);
    assert.equal(report.errorType, "heap-buffer-overflow");
    const top = report.top!;
    assert.equal(top.function, undefined);
    assert.equal(top.module, lib);
    assert.match(top.offset ?? "", /^0x[0-9a-f]+$/);
    assert.equal(report.location, undefined, "no file:line in an unsymbolized report");
    const [where] = await symbolize([{ module: top.module!, offset: Number.parseInt(top.offset!, 16) }]);
    assert.equal(where!.function, "boom");
    assert.equal(where!.line, lineOf(pluginSource, "BUG"));
  });
});

Deno.test("parseAsanReport reads synthetic unsymbolized frames: (module+offset), with and without BuildId", () => {
  const report = parseAsanReport([
    "INFO: Running with entropic power schedule (0xFF, 100).",
    "=================================================================",
    "==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011 at pc 0x7f2a1c3d4139 bp 0x7ffd sp 0x7ffd",
    "READ of size 1 at 0x602000000011 thread T0",
    "    #0 0x7f2a1c3d4139  (/usr/lib/x86_64-linux-gnu/libasan.so.8+0x48139)",
    "    #1 0x7f2a1c201139  (/work/build/libmagic_prefix.so+0x1139) (BuildId: 0f3c2a9b8e7d6c5b4a39281706f5e4d3c2b1a090)",
    "    #2 0x55d0c0a01234  (/usr/bin/deno+0x1234)",
    "",
    "0x602000000011 is located 0 bytes to the right of 1-byte region [0x602000000010,0x602000000011)",
    "allocated by thread T0 here:",
    "    #0 0x7f2a1c3d5000  (/usr/lib/x86_64-linux-gnu/libasan.so.8+0xb89cf)",
    "",
    "SUMMARY: AddressSanitizer: heap-buffer-overflow (/work/build/libmagic_prefix.so+0x1139) ",
    "==4242==ABORTING",
  ].join("\n"));
  assert.ok(report);
  assert.equal(report.errorType, "heap-buffer-overflow");
  assert.equal(report.summary, "AddressSanitizer: heap-buffer-overflow (/work/build/libmagic_prefix.so+0x1139)");
  assert.equal(report.access, "READ of size 1 at 0x602000000011 thread T0");
  assert.deepEqual(report.frames, [
    { index: 0, pc: "0x7f2a1c3d4139", module: "/usr/lib/x86_64-linux-gnu/libasan.so.8", offset: "0x48139" },
    { index: 1, pc: "0x7f2a1c201139", module: "/work/build/libmagic_prefix.so", offset: "0x1139" },
    { index: 2, pc: "0x55d0c0a01234", module: "/usr/bin/deno", offset: "0x1234" },
  ]);
  assert.equal(report.top, report.frames[1], "the runtime's frame is skipped by its module");
  assert.equal(report.location, undefined);
});

Deno.test("parseAsanReport reads clang's format: columns, C++ names with spaces, ___interceptor_ frames, colours", () => {
  const esc = String.fromCharCode(27);
  const report = parseAsanReport([
    `${esc}[1m${esc}[31m==99==ERROR: AddressSanitizer: stack-use-after-return on address 0x7f0 at pc 0x55 bp 0x7f sp 0x7f${esc}[1m${esc}[0m`,
    `${esc}[1m${esc}[34mWRITE of size 4 at 0x7f0 thread T1${esc}[1m${esc}[0m`,
    "    #0 0x55a1 in ___interceptor_memset /llvm/compiler-rt/lib/sanitizer_common/sanitizer_common_interceptors.inc:799:3",
    "    #1 0x55a2 in __asan_memset (/usr/lib/llvm-17/lib/clang/17/lib/linux/libclang_rt.asan-x86_64.so+0xe4a2)",
    "    #2 0x55a3 in std::vector<int, std::allocator<int> >::at(unsigned long) const /src/plug/vec.cc:41:9",
    "    #3 0x55a4 in parse(char const*, unsigned long) /src/plug/parse.cc:17",
    "    #4 0x55a5 in npa_instance_invoke+0x2f (/src/build/libplug.so+0x9c2f)",
    "    #5 0x55a6 in start_thread nptl/pthread_create.c:442:8",
    "",
    "SUMMARY: AddressSanitizer: stack-use-after-return /src/plug/vec.cc:41:9 in std::vector<int, std::allocator<int> >::at(unsigned long) const",
  ].join("\r\n"));
  assert.ok(report);
  assert.equal(report.errorType, "stack-use-after-return");
  assert.equal(report.access, "WRITE of size 4 at 0x7f0 thread T1");
  assert.equal(report.frames.length, 6);
  assert.deepEqual(report.frames[2], {
    index: 2,
    pc: "0x55a3",
    function: "std::vector<int, std::allocator<int> >::at(unsigned long) const",
    file: "/src/plug/vec.cc",
    line: 41,
    column: 9,
  });
  assert.deepEqual(report.frames[3], {
    index: 3,
    pc: "0x55a4",
    function: "parse(char const*, unsigned long)",
    file: "/src/plug/parse.cc",
    line: 17,
  });
  assert.deepEqual(report.frames[4], {
    index: 4,
    pc: "0x55a5",
    function: "npa_instance_invoke",
    module: "/src/build/libplug.so",
    offset: "0x9c2f",
  });
  assert.equal(report.top, report.frames[2]);
  assert.equal(report.location, "vec.cc:41");
});

Deno.test("parseAsanReport returns undefined for text without an AddressSanitizer report", () => {
  assert.equal(parseAsanReport(""), undefined);
  assert.equal(parseAsanReport("Segmentation fault (core dumped)\n#0 0x1234 in main /x.c:3\n"), undefined);
  assert.equal(
    parseAsanReport([
      "==5==ERROR: LeakSanitizer: detected memory leaks",
      "Direct leak of 8 byte(s) in 1 object(s) allocated from:",
      "    #0 0x7f in malloc (/lib/x86_64-linux-gnu/libasan.so.8+0xb89cf)",
      "SUMMARY: AddressSanitizer: 8 byte(s) leaked in 1 allocation(s).",
    ].join("\n")),
    undefined,
  );
});

Deno.test("parseAsanReport takes linear time on hostile text: long lines of spaces, parentheses, colons", () => {
  const n = 200_000;
  const lines = [
    "==1==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000",
    `    #0 0x1 in f${" ".repeat(n)}x`,
    `    #1 0x2 in ${" (".repeat(n / 2)}`,
    `    #2 0x3 in g ${"a:1".repeat(n / 3)}b`,
    `    #3 0x4 ${"==1==".repeat(n / 5)}(BuildId: ${"a".repeat(n)}`,
    `    #4 0x5 in h (${"a".repeat(n)}+0x`,
    "==".repeat(n),
  ];
  const started = performance.now();
  const report = parseAsanReport(lines.join("\n"));
  assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
  assert.equal(report?.errorType, "SEGV");
  assert.equal(report?.frames.length, 5);
});
