/**
 * Where the CLI writes: results to stdout (to plugcheck's private copy of it
 * once the stdio guard moved the plugin's fd 1 to stderr), everything else to
 * stderr, with colour when the terminal wants it (`--color`, `NO_COLOR`).
 * Text from a plugin is escaped before it is shown (`safe_text.ts`).
 *
 * @example
 * ```ts ignore
 * import { paint, printErr, writeOut } from "./output.ts";
 * writeOut("result\n");
 * printErr(`${paint("red", "error:")} something`);
 * ```
 *
 * @module
 */
import { ProcessGuard } from "../ffi/process_guard.ts";
import { type ColorMode, type Paint, paintFor } from "../report/paint.ts";
import { escapeControl } from "../util/safe_text.ts";

const encoder = new TextEncoder();
let resultsFd: number | undefined;

/** Whether stdout was a terminal when plugcheck started (before any guard moved it). */
export const STDOUT_IS_TERMINAL: boolean = Deno.stdout.isTerminal();
/** Whether stderr is a terminal. */
export const STDERR_IS_TERMINAL: boolean = Deno.stderr.isTerminal();

let colorMode: ColorMode = "auto";
// Made when first used (the environment is read then, not on import), again after the mode changes.
let errPaint: Paint | undefined;
let outPaint: Paint | undefined;

/** Sets the colour mode (`--color`) of {@link paint} and {@link paintOut}. */
export function setColorMode(mode: ColorMode): void {
  colorMode = mode;
  errPaint = outPaint = undefined;
}

/** From now on results go to this descriptor (the private stdout of the stdio guard). */
export function sendResultsTo(fd: number): void {
  resultsFd = fd;
}

/**
 * plugcheck exits next with `code` (cli.ts calls this just before
 * `Deno.exit`). In process, from now on an `_exit()`/`exit()` of the plugin
 * (its atexit handlers and destructors run during the exit) keeps that code
 * and is reported, and the watchdog bounds them.
 */
export function beforeExit(code: number): void {
  const guard = ProcessGuard.ifOpen();
  if (guard?.exitGuarded) guard.exiting(code);
}

/** Writes all bytes to the results stream, synchronously (nothing lost before exit). */
export function writeOut(bytes: Uint8Array | string): void {
  const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  if (resultsFd !== undefined) return ProcessGuard.get().writeAll(resultsFd, data);
  let rest = data;
  while (rest.length > 0) rest = rest.subarray(Deno.stdout.writeSync(rest));
}

/** Writes a line to stderr synchronously. */
export function printErr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text.endsWith("\n") ? text : `${text}\n`));
}

/** `text` styled for stderr, if colour is on for it. */
export const paint: Paint = (style, text) => (errPaint ??= paintFor(colorMode, STDERR_IS_TERMINAL))(style, text);

/** `text` styled for stdout (results), if colour is on for it: a terminal there, or --color always. */
export const paintOut: Paint = (style, text) => (outPaint ??= paintFor(colorMode, STDOUT_IS_TERMINAL))(style, text);

/** Prints warnings on stderr, one line each, plugin text escaped. */
export function printWarnings(warnings: readonly string[]): void {
  for (const w of warnings) printErr(`${paint("yellow", "warning:")} ${escapeControl(w)}`);
}
