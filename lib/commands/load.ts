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
import { DEFAULT_LIFECYCLE_TIMEOUT_MS } from "../plugin/options.ts";
import { loadReport, renderLoadReport } from "../report/load_report.ts";
import { defineCommand } from "./command.ts";
import type { CommandContext } from "./context.ts";
import { EXIT } from "./exit_codes.ts";
import { printWarnings } from "./output.ts";

/** The `load` command. */
export const command = defineCommand({
  name: "load",
  summary: "open a plugin; report ABI version, symbols, metadata",
  positionals: ["library"],
  usage: `<library> [--format text|json] [--timeout MS] [--isolate [--env NAME]...]
                 [--sha256 HEX] [--adapter PATH] [--log DIRECTIVES] [--verbose]`,
  description: `Loads the shared library, checks npa_abi_version() against this host (a
different major version is refused), checks every required npa_* symbol, runs
npa_plugin_init() once and validates npa_plugin_describe() against the schema
in docs/abi.md. Nothing else is called. Then shuts the plugin down, prints
the report, and unloads the library (a destructor that hangs, crashes or
exits is reported after the report, exit code 1).`,
  flags: {},
  timeout: {
    default: DEFAULT_LIFECYCLE_TIMEOUT_MS,
    help:
      `deadline for dlopen, init, describe, shutdown and unloading\n(default ${DEFAULT_LIFECYCLE_TIMEOUT_MS}); in process a watchdog ends plugcheck when\ndlopen (a load-time constructor) or unloading (a destructor)\noutlives it; with --isolate the child is killed instead; exit\ncode 1`,
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
    report.warnings = [...plugin.contractWarnings, ...ctx.warnings];
    if (ctx.format === "json") {
      ctx.json(report);
    } else {
      ctx.out(renderLoadReport(report));
      printWarnings(report.warnings);
    }
    return EXIT.OK;
  },
});

/** `plugcheck load --help`. */
export const help: string = command.help;
/** Runs `plugcheck load` with the arguments after `load`; returns the exit code. */
export const run: (args: string[]) => Promise<number> = command.run;
