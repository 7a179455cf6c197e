/**
 * AddressSanitizer builds told from their ELF dynamic info
 * (lib/load/elf_info.ts) and the runtime to preload for them
 * (lib/load/asan_runtime.ts), on libraries compiled here with and without
 * `gcc -fsanitize=address`. Needs gcc with libasan.
 */
import assert from "node:assert/strict";
import { readElfDynamic } from "../lib/load/elf.ts";
import { asanRuntimeNeeded, type ElfDynamicInfo, sanitizerOf } from "../lib/load/elf_info.ts";
import { findAsanRuntime } from "../lib/load/asan_runtime.ts";
import { fixture, isFile } from "./_helpers.ts";
import { gcc, withTempDir } from "./_native_build.ts";

const REF_C = fixture("ref_c");

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

Deno.test("findAsanRuntime finds clang's runtime on disk, the same file clang -print-file-name names", async () => {
  const info: ElfDynamicInfo = {
    needed: ["libc.so.6"],
    defined: new Set(["poke"]),
    undefined: new Set(["__asan_init", "__asan_version_mismatch_check_v8"]),
    machine: "x86_64",
  };
  const asked = await new Deno.Command("clang", { args: ["-print-file-name=libclang_rt.asan-x86_64.so"] }).output();
  const clangSays = await Deno.realPath(new TextDecoder().decode(asked.stdout).trim());
  assert.equal(await findAsanRuntime(info), clangSays);
});
