/**
 * The `abi` checks: the library loads, speaks ABI major 1, exports every
 * required symbol, and which optional ones it has. One probe child each
 * (the `abi` step: dlopen and `npa_abi_version` only, nothing initialized).
 *
 * @example
 * ```ts ignore
 * import { ABI_CHECKS } from "./abi.ts";
 * console.log(ABI_CHECKS.map((c) => c.id));
 * ```
 *
 * @module
 */
import { HOST_MAJOR } from "../probe.ts";
import { probe } from "../run_probe.ts";
import { type CheckSpec, fail, pass } from "../spec.ts";

const version = (raw: number) => `${raw >>> 16}.${raw & 0xffff}`;

/** The abi group. */
export const ABI_CHECKS: readonly CheckSpec[] = [
  {
    id: "abi.loads",
    title: "The library loads: dlopen succeeds and its constructors return",
    rule: "building-a-plugin",
    needs: "file",
    run: async (ctx) => {
      const r = await probe(ctx, "abi");
      if (r.loadError !== undefined) return fail(`the dynamic loader refused it: ${r.loadError}`, [r.loadError]);
      return pass("dlopen returned");
    },
  },
  {
    id: "abi.version",
    title: `npa_abi_version() reports major version ${HOST_MAJOR}`,
    rule: "versions",
    needs: "library",
    run: async (ctx) => {
      const r = await probe(ctx, "abi");
      if (r.abi === undefined) return fail("npa_abi_version is missing", r.missing ?? []);
      const got = version(r.abi);
      if (r.abi >>> 16 !== HOST_MAJOR) {
        return fail(`it speaks npa ABI ${got}; this host speaks ${HOST_MAJOR}.x`, [
          `npa_abi_version() = 0x${r.abi.toString(16)}`,
        ]);
      }
      return pass(`ABI ${got}`);
    },
  },
  {
    id: "abi.required_symbols",
    title: "Every required npa_* symbol is exported",
    rule: "symbols",
    needs: "library",
    run: async (ctx) => {
      const r = await probe(ctx, "abi");
      const missing = r.missing ?? [];
      if (missing.length > 0) return fail(`missing ${missing.join(", ")}`, missing.map((m) => `not exported: ${m}`));
      return pass("all 8 required symbols are exported");
    },
  },
  {
    id: "abi.optional_symbols",
    title: "Optional symbols are reported as capabilities",
    rule: "symbols",
    needs: "symbols",
    run: async (ctx) => {
      const r = await probe(ctx, "abi");
      const present = r.optional ?? [];
      return present.length > 0
        ? pass(`exports ${present.join(", ")}`)
        : pass("exports none: checks that need npa_plugin_stats (leaks of buffers and instances) are skipped");
    },
  },
];
