/**
 * Resolves the library path a caller gave: the real path (symlinks followed),
 * a regular file, and the optional sha256 pin checked before anything opens
 * it. Shared by the in-process and sandboxed engines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileURLToPath } from "node:url";
 * import { LoadError } from "../errors/errors.ts";
 * import { resolveLibrary } from "./resolve_path.ts";
 * // The C reference plugin (deno task build).
 * const path = fileURLToPath(new URL("../../build/fixtures/libref_c.so", import.meta.url));
 * assert.equal(await resolveLibrary(path, undefined), await Deno.realPath(path));
 * await assert.rejects(resolveLibrary("no/such/libplugin.so", undefined), LoadError);
 * await assert.rejects(resolveLibrary(path, "not hex"), TypeError);
 * ```
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { sha256File } from "../ffi/dlopen.ts";
import { loadError } from "../errors/host_errors.ts";

/** The real path of `path`, or a LoadError (TypeError for a malformed pin). */
export async function resolveLibrary(path: string, sha256: string | undefined): Promise<string> {
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (cause) {
    const tried = isAbsolute(path) ? "" : ` (looked for ${resolve(path)})`;
    if (cause instanceof Deno.errors.NotFound) throw loadError(path, `file not found${tried}`);
    throw loadError(path, `cannot resolve the path${tried}`, cause);
  }
  if (!(await Deno.stat(real)).isFile) throw loadError(path, "not a file");
  if (sha256 !== undefined) {
    const expected = sha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(expected)) {
      throw new TypeError(`sha256 must be 64 hex digits: got ${JSON.stringify(sha256)}`);
    }
    const actual = await sha256File(real);
    if (actual !== expected) throw loadError(path, `sha256 mismatch: expected ${expected}, file has ${actual}`);
  }
  return real;
}
