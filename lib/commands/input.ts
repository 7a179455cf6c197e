/**
 * What a command reads from the user: paths resolved against the directory
 * the user ran plugcheck from (`$PLUGCHECK_CWD`, which `deno task plugcheck`
 * sets from `INIT_CWD`, since tasks run in the clone), invoke inputs read
 * with a size cap, so `/dev/zero` or an endless pipe is a usage error, not an
 * out-of-memory crash, and the instance config.
 *
 * @example
 * ```ts ignore
 * import { readInput, userPath } from "./input.ts";
 * const bytes = await readInput({ "input-file": userPath("in.bin") }, 64 << 20);
 * ```
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { UsageError } from "../errors/errors.ts";

/** Default cap on an invoke input: 64 MiB. */
export const DEFAULT_MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** `path` made absolute against the user's directory (`$PLUGCHECK_CWD`, else the current one). */
export function userPath(path: string): string {
  if (isAbsolute(path)) return path;
  return resolve(Deno.env.get("PLUGCHECK_CWD") || Deno.cwd(), path);
}

function tooLarge(what: string, max: number): UsageError {
  return new UsageError(`${what} is larger than the ${max}-byte limit; raise --max-input-bytes if that is intended`);
}

/** The first buffer of a read whose size is not known in advance (a pipe); it doubles as more comes. */
const FIRST_READ_BYTES = 64 * 1024;

/**
 * Reads a stream up to `max` bytes; more is a usage error naming `what`.
 * The bytes are read straight into one buffer, sized from `sizeHint` (a
 * file's size) and grown only if more comes, so a file is read once with no
 * copy; the result is a view of that buffer.
 */
async function readCapped(
  read: (p: Uint8Array) => Promise<number | null>,
  max: number,
  what: string,
  sizeHint = 0,
): Promise<Uint8Array> {
  // One byte past the expected end (and past max): the read that finds the end, or finds too much.
  let buf = new Uint8Array(Math.min(max, Math.max(sizeHint, FIRST_READ_BYTES)) + 1);
  let total = 0;
  for (;;) {
    if (total === buf.length) {
      if (total > max) throw tooLarge(what, max);
      const bigger = new Uint8Array(Math.min(max + 1, buf.length * 2));
      bigger.set(buf);
      buf = bigger;
    }
    const n = await read(buf.subarray(total));
    if (n === null) break;
    total += n;
  }
  return buf.subarray(0, total);
}

/** The invoke input from `--input`, `--input-file` or `--stdin` (at most one), capped at `max` bytes. */
export async function readInput(
  values: { input?: string | undefined; "input-file"?: string | undefined; stdin?: boolean | undefined },
  max: number,
): Promise<Uint8Array> {
  const given = [values.input !== undefined, values["input-file"] !== undefined, values.stdin === true]
    .filter(Boolean).length;
  if (given > 1) throw new UsageError("Options --input, --input-file and --stdin exclude each other: give one");
  if (values.input !== undefined) {
    const bytes = new TextEncoder().encode(values.input);
    if (bytes.length > max) throw tooLarge("--input", max);
    return bytes;
  }
  const file = values["input-file"];
  if (file !== undefined) {
    const path = userPath(file);
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { read: true });
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "file not found" : e instanceof Error ? e.message : String(e);
      const shown = path === file ? "" : ` (${path})`;
      throw new UsageError(`Cannot read --input-file ${JSON.stringify(file)}${shown}: ${why}`);
    }
    try {
      const size = (await f.stat()).size; // 0 for a pipe or a device: read as a stream
      return await readCapped((p) => f.read(p), max, `--input-file ${JSON.stringify(file)}`, size);
    } finally {
      f.close();
    }
  }
  if (values.stdin) return await readCapped((p) => Deno.stdin.read(p), max, "--stdin input");
  return new Uint8Array(0);
}

/** The bytes of a file the user named with `flag` (resolved against their directory); a usage error naming it otherwise. */
export function readUserFile(file: string, flag: string): { path: string; bytes: Uint8Array } {
  const path = userPath(file);
  try {
    return { path, bytes: Deno.readFileSync(path) };
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "file not found" : e instanceof Error ? e.message : String(e);
    throw new UsageError(`Cannot read ${flag} ${JSON.stringify(file)}: ${why}`);
  }
}

/** `--config`: a JSON object, or undefined when not given; anything else is a usage error. */
export function parseConfigFlag(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`Option --config is not valid JSON: ${e instanceof Error ? e.message : e}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError("Option --config must be a JSON object, e.g. '{\"counter_start\": 5}'");
  }
  return value as Record<string, unknown>;
}
