/**
 * `plugcheck harness` and `generateHarness`: the C compiles warning-free with
 * gcc and clang, its literals decode back to the exact bytes, libFuzzer finds
 * a planted crash through it, its artifact replays with `plugcheck invoke`,
 * NPA_PLUGIN picks the library, contract violations abort with one line, and
 * the command's failures exit 2 or 3 with nothing written. Needs gcc and
 * clang (a test fails, saying so, when one is missing).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { generateHarness, HarnessReportSchema } from "../mod.ts";
import { fault, fuzzFixture, libraryCopy, ROOT, runCli } from "./_helpers.ts";

const enc = new TextEncoder();

async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "plugcheck-harness-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

interface RunResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs a program to its end; a missing one fails the test saying what to install. */
async function run(
  program: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(program, { args, stdin: "null", stdout: "piped", stderr: "piped", ...options })
      .output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${program} is not installed: this test needs it (Debian: apt-get install ${program})`);
    }
    throw e;
  }
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** Compiles with `compiler`, asserting success with no diagnostics at all. */
async function compile(compiler: string, args: string[]): Promise<void> {
  const r = await run(compiler, ["-Wall", "-Wextra", "-Werror", ...args]);
  assert.equal(r.code, 0, `${compiler} ${args.join(" ")} failed:\n${r.stderr}`);
  assert.equal(r.stderr, "", `${compiler} ${args.join(" ")} warned:\n${r.stderr}`);
}

/** A fixture library, built (`deno task build`) or a clear failure. */
function built(path: string): string {
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${path} is not built: run \`npx -y deno@2.9.6 task build\` (the coverage fixtures need clang)`);
  }
  return path;
}

const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest("hex");
const crashFiles = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("crash-"));

Deno.test("generateHarness escapes quotes, backslashes, newlines, ??, NUL and non-ASCII bytes into exact C literals", async () => {
  await using dir = await tempDir();
  const libraryPath = `/tmp/we"ird\\dir\nnew/é ??=/tab\there/lib\u00017.so`;
  const method = `m"e\\th\nod??/\u0000é\u00ff7*/`;
  const config = '{"key": "va\\"lue ??( ünï", "n": 1}';
  const harness = generateHarness({ libraryPath, method, config });
  const file = join(dir.path, "harness.c");
  Deno.writeTextFileSync(file, harness);
  // Compiles with gcc and clang, warning-free, also where trigraphs are on (-std=c99).
  await compile("gcc", ["-c", file, "-o", join(dir.path, "h.o")]);
  await compile("gcc", ["-std=c99", "-pedantic", "-Wtrigraphs", "-c", file, "-o", join(dir.path, "h.o")]);
  await compile("clang", ["-std=c99", "-Wpedantic", "-c", file, "-o", join(dir.path, "h2.o")]);
  // A program that includes the harness and prints its three literals gives back the very bytes.
  const printer = join(dir.path, "print.c");
  Deno.writeTextFileSync(
    printer,
    `#include "harness.c"
int main(void) {
  fwrite(PLUGIN_PATH, 1, sizeof PLUGIN_PATH - 1, stdout);
  fputc(0xfe, stdout);
  fwrite(PLUGIN_METHOD, 1, sizeof PLUGIN_METHOD - 1, stdout);
  fputc(0xfe, stdout);
  fwrite(PLUGIN_CONFIG, 1, sizeof PLUGIN_CONFIG - 1, stdout);
  return 0;
}
`,
  );
  const binary = join(dir.path, "print");
  await compile("gcc", ["-std=c99", printer, "-ldl", "-o", binary]);
  const r = await run(binary, []);
  assert.equal(r.code, 0, r.stderr);
  const sep = new Uint8Array([0xfe]);
  assert.deepEqual(
    r.stdout,
    new Uint8Array([...enc.encode(libraryPath), ...sep, ...enc.encode(method), ...sep, ...enc.encode(config)]),
  );
  // No config: an empty literal, so the instance is created with none.
  assert.match(generateHarness({ libraryPath: "/x.so", method: "m" }), /^static const char PLUGIN_CONFIG\[\] = "";$/m);
});

