/**
 * Compiling small C programs and libraries for the tests that need real
 * artefacts (the ELF reader, the sanitizer checks, the symbolizer, the
 * AddressSanitizer report parser): a temporary directory for each test, gcc,
 * and the line of a marker in a source. Needs gcc (with libasan for
 * `-fsanitize=address`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { text } from "./_helpers.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-native-build-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Compiles `source` (written to `<dir>/<name>.c`) with gcc; returns the output's path. */
export async function gcc(dir: string, name: string, source: string, flags: string[], output: string): Promise<string> {
  const src = join(dir, `${name}.c`);
  await Deno.writeTextFile(src, source);
  const out = join(dir, output);
  const r = await new Deno.Command("gcc", { args: [...flags, "-o", out, src], stdout: "piped", stderr: "piped" })
    .output();
  assert.equal(r.code, 0, `gcc ${flags.join(" ")} ${name}.c failed:\n${text(r.stderr)}`);
  return out;
}

/** The 1-based line of `source` that holds `marker`. */
export function lineOf(source: string, marker: string): number {
  const i = source.split("\n").findIndex((l) => l.includes(marker));
  assert.ok(i >= 0, `marker ${marker} in the source`);
  return i + 1;
}
