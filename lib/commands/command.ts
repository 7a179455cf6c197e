/**
 * One way to define a subcommand: its name, summary, flags (each with its
 * help), positionals, examples and `run(ctx)`. The scaffold adds the flags
 * every command shares (`--format`, `--json`, `--color`, `--verbose`,
 * `--help`) and, for commands that load a plugin, the loading flags
 * (`--timeout`, `--isolate`, `--env`, `--grace`, `--sha256`, `--log`,
 * `--adapter`); it
 * parses, writes `--help` from the definitions, reports a failure (one JSON
 * document with `--format json`, the error and its hint on stderr), maps it
 * to an exit code, and closes what the command opened.
 *
 * @example
 * ```ts ignore
 * export const hello = defineCommand({
 *   name: "hello", summary: "say hello", positionals: [], usage: "[--json]",
 *   description: "Says hello.", flags: {}, examples: ["plugcheck hello"],
 *   run: (ctx) => { ctx.out("hello\n"); return Promise.resolve(0); },
 * });
 * ```
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { toData } from "../errors/error_data.ts";
import { PluginError, UsageError } from "../errors/errors.ts";
import { formatError } from "../errors/format_error.ts";
import { SANDBOX_DEFAULTS } from "../plugin/options.ts";
import { CommandContext, type FlagValues } from "./context.ts";
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from "./exit_codes.ts";
import { paint, printErr, writeOut } from "./output.ts";

/** One flag of a command. */
export interface Flag {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** The value's name in the help, e.g. `MS`. */
  value?: string;
  /** What it does; more lines continue under the first. */
  help: string;
}

/** A plugin-loading command's `--timeout`: its default and what it bounds. */
export interface TimeoutFlag {
  default: number;
  help: string;
}

/** A subcommand, as defined. */
export interface CommandSpec {
  name: string;
  /** One line for the top-level help. */
  summary: string;
  /** Positional arguments, in order (`library`, `method`). */
  positionals: readonly string[];
  /** The usage line(s) after `plugcheck <name>`, wrapped by hand. */
  usage: string;
  /** What the command does, a paragraph or two. */
  description: string;
  flags: Record<string, Flag>;
  /** Present for commands that load a plugin: adds the loading flags. */
  timeout?: TimeoutFlag;
  /** The command's default of `--log` (default `warning`). */
  logDefault?: string;
  /** The command runs plugins only in sandbox children (fuzz): `--env` needs no `--isolate`. */
  alwaysIsolated?: boolean;
  examples: readonly string[];
  run(ctx: CommandContext): Promise<number>;
  /** One line of advice for a failure. */
  hint?(error: unknown, ctx: CommandContext): string | undefined;
}

/** A subcommand, ready to run. */
export interface Command {
  name: string;
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

/** The flags every plugin-loading command takes (with `--timeout` from its spec). */
export const LOADING_FLAGS: Record<string, Flag> = {
  isolate: {
    type: "boolean",
    help:
      "run the plugin in a sandbox child process: a crash (segfault,\nabort, exit()) or hang is reported, not fatal",
  },
  env: {
    type: "string",
    multiple: true,
    value: "NAME",
    help: "with --isolate: pass this environment variable to the child\n(repeatable; every other variable is cleared)",
  },
  grace: {
    type: "string",
    value: "MS",
    help:
      `with --isolate: time the child gets to destroy and shut down\nbefore SIGTERM (default ${SANDBOX_DEFAULTS.graceMs})`,
  },
  sha256: {
    type: "string",
    value: "HEX",
    help: "refuse to load unless the file's SHA-256 matches (checked\nbefore the library is opened)",
  },
  adapter: {
    type: "string",
    value: "PATH",
    help: "serve the library through this adapter library: a plugin of\nan ABI of your own (see docs/adapters.md)",
  },
  log: {
    type: "string",
    value: "DIRECTIVES",
    help:
      "which plugin logs to show on stderr: a level (off, error,\nwarning, info, debug, trace) or RUST_LOG-style directives,\ne.g. 'info,plugin.mylib=debug,plugin.mylib.noisy=off'\n(most specific target wins); default $PLUGCHECK_LOG or warning",
  },
};

/** The flags every command takes. */
export const COMMON_FLAGS: Record<string, Flag> = {
  format: { type: "string", value: "FORMAT", help: "text (default) or json: one JSON document on stdout" },
  json: { type: "boolean", help: "the same as --format json" },
  color: { type: "string", value: "WHEN", help: "auto (default), always or never; NO_COLOR turns colour off" },
  verbose: { type: "boolean", help: "show stack traces, causes and the whole sandbox child stderr" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

const HELP_COLUMN = 21;

function flagLines(name: string, flag: Flag): string {
  const head = `${flag.short ? `-${flag.short}, ` : ""}--${name}${flag.value ? ` ${flag.value}` : ""}`;
  const [first, ...rest] = flag.help.split("\n");
  const pad = " ".repeat(HELP_COLUMN);
  const lead = head.length + 2 < HELP_COLUMN ? `  ${head}`.padEnd(HELP_COLUMN) : `  ${head}\n${pad}`;
  return [`${lead}${first}`, ...rest.map((l) => `${pad}${l}`)].join("\n");
}

function renderHelp(spec: CommandSpec, flags: Record<string, Flag>): string {
  const options = Object.entries(flags).map(([n, f]) => flagLines(n, f)).join("\n");
  return `plugcheck ${spec.name} — ${spec.summary}

Usage:
  plugcheck ${spec.name} ${spec.usage}

${spec.description}

Options:
${options}

Examples:
${spec.examples.map((e) => `  ${e}`).join("\n")}

${EXIT_CODES_HELP}
`;
}

/** Builds a runnable command from its definition. */
export function defineCommand(spec: CommandSpec): Command {
  const flags: Record<string, Flag> = { ...spec.flags };
  if (spec.timeout) {
    flags.timeout = { type: "string", value: "MS", help: spec.timeout.help };
    Object.assign(flags, LOADING_FLAGS);
    if (spec.logDefault !== undefined) {
      flags.log = {
        ...LOADING_FLAGS.log!,
        help: LOADING_FLAGS.log!.help.replace(
          "default $PLUGCHECK_LOG or warning",
          `default $PLUGCHECK_LOG or ${spec.logDefault}`,
        ),
      };
    }
  }
  Object.assign(flags, COMMON_FLAGS);
  const help = renderHelp(spec, flags);
  const parseOptions = Object.fromEntries(
    Object.entries(flags).map((
      [n, f],
    ) => [n, { type: f.type, ...f.short && { short: f.short }, ...f.multiple && { multiple: true } }]),
  ) as ParseArgsConfig["options"];
  return {
    name: spec.name,
    summary: spec.summary,
    help,
    run: (args) => runCommand(spec, parseOptions, help, args),
  };
}

function parse(
  args: string[],
  options: ParseArgsConfig["options"],
  command: string,
): { values: FlagValues; positionals: string[] } {
  try {
    return parseArgs({ args: joinNegativeValues(args, options), options, allowPositionals: true, strict: true }) as {
      values: FlagValues;
      positionals: string[];
    };
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, "") : String(e);
    const ambiguous = /^Option '(--[^']+)' argument is ambiguous/.exec(msg);
    const flag = ambiguous?.[1];
    const text = flag === undefined
      ? msg.replace(/\.$/, "").replace(/\.?\n/g, "; ")
      : `Option ${flag} needs a value: got ${
        JSON.stringify(args[args.indexOf(flag) + 1] ?? "")
      }, which reads as an option (if it is the value, write ${flag}=VALUE)`;
    throw new UsageError(`${text} (see 'plugcheck ${command} --help')`);
  }
}