Deno.test("plugcheck harness writes a harness that libFuzzer builds and runs to the planted crash; plugcheck invoke replays it", async () => {
  await using dir = await tempDir();
  const lib = built(fuzzFixture("cov_magic"));
  const file = join(dir.path, "harness.c");
  const r = await runCli(["harness", lib, "--method", "magic", "--output", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /wrote .*harness\.c: fuzzes "magic"; build: clang -fsanitize=fuzzer .*harness\.c -ldl -o .*harness/,
  );
  const harness = Deno.readTextFileSync(file);
  assert.match(harness, /^ \* Build: +clang -fsanitize=fuzzer harness\.c -ldl -o harness$/m);
  assert.match(harness, /NPA_PLUGIN/);
  assert.match(harness, /\$CC \$CFLAGS harness\.c -ldl \$LIB_FUZZING_ENGINE/);
  assert.ok(harness.includes(`static const char PLUGIN_PATH[] = "${lib}";`), "the library's absolute path is embedded");
  const binary = join(dir.path, "h");
  await compile("clang", ["-fsanitize=fuzzer", file, "-ldl", "-o", binary]);
  const fuzz = await run(binary, [
    "-seed=1",
    "-runs=3000000",
    `-artifact_prefix=${dir.path}/`,
    "-print_final_stats=0",
  ], { cwd: dir.path });
  assert.notEqual(fuzz.code, 0, `libFuzzer found nothing:\n${fuzz.stderr.slice(-2000)}`);
  assert.match(fuzz.stderr, /SEGV.* in magic_record/);
  const [crash, ...more] = crashFiles(dir.path);
  assert.ok(crash !== undefined && more.length === 0, `one crash artifact: ${crashFiles(dir.path)}`);
  const bytes = Deno.readFileSync(join(dir.path, crash));
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "FUZZ");
  assert.equal(crash, `crash-${sha1(bytes)}`, "named by its SHA-1, as plugcheck names its own");
  // The artifact moves to plugcheck: invoke --isolate reports the same crash.
  const replay = await runCli(["invoke", lib, "magic", "--input-file", join(dir.path, crash), "--isolate"]);
  assert.equal(replay.code, 1, replay.stderr);
  assert.match(
    replay.stderr,
    /^plugcheck: error: Cannot invoke "magic": the plugin crashed the sandbox child \(killed by SIGSEGV\)/m,
  );
});

Deno.test("harness: NPA_PLUGIN names the library to load (a missing one exits 1 with the dlopen error, no artifact); else the one beside it", async () => {
  await using dir = await tempDir();
  await using generatedFor = await libraryCopy(built(fuzzFixture("magic_prefix")));
  await using other = await libraryCopy(fuzzFixture("magic_prefix"));
  const file = join(dir.path, "harness.c");
  const r = await runCli(["harness", generatedFor.path, "--method", "parse", "--output", file]);
  assert.equal(r.code, 0, r.stderr);
  const binary = join(dir.path, "h");
  await compile("clang", ["-fsanitize=fuzzer", file, "-ldl", "-o", binary]);
  const args = ["-seed=1", "-runs=3000000", `-artifact_prefix=${dir.path}/`, "-print_final_stats=0"];

  const missing = await run(binary, args, { cwd: dir.path, env: { NPA_PLUGIN: "/nonexistent/libnope.so" } });
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(
    missing.stderr,
    /^npa harness: cannot load plugin \/nonexistent\/libnope\.so: .*\/nonexistent\/libnope\.so/m,
  );
  assert.doesNotMatch(missing.stderr, /deadly signal|Test unit written/);
  assert.deepEqual(crashFiles(dir.path), []);

  // The path it was generated for is gone; NPA_PLUGIN finds the plugin elsewhere, and the crash ("FZ...") with it.
  await Deno.remove(generatedFor.path);
  const moved = await run(binary, args, { cwd: dir.path, env: { NPA_PLUGIN: other.path } });
  assert.notEqual(moved.code, 0, moved.stderr.slice(-2000));
  const [crash] = crashFiles(dir.path);
  assert.ok(crash !== undefined, moved.stderr.slice(-2000));
  assert.equal(new TextDecoder().decode(Deno.readFileSync(join(dir.path, crash)).subarray(0, 2)), "FZ");
  await Deno.remove(join(dir.path, crash));

  // Without NPA_PLUGIN, a plugin of the same name next to the harness stands in for the missing path (as in $OUT).
  await Deno.copyFile(other.path, join(dir.path, basename(generatedFor.path)));
  const beside = await run(binary, args, { cwd: "/" });
  assert.match(beside.stderr, /^npa harness: .* is missing; loading .*, next to the harness$/m);
  assert.equal(crashFiles(dir.path).length, 1, beside.stderr.slice(-2000));
});

