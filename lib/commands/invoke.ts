/**
 * `plugcheck invoke`: loads a plugin, creates one instance and calls a method,
 * printing the output bytes on stdout (or a JSON document with `--json`).
 *
 * @example
 * ```ts ignore
 * import { run } from "./invoke.ts";
 * const code = await run(["build/fixtures/libref_rust.so", "upper", "--input", "hi"]);
 * ```
 *
 * @module
 */
import { PluginCrashError, PluginTimeoutError, UnknownMethodError } from "../errors.ts";
import { leakCheck } from "../verdicts.ts";
import type { LogCounters } from "../ffi/host_log.ts";
import { toData } from "../error_data.ts";
import { loadPlugin } from "../load_plugin.ts";
import { DEFAULT_INVOKE_TIMEOUT_MS, SANDBOX_DEFAULTS } from "../options.ts";
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
  positiveInt,
  printErr,
  reportError,
  SANDBOX_FLAGS,
  sandboxOptionsFrom,
  UsageError,
  writeOut,
} from "./_shared.ts";

/** `plugcheck invoke --help`. */
export const help = `plugcheck invoke — call one method of a plugin

Usage:
  plugcheck invoke <library> <method> [--input TEXT | --input-file PATH | --stdin]
                   [--config JSON] [--timeout MS] [--repeat N] [--json]
                   [--isolate [--env NAME]... [--grace MS]]
                   [--sha256 HEX] [--log DIRECTIVES] [--verbose]

Loads the plugin, creates one instance (with --config), calls <method> and
prints its output bytes on stdout, unchanged. Errors go to stderr as one line
naming the failure (e.g. 'plugin returned status 1 (INVALID_INPUT): ...').
Without an input option the input is empty. If the plugin exports
npa_plugin_stats, instances and buffers must be back to where they started
once the instance is destroyed; a leak is reported as an error (exit 1).

Options:
  --input TEXT       input as UTF-8 text
  --input-file PATH  input read from a file (raw bytes)
  --stdin            input read from standard input (raw bytes)
  --config JSON      instance config, a JSON object (default: none)
  --timeout MS       deadline for each call, load and destroy included (default
                     ${DEFAULT_INVOKE_TIMEOUT_MS}); on expiry the call is abandoned (in process)
                     or the sandbox child killed (--isolate); exit code 1
  --repeat N         call N times on the same instance; prints the last output
                     and a timing summary on stderr; stops at the first failure
  --isolate          run the plugin in a sandbox child process: a crash
                     (segfault, abort) or hang is reported, not fatal
  --env NAME         with --isolate: pass this environment variable to the
                     child (repeatable; every other variable is cleared)
  --grace MS         with --isolate: time the child gets to destroy and shut
                     down before SIGTERM (default ${SANDBOX_DEFAULTS.graceMs})
  --json             print one JSON document on stdout: the output (parsed for
                     json methods, text or base64 otherwise) or the error
  --sha256 HEX       refuse to load unless the file's SHA-256 matches
${LOG_FLAG_HELP}
  --verbose          show stack traces, causes and the whole child stderr
  -h, --help         show this help

Examples:
  plugcheck invoke build/fixtures/libref_rust.so upper --input hello
  plugcheck invoke build/fixtures/libref_c.so sum --input '[1, 2, 3.5]' --json
  plugcheck invoke ./libmine.so parse --input-file sample.bin --timeout 500
  plugcheck invoke ./libmine.so parse --input-file crash.bin --isolate
  echo -n hi | plugcheck invoke ./libmine.so echo --stdin --repeat 1000

${EXIT_CODES_HELP}
`;

const FLAGS = {
  input: { type: "string" },
  "input-file": { type: "string" },
  stdin: { type: "boolean" },
  config: { type: "string" },
  timeout: { type: "string" },
  repeat: { type: "string" },
  grace: { type: "string" },
  ...SANDBOX_FLAGS,
  ...COMMON_FLAGS,
} as const;

async function readInput(values: { input?: string; "input-file"?: string; stdin?: boolean }): Promise<Uint8Array> {
  const given = [values.input !== undefined, values["input-file"] !== undefined, values.stdin === true]
    .filter(Boolean).length;
  if (given > 1) throw new UsageError("Options --input, --input-file and --stdin exclude each other: give one");
  if (values.input !== undefined) return new TextEncoder().encode(values.input);
  const file = values["input-file"];
  if (file !== undefined) {
    try {
      return await Deno.readFile(file);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "file not found" : e instanceof Error ? e.message : String(e);
      throw new UsageError(`Cannot read --input-file ${JSON.stringify(file)}: ${why}`);
    }
  }
  if (values.stdin) return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
  return new Uint8Array(0);
}

