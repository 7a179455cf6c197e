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
