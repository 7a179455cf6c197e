/**
 * The plugcheck command line: parses the subcommand, dispatches to
 * `lib/commands/<name>.ts` (each loaded only when it runs) and ends sandbox
 * children on SIGINT/SIGTERM (a command that reports on them gets the first
 * one). `cli.ts` starts it, from the prebuilt bundle or from the sources.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./main.ts";
 * assert.equal(await main(["--version"]), 0);
 * ```
 *
 * @module
 */
import type { Command } from "./command.ts";
import { EXIT, EXIT_CODES_HELP } from "./exit_codes.ts";
import { INTERRUPT_EXIT_CODES, takeInterrupt } from "./interrupt.ts";
import { beforeExit, printErr, writeOut } from "./output.ts";
import { killAllSandboxChildren } from "../sandbox/live_children.ts";
import { ProcessGuard } from "../ffi/process_guard.ts";
import denoJson from "../../deno.json" with { type: "json" };

/**
 * The subcommands, in the order `--help` lists them. Each is loaded only when
 * it runs (or for `--help`): a command's start-up pays for its own modules
 * alone (`invoke` starts ~0.1 s sooner than with all six loaded).
 */
const COMMANDS: readonly { name: string; load: () => Promise<{ command: Command }> }[] = [
  { name: "load", load: () => import("./load.ts") },
  { name: "invoke", load: () => import("./invoke.ts") },
  { name: "stress", load: () => import("./stress.ts") },
  { name: "fuzz", load: () => import("./fuzz.ts") },
  { name: "check", load: () => import("./check.ts") },
  { name: "harness", load: () => import("./harness.ts") },
  { name: "compare", load: () => import("./compare.ts") },
];

/** Every command, loaded (for the help). */
async function allCommands(): Promise<Command[]> {
  return await Promise.all(COMMANDS.map(async (c) => (await c.load()).command));
}

function usageLine(c: Command): string {
  const args = c.help.match(/^Usage:\n {2}plugcheck \S+ ((?:<[^>]+> ?)*)/m)?.[1]?.trim() ?? "";
  const left = `${c.name} ${args}`;
  return `  ${left.padEnd(Math.max(27, left.length + 2))}${c.summary}`;
}

/** `plugcheck --help`, built from the commands' summaries. */
export async function help(): Promise<string> {
  const commands = await allCommands();
  return `plugcheck ${denoJson.version} — load, invoke and check native plugins (npa ABI)

Usage:
  plugcheck <command> [options]

Commands:
${commands.map(usageLine).join("\n")}

Run 'plugcheck <command> --help' for a command's options and examples.
The ABI a plugin must implement is described in docs/abi.md.

Options:
  -h, --help     show this help
  -V, --version  show the version

${EXIT_CODES_HELP}
`;
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[], startedFrom?: string): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined) {
    printErr(await help());
    return EXIT.USAGE;
  }
  if (first === "-h" || first === "--help" || first === "help") {
    const topic = first === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    writeOut(topic ? (await topic.load()).command.help : await help());
    return EXIT.OK;
  }
  if (first === "-V" || first === "--version") {
    writeOut(`plugcheck ${denoJson.version}\n`);
    // What runs: the prebuilt bundle or the sources, and why (see lib/util/prebuilt.ts).
    if (rest.includes("--verbose") && startedFrom !== undefined) printErr(startedFrom);
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
  return await (await command.load()).command.run(rest);
}

/**
 * Runs the command line as a process: `args` are its arguments, `exit` ends the process (`cli.ts` passes
 * `Deno.exit`, the one place that calls it) and `startedFrom` says what runs (for `--version --verbose`).
 * Interrupted (SIGINT/SIGTERM), it ends the sandbox children (and what their plugins forked) before leaving;
 * a command that stops and reports (stress, fuzz, check) takes the first signal, a second one exits.
 */
export async function runCli(args: string[], exit: (code: number) => never, startedFrom?: string): Promise<never> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      if (takeInterrupt(signal)) return;
      killAllSandboxChildren();
      ProcessGuard.endDescendantsIfReaping(); // in process: what the plugin forked or daemonized
      printErr(`plugcheck: interrupted by ${signal}: stopped at once`);
      const code = INTERRUPT_EXIT_CODES[signal];
      beforeExit(code);
      exit(code);
    });
  }
  // Exit explicitly: a call abandoned after its deadline would otherwise keep the process alive.
  // Before it: a plugin's exit handlers and destructors (they run during the exit) cannot change the code.
  const code = await main(args, startedFrom);
  beforeExit(code);
  return exit(code);
}
