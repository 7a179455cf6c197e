/**
 * The plugcheck command line: parses the subcommand, dispatches to
 * `lib/commands/<name>.ts`, and is the only place that calls `Deno.exit`.
 *
 * @example
 * ```sh
 * deno run --allow-ffi --allow-read --allow-env --allow-run cli.ts load build/fixtures/libref_rust.so
 * ```
 *
 * @module
 */
import * as invoke from "./lib/commands/invoke.ts";
import * as load from "./lib/commands/load.ts";
import { EXIT, EXIT_CODES_HELP, printErr, writeOut } from "./lib/commands/_shared.ts";
import denoJson from "./deno.json" with { type: "json" };

const COMMANDS: Record<string, { help: string; run: (args: string[]) => Promise<number> }> = { load, invoke };

/** `plugcheck --help`. */
export const help = `plugcheck ${denoJson.version} — load, invoke and check native plugins (npa ABI)

Usage:
  plugcheck <command> [options]

Commands:
  load <library>             open a plugin; report ABI version, symbols, metadata
  invoke <library> <method>  call one method and print its output

Run 'plugcheck <command> --help' for a command's options and examples.
The ABI a plugin must implement is described in docs/abi.md.

Options:
  -h, --help     show this help
  -V, --version  show the version

${EXIT_CODES_HELP}
`;

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined) {
    printErr(help);
    return EXIT.USAGE;
  }
  if (first === "-h" || first === "--help" || first === "help") {
    const topic = first === "help" ? rest[0] : undefined;
    writeOut(topic !== undefined && COMMANDS[topic] ? COMMANDS[topic].help : help);
    return EXIT.OK;
  }
  if (first === "-V" || first === "--version") {
    writeOut(`plugcheck ${denoJson.version}\n`);
    return EXIT.OK;
  }
  const command = COMMANDS[first];
  if (command === undefined) {
    const what = first.startsWith("-") ? `Unknown option ${first}` : `Unknown command ${JSON.stringify(first)}`;
    printErr(`plugcheck: error: ${what}; commands: ${Object.keys(COMMANDS).join(", ")} (see 'plugcheck --help')`);
    return EXIT.USAGE;
  }
  return await command.run(rest);
}

if (import.meta.main) {
  // Exit explicitly: a call abandoned after its deadline would otherwise keep the process alive.
  Deno.exit(await main(Deno.args));
}
