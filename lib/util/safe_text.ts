/**
 * Text from a plugin shown to people: control characters escaped, so a
 * plugin cannot set the terminal title, clear the screen, move the cursor or
 * forge a line of plugcheck's own output (`\r\nfake: ok`, or a GitHub Actions
 * workflow command starting with `::`). Every human-output path that shows
 * plugin-supplied text goes through {@link escapeControl}; JSON output is exact
 * and never escaped this way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeControl, shortText } from "./safe_text.ts";
 * assert.ok(escapeControl("Bad\u001b]0;pwned\u0007\r\nfake") === "Bad\\x1b]0;pwned\\x07\\r\\nfake");
 * assert.ok(shortText("\u001b[5m" + "x".repeat(100), 10) === "\\x1b[5mxxxxxx... [94 more characters]");
 * ```
 *
 * @module
 */
import { groupDigits } from "./digits.ts";

// C0 controls, DEL, C1 controls (0x9b is a one-byte CSI), line/paragraph
// separators, and the bidirectional overrides and isolates that reorder text.
// deno-lint-ignore no-control-regex -- matching control characters is this module's job
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** `text` on one line with every control character shown as an escape (`\x1b`, `\r`, `\n`, `\u202e`). */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, escapeOne);
}

/**
 * Plugin text shortened for people: at most `max` characters of it (never a
 * surrogate pair cut in two), then how many more there were, all escaped
 * (`escapeControl`). A name in a header, a description in a table: JSON
 * output keeps the text whole.
 */
export function shortText(text: string, max = 80): string {
  if (text.length <= max) return escapeControl(text);
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // a high surrogate: keep its pair whole
  return `${escapeControl(text.slice(0, end))}... [${groupDigits(text.length - end)} more characters]`;
}

/** `text` split into lines (on `\n`), each escaped; for multi-line text such as a child's stderr. */
export function escapeLines(text: string): string[] {
  return text.split("\n").map(escapeControl);
}

/** `text` quoted for a POSIX shell (as it is when it needs no quotes), for the commands plugcheck prints. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The `plugcheck invoke <library> <method> --input <text> --isolate` line that
 * repeats a call, or undefined when the input cannot ride on a shell line as
 * it is (not UTF-8, control characters, over 200 characters): then only a file
 * carries it.
 */
export function invokeLine(library: string, method: string, input: Uint8Array | string): string | undefined {
  let text: string;
  try {
    text = typeof input === "string" ? input : strictUtf8.decode(input);
  } catch {
    return undefined;
  }
  // Printable: nothing escapeControl would change, so the shell line carries it exactly.
  if (text.length > 200 || escapeControl(text) !== text) return undefined;
  return `plugcheck invoke ${shellQuote(library)} ${shellQuote(method)} --input ${shellQuote(text)} --isolate`;
}
