/**
 * The ELF reader (lib/load/elf.ts, elf_parse.ts) and what its answer says of
 * a library (lib/load/elf_info.ts), on built fixtures and on libraries
 * compiled here, damaged on purpose: libFuzzer harnesses and
 * SanitizerCoverage builds among them. Needs gcc.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readElfDynamic, readElfDynamicSync } from "../lib/load/elf.ts";
import { isLibFuzzerHarness, usesSanitizerCoverage } from "../lib/load/elf_info.ts";
import { Prng } from "../lib/util/prng.ts";
import { fixture, isFile, NOT_A_LIBRARY } from "./_helpers.ts";
import { gcc, withTempDir } from "./_native_build.ts";

const REF_C = fixture("ref_c");

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
