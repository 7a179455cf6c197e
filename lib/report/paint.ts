/**
 * Colour for text shown to people: the {@link Paint} every renderer takes,
 * and {@link paintFor}, the one way to make one for a stream. Colour is on
 * with `--color always`, off with `--color never`, and with `auto` (the
 * default) on when the stream is a terminal, `NO_COLOR` is unset or empty
 * and `TERM` is not `dumb`. Styles are `node:util`'s `styleText`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { colorWanted, paintFor, plain } from "./paint.ts";
 * assert.ok(paintFor("never", true)("red", "FAIL") === "FAIL");
 * assert.ok(paintFor("always", false)("red", "FAIL") === "\x1b[31mFAIL\x1b[39m");
 * assert.ok(!colorWanted("auto", false) && colorWanted("auto", true, () => undefined));
 * assert.ok(!colorWanted("auto", true, (name) => (name === "NO_COLOR" ? "1" : undefined)));
 * assert.ok(plain("bold", "as it is") === "as it is");
 * ```
 *
 * @module
 */
import { styleText } from "node:util";

/** The styles a report uses. */
export type Style = "red" | "green" | "yellow" | "bold" | "dim";

/** Styles a piece of text (returns it as it is without colour). */
export type Paint = (style: Style, text: string) => string;

/** How colour is chosen: from the stream and the environment, always, or never. */
export type ColorMode = "auto" | "always" | "never";

/** Reads an environment variable; undefined when unset or not readable (no --allow-env). */
export type EnvReader = (name: string) => string | undefined;

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** A {@link Paint} that leaves text as it is. */
export const plain: Paint = (_style, text) => text;

const styled: Paint = (style, text) => styleText(style, text, { validateStream: false });

/**
 * Whether text for a stream gets colour: `always`, never with `never`, and
 * with `auto` when the stream is a terminal, `NO_COLOR` is unset or empty and
 * `TERM` is not `dumb`.
 */
export function colorWanted(mode: ColorMode, terminal: boolean, env: EnvReader = readEnv): boolean {
  if (mode !== "auto") return mode === "always";
  return terminal && !env("NO_COLOR") && env("TERM") !== "dumb";
}

/** The {@link Paint} for a stream: `terminal` says whether it is one (see {@link colorWanted}). */
export function paintFor(mode: ColorMode, terminal: boolean, env: EnvReader = readEnv): Paint {
  return colorWanted(mode, terminal, env) ? styled : plain;
}
