/**
 * The symbolizer (lib/load/symbolize.ts) through llvm-symbolizer and
 * addr2line on a `gcc -g` library, the tool runner under it
 * (lib/util/run_tool.ts), and how a frame is shown. Needs gcc and binutils;
 * the llvm-symbolizer tests are skipped where it is not installed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatFrame, type RawFrame, symbolize } from "../lib/load/symbolize.ts";
import { runTool } from "../lib/util/run_tool.ts";
import { fixture, NOT_A_LIBRARY } from "./_helpers.ts";
import { gcc, lineOf, withTempDir } from "./_native_build.ts";

const REF_C = fixture("ref_c");

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

Deno.test("symbolize without a tool named runs addr2line (it starts in ~3 ms, llvm-symbolizer in ~20): no column", async () => {
  await withTempDir(async (dir) => {
    const { lib, parse } = await symbolizeLibrary(dir);
    const [f] = await symbolize([{ module: lib, offset: parse }]);
    assert.equal(f!.function, "parse_record");
    assert.equal(f!.line, lineOf(SYMBOLIZE_SOURCE, "PARSE"));
    assert.equal(f!.column, undefined, "addr2line gives no column; llvm-symbolizer would");
  });
});

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
