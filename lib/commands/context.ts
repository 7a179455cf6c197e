/**
 * What a running command gets: its checked flags and positionals, the output
 * format, a status line, a list of warnings, and `openPlugin()`, which loads
 * the plugin the way the flags say. In process, it first installs the
 * process guards, so that nothing a plugin does can take plugcheck with it:
 * results move to a private stdout (the plugin's fd 1 goes to stderr,
 * counted; its fd 0 reads /dev/null), an `exit()` inside a plugin call
 * becomes a failure, and a watchdog ends a synchronous call (or a hanging
 * load-time constructor) that outlives `--timeout`. `close()` closes what
 * was opened and adds what plugcheck saw of the plugin's process behaviour
 * (stdout bytes, processes left running) to the warnings; the unloading
 * itself waits for `unload()`, after the results are printed.
 *
 * @example
 * ```ts ignore
 * const plugin = await ctx.openPlugin(ctx.positionals[0]!);
 * ctx.warn("something odd");
 * await ctx.close();
 * ```
 *
 * @module
 */
import { UsageError } from "../errors/errors.ts";
import { ProcessGuard } from "../ffi/process_guard.ts";
import { loadError } from "../errors/host_errors.ts";
import { loadPlugin } from "../host/load_plugin.ts";
import { finishUnloads } from "../host/unloads.ts";
import { type LogDirectives, parseLogDirectives } from "../plugin/log_directives.ts";
import type { PluginOptions } from "../plugin/options.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import { MAX_DELAY_MS } from "../util/timers.ts";
import { leftoverWarning, stdoutWarning } from "../errors/leak_check.ts";
import { EXIT } from "./exit_codes.ts";
import { userPath } from "./input.ts";
import { interruptExitCode } from "./interrupt.ts";
import { configureCliLogging } from "./logging.ts";
import { printErr, printWarnings, sendResultsTo, setColorMode, writeOut } from "./output.ts";
import type { ColorMode } from "../report/paint.ts";
import { escapeLines } from "../util/safe_text.ts";
import { SandboxedPlugin } from "../host/isolated/plugin.ts";
import { sandboxProcessIds } from "../sandbox/live_children.ts";
import { StatusLine } from "./status_line.ts";

/** Parsed flag values, by flag name. */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The default of `--log` in the CLI: a validator shows plugin warnings, not their chatter. */
export const CLI_DEFAULT_LOG = "warning";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A running command's view of its arguments and outputs. */
export class CommandContext {
  readonly command: string;
  readonly positionals: readonly string[];
  readonly format: "text" | "json";
  readonly verbose: boolean;
  /** Warnings to report with the result (and print on stderr in text mode). */
  readonly warnings: string[] = [];
  readonly status: StatusLine = new StatusLine();
  /** The `--timeout` of a command that loads a plugin. */
  readonly timeoutMs: number;
  /** `--adapter`: the adapter's path, resolved against the user's directory (a file that exists). */
  readonly adapter: string | undefined;
  readonly #values: FlagValues;
  readonly #logText: string;
  readonly #plugins: PluginHandle[] = [];
  #guard: ProcessGuard | undefined;

