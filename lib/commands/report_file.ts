/**
 * Writing the files a command produces (`check --junit`, `--sarif`,
 * `invoke --output`): whole
 * or not at all (a temporary file renamed over the target), with the mode
 * the umask plugcheck started with gives (0666 minus it), whatever umask a
 * plugin loaded in this process set since (`umask(0777)` would make them
 * mode 000).
 *
 * @example
 * ```ts ignore
 * import { rememberUmask, writeWhole } from "./report_file.ts";
 * rememberUmask(); // before any plugin is loaded
 * await writeWhole("check.xml", "<testsuites/>\n");
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { ProcInfo } from "../ffi/proc_info.ts";
import { UsageError } from "../errors/errors.ts";
import { userPath } from "./input.ts";

let startUmask: number | undefined;

/**
 * Reads the umask now, without changing it (call before any plugin is
 * loaded): {@link writeWhole} gives files the mode it implies. Without
 * plugcheck's native helper, files keep the mode the umask of the moment gives.
 */
export function rememberUmask(): void {
  try {
    startUmask ??= ProcInfo.get().signalState().umask;
  } catch {
    // no native helper: nothing to restore from
  }
}

/** Writes `data` to `path` whole or not at all, with the mode the remembered umask gives. */
export async function writeWhole(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${crypto.randomUUID()}.tmp`);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    // open() applied the umask of now, which a plugin may have changed: set the mode plugcheck's umask gives.
    if (startUmask !== undefined) await Deno.chmod(tmp, 0o666 & ~startUmask);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * The path a report flag (`--junit`, `--sarif`, `--html`) names, resolved as the user meant it, or undefined when the
 * flag is absent: checked before the run, so that a run is not wasted on a file that cannot be written.
 */
export async function reportPath(given: string | undefined, flag: string): Promise<string | undefined> {
  if (given === undefined) return undefined;
  const path = userPath(given);
  try {
    if (!(await Deno.stat(dirname(path))).isDirectory) throw new Error("not a directory");
  } catch {
    throw new UsageError(`--${flag} ${given}: the directory ${dirname(path)} does not exist`);
  }
  return path;
}

/** The `--html FILE` flag of `stress`, `fuzz` and `check`. */
export const HTML_FLAG = {
  type: "string",
  value: "FILE",
  help: "also write the report as one self-contained HTML page\n(plots as inline SVG; opens offline)",
} as const;