/**
 * `--flag -5` as `--flag=-5` for a flag that takes a value: parseArgs would
 * read the number as an option, while the flag's own check says what is
 * wrong with it (a negative count, a negative timeout).
 */
function joinNegativeValues(args: readonly string[], options: ParseArgsConfig["options"]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const takesValue = arg.startsWith("--") && options?.[arg.slice(2)]?.type === "string";
    if (takesValue && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
    if (arg === "--") {
      out.push(...args.slice(i + 1));
      break;
    }
  }
  return out;
}

/** A last positional named like `dir...` takes any number of arguments, none included. */
function checkPositionals(spec: CommandSpec, given: readonly string[]): void {
  const rest = spec.positionals.at(-1)?.endsWith("...") === true;
  const names = spec.positionals.slice(0, rest ? -1 : undefined).map((p) => `<${p}>`);
  if (given.length < names.length) {
    throw new UsageError(`Missing ${names.slice(given.length).join(" and ")} (see 'plugcheck ${spec.name} --help')`);
  }
  if (given.length > names.length && !rest) {
    throw new UsageError(`Expected ${names.join(" ")}, got ${given.length} arguments: ${given.join(" ")}`);
  }
}

async function runCommand(
  spec: CommandSpec,
  options: ParseArgsConfig["options"],
  help: string,
  args: string[],
): Promise<number> {
  let ctx: CommandContext | undefined;
  // Before the flags are parsed, a failure still honours them as far as they can be read.
  let json = args.includes("--json") || args.includes("--format=json") || args[args.indexOf("--format") + 1] === "json";
  let verbose = args.includes("--verbose");
  try {
    const { values, positionals } = parse(args, options, spec.name);
    if (values.help) {
      writeOut(help);
      return EXIT.OK;
    }
    checkPositionals(spec, positionals);
    ctx = new CommandContext(
      spec.name,
      values,
      positionals,
      spec.timeout?.default,
      spec.logDefault,
      spec.alwaysIsolated === true,
    );
    json = ctx.format === "json";
    verbose = ctx.verbose;
    const code = await spec.run(ctx);
    await ctx.close();
    return await unload(ctx, code);
  } catch (error) {
    const hint = ctx && spec.hint ? spec.hint(error, ctx) : undefined;
    const code = reportFailure(error, { json, verbose, hint });
    await ctx?.close().catch(() => {});
    return ctx ? await unload(ctx, code) : code;
  }
}

/**
 * After the results: unloads the plugins (their destructors run now). A
 * failure of unloading is its own finding, on stderr (the results, and their
 * one JSON document, are out already), and turns a success into exit code 1.
 */
async function unload(ctx: CommandContext, code: number): Promise<number> {
  const problems = await ctx.unload();
  for (const problem of problems) {
    reportFailure(problem, {
      json: false,
      verbose: ctx.verbose,
      hint: "a library destructor or atexit handler of the plugin must return quickly and never crash or exit",
    });
  }
  return problems.length > 0 && code === EXIT.OK ? EXIT.PLUGIN_FAILED : code;
}

/** Reports a command's failure (JSON on stdout with --format json; the error on stderr) and returns its exit code. */
export function reportFailure(
  error: unknown,
  options: { json: boolean; verbose: boolean; hint?: string | undefined },
): number {
  if (options.json) writeOut(`${JSON.stringify({ ok: false, error: toData(error) }, null, 2)}\n`);
  const internal = !(error instanceof PluginError) && !(error instanceof UsageError);
  const [first, ...rest] = formatError(error, { verbose: options.verbose, hint: options.hint });
  printErr(`plugcheck: ${paint("red", internal ? "internal error:" : "error:")} ${first}`);
  for (const line of rest) printErr(line);
  if (internal) printErr("  this is a bug in plugcheck: please report it with the output of --verbose");
  return exitCodeFor(error);
}
