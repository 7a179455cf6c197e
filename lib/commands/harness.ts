/**
 * `plugcheck harness`: writes a libFuzzer harness (one C file) that fuzzes
 * one method of a plugin through the npa ABI, for clang's libFuzzer,
 * OSS-Fuzz or ClusterFuzzLite (docs/oss_fuzz.md). The plugin is loaded in a
 * sandbox child first, to check that it loads and has the method; the C is
 * `lib/harness/generate.ts`.
 *
 * @example
 * ```ts ignore
 * import { run } from "./harness.ts";
 * const code = await run(["build/fixtures/fuzz/libcov_magic.so", "--method", "magic", "--output", "harness.c"]);
 * ```
 *
 * @module
 */
import { basename, dirname, extname, join } from "node:path";
import { PluginError, UsageError } from "../errors/errors.ts";
import { writeWhole } from "../fuzz/mod.ts";
import { loadError } from "../errors/host_errors.ts";
import { generateHarness, HARNESS_BUILD_COMMAND, HARNESS_OSS_FUZZ_COMMAND } from "../harness/generate.ts";
import { loadPlugin } from "../host/load_plugin.ts";
import { DEFAULT_LIFECYCLE_TIMEOUT_MS } from "../plugin/options.ts";
import { shellQuote } from "../util/safe_text.ts";
import { harnessReport, writtenLine } from "../report/harness_report.ts";
import { defineCommand } from "./command.ts";
import { CLI_DEFAULT_LOG, type CommandContext } from "./context.ts";
import { EXIT } from "./exit_codes.ts";
import { parseConfigFlag, readUserFile, userPath } from "./input.ts";
import { printErr, printWarnings } from "./output.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** `--config`: JSON text given inline (it starts with `{`) or the name of a file that holds it; its exact text. */
function configText(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let text = value;
  if (!value.trimStart().startsWith("{")) {
    const { bytes } = readUserFile(value, "--config");
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new UsageError(`Cannot use --config ${JSON.stringify(value)}: the file is not UTF-8 text`);
    }
  }
  parseConfigFlag(text);
  return text;
}

/** The methods describe() lists, after loading the plugin in a sandbox child (closed again). */
async function pluginMethods(
  ctx: CommandContext,
  path: string,
  timeoutMs: number,
): Promise<{ name: string; methods: string[] }> {
  let plugin;
  try {
    plugin = await loadPlugin(path, { isolate: true, timeoutMs, log: CLI_DEFAULT_LOG });
  } catch (e) {
    // A plugin that cannot get through init and describe() cannot be fuzzed either: it does not load (exit 3).
    if (e instanceof PluginError && !["LOAD", "ABI_MISMATCH", "HOST_INTERNAL"].includes(e.code)) {
      throw loadError(path, "it failed in a sandbox child before describe() answered", e);
    }
    throw e;
  }
  const described = plugin.describe();
  ctx.warnings.push(...plugin.contractWarnings);
  try {
    await plugin.close();
  } catch (e) {
    ctx.warn(`The plugin failed to shut down in its sandbox child: ${e instanceof Error ? e.message : e}`);
  }
  return { name: described.name, methods: described.methods.map((m) => m.name) };
}

/** The clang command that builds the harness written to `output` (or `harness.c`). */
function buildCommand(output: string | undefined): string {
  if (output === undefined) return HARNESS_BUILD_COMMAND;
  const binary = join(dirname(output), basename(output, extname(output)) || "harness");
  return `clang -fsanitize=fuzzer ${shellQuote(output)} -ldl -o ${
    shellQuote(binary === output ? `${output}.bin` : binary)
  }`;
}

