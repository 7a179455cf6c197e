/**
 * The values the JSON mutator writes: numbers at the edges of what parsers
 * and integer conversions handle (as JSON text, so `-0`, `2^53 + 1` or
 * `1e400` survive), strings with quotes, escapes, controls, non-ASCII
 * characters, lone surrogates, great length or a misleading look, keys, and
 * small new values of any type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../../util/prng.ts";
 * import { JsonValues } from "./json_values.ts";
 * const values = new JsonValues(new Prng(1), ["word"], 1000);
 * assert.ok(values.number("41") !== "41" && values.string("abc") !== "abc");
 * ```
 *
 * @module
 */
import type { Prng } from "../../util/prng.ts";
import type { JsonNode } from "./json_tree.ts";

/** Numbers at the edges of what parsers and integer conversions handle. */
// deno-fmt-ignore
const BOUNDARY_NUMBERS = [
  "0", "-0", "1", "-1", "127", "128", "255", "256", "-129", "65535", "65536", "2147483647", "2147483648",
  "-2147483648", "-2147483649", "4294967295", "4294967296", "9007199254740991", "9007199254740992",
  "9007199254740993", "-9007199254740993", "18446744073709551615", "18446744073709551616",
  "123456789012345678901234567890", "1e308", "-1e308", "1.7976931348623157e308", "1e400", "-1e400", "5e-324",
  "-5e-324", "2.2250738585072014e-308", "1e-400", "0.1", "0.5", "-0.5", "1.5", "0.0", "-0.0", "1E2", "1e+2",
  "1e-7", "0.30000000000000004", "1.0000000000000002", "3.141592653589793",
];
/** Characters that strings are tested with: quotes, escapes, controls, non-ASCII, lone surrogates, separators. */
// deno-fmt-ignore
const SPECIAL_CHARS = [
  '"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\0", "\x01", "\x1f", "\x7f", "\x80", "\xe9", "\u20ac", "\u0301",
  "\u2028", "\u2029", "\ufeff", "\uffff", "\u{1f600}", "\ud800", "\udfff", " ", "'", "{", "}", "[", "]", ":", ",",
  "%", "$", "<", "&",
];
/** Strings that look like something else: numbers, literals, paths, format and template strings, markup. */
// deno-fmt-ignore
const CONFUSING_STRINGS = [
  "", "0", "-1", "1e999", "NaN", "Infinity", "true", "false", "null", "undefined", "[]", "{}", "%s%s%s%n",
  "../../../../etc/passwd", "<script>alert(1)</script>", "' OR '1'='1", "\\u0000", "${7*7}", "{{7*7}}",
];
/** Keys objects are often probed with. */
// deno-fmt-ignore
const COMMON_KEYS = [
  "", "id", "name", "type", "value", "data", "items", "__proto__", "constructor", "prototype", "toString", "length",
  "0", "-1", "$ref", "a b", "\xe9", "\0", "a.b", 'a"b',
];
const INTEGER = /^-?[0-9]+$/;
const FRACTIONS = [0.5, 0.25, 0.1, 1e-7, 0.999999, -0.5];

/** Draws values from `prng`; `words` (decoded dictionary words) become strings and keys. */
export class JsonValues {
  readonly #prng: Prng;
  readonly #words: readonly string[];
  /** How much the document may grow, to size long strings. */
  readonly #room: number;

  /** Values drawn from `prng`, with dictionary `words`, for a document that may grow by `room` characters. */
  constructor(prng: Prng, words: readonly string[], room: number) {
    this.#prng = prng;
    this.#words = words;
    this.#room = room;
  }

  /** A number at the edge of some range. */
  boundaryNumber(): string {
    return this.#pick(BOUNDARY_NUMBERS);
  }

