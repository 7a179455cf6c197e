/**
 * Files a fuzz run leaves, named the way libFuzzer names them so corpora and
 * artifacts move between the two: corpus entries are the SHA-1 of their
 * bytes, findings are `crash-<sha1>`, `timeout-<sha1>`, `oom-<sha1>` and
 * `leak-<sha1>`, each with a JSON sidecar (`<artifact>.json`). Every file is
 * written whole or not at all (a temporary file renamed into place).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { CorpusDirectory, readInputs, sha1Hex, writeWhole } from "./artifacts.ts";
 * const dir = await Deno.makeTempDir();
 * const input = new TextEncoder().encode("abc");
 * assert.equal(sha1Hex(input), "a9993e364706816aba3e25717850c26c9cd0d89d");
 * writeWhole(join(dir, `crash-${sha1Hex(input)}`), input);
 * const corpus = new CorpusDirectory(join(dir, "corpus"));
 * assert.equal(corpus.add(input), true); // corpus/<sha1>
 * assert.equal(corpus.add(input), false); // there already
 * assert.deepEqual(readInputs([corpus.dir], 2), [input.subarray(0, 2)]); // cut to maxLen, as libFuzzer does
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { sha1Hex } from "../../util/sha1.ts";

/** Hex SHA-1 of `bytes` (libFuzzer's artifact and corpus names). */
export { sha1Hex };

/** Writes `data` to `path` whole: into a temporary file beside it, then renamed into place. */
export function writeWhole(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    if (typeof data === "string") Deno.writeTextFileSync(tmp, data);
    else Deno.writeFileSync(tmp, data);
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // never written
    }
    throw e;
  }
}

/** Removes a file if it is there. */
export function removeIfThere(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Every regular file of the directories, in name order per directory, cut to `maxLen` bytes (as libFuzzer does). */
export function readInputs(dirs: readonly string[], maxLen: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const dir of dirs) {
    const names: string[] = [];
    for (const e of Deno.readDirSync(dir)) if (e.isFile && !e.name.startsWith(".")) names.push(e.name);
    names.sort();
    for (const name of names) out.push(Deno.readFileSync(join(dir, name)).subarray(0, maxLen));
  }
  return out;
}

/** A corpus directory new entries are written to (created if needed). */
export class CorpusDirectory {
  readonly dir: string;
  readonly #known = new Set<string>();
  /** Entries this run wrote. */
  written = 0;

  constructor(dir: string) {
    this.dir = dir;
    Deno.mkdirSync(dir, { recursive: true });
    for (const e of Deno.readDirSync(dir)) if (e.isFile) this.#known.add(e.name);
  }

  /** Writes `input` as `<dir>/<sha1>` unless an entry of that name exists; true when written. */
  add(input: Uint8Array, sha1: string = sha1Hex(input)): boolean {
    if (this.#known.has(sha1)) return false;
    this.#known.add(sha1);
    writeWhole(join(this.dir, sha1), input);
    this.written++;
    return true;
  }
}
