/**
 * Dictionary files in the AFL / libFuzzer format, the words the fuzzer
 * inserts into inputs: one entry a line, `name="value"` or `"value"` (a name
 * may end in an `@N` level, accepted and ignored), `#` comments and blank
 * lines skipped, and inside the quotes `\\`, `\"` and `\xHH` escapes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDictionary } from "./dictionary.ts";
 * const words = parseDictionary('# HTTP\nverb="GET"\nkw@1="\\x00\\xff"\n"GET"\n');
 * assert.ok(words.length === 2 && words[1]![1] === 0xff);
 * ```
 *
 * @module
 */

/**
 * The words of dictionary file `text`, as bytes (a non-ASCII character
 * becomes its UTF-8 bytes), in file order, duplicates removed. Throws a
 * `SyntaxError` naming the line of the first malformed entry.
 */
export function parseDictionary(text: string): Uint8Array[] {
  const words: Uint8Array[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    words.push(parseEntry(line, (problem) => new SyntaxError(`Dictionary line ${i + 1}: ${problem}`)));
  });
  return dedupeWords(words);
}

/** `words` without repeats, in order (the first of equal words stays). */
export function dedupeWords(words: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return words.filter((w) => {
    const key = w.join();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const NAME = /^[A-Za-z0-9_]+(@[0-9]+)?/;

function parseEntry(line: string, error: (problem: string) => SyntaxError): Uint8Array {
  let at = 0;
  if (line[0] !== '"') {
    const name = NAME.exec(line)?.[0];
    if (name === undefined) throw error("expected a name or a quoted value");
    at = skipSpace(line, name.length);
    if (line[at] === "@") throw error("expected digits after '@'");
    if (line[at] !== "=") throw error("expected '=' after the name");
    at = skipSpace(line, at + 1);
    if (line[at] !== '"') throw error("expected a quoted value after '='");
  }
  const bytes: number[] = [];
  for (at++;; at++) {
    const c = line.codePointAt(at);
    if (c === undefined) throw error("expected a closing quote");
    if (c === 0x22) break;
    if (c < 0x20 || c === 0x7f) throw error(`unexpected non-printable byte 0x${c.toString(16).padStart(2, "0")}`);
    if (c === 0x5c) {
      const e = line[++at];
      if (e === "\\" || e === '"') bytes.push(e.charCodeAt(0));
      else if (e === "x") {
        const hex = line.slice(at + 1, at + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw error("expected two hex digits after \\x");
        bytes.push(parseInt(hex, 16));
        at += 2;
      } else throw error(e === undefined ? "expected a closing quote" : `unknown escape \\${e}`);
    } else if (c < 0x80) bytes.push(c);
    else {
      pushUtf8(bytes, c);
      if (c > 0xffff) at++; // the second half of a surrogate pair
    }
  }
  if (at + 1 < line.length) throw error("unexpected text after the closing quote");
  if (bytes.length === 0) throw error("empty value");
  return Uint8Array.from(bytes);
}

function skipSpace(line: string, at: number): number {
  while (line[at] === " " || line[at] === "\t") at++;
  return at;
}

/** Appends the UTF-8 encoding of code point `c` (0x80 and up; a lone surrogate as U+FFFD, like TextEncoder). */
function pushUtf8(bytes: number[], c: number): void {
  if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
  if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
  else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
}

/** Short words (4 bytes at most: a compare's constant) tried at each length the binary compares with. */
export const WORDS_AT_LENGTHS = 32;
/** The longest word tried at the binary's lengths. */
export const SHORT_WORD = 4;
/** Most inputs {@link wordTries} gives. */
export const MAX_WORD_TRIES = 2048;

/**
 * The inputs a fuzz life tries first, as AFL tries its extras: each word
 * alone, then each of the first {@link WORDS_AT_LENGTHS} short words (up to
 * {@link SHORT_WORD} bytes: the constants of compares) at the start of an
 * input of each of `lengths` (zeros after it), so that a guard on an input's
 * size and its first bytes (`len == 37 && in[0] == 0xA7`) is met by one input.
 * Inputs longer than `maxLen` are left out; at most {@link MAX_WORD_TRIES}.
 */
export function wordTries(words: readonly Uint8Array[], lengths: readonly number[], maxLen: number): Uint8Array[] {
  const tries = words.filter((w) => w.length <= maxLen);
  const short = words.filter((w) => w.length <= SHORT_WORD).slice(0, WORDS_AT_LENGTHS);
  for (const length of lengths) {
    if (length > maxLen) continue;
    for (const w of short) {
      if (w.length >= length) continue;
      const input = new Uint8Array(length);
      input.set(w);
      tries.push(input);
      if (tries.length >= MAX_WORD_TRIES) return tries;
    }
  }
  return tries.slice(0, MAX_WORD_TRIES);
}