  constructor(
    command: string,
    values: FlagValues,
    positionals: readonly string[],
    timeoutDefault?: number,
    logDefault: string = CLI_DEFAULT_LOG,
    alwaysIsolated = false,
  ) {
    this.command = command;
    this.#values = values;
    this.positionals = positionals;
    this.verbose = this.flag("verbose");
    const format = this.string("format") ?? (this.flag("json") ? "json" : "text");
    if (format !== "text" && format !== "json") {
      throw new UsageError(`Option --format takes text or json: got ${JSON.stringify(format)}`);
    }
    if (this.flag("json") && format !== "json") throw new UsageError("Options --json and --format text contradict");
    this.format = format;
    const color = this.string("color") ?? "auto";
    if (!["auto", "always", "never"].includes(color)) {
      throw new UsageError(`Option --color takes auto, always or never: got ${JSON.stringify(color)}`);
    }
    setColorMode(color as ColorMode);
    this.timeoutMs = timeoutDefault === undefined ? 0 : this.delayMs("timeout", timeoutDefault);
    const log = this.#logFlag(logDefault);
    this.#logText = log.text;
    configureCliLogging(log.directives, this.verbose);
    this.#checkSandboxFlags(alwaysIsolated);
    const sha256 = this.string("sha256");
    if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
      throw new UsageError(`Option --sha256 must be 64 hex digits: got ${JSON.stringify(sha256)}`);
    }
    this.adapter = this.#adapterFlag();
  }

  /** A string flag's value. */
  string(name: string): string | undefined {
    const v = this.#values[name];
    return typeof v === "string" ? v : undefined;
  }

  /** A boolean flag. */
  flag(name: string): boolean {
    return this.#values[name] === true;
  }

  /** A repeatable string flag's values. */
  list(name: string): string[] {
    const v = this.#values[name];
    return Array.isArray(v) ? v.map(String) : [];
  }

  /** A positive integer flag, or `fallback`. */
  positiveInt(name: string, fallback: number): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
      throw new UsageError(`Option --${name} must be a positive integer: got ${JSON.stringify(value)}`);
    }
    return n;
  }

  /** A non-negative integer flag, or `fallback`. */
  count(name: string, fallback: number): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
      throw new UsageError(`Option --${name} must be a whole number: got ${JSON.stringify(value)}`);
    }
    return n;
  }

  /** A positive number flag (decimals allowed), or `fallback`. */
  positiveNumber(name: string, fallback: number): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || !Number.isFinite(n)) {
      throw new UsageError(`Option --${name} must be a positive number: got ${JSON.stringify(value)}`);
    }
    return n;
  }

  /** A duration flag (`500ms`, `10s`, `2m`, `1h`; a bare number is seconds) in ms, or undefined. */
  durationMs(name: string): number | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m?.[2] ?? "s") as "ms" | "s" | "m" | "h"];
    const ms = m ? Math.round(Number(m[1]) * unit) : NaN;
    if (!(ms >= 1) || ms > MAX_DELAY_MS) {
      throw new UsageError(
        `Option --${name} takes a duration such as 500ms, 10s, 2m or 1h (a bare number is seconds), at most ~24 days: got ${
          JSON.stringify(value)
        }`,
      );
    }
    return ms;
  }

  /** A delay flag in ms: a positive integer no larger than a timer can wait. */
  delayMs(name: string, fallback: number): number {
    const ms = this.positiveInt(name, fallback);
    if (ms > MAX_DELAY_MS) {
      throw new UsageError(`Option --${name} must be at most ${MAX_DELAY_MS} ms (about 24.8 days): got ${ms}`);
    }
    return ms;
  }

  /** Records a warning for the result. */
  warn(message: string): void {
    this.warnings.push(message);
  }

  /** Writes result bytes or text. */
  out(data: Uint8Array | string): void {
    writeOut(data);
  }

  /** Writes one JSON document as the result. */
  json(doc: unknown): void {
    writeOut(`${JSON.stringify(doc, null, 2)}\n`);
  }

  /**
   * Prints a run's report (one JSON document with --format json, else `text()`
   * and the warnings on stderr) and returns its exit code: 130 when
   * interrupted by SIGINT, 143 by SIGTERM, else 0 when the report is ok and 1
   * when not.
   */
  finishRun(report: { ok: boolean; warnings: readonly string[] }, text: () => string, interrupted: boolean): number {
    if (this.format === "json") {
      this.json(report);
    } else {
      this.out(text());
      printWarnings(report.warnings);
    }
    if (interrupted) return interruptExitCode();
    return report.ok ? EXIT.OK : EXIT.PLUGIN_FAILED;
  }

  /** The plugins opened so far, last one last. */
  get plugins(): readonly PluginHandle[] {
    return this.#plugins;
  }

  /** Loads the plugin at `path` (resolved against the user's directory) as the flags say. */
  async openPlugin(path: string, extra: PluginOptions = {}): Promise<PluginHandle> {
    const { real, options } = this.pluginOptions(path, extra);
    const plugin = await loadPlugin(real, options);
    this.#plugins.push(plugin);
    return plugin;
  }

  /**
   * The path (resolved against the user's directory) and load options the
   * flags say, for a command whose engine loads the plugin itself. In
   * process, installs the process guards first.
   */
  pluginOptions(path: string, extra: PluginOptions = {}): { real: string; options: PluginOptions } {
    const real = userPath(path);
    const isolate = this.flag("isolate");
    // Unloading (the library's destructors, a sandbox child's exit) waits until the results are out: unload().
    const options: PluginOptions = {
      log: this.#logText,
      timeoutMs: this.timeoutMs,
      isolate,
      deferUnload: true,
      ...extra,
    };
    const sha256 = this.string("sha256");
    if (sha256 !== undefined) options.sha256 = sha256;
    if (this.adapter !== undefined) options.adapter = this.adapter;
    if (isolate) {
      options.env = this.list("env");
      const grace = this.string("grace");
      if (grace !== undefined) options.graceMs = this.delayMs("grace", 0);
    } else {
      this.#guardProcess(real);
    }
    return { real, options };
  }

  /**
   * Closes every plugin opened (rejecting with the first failure), then, in
   * process, reports the plugin's stdout bytes and ends the processes it left
   * running. Safe to call twice.
   */
  async close(): Promise<void> {
    let failure: unknown;
    for (const plugin of this.#plugins.splice(0).reverse()) {
      await plugin.close().catch((e) => (failure ??= e));
      if (this.verbose && plugin instanceof SandboxedPlugin && plugin.childStderr.trim() !== "") {
        printErr("sandbox child stderr (the plugin's stdout goes there too):");
        for (const line of escapeLines(plugin.childStderr.trimEnd())) printErr(`  | ${line}`);
      }
    }
    const guard = this.#guard;
    if (guard) {
      this.#guard = undefined;
      const bytes = guard.stdoutBytes() ?? 0;
      if (bytes > 0) this.warn(stdoutWarning(bytes));
      // Every descendant, also what the plugin daemonized (this process is a child subreaper: see #guardProcess),
      // but plugcheck's own sandbox children: one closed and still unloading is not the plugin's to blame.
      const left = guard.endDescendants(sandboxProcessIds());
      if (left.length > 0) this.warn(leftoverWarning(left));
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * Unloads what closing left loaded (after the results are printed): in
   * process under the guards (a hang, crash or exit while unloading ends
   * plugcheck with exit code 1, the unload named), with --isolate by waiting
   * for each sandbox child to unload and exit within --timeout. Returns what
   * went wrong with a sandbox child's unloading, one error each.
   */
  async unload(): Promise<Error[]> {
    // The results are out: a guard that fires from now on must not write a second JSON document.
    const guard = ProcessGuard.ifOpen();
    if (guard?.exitGuarded) guard.exitGuard(EXIT.PLUGIN_FAILED, false);
    return await finishUnloads();
  }

  #guardProcess(path: string): void {
    if (this.#guard) return;
    let guard: ProcessGuard;
    try {
      guard = ProcessGuard.get();
      sendResultsTo(guard.guardStdio().output);
      guard.exitGuard(EXIT.PLUGIN_FAILED, this.format === "json");
      guard.watchdog(this.timeoutMs);
      guard.subreaper();
    } catch (cause) {
      throw loadError(path, "cannot set up plugcheck's native helper (run `deno task build`)", cause);
    }
    this.#guard = guard;
  }

  /** `--adapter PATH`, resolved against the user's directory; a file that cannot be read is a usage error. */
  #adapterFlag(): string | undefined {
    const given = this.string("adapter");
    if (given === undefined) return undefined;
    const path = userPath(given);
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "file not found" : e instanceof Error ? e.message : String(e);
      throw new UsageError(`Cannot read --adapter ${JSON.stringify(given)}: ${why}`);
    }
    if (!info.isFile) {
      throw new UsageError(`Option --adapter takes an adapter library: ${JSON.stringify(given)} is no file`);
    }
    return path;
  }

  #logFlag(fallback: string): { text: string; directives: LogDirectives } {
    const given = this.string("log");
    const text = given ?? Deno.env.get("PLUGCHECK_LOG") ?? fallback;
    try {
      return { text, directives: parseLogDirectives(text) };
    } catch (e) {
      const where = given === undefined ? "$PLUGCHECK_LOG" : "Option --log";
      throw new UsageError(`${where}: ${e instanceof Error ? e.message : e}`);
    }
  }

  /** Flags that only mean something with --isolate (unless the command always isolates), and --env's names. */
  #checkSandboxFlags(alwaysIsolated: boolean): void {
    const given = ["env", "grace"].filter((k) => this.#values[k] !== undefined).map((k) => `--${k}`);
    if (!this.flag("isolate") && !alwaysIsolated && given.length > 0) {
      throw new UsageError(
        `${given.length > 1 ? "Options" : "Option"} ${given.join(" and ")} need${
          given.length > 1 ? "" : "s"
        } --isolate`,
      );
    }
    for (const name of this.list("env")) {
      if (!ENV_NAME.test(name)) throw new UsageError(`Option --env takes a variable name: got ${JSON.stringify(name)}`);
    }
    if (this.string("grace") !== undefined) this.delayMs("grace", 1);
  }
}