/** The `harness` command. */
export const command = defineCommand({
  name: "harness",
  summary: "write a libFuzzer harness (C) for one method of a plugin",
  positionals: ["library"],
  usage: `<library> --method NAME [--output FILE] [--config FILE|JSON]
                   [--timeout MS] [--format text|json]`,
  description: `Writes one C file whose LLVMFuzzerTestOneInput passes each input to <method>
of the plugin through the npa ABI, for libFuzzer, OSS-Fuzz or ClusterFuzzLite
(see docs/oss_fuzz.md). Build and run it with
  ${HARNESS_BUILD_COMMAND}
  ./harness corpus/
or, in OSS-Fuzz and ClusterFuzzLite,
  ${HARNESS_OSS_FUZZ_COMMAND}
At start-up the harness dlopen()s the plugin by the absolute path it was
generated for (the environment variable NPA_PLUGIN names another; with no file
there, it takes the one of that name next to the harness), checks its ABI
major version, runs init once and creates one instance with the --config
text (none without it); a failure there exits with code 1. Each input is one
npa_instance_invoke; a status outside the ABI, NPA_PANIC, a NULL buffer with a
length, an error buffer on success or an output buffer on failure aborts, and
libFuzzer reports a crash. Its artifacts (crash-<sha1>) replay with
'plugcheck invoke <library> <method> --input-file crash-<sha1> --isolate'.

First the plugin is loaded in a sandbox child, to check that it loads (exit 3
if not) and has <method> (exit 2, listing the methods, if not). The C goes to
stdout, or whole to --output FILE (written beside it, then renamed).`,
  flags: {
    method: { type: "string", value: "NAME", help: "the method each input is passed to (required)" },
    output: { type: "string", value: "FILE", help: "write the C file here (default: stdout)" },
    config: {
      type: "string",
      value: "FILE|JSON",
      help:
        "instance config the harness creates its instance with: a\nJSON object, or a file holding one (default: none)",
    },
    timeout: {
      type: "string",
      value: "MS",
      help: `deadline for loading the plugin to check it (default\n${DEFAULT_LIFECYCLE_TIMEOUT_MS})`,
    },
  },
  examples: [
    "plugcheck harness build/fixtures/fuzz/libcov_magic.so --method magic --output harness.c",
    "plugcheck harness ./libmine.so --method parse --config '{\"strict\": true}' > fuzz_parse.c",
    "plugcheck harness ./libmine.so --method parse --config parse.json --format json | jq -r .build",
  ],
  run: async (ctx: CommandContext) => {
    const library = userPath(ctx.positionals[0]!);
    const method = ctx.string("method");
    if (method === undefined) throw new UsageError("Missing --method NAME (see 'plugcheck harness --help')");
    const given = ctx.string("output");
    const output = given === undefined ? undefined : userPath(given);
    const config = configText(ctx.string("config"));
    const timeoutMs = ctx.delayMs("timeout", DEFAULT_LIFECYCLE_TIMEOUT_MS);
    const { name, methods } = await pluginMethods(ctx, library, timeoutMs);
    if (!methods.includes(method)) {
      throw new UsageError(
        `Plugin ${JSON.stringify(name)} has no method ${JSON.stringify(method)}; its methods: ${methods.join(", ")}`,
      );
    }
    const harness = generateHarness({ libraryPath: library, method, config });
    if (output !== undefined) {
      try {
        writeWhole(output, harness);
      } catch (e) {
        throw new UsageError(`Cannot write --output ${JSON.stringify(given)}: ${e instanceof Error ? e.message : e}`);
      }
    }
    const doc = harnessReport({ harness, library, method, build: buildCommand(output), output }, ctx.warnings);
    if (ctx.format === "json") {
      ctx.json(doc);
    } else {
      if (output === undefined) ctx.out(harness);
      printWarnings(doc.warnings);
      const written = writtenLine(doc);
      if (written !== undefined) printErr(written);
    }
    return EXIT.OK;
  },
});

/** `plugcheck harness --help`. */
export const help: string = command.help;
/** Runs `plugcheck harness` with the arguments after `harness`; returns the exit code. */
export const run: (args: string[]) => Promise<number> = command.run;