function parseConfig(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`Option --config is not valid JSON: ${e instanceof Error ? e.message : e}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError("Option --config must be a JSON object, e.g. '{\"counter_start\": 5}'");
  }
  return value as Record<string, unknown>;
}

/** The output as JSON: parsed for json methods, text when UTF-8, base64 otherwise. */
function outputJson(bytes: Uint8Array, kind: "bytes" | "json" | undefined): Record<string, unknown> {
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  if (kind === "json" && text !== undefined) {
    try {
      return { output: JSON.parse(text) };
    } catch {
      // a json method that returned something else: show it as text
    }
  }
  if (text !== undefined) return { output_text: text };
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return { output_base64: btoa(binary) };
}

function hintFor(error: unknown, plugin: PluginHandle | undefined): string | undefined {
  if (error instanceof UnknownMethodError && plugin) {
    return `methods of ${plugin.describe().name}: ${plugin.describe().methods.map((m) => m.name).join(", ")}`;
  }
  if (error instanceof PluginTimeoutError) {
    return "the call may be stuck; raise --timeout if it is just slow";
  }
  if (error instanceof PluginCrashError) {
    const r = error.request;
    return r?.method !== undefined
      ? `the crash happened in "${r.method}"; rerun with --verbose for the whole child stderr`
      : "rerun with --verbose for the whole child stderr";
  }
  return undefined;
}

/** Warnings about plugin logging the run revealed. */
function logWarnings(c: LogCounters): string[] {
  const out: string[] = [];
  if (c.droppedFull > 0) {
    out.push(
      `${c.droppedFull} plugin log messages were dropped because the log queue was full (${c.accepted} delivered)`,
    );
  }
  if (c.filtered > 0) {
    out.push(
      `${c.filtered} plugin log messages arrived at levels log_enabled had rejected: the plugin formats messages nobody reads`,
    );
  }
  if (c.truncated > 0) out.push(`${c.truncated} plugin log messages were cut to 8 KiB`);
  return out;
}

function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `plugcheck invoke` with the arguments after `invoke`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  let json = false;
  let verbose = false;
  let plugin: PluginHandle | undefined;
  try {
    const { values, positionals } = parseFlags(args, FLAGS, "invoke");
    json = values.json ?? false;
    verbose = values.verbose ?? false;
    if (values.help) {
      writeOut(help);
      return EXIT.OK;
    }
    if (positionals.length !== 2) {
      throw new UsageError(
        positionals.length < 2
          ? `Missing ${
            positionals.length === 0 ? "<library> and <method>" : "<method>"
          } (see 'plugcheck invoke --help')`
          : `Expected <library> <method>, got ${positionals.length} arguments: ${positionals.join(" ")}`,
      );
    }
    const [path, method] = positionals as [string, string];
    const timeoutMs = positiveInt(values.timeout, "--timeout", DEFAULT_INVOKE_TIMEOUT_MS);
    const repeat = positiveInt(values.repeat, "--repeat", 1);
    const { isolate, env } = sandboxOptionsFrom(values, { "--grace": values.grace });
    const graceMs = positiveInt(values.grace, "--grace", SANDBOX_DEFAULTS.graceMs);
    const config = parseConfig(values.config);
    const { options, directives } = loadOptionsFrom(values);
    const input = await readInput(values);
    configureCliLogging(directives, verbose);

    plugin = await loadPlugin(path, { ...options, timeoutMs, isolate, env, graceMs });
    const kind = plugin.describe().methods.find((m) => m.name === method)?.input;
    const before = await plugin.readStats();
    const instance = await plugin.createInstance(config, { timeoutMs });
    let output: Uint8Array = new Uint8Array(0);
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      output = await instance.invoke(method, input, { timeoutMs });
      times.push(performance.now() - t0);
    }
    await instance.destroy();
    const leak = leakCheck(`invoke ${JSON.stringify(method)}`, before, await plugin.readStats());
    const warnings = [...plugin.contractWarnings, ...logWarnings(await plugin.readLogCounters())];
    await plugin.close();
    times.sort((a, b) => a - b);
    const ms = (x: number) => Number(x.toFixed(4));
    const timing = {
      calls: repeat,
      min_ms: ms(times[0]!),
      median_ms: ms(median(times)),
      max_ms: ms(times[times.length - 1]!),
    };
    if (json) {
      const doc: Record<string, unknown> = { ok: leak === undefined, method, ...outputJson(output, kind), timing };
      if (leak) doc.error = toData(leak);
      doc.warnings = warnings;
      writeOut(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      writeOut(output);
      if (Deno.stdout.isTerminal() && output.length > 0 && output[output.length - 1] !== 10) writeOut("\n");
      for (const w of warnings) printErr(`warning: ${w}`);
    }
    if (repeat > 1) {
      const f = (x: number) => `${(x * 1000).toFixed(1)} us`;
      printErr(`${repeat} calls: min ${f(timing.min_ms)}, median ${f(timing.median_ms)}, max ${f(timing.max_ms)}`);
    }
    if (leak) {
      reportError(leak, verbose, "destroy must free what create made; every buffer must be freed by npa_buffer_free");
      return EXIT.PLUGIN_FAILED;
    }
    return EXIT.OK;
  } catch (error) {
    const code = fail(error, { json, verbose, hint: hintFor(error, plugin) });
    // Safe even after a timeout: close() never unloads under a running call, and a sandbox child is just stopped.
    await plugin?.close().catch(() => {});
    return code;
  }
}
