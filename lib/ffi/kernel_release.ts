/**
 * The kernel's release (`uname -r`) through the native helper: Deno's
 * `Deno.osRelease()` needs `--allow-sys`, and reading
 * `/proc/sys/kernel/osrelease` needs `--allow-all`; the command line has
 * neither, and FFI it has.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelRelease } from "./kernel_release.ts";
 * assert.ok((kernelRelease() ?? "").length > 0 || Deno.build.os !== "linux");
 * ```
 *
 * @module
 */
import { hostSymbols } from "./native_helper.ts";

const SYMBOLS = {
  // uint32_t npah_kernel_release(uint8_t* out, uint32_t cap)
  npah_kernel_release: { parameters: ["buffer", "u32"], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

let release: string | null | undefined;

/** The kernel's release, or null when it cannot be read (not Linux, no helper). */
export function kernelRelease(): string | null {
  if (release !== undefined) return release;
  try {
    const out = new Uint8Array(65);
    const n = hostSymbols(SYMBOLS).npah_kernel_release(out, out.length);
    release = n > 0 ? new TextDecoder().decode(out.subarray(0, n)) : null;
  } catch {
    release = null;
  }
  return release;
}
