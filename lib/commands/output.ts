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
import { styleText } from "node:util";
import process from "node:process";
import { ProcessGuard } from "../ffi/process_guard.ts";
import { escapeControl } from "../util/safe_text.ts";

/** How colour is chosen: from the terminal and NO_COLOR, always, or never. */
export type ColorMode = "auto" | "always" | "never";

const encoder = new TextEncoder();
let colorMode: ColorMode = "auto";
let resultsFd: number | undefined;

/** Whether stdout was a terminal when plugcheck started (before any guard moved it). */
export const STDOUT_IS_TERMINAL: boolean = Deno.stdout.isTerminal();
/** Whether stderr is a terminal. */
export const STDERR_IS_TERMINAL: boolean = Deno.stderr.isTerminal();

/** Sets the colour mode for {@link paint}. */
export function setColorMode(mode: ColorMode): void {
  colorMode = mode;
}

/** From now on results go to this descriptor (the private stdout of the stdio guard). */
export function sendResultsTo(fd: number): void {
  resultsFd = fd;
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
export function paint(style: Parameters<typeof styleText>[0], text: string): string {
  if (colorMode === "never") return text;
  return styleText(style, text, { stream: process.stderr, validateStream: colorMode === "auto" });
}

/** `text` styled for stdout (results), if colour is on for it: a terminal there, or --color always. */
export function paintOut(style: Parameters<typeof styleText>[0], text: string): string {
  if (colorMode === "never") return text;
  if (colorMode === "auto" && (!STDOUT_IS_TERMINAL || Deno.env.get("NO_COLOR"))) return text;
  return styleText(style, text, { validateStream: false });
}

/** Prints warnings on stderr, one line each, plugin text escaped. */
export function printWarnings(warnings: readonly string[]): void {
  for (const w of warnings) printErr(`${paint("yellow", "warning:")} ${escapeControl(w)}`);
}
