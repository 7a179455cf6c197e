/**
 * The plugcheck command line: parses the subcommand, dispatches to
 * `lib/commands/<name>.ts`, ends sandbox children on SIGINT/SIGTERM, and is
 * the only place that calls `Deno.exit`.
 *
 * @example
 * ```sh
 * deno run --allow-ffi --allow-read --allow-env --allow-run cli.ts load build/fixtures/libref_rust.so
 * ```
 *
 * @module
 */
import type { Command } from "./lib/commands/command.ts";
import { EXIT, EXIT_CODES_HELP } from "./lib/commands/exit_codes.ts";
import { takeInterrupt } from "./lib/commands/interrupt.ts";
import * as check from "./lib/commands/check.ts";
import * as fuzz from "./lib/commands/fuzz.ts";
import * as harness from "./lib/commands/harness.ts";
import * as invoke from "./lib/commands/invoke.ts";
import * as load from "./lib/commands/load.ts";
import * as stress from "./lib/commands/stress.ts";
import { printErr, writeOut } from "./lib/commands/output.ts";
import { killAllSandboxChildren } from "./lib/sandbox/sandbox_child.ts";
import denoJson from "./deno.json" with { type: "json" };

const COMMANDS: readonly Command[] = [
  load.command,
  invoke.command,
  stress.command,
  fuzz.command,
  check.command,
  harness.command,
];

function usageLine(c: Command): string {
  const args = c.help.match(/^Usage:\n {2}plugcheck \S+ ((?:<[^>]+> ?)*)/m)?.[1]?.trim() ?? "";
  return `  ${`${c.name} ${args}`.padEnd(27)}${c.summary}`;
}

/** `plugcheck --help`, built from the commands' summaries. */
export const help = `plugcheck ${denoJson.version} — load, invoke and check native plugins (npa ABI)

Usage:
  plugcheck <command> [options]

Commands:
${COMMANDS.map(usageLine).join("\n")}

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
    const topic = first === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    writeOut(topic ? topic.help : help);
    return EXIT.OK;
  }
  if (first === "-V" || first === "--version") {
    writeOut(`plugcheck ${denoJson.version}\n`);
    return EXIT.OK;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (command === undefined) {
    const what = first.startsWith("-") ? `Unknown option ${first}` : `Unknown command ${JSON.stringify(first)}`;
    printErr(
      `plugcheck: error: ${what}; commands: ${COMMANDS.map((c) => c.name).join(", ")} (see 'plugcheck --help')`,
    );
    return EXIT.USAGE;
  }
  return await command.run(rest);
}

if (import.meta.main) {
  // Interrupted: end the sandbox children (and what their plugins forked) before leaving. A command
  // that stops and reports on Ctrl-C (stress) takes the first SIGINT; a second one exits.
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    Deno.addSignalListener(signal, () => {
      if (signal === "SIGINT" && takeInterrupt()) return;
      killAllSandboxChildren();
      Deno.exit(code);
    });
  }
  // Exit explicitly: a call abandoned after its deadline would otherwise keep the process alive.
  Deno.exit(await main(Deno.args));
}