  #below(n: number): number {
    return this.#prng.below(n);
  }

  #pick<T>(list: readonly T[]): T {
    return list[this.#below(list.length)]!;
  }

  /** A changed number text: +/-1, negated, *10, a boundary value, a fraction, or random. */
  number(text: string): string {
    let out: string;
    switch (this.#below(8)) {
      case 0:
      case 1:
        out = addToNumber(text, this.#below(2) === 0 ? 1 : -1);
        break;
      case 2:
        out = negate(text);
        break;
      case 3:
        out = /^-?[1-9][0-9]*$/.test(text) ? text + "0" : numberText(Number(text) * 10);
        break;
      case 4:
      case 5:
        out = this.#pick(BOUNDARY_NUMBERS);
        break;
      case 6:
        out = numberText(Math.trunc(Number(text)) + this.#pick(FRACTIONS));
        break;
      default:
        out = this.randomNumber();
    }
    return out === text ? negate(text) : out;
  }

  /** A random number text: a 32-bit integer, or a digit times a random power of ten (e.g. `7e-215`). */
  randomNumber(): string {
    if (this.#below(3) !== 0) return String(this.#below(2 ** 32) - 2 ** 31);
    return `${1 + this.#below(9)}e${this.#below(2) === 0 ? "-" : ""}${this.#below(400)}`;
  }

  /**
   * A changed string: special characters inserted, deleted or put in place
   * of one, emptied, repeated to be long, a dictionary word, a string that
   * looks like something else, or random printable text.
   */
  string(s: string): string {
    const len = s.length, at = this.#below(len + 1);
    let out: string;
    switch (this.#below(8)) {
      case 0:
        out = s.slice(0, at) + this.#specials() + s.slice(at);
        break;
      case 1: {
        if (len === 0) return this.#specials();
        const i = this.#below(len);
        out = s.slice(0, i) + s.slice(i + 1 + this.#below(Math.min(len - i, 8)));
        break;
      }
      case 2:
        out = s.slice(0, at) + this.#pick(SPECIAL_CHARS) + s.slice(at + 1);
        break;
      case 3:
        out = "";
        break;
      case 4: {
        const unit = len === 0 ? "A" : s;
        const target = Math.max(2, Math.min(this.#room >> 1, 64 << this.#below(8)));
        out = unit.repeat(Math.max(2, Math.ceil(target / unit.length)));
        break;
      }
      case 5:
        if (this.#words.length > 0) {
          const word = this.#pick(this.#words);
          out = this.#below(2) === 0 ? word : s.slice(0, at) + word + s.slice(at);
          break;
        } // falls through without a dictionary
      case 6:
        out = this.#pick(CONFUSING_STRINGS);
        break;
      default:
        out = Array.from({ length: 1 + this.#below(16) }, () => String.fromCharCode(0x20 + this.#below(95))).join("");
    }
    return out === s ? s + this.#pick(SPECIAL_CHARS) : out;
  }

  /** One to three special characters. */
  #specials(): string {
    let out = "";
    for (let n = 1 + this.#below(3); n > 0; n--) out += this.#pick(SPECIAL_CHARS);
    return out;
  }

  /** A key: a dictionary word, a common key, or a variant of `old` (or of a random string). */
  key(old?: string): string {
    const r = this.#below(3);
    if (r === 0 && this.#words.length > 0) return this.#pick(this.#words);
    if (r <= 1) return this.#pick(COMMON_KEYS);
    return this.string(old ?? "k");
  }

  /** A new small value of any type. */
  fresh(): JsonNode {
    switch (this.#below(6)) {
      case 0:
      case 1:
        return { kind: "number", text: this.#below(2) === 0 ? this.#pick(BOUNDARY_NUMBERS) : this.randomNumber() };
      case 2:
        return { kind: "string", value: this.string("") };
      case 3:
        return { kind: "boolean", value: this.#below(2) === 0 };
      case 4:
        return { kind: "null" };
      default:
        return this.#below(2) === 0 ? { kind: "array", items: [] } : { kind: "object", entries: [] };
    }
  }
}

/** The JSON text of `n` (-0 kept; a value past the doubles is clamped to 1e308). */
function numberText(n: number): string {
  if (!Number.isFinite(n)) return n < 0 ? "-1e308" : "1e308";
  return Object.is(n, -0) ? "-0" : String(n);
}

/** `text` plus `d`, exactly for integers of any length. */
function addToNumber(text: string, d: number): string {
  if (!INTEGER.test(text)) return numberText(Number(text) + d);
  if (text.length <= 15) return numberText(Number(text) + d);
  return (BigInt(text) + BigInt(d)).toString();
}

function negate(text: string): string {
  return text.startsWith("-") ? text.slice(1) : "-" + text;
}