Deno.test("generateHarness aborts with one line on stderr for each broken contract, which libFuzzer reports", async () => {
  await using dir = await tempDir();
  const cases = [
    { name: "bad_status", method: "odd", line: /returned status 42 \(unknown\), which is not an npa status/ },
    { name: "null_output", method: "empty", line: /returned status 0 \(OK\) with an output buffer NULL but of/ },
    { name: "panic_caught", method: "panic", line: /returned status 4 \(PANIC\): a panic .*boom from panic_caught/ },
  ];
  const input = join(dir.path, "input");
  Deno.writeTextFileSync(input, "hello");
  for (const c of cases) {
    const file = join(dir.path, `${c.name}.c`);
    Deno.writeTextFileSync(file, generateHarness({ libraryPath: built(fault(c.name)), method: c.method }));
    const binary = join(dir.path, c.name);
    await compile("clang", ["-fsanitize=fuzzer", file, "-ldl", "-o", binary]);
    const r = await run(binary, [input], { cwd: dir.path });
    assert.notEqual(r.code, 0, `${c.name}: ${r.stderr}`);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("npa harness:"));
    assert.equal(lines.length, 1, `${c.name}: ${r.stderr}`);
    assert.match(
      lines[0]!,
      new RegExp(`^npa harness: contract violation: npa_instance_invoke of method "${c.method}" `),
    );
    assert.match(lines[0]!, c.line);
    assert.match(r.stderr, /libFuzzer: deadly signal/, c.name);
  }
});

Deno.test("plugcheck harness: unknown method exits 2 listing the methods, writes nothing; not a library exits 3; --help", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "harness.c");
  const lib = built(fuzzFixture("magic_prefix"));
  const unknown = await runCli(["harness", lib, "--method", "nope", "--output", file]);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /^plugcheck: error: Plugin "magic_prefix" has no method "nope"; its methods: parse$/m);
  assert.equal(unknown.stdout, "");
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing written");

  for (const bad of [["--method", "parse", "--bogus"], [], ["--method", "parse", "--config", "[1]"]]) {
    const r = await runCli(["harness", lib, ...bad, "--output", file]);
    assert.equal(r.code, 2, `${bad.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "");
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing written for bad flags");

  const notLib = await runCli(["harness", join(ROOT, "fixtures/faults/not_a_library.so"), "--method", "x"]);
  assert.equal(notLib.code, 3, notLib.stderr);
  assert.match(notLib.stderr, /Cannot load plugin .*not_a_library\.so.*: not a loadable shared library/);
  assert.equal(notLib.stdout, "");
  const initFails = await runCli(["harness", built(fault("init_fails")), "--method", "x"]);
  assert.equal(initFails.code, 3, initFails.stderr);
  assert.match(initFails.stderr, /No license file found/);

  const help = await runCli(["harness", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^plugcheck harness — /);
  assert.match(help.stdout, /NPA_PLUGIN/);
  assert.ok(help.stdout.includes("clang -fsanitize=fuzzer harness.c -ldl -o harness"), help.stdout);
  const top = await runCli(["--help"]);
  assert.match(top.stdout, /^ {2}harness <library> +write a libFuzzer harness/m);
});

Deno.test("plugcheck harness --format json: its harness is the file written; stdout without --output is the C", async () => {
  await using dir = await tempDir();
  const lib = built(fuzzFixture("magic_prefix"));
  const file = join(dir.path, "fuzz_parse.c");
  const config = join(dir.path, "config.json");
  Deno.writeTextFileSync(config, '{"strict": true}');
  const r = await runCli([
    "harness",
    lib,
    "--method",
    "parse",
    "--output",
    file,
    "--config",
    config,
    "--format",
    "json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = HarnessReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(doc.harness, Deno.readTextFileSync(file));
  assert.equal(doc.library, lib);
  assert.equal(doc.method, "parse");
  assert.equal(doc.build, `clang -fsanitize=fuzzer ${file} -ldl -o ${join(dir.path, "fuzz_parse")}`);
  assert.match(doc.harness, /^static const char PLUGIN_CONFIG\[\] = "\{\\"strict\\": true\}";$/m);
  const plain = await runCli(["harness", lib, "--method", "parse", "--config", '{"strict": true}']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, doc.harness);
  const bare = await runCli(["harness", lib, "--method", "parse", "--json"]);
  assert.equal(JSON.parse(bare.stdout).build, "clang -fsanitize=fuzzer harness.c -ldl -o harness");
});
