/**
 * What a dashboard that charts runs over time needs beside a run's results
 * (issue 21, "trends in CI"): which plugcheck made the report, which build of
 * the plugin it ran (the library file's SHA-256: the version a plugin
 * declares does not change with every build), and on what machine (cores,
 * kernel, OS, CPU architecture, Deno). Every `--format json` report of
 * `stress`, `fuzz` and `check` carries it as `provenance`; the seed is in the
 * report already.
 *
 * Read without permissions the command line does not have: the kernel's
 * release through the native helper (`uname`; `Deno.osRelease()` needs
 * `--allow-sys`, `/proc` reads `--allow-all`), the cores from
 * `navigator.hardwareConcurrency`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { provenance } from "./provenance.ts";
 * const p = await provenance("build/fixtures/libref_c.so");
 * assert.match(p.plugin_sha256 ?? "", /^[0-9a-f]{64}$/);
 * assert.ok(p.machine.cores >= 1 && p.tool.name === "plugcheck");
 * ```
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { sha256File } from "../ffi/dlopen.ts";
import { kernelRelease } from "../ffi/kernel_release.ts";
import * as z from "../util/zod.ts";

/** plugcheck's version (deno.json's). */
export const TOOL_VERSION: string = denoJson.version;

/** The `provenance` object of a JSON report. */
export const ProvenanceSchema = z.object({
  tool: z.object({ name: z.literal("plugcheck"), version: z.string() }),
  /** SHA-256 of the library file as it was when the run began (null when it could not be read). */
  plugin_sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  machine: z.object({
    /** `Deno.build.os` and `Deno.build.arch`. */
    os: z.string(),
    arch: z.string(),
    /** Logical CPUs this process may use. */
    cores: z.number().int().positive(),
    /** The kernel's release (`uname -r`), null where it cannot be read. */
    kernel: z.string().nullable(),
    deno: z.string(),
  }),
});

/** What a report says of where it came from. */
export type Provenance = z.infer<typeof ProvenanceSchema>;

let machine: Provenance["machine"] | undefined;

function machineFacts(): Provenance["machine"] {
  if (machine !== undefined) return machine;
  const kernel = kernelRelease();
  machine = {
    os: Deno.build.os,
    arch: Deno.build.arch,
    cores: Math.max(1, navigator.hardwareConcurrency || 1),
    kernel,
    deno: Deno.version.deno,
  };
  return machine;
}

/** The provenance of a run of the library at `libraryPath`. */
export async function provenance(libraryPath: string): Promise<Provenance> {
  const sha = await sha256File(libraryPath).catch(() => null);
  return { tool: { name: "plugcheck", version: TOOL_VERSION }, plugin_sha256: sha, machine: machineFacts() };
}
