/**
 * Bytes (or a string, as UTF-8) written as a C string literal that any C
 * compiler reads back as exactly those bytes: printable ASCII stays as it is
 * but for `"`, `\` and `?` (escaped, so no `??` trigraph can form), every
 * other byte (control characters, non-ASCII UTF-8, NUL) becomes a
 * three-digit octal escape, which a following digit cannot extend. Long
 * literals are split into adjacent pieces, which C concatenates.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cStringLiteral } from "./c_string.ts";
 * assert.ok(cStringLiteral('a"b\\c??=\n') === '"a\\"b\\\\c\\?\\?=\\012"');
 * assert.ok(cStringLiteral("é") === '"\\303\\251"');
 * ```
 *
 * @module
 */

const encoder = new TextEncoder();

/** How one byte is written inside a C string literal. */
function escapeByte(b: number): string {
  if (b === 0x22) return '\\"';
  if (b === 0x5c) return "\\\\";
  if (b === 0x3f) return "\\?";
  if (b >= 0x20 && b < 0x7f) return String.fromCharCode(b);
  return `\\${b.toString(8).padStart(3, "0")}`;
}

/**
 * `value` as a C string literal (`"..."`), its bytes exact; pieces of at most
 * `width` source characters are joined by `joiner` (default: a newline and
 * four spaces), so a long path or config stays readable.
 */
export function cStringLiteral(value: string | Uint8Array, width = 96, joiner = "\n    "): string {
  const bytes = typeof value === "string" ? encoder.encode(value) : value;
  const pieces: string[] = [];
  let piece = "";
  for (const b of bytes) {
    const e = escapeByte(b);
    if (piece.length + e.length > width && piece !== "") {
      pieces.push(`"${piece}"`);
      piece = "";
    }
    piece += e;
  }
  pieces.push(`"${piece}"`);
  return pieces.join(joiner);
}
