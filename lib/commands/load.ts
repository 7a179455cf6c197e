/**
 * `plugcheck load`: opens a plugin, checks its ABI version and symbols, runs
 * init and describe(), and reports what it found.
 *
 * @example
 * ```ts ignore
 * import { run } from "./load.ts";
 * const code = await run(["build/fixtures/libref_c.so", "--format", "json"]);
 * ```
 *
 * @module
 */
import { REQUIRED_SYMBOLS } from "../ffi/symbols.ts";
import { DEFAULT_LIFECYCLE_TIMEOUT_MS, HOST_ABI_VERSION } from "../plugin/options.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import { escapeControl } from "../util/safe_text.ts";
import { duration } from "../report/units.ts";
import { defineCommand } from "./command.ts";
import type { CommandContext } from "./context.ts";
import { EXIT } from "./exit_codes.ts";
import { printWarnings } from "./output.ts";

function version(raw: number): string {
  return `${raw >>> 16}.${raw & 0xffff}`;
}

/** The JSON shape of `load --format json`. */
export async function loadReport(
  plugin: PluginHandle,
): Promise<Record<string, unknown> & { stats: Record<string, number> | null }> {
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

function formatReport(plugin: PluginHandle, stats: Record<string, number> | null): string {
  const d = plugin.describe();
  const safe = escapeControl;
  const lines = [
    `plugin     ${safe(d.name)} ${safe(d.version)}`,
    `library    ${plugin.path}`,
    `abi        ${version(plugin.abiVersion.raw)} (host ${version(HOST_ABI_VERSION)})`,
    `symbols    ${REQUIRED_SYMBOLS.length}/${REQUIRED_SYMBOLS.length} required; optional: ${
      plugin.optionalSymbols.length > 0 ? plugin.optionalSymbols.join(", ") : "none"
    }`,
    `init       ${duration(plugin.initMs)}`,
    `instances  ${d.thread_safe_instances ? "thread-safe" : "one call at a time"}${
      d.max_instances === undefined ? "" : `, at most ${d.max_instances}`
    }`,
  ];
  if (stats) lines.push(`stats      ${Object.entries(stats).map(([k, v]) => `${safe(k)}=${v}`).join(" ")}`);
  lines.push(`methods    ${d.methods.length}`);
  const width = Math.max(...d.methods.map((m) => safe(m.name).length), 4);
  for (const m of d.methods) {
    const pure = (m.pure ? "pure" : "impure").padEnd(6);
    lines.push(`  ${safe(m.name).padEnd(width)}  ${m.input.padEnd(5)}  ${pure}  ${safe(m.description)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The `load` command. */
export const command = defineCommand({
  name: "load",
  summary: "open a plugin; report ABI version, symbols, metadata",
  positionals: ["library"],
  usage: `<library> [--format text|json] [--timeout MS] [--isolate [--env NAME]...]
                 [--sha256 HEX] [--log DIRECTIVES] [--verbose]`,
  description: `Loads the shared library, checks npa_abi_version() against this host (a
different major version is refused), checks every required npa_* symbol, runs
npa_plugin_init() once and validates npa_plugin_describe() against the schema
in docs/abi.md. Nothing else is called. Then shuts the plugin down.`,
  flags: {},
  timeout: {
    default: DEFAULT_LIFECYCLE_TIMEOUT_MS,
    help:
      `deadline for dlopen, init, describe and shutdown (default\n${DEFAULT_LIFECYCLE_TIMEOUT_MS}); in process a watchdog ends plugcheck when dlopen\n(a load-time constructor) outlives it; with --isolate the\nchild is killed instead; exit code 1`,
  },
  examples: [
    "plugcheck load build/fixtures/libref_rust.so",
    "plugcheck load ./libmyplugin.so --format json | jq .description.methods",
    "plugcheck load ./libmyplugin.so --isolate --timeout 2000",
  ],
  run: async (ctx: CommandContext) => {
    const plugin = await ctx.openPlugin(ctx.positionals[0]!);
    const report = await loadReport(plugin);
    await ctx.close();
    const warnings = [...plugin.contractWarnings, ...ctx.warnings];
    if (ctx.format === "json") {
      ctx.json({ ...report, warnings });
    } else {
      ctx.out(formatReport(plugin, report.stats));
      printWarnings(warnings);
    }
    return EXIT.OK;
  },
});

/** `plugcheck load --help`. */
export const help: string = command.help;
/** Runs `plugcheck load` with the arguments after `load`; returns the exit code. */
export const run: (args: string[]) => Promise<number> = command.run;
