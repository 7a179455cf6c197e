/**
 * `plugcheck load`: opens a plugin, checks its ABI version and symbols, runs
 * init and describe(), and reports what it found.
 *
 * @example
 * ```ts ignore
 * import { run } from "./load.ts";
 * const code = await run(["build/fixtures/libref_c.so", "--json"]);
 * ```
 *
 * @module
 */
import { REQUIRED_SYMBOLS } from "../ffi/symbols.ts";
import { loadPlugin } from "../load_plugin.ts";
import { HOST_ABI_VERSION } from "../options.ts";
import type { PluginHandle } from "../plugin_handle.ts";
import {
  COMMON_FLAGS,
  configureCliLogging,
  EXIT,
  EXIT_CODES_HELP,
  fail,
  loadOptionsFrom,
  LOG_FLAG_HELP,
  parseFlags,
  SANDBOX_FLAGS,
  sandboxOptionsFrom,
  UsageError,
  writeOut,
} from "./_shared.ts";

/** `plugcheck load --help`. */
export const help = `plugcheck load — open a plugin and report its ABI, symbols and metadata

Usage:
  plugcheck load <library> [--json] [--isolate [--env NAME]...] [--sha256 HEX]
                 [--log DIRECTIVES] [--verbose]

Loads the shared library, checks npa_abi_version() against this host (a
different major version is refused), checks every required npa_* symbol, runs
npa_plugin_init() once and validates npa_plugin_describe() against the schema
in docs/abi.md. Nothing else is called. Then shuts the plugin down.

Options:
  --json             print one JSON document on stdout instead of text
  --isolate          load in a sandbox child process, so a plugin that crashes
                     or hangs in init is reported instead of killing plugcheck
  --env NAME         with --isolate: pass this environment variable to the
                     child (repeatable; every other variable is cleared)
  --sha256 HEX       refuse to load unless the file's SHA-256 matches (checked
                     before the library is opened)
${LOG_FLAG_HELP}
  --verbose          show stack traces and causes of errors
  -h, --help         show this help

Examples:
  plugcheck load build/fixtures/libref_rust.so
  plugcheck load ./libmyplugin.so --json | jq .description.methods

${EXIT_CODES_HELP}
`;

const FLAGS = { ...SANDBOX_FLAGS, ...COMMON_FLAGS } as const;

/** Runs `plugcheck load` with the arguments after `load`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let json = false;
  let verbose = false;
  try {
    const { values, positionals } = parseFlags(args, FLAGS, "load");
    json = values.json ?? false;
    verbose = values.verbose ?? false;
    if (values.help) {
      writeOut(help);
      return EXIT.OK;
    }
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0
          ? "Missing <library> (see 'plugcheck load --help')"
          : `Expected one <library>, got ${positionals.length}: ${positionals.join(" ")}`,
      );
    }
    const { options, directives } = loadOptionsFrom(values);
    configureCliLogging(directives, verbose);
    const plugin = await loadPlugin(positionals[0]!, { ...options, ...sandboxOptionsFrom(values) });
    try {
      const report = await loadReport(plugin);
      writeOut(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(plugin, report.stats));
    } finally {
      await plugin.close();
    }
    return EXIT.OK;
  } catch (error) {
    return fail(error, { json, verbose });
  }
}

function version(raw: number): string {
  return `${raw >>> 16}.${raw & 0xffff}`;
}

/** The JSON shape of `load --json`. */
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
  const lines = [
    `plugin     ${d.name} ${d.version}`,
    `library    ${plugin.path}`,
    `abi        ${version(plugin.abiVersion.raw)} (host ${version(HOST_ABI_VERSION)})`,
    `symbols    ${REQUIRED_SYMBOLS.length}/${REQUIRED_SYMBOLS.length} required; optional: ${
      plugin.optionalSymbols.length > 0 ? plugin.optionalSymbols.join(", ") : "none"
    }`,
    `init       ${plugin.initMs.toFixed(2)} ms`,
    `instances  ${d.thread_safe_instances ? "thread-safe" : "one call at a time"}${
      d.max_instances === undefined ? "" : `, at most ${d.max_instances}`
    }`,
  ];
  if (stats) lines.push(`stats      ${Object.entries(stats).map(([k, v]) => `${k}=${v}`).join(" ")}`);
  lines.push(`methods    ${d.methods.length}`);
  const width = Math.max(...d.methods.map((m) => m.name.length), 4);
  for (const m of d.methods) {
    lines.push(
      `  ${m.name.padEnd(width)}  ${m.input.padEnd(5)}  ${(m.pure ? "pure" : "impure").padEnd(6)}  ${m.description}`,
    );
  }
  for (const w of plugin.contractWarnings) lines.push(`warning: ${w}`);
  return `${lines.join("\n")}\n`;
}
