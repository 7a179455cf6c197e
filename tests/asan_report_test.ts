/**
 * The AddressSanitizer report parser (lib/fuzz/crash/asan_report.ts) on
 * reports of programs compiled here with `gcc -fsanitize=address` (one of
 * them a dlopen'ed library, symbolized afterwards) and on synthetic and
 * hostile text. Needs gcc with libasan.
 */
import assert from "node:assert/strict";
import { readElfDynamic } from "../lib/load/elf.ts";
import { findAsanRuntime } from "../lib/load/asan_runtime.ts";
import { symbolize } from "../lib/load/symbolize.ts";
import { parseAsanReport } from "../lib/fuzz/crash/asan_report.ts";
import { text } from "./_helpers.ts";
import { gcc, lineOf, withTempDir } from "./_native_build.ts";

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
