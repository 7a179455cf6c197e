/**
 * The fuzz fixtures (fixtures/fuzz/README.md) do what their comments say: every
 * describe() example of every method gives its output, and every trigger input
 * gives the finding the fixture is there for (a crash with its signal, a hang,
 * a contract violation, a leak, an ASan report). The libFuzzer-convention
 * harnesses are checked with a tiny C driver. `deno task build` builds the
 * fixtures first.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, fuzzFixture, runCli, text } from "./_helpers.ts";

/** The `--format json` document of a CLI run (exactly one on stdout). */
function doc(r: CliResult): {
  ok: boolean;
  output?: unknown;
  output_text?: string;
  warnings?: string[];
  error?: { name: string; signal?: string; message: string };
  description?: { methods: { name: string; input: string; examples: { input: string; output?: string }[] }[] };
} {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not one JSON document on stdout (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

function invoke(lib: string, method: string, input: string, ...extra: string[]): Promise<CliResult> {
  return runCli(["invoke", fuzzFixture(lib), method, "--input", input, "--format", "json", ...extra]);
}

/** Every example of every method in describe() succeeds with its output (and no warning). */
async function examplesHold(lib: string, methods: string[]): Promise<void> {
  const loaded = await runCli(["load", fuzzFixture(lib), "--format", "json"]);
  assert.equal(loaded.code, 0, `load ${lib}: ${loaded.stderr}`);
  const described = doc(loaded).description?.methods ?? [];
  assert.deepEqual(described.map((m) => m.name).sort(), [...methods].sort(), `${lib}: the declared methods`);
  const calls = described.flatMap((m) => {
    assert.ok(m.examples.length > 0, `${lib}.${m.name} has examples`);
    return m.examples.map(async (e) => {
      const r = await invoke(lib, m.name, e.input);
      const where = `${lib}.${m.name}(${JSON.stringify(e.input)})`;
      assert.equal(r.code, 0, `${where}: ${r.stderr}`);
      const d = doc(r);
      assert.equal(d.ok, true, where);
      // json methods show the parsed output, bytes methods the text
      const shown = m.input === "json" ? JSON.stringify(d.output) : d.output_text ?? "";
      const expected = m.input === "json" ? JSON.stringify(JSON.parse(e.output!)) : e.output;
      assert.equal(shown, expected, where);
      assert.deepEqual(d.warnings, [], where);
    });
  });
  await Promise.all(calls);
}

/** The trigger input fails with `name` (and `signal`), exit 1. */
async function failsWith(
  lib: string,
  method: string,
  input: string,
  name: string,
  options: { signal?: string; fragment?: string; extra?: string[] } = {},
): Promise<void> {
  const r = await invoke(lib, method, input, ...options.extra ?? []);
  const where = `${lib}.${method}(${JSON.stringify(input)})`;
  assert.equal(r.killed, false, `${where}: plugcheck exited by itself`);
  assert.equal(r.code, 1, `${where}: exit code; stderr:\n${r.stderr}`);
  const d = doc(r);
  assert.equal(d.ok, false, where);
  assert.equal(d.error?.name, name, `${where}: ${d.error?.message}`);
  if (options.signal) assert.equal(d.error?.signal, options.signal, `${where}: ${d.error?.message}`);
  if (options.fragment) assert.ok(d.error?.message.includes(options.fragment), `${where}: ${d.error?.message}`);
}

const ISOLATE = ["--isolate"];

Deno.test("fuzz fixture magic_prefix: OK without F, INVALID_INPUT for F without Z, SIGSEGV for FZ", async () => {
  await Promise.all([
    examplesHold("magic_prefix", ["parse"]),
    (async () => {
      const r = await invoke("magic_prefix", "parse", "");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(doc(r).output_text, "0");
    })(),
    failsWith("magic_prefix", "parse", "F", "InvalidInputError", { fragment: "second byte is not Z" }),
    failsWith("magic_prefix", "parse", "Fa", "InvalidInputError", { fragment: "second byte is not Z" }),
    failsWith("magic_prefix", "parse", "FZ", "PluginCrashError", { signal: "SIGSEGV", extra: ISOLATE }),
    failsWith("magic_prefix", "parse", "FZrecord", "PluginCrashError", { signal: "SIGSEGV", extra: ISOLATE }),
  ]);
});

Deno.test("fuzz fixture two_bugs: SIGSEGV on A, SIGABRT on B", async () => {
  await Promise.all([
    examplesHold("two_bugs", ["process"]),
    failsWith("two_bugs", "process", "Ax", "PluginCrashError", { signal: "SIGSEGV", extra: ISOLATE }),
    failsWith("two_bugs", "process", "Bx", "PluginCrashError", { signal: "SIGABRT", extra: ISOLATE }),
  ]);
});

Deno.test("fuzz fixture hang_on_input: never returns on H", async () => {
  await Promise.all([
    examplesHold("hang_on_input", ["wait"]),
    failsWith("hang_on_input", "wait", "Hx", "PluginTimeoutError", { extra: [...ISOLATE, "--timeout", "300"] }),
  ]);
});

Deno.test("fuzz fixture fuzz_findings: one contract finding per method", async () => {
  await Promise.all([
    examplesHold("fuzz_findings", ["panic_status", "bad_status", "bad_error", "not_json", "leak", "null_out"]),
    failsWith("fuzz_findings", "panic_status", "Px", "PluginPanicError", {
      fragment: "Caught a panic: index out of bounds",
    }),
    failsWith("fuzz_findings", "bad_status", "Sx", "ContractViolationError", { fragment: "status 42" }),
    failsWith("fuzz_findings", "bad_error", "Ex", "ContractViolationError", { fragment: "not valid UTF-8" }),
    failsWith("fuzz_findings", "null_out", "Nx", "ContractViolationError", {
      fragment: "NULL output pointer with length 5",
    }),
    failsWith("fuzz_findings", "leak", "Lx", "ResourceLeakError", { fragment: "live_buffers 1 -> 2" }),
    (async () => {
      const r = await invoke("fuzz_findings", "not_json", "[1,7]");
      assert.equal(r.code, 0, r.stderr);
      const d = doc(r);
      assert.equal(d.ok, true);
      assert.equal(d.output_text, '{"broken');
      assert.ok(d.warnings?.some((w) => w.includes("not valid JSON")), String(d.warnings));
    })(),
    // The bug is the letter's only: the same letter later in the input is harmless.
    (async () => {
      const r = await invoke("fuzz_findings", "leak", "xL");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(doc(r).output_text, "xL");
    })(),
  ]);
});

async function gcc(args: string[]): Promise<string> {
  const out = await new Deno.Command("gcc", { args, stdout: "piped", stderr: "piped" }).output();
  assert.ok(out.success, `gcc ${args.join(" ")}:\n${text(out.stderr)}`);
  return text(out.stdout).trim();
}

Deno.test("fuzz fixture asan_overflow: needs the ASan runtime; reports a heap-buffer-overflow on O", async () => {
  const lib = fuzzFixture("asan_overflow");
  const readelf = await new Deno.Command("readelf", { args: ["-d", lib], stdout: "piped" }).output();
  assert.match(text(readelf.stdout), /\(NEEDED\)\s+Shared library: \[libasan\.so/);
  const asan = { LD_PRELOAD: await gcc(["-print-file-name=libasan.so"]), ASAN_OPTIONS: "detect_leaks=0" };
  await Promise.all([
    // Without the runtime its dlopen would end the process (ASan's init exits): plugcheck refuses it first.
    (async () => {
      const r = await runCli(["load", lib]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /AddressSanitizer build, and this process has no ASan runtime loaded/, r.stderr);
      assert.match(r.stderr, /--isolate/, r.stderr);
    })(),
    (async () => {
      const r = await runCli(["invoke", lib, "copy", "--input", "hello"], { env: asan });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hello");
    })(),
    (async () => {
      const r = await runCli(["invoke", lib, "copy", "--input", "Overflow"], { env: asan });
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /ERROR: AddressSanitizer: heap-buffer-overflow/, r.stderr);
      assert.match(r.stderr, /WRITE of size 1/, r.stderr);
      assert.match(r.stderr, /in copy_record \S*asan_overflow\.c:\d+/, r.stderr);
    })(),
    // In the sandbox child (which gets the runtime preloaded), the report is the crash's stderr tail.
    (async () => {
      const r = await runCli(["invoke", lib, "copy", "--input", "Overflow", "--format", "json", "--isolate"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /killed by SIGABRT\); AddressSanitizer: heap-buffer-overflow \S*asan_overflow\.c:\d+ in copy_record/,
      );
      const d = doc(r) as { error?: { name: string; signal?: string; stderr_tail?: string } };
      assert.equal(d.error?.name, "PluginCrashError");
      assert.equal(d.error?.signal, "SIGABRT");
      assert.match(d.error?.stderr_tail ?? "", /heap-buffer-overflow[^]*in copy_record \S*asan_overflow\.c:\d+/);
    })(),
  ]);
});

/** dlopens a harness, reports which entry points it has, optionally runs Initialize, then one input. */
const DRIVER = `
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char** argv) {
  if (argc != 4) return 2;
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) { fprintf(stderr, "%s\\n", dlerror()); return 2; }
  int (*init)(int*, char***) = (int (*)(int*, char***))dlsym(h, "LLVMFuzzerInitialize");
  int (*one)(const uint8_t*, size_t) = (int (*)(const uint8_t*, size_t))dlsym(h, "LLVMFuzzerTestOneInput");
  printf("init=%d one=%d npa=%d\\n", init != NULL, one != NULL, dlsym(h, "npa_abi_version") != NULL);
  if (one == NULL) return 2;
  if (strcmp(argv[2], "init") == 0) {
    if (init == NULL) return 2;
    printf("initialize=%d\\n", init(&argc, &argv));
  }
  fflush(stdout);
  printf("result=%d\\n", one((const uint8_t*)argv[3], strlen(argv[3])));
  return 0;
}
`;

Deno.test("fuzz fixtures lf_init_crash and lf_near_empty: libFuzzer entry points, no npa symbols", async () => {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-lf-driver-" });
  try {
    const driver = join(dir, "driver");
    await Deno.writeTextFile(`${driver}.c`, DRIVER);
    await gcc(["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", driver, `${driver}.c`, "-ldl"]);
    const run = async (lib: string, mode: "init" | "noinit", input: string) => {
      const out = await new Deno.Command(driver, { args: [fuzzFixture(lib), mode, input], stdout: "piped" }).output();
      return { code: out.code, signal: out.signal, stdout: text(out.stdout) };
    };
    const [noInit, armedOther, armedX, empty, emptyInput] = await Promise.all([
      run("lf_init_crash", "noinit", "X"),
      run("lf_init_crash", "init", "Y"),
      run("lf_init_crash", "init", "X"),
      run("lf_near_empty", "noinit", "abc"),
      run("lf_near_empty", "noinit", ""),
    ]);
    // Without Initialize, "X" is harmless: the crash needs the harness to be armed.
    assert.deepEqual(noInit, { code: 0, signal: null, stdout: "init=1 one=1 npa=0\nresult=0\n" });
    assert.deepEqual(armedOther, { code: 0, signal: null, stdout: "init=1 one=1 npa=0\ninitialize=0\nresult=0\n" });
    assert.equal(armedX.signal, "SIGSEGV", JSON.stringify(armedX));
    assert.equal(armedX.stdout, "init=1 one=1 npa=0\ninitialize=0\n");
    assert.deepEqual(empty, { code: 0, signal: null, stdout: "init=0 one=1 npa=0\nresult=0\n" });
    assert.deepEqual(emptyInput, { code: 0, signal: null, stdout: "init=0 one=1 npa=0\nresult=0\n" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
