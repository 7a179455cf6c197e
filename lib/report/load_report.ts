/**
 * What `plugcheck load` prints: the document (a zod schema, `--format json`)
 * and its text. What loading found: the ABI versions, the symbols, how long
 * init took, describe() and the plugin's counters, and the contract warnings.
 * Plugin text is escaped in the text, and names and descriptions shortened.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LoadReportSchema, renderLoadReport } from "./load_report.ts";
 * const doc = LoadReportSchema.parse({
 *   ok: true, path: "/opt/libdemo.so", isolated: false, abi_version: "1.0", host_abi_version: "1.0",
 *   symbols: { required: ["npa_abi_version", "npa_plugin_init"], optional: [] }, capabilities: { stats: false },
 *   init_ms: 0.412, stats: null, warnings: [],
 *   description: {
 *     name: "demo", version: "1.0.0", thread_safe_instances: true,
 *     methods: [{ name: "echo", description: "Returns its input", input: "bytes", pure: true, examples: [] }],
 *   },
 * });
 * const text = renderLoadReport(doc);
 * assert.ok(text.includes("\nsymbols    2/2 required; optional: none\ninit       412 us\n"));
 * assert.ok(text.endsWith("methods    1\n  echo  bytes  pure    Returns its input\n"));
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { REQUIRED_SYMBOLS } from "../ffi/symbols.ts";
import { PluginDescriptionSchema } from "../plugin/describe_schema.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import { HOST_ABI_VERSION } from "../load/open_checked.ts";
import { escapeControl, shortText } from "../util/safe_text.ts";
import { duration } from "./units.ts";
import { adapterPortLines } from "./adapter_ports.ts";

/** The document `plugcheck load --format json` prints. */
export const LoadReportSchema = z.object({
  ok: z.literal(true),
  path: z.string(),
  /** Loaded in a sandbox child (`--isolate`). */
  isolated: z.boolean(),
  /** `major.minor`, of the plugin and of this host. */
  abi_version: z.string(),
  host_abi_version: z.string(),
  symbols: z.object({ required: z.array(z.string()), optional: z.array(z.string()) }),
  capabilities: z.object({ stats: z.boolean() }),
  init_ms: z.number(),
  description: PluginDescriptionSchema,
  /** `npa_plugin_stats` after init (null: not exported). */
  stats: z.record(z.string(), z.number()).nullable(),
  warnings: z.array(z.string()),
});

/** The document of `load`. */
export type LoadReport = z.infer<typeof LoadReportSchema>;

/** Characters of a method name and of its description the text shows (the rest is counted). */
const NAME_SHOWN = 48;
const DESCRIPTION_SHOWN = 200;

/** An ABI version as `major.minor`. */
function version(raw: number): string {
  return `${raw >>> 16}.${raw & 0xffff}`;
}

/** The document of a loaded plugin (its counters read now; warnings: its contract warnings so far). */
export async function loadReport(plugin: PluginHandle): Promise<LoadReport> {
  return {
    ok: true,
    path: plugin.path,
    isolated: plugin.isolated,
    abi_version: version(plugin.abiVersion.raw),
    host_abi_version: version(HOST_ABI_VERSION),
    symbols: { required: [...REQUIRED_SYMBOLS], optional: [...plugin.optionalSymbols] },
    capabilities: plugin.capabilities,
    init_ms: Number(plugin.initMs.toFixed(3)),
    description: plugin.describe(),
    stats: await plugin.readStats(),
    warnings: [...plugin.contractWarnings],
  };
}

/** The widest the method-name column grows. */
const NAME_COLUMN = 24;

/** The text of `load`: one row per finding of the load, then one per method. */
export function renderLoadReport(doc: LoadReport): string {
  const d = doc.description;
  const safe = escapeControl;
  const required = doc.symbols.required.length;
  const lines = [
    `plugin     ${shortText(d.name, 60)} ${shortText(d.version, 40)}`,
    `library    ${doc.path}`,
    `abi        ${doc.abi_version} (host ${doc.host_abi_version})`,
    `symbols    ${required}/${required} required; optional: ${
      doc.symbols.optional.length > 0 ? doc.symbols.optional.join(", ") : "none"
    }`,
    `init       ${duration(doc.init_ms)}`,
    `instances  ${d.thread_safe_instances ? "thread-safe" : "one call at a time"}${
      d.max_instances === undefined ? "" : `, at most ${d.max_instances}`
    }`,
  ];
  if (doc.stats) lines.push(`stats      ${Object.entries(doc.stats).map(([k, v]) => `${safe(k)}=${v}`).join(" ")}`);
  lines.push(`methods    ${d.methods.length}`);
  // Names line up in a column as wide as the longest name up to NAME_COLUMN; a longer one overflows its row alone.
  // Names and descriptions are shortened for people (--format json has them whole).
  const names = d.methods.map((m) => shortText(m.name, NAME_SHOWN));
  const width = Math.max(...names.map((n) => n.length).filter((n) => n <= NAME_COLUMN), 4);
  const ports = adapterPortLines(d.adapter);
  d.methods.forEach((m, i) => {
    const pure = (m.pure ? "pure" : "impure").padEnd(6);
    lines.push(
      `  ${names[i]!.padEnd(width)}  ${m.input.padEnd(5)}  ${pure}  ${shortText(m.description, DESCRIPTION_SHOWN)}`,
    );
    for (const line of ports.get(m.name) ?? []) lines.push(`    ${safe(line)}`);
  });
  return `${lines.join("\n")}\n`;
}
