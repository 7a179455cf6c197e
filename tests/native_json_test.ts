/**
 * The native JSON validator (native/npah_json.c) accepts exactly what the
 * guard accepts: a fatal TextDecoder, then JSON.parse, with nesting bounded to
 * 512 levels (and, for error buffers, an object whose "message" is a string).
 * Checked through tests/native/json_valid_driver.c, compiled here: a table of
 * hand-written cases for every rule, a seeded differential run against that
 * TypeScript reference, and a speed figure.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Prng } from "../lib/util/prng.ts";
import { ROOT } from "./_helpers.ts";

const DRIVER = join(ROOT, "tests/native/json_valid_driver.c");
const ERROR_OBJECT = 1;
const MAX_DEPTH = 512;

interface Input {
  flags: number;
  bytes: Uint8Array;
}

const encoder = new TextEncoder();
const fatal = new TextDecoder("utf-8", { fatal: true });

/** Bytes from parts: strings (UTF-8 encoded) and arrays of raw byte values. */
function b(...parts: (string | number[])[]): Uint8Array {
  const chunks = parts.map((p) => typeof p === "string" ? encoder.encode(p) : Uint8Array.from(p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (x) => x.toString(16).padStart(2, "0")).join("");

/** Nesting of arrays and objects in a JSON text known to be valid, counted in the text (as the validator counts). */
function textDepth(text: string): number {
  let depth = 0, max = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "[" || c === "{") {
      max = Math.max(max, ++depth);
    } else if (c === "]" || c === "}") {
      depth--;
    }
  }
  return max;
}

/** What the guard would accept (lib/errors/guard.ts): the reference the validator must agree with. */
function reference({ flags, bytes }: Input): boolean {
  let text: string;
  let parsed: unknown;
  try {
    text = fatal.decode(bytes);
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  if (textDepth(text) > MAX_DEPTH) return false;
  if ((flags & ERROR_OBJECT) === 0) return true;
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) &&
    typeof (parsed as { message?: unknown }).message === "string";
}

async function compileDriver(dir: string): Promise<string> {
  const exe = join(dir, "json_valid_driver");
  const out = await new Deno.Command("gcc", {
    args: ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe, DRIVER],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, `gcc ${DRIVER}:\n${new TextDecoder().decode(out.stderr)}`);
  return exe;
}

/** The driver's answers, in order. */
async function validate(exe: string, inputs: Input[]): Promise<boolean[]> {
  const child = new Deno.Command(exe, { stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const lines = inputs.map((i) => `${i.flags} ${hex(i.bytes)}\n`).join("");
  const writing = (async () => {
    const w = child.stdin.getWriter();
    await w.write(encoder.encode(lines));
    await w.close();
  })();
  const [out] = await Promise.all([child.output(), writing]);
  assert.equal(out.code, 0, `driver failed:\n${new TextDecoder().decode(out.stderr)}`);
  const answers = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
  assert.equal(answers.length, inputs.length, "one answer per input");
  return answers.map((a) => {
    assert.ok(a === "0" || a === "1", `answer ${JSON.stringify(a)}`);
    return a === "1";
  });
}

// ---- hand-written cases -----------------------------------------------------

type Case = [flags: number, input: string | Uint8Array, valid: boolean, why: string];

const nest = (k: number, inner = "0") => "[".repeat(k) + inner + "]".repeat(k);
const nestObjects = (k: number) => '{"a":'.repeat(k) + "1" + "}".repeat(k);
const BOM = [0xef, 0xbb, 0xbf];

const CASES: Case[] = [
  // the whole text: one value, optional JSON whitespace around it
  [0, "", false, "empty input"],
  [0, "   ", false, "whitespace only"],
  [0, " \t\n\r", false, "every whitespace, no value"],
  [0, " \t\n\r1 \t\n\r", true, "every whitespace around a value"],
  [0, "1", true, "a bare number"],
  [0, '"x"', true, "a bare string"],
  [0, "{} x", false, "trailing garbage"],
  [0, "1 2", false, "two values"],
  [0, "{}{}", false, "two objects"],
  [0, "\f1", false, "form feed is not JSON whitespace"],
  [0, "\v1", false, "vertical tab is not JSON whitespace"],
  [0, b([0xc2, 0xa0], "1"), false, "no-break space is not JSON whitespace"],
  [0, b("1", [0xe2, 0x80, 0xa8]), false, "U+2028 is not JSON whitespace"],
  [0, b(BOM, "{}"), true, "a leading byte order mark is skipped (as TextDecoder skips it)"],
  [0, b(BOM, ' {"a":1} '), true, "a byte order mark, then whitespace"],
  [0, b(" ", BOM, "{}"), false, "a byte order mark after whitespace"],
  [0, b(BOM, BOM, "{}"), false, "a second byte order mark"],
  [0, b("{}", BOM), false, "a trailing byte order mark"],
  [0, b(BOM), false, "a byte order mark alone"],
  [0, b([0xef, 0xbb], "{}"), false, "a truncated byte order mark"],
  // literals
  [0, "true", true, "true"],
  [0, "false", true, "false"],
  [0, "null", true, "null"],
  [0, "[true,false,null]", true, "literals in an array"],
  [0, "tru", false, "a truncated literal"],
  [0, "nul", false, "a truncated null"],
  [0, "True", false, "literals are lowercase"],
  [0, "nulls", false, "a literal with a tail"],
  [0, "truefalse", false, "two literals"],
  [0, "undefined", false, "undefined"],
  [0, "NaN", false, "NaN"],
  [0, "Infinity", false, "Infinity"],
  // numbers
  [0, "0", true, "zero"],
  [0, "-0", true, "minus zero"],
  [0, "123", true, "an integer"],
  [0, "-123", true, "a negative integer"],
  [0, "1.5", true, "a fraction"],
  [0, "-0.0e0", true, "minus zero with fraction and exponent"],
  [0, "1e5", true, "an exponent"],
  [0, "1E+5", true, "an uppercase exponent with a plus"],
  [0, "1e-5", true, "a negative exponent"],
  [0, "1E400", true, "an exponent beyond double range (JSON.parse gives Infinity)"],
  [0, "123456789012345678901234567890", true, "more digits than a double holds"],
  [0, "01", false, "a leading zero"],
  [0, "-01", false, "a negative leading zero"],
  [0, "00", false, "two zeros"],
  [0, "1.", false, "a fraction without digits"],
  [0, ".5", false, "no integer part"],
  [0, "1.e5", false, "an empty fraction before an exponent"],
  [0, "-", false, "a lone minus"],
  [0, "--1", false, "two minus signs"],
  [0, "+1", false, "a plus sign"],
  [0, "1e", false, "an exponent without digits"],
  [0, "1e+", false, "a signed exponent without digits"],
  [0, "1e5.5", false, "a fractional exponent"],
  [0, "0x10", false, "hexadecimal"],
  [0, "[-]", false, "a lone minus in an array"],
  [0, "[1.]", false, "an empty fraction in an array"],
  // strings
  [0, '""', true, "the empty string"],
  [0, '"a\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti"', true, "every short escape"],
  [0, '"\\u0041\\u00e9\\u00E9\\uFFFF"', true, "\\u escapes, both cases of hex"],
  [0, '"\\u0000"', true, "an escaped NUL"],
  [0, '"\\ud800"', true, "a lone high surrogate escape (JSON.parse accepts it)"],
  [0, '"\\udc00"', true, "a lone low surrogate escape"],
  [0, '"\\ud83d\\ude00"', true, "a surrogate pair escape"],
  [0, '"a\nb"', false, "a raw newline"],
  [0, '"a\tb"', false, "a raw tab"],
  [0, b('"', [0x00], '"'), false, "a raw NUL"],
  [0, b('"', [0x1f], '"'), false, "a raw U+001F"],
  [0, b('"', [0x7f], '"'), true, "a raw DEL"],
  [0, '"\\x41"', false, "\\x is no escape"],
  [0, '"\\\'"', false, "\\' is no escape"],
  [0, '"\\a"', false, "\\a is no escape"],
  [0, '"\\U0041"', false, "\\U is no escape"],
  [0, '"\\u12G4"', false, "a non-hex digit in \\u"],
  [0, '"\\u123"', false, "three hex digits"],
  [0, '"\\u12', false, "a truncated \\u"],
  [0, '"\\', false, "a truncated escape"],
  [0, '"abc', false, "an unterminated string"],
  [0, '"', false, "a lone quote"],
  [0, "'a'", false, "single quotes"],
  [0, '"' + "x".repeat(1000) + '"', true, "a long string"],
  [0, '"' + "x".repeat(1000), false, "a long unterminated string"],
  // UTF-8
  [0, b('"', [0xc2, 0x80], '"'), true, "the smallest 2-byte sequence"],
  [0, b('"', [0xdf, 0xbf], '"'), true, "the largest 2-byte sequence"],
  [0, '"é€😀"', true, "2, 3 and 4-byte sequences"],
  [0, b('"', [0xe0, 0xa0, 0x80], '"'), true, "the smallest 3-byte sequence"],
  [0, b('"', [0xed, 0x9f, 0xbf], '"'), true, "U+D7FF, just below the surrogates"],
  [0, b('"', [0xee, 0x80, 0x80], '"'), true, "U+E000, just above the surrogates"],
  [0, b('"', [0xef, 0xbf, 0xbf], '"'), true, "U+FFFF (a noncharacter, still UTF-8)"],
  [0, b('"', [0xf0, 0x90, 0x80, 0x80], '"'), true, "the smallest 4-byte sequence"],
  [0, b('"', [0xf4, 0x8f, 0xbf, 0xbf], '"'), true, "U+10FFFF"],
  [0, b('"', [0xe2, 0x80, 0xa8, 0xe2, 0x80, 0xa9], '"'), true, "raw U+2028 and U+2029 in a string"],
  [0, b('"', BOM, '"'), true, "U+FEFF inside a string"],
  [0, b('"', [0xc0, 0x80], '"'), false, "overlong C0 80"],
  [0, b('"', [0xc1, 0xbf], '"'), false, "overlong C1 BF"],
  [0, b('"', [0xe0, 0x80, 0x80], '"'), false, "overlong E0 80 80"],
  [0, b('"', [0xe0, 0x9f, 0xbf], '"'), false, "overlong E0 9F BF"],
  [0, b('"', [0xf0, 0x8f, 0xbf, 0xbf], '"'), false, "overlong F0 8F BF BF"],
  [0, b('"', [0xed, 0xa0, 0x80], '"'), false, "an encoded surrogate ED A0 80"],
  [0, b('"', [0xed, 0xbf, 0xbf], '"'), false, "an encoded surrogate ED BF BF"],
  [0, b('"', [0xf4, 0x90, 0x80, 0x80], '"'), false, "past U+10FFFF: F4 90 80 80"],
  [0, b('"', [0xf5, 0x80, 0x80, 0x80], '"'), false, "F5 lead byte"],
  [0, b('"', [0xf8, 0x88, 0x80, 0x80, 0x80], '"'), false, "a 5-byte form"],
  [0, b('"', [0xff], '"'), false, "FF"],
  [0, b('"', [0x80], '"'), false, "a stray continuation byte"],
  [0, b('"a', [0xbf], 'b"'), false, "a stray continuation byte between letters"],
  [0, b('"', [0xe2, 0x82], '"'), false, "truncated E2 82"],
  [0, b('"', [0xe2, 0x82]), false, "truncated E2 82 at the end of the input"],
  [0, b('"', [0xf0, 0x9f, 0x98], '"'), false, "a truncated 4-byte sequence"],
  [0, b('"', [0xe2, 0x28, 0xa1], '"'), false, "a missing continuation byte"],
  [0, b('"', [0xc2], '"'), false, "a lone 2-byte lead"],
  [0, b('"' + "é".repeat(3), [0xc3]), false, "a lead byte at the very end"],
  [0, b([0xc3, 0xa9]), false, "non-ASCII outside a string"],
  [0, b("[", [0x80], "]"), false, "a stray continuation byte outside a string"],
  // structure
  [0, "[]", true, "an empty array"],
  [0, "{}", true, "an empty object"],
  [0, "[ ]", true, "an empty array with whitespace"],
  [0, "{ }", true, "an empty object with whitespace"],
  [0, '[1, "a", {"b": [null]}]', true, "a mixed array"],
  [0, '{"a": 1, "b": {"c": []}}', true, "a nested object"],
  [0, '{"": 0}', true, "an empty key"],
  [0, "[1,]", false, "a trailing comma in an array"],
  [0, "[,1]", false, "a leading comma in an array"],
  [0, "[1,,2]", false, "two commas"],
  [0, '{"a":1,}', false, "a trailing comma in an object"],
  [0, '{,"a":1}', false, "a leading comma in an object"],
  [0, '{"a"}', false, "a key without a value"],
  [0, '{"a":}', false, "a colon without a value"],
  [0, '{"a" 1}', false, "a missing colon"],
  [0, '{"a"::1}', false, "two colons"],
  [0, "{1:2}", false, "a number key"],
  [0, "{a:1}", false, "a bare key"],
  [0, "{'a':1}", false, "a single-quoted key"],
  [0, "[1 2]", false, "a missing comma in an array"],
  [0, '{"a":1 "b":2}', false, "a missing comma in an object"],
  [0, '["a":1]', false, "a colon in an array"],
  [0, "[", false, "an unclosed array"],
  [0, "{", false, "an unclosed object"],
  [0, "]", false, "a lone closing bracket"],
  [0, "}", false, "a lone closing brace"],
  [0, "[}", false, "a mismatched brace"],
  [0, "{]", false, "a mismatched bracket"],
  [0, '[{"a":1]}', false, "crossed brackets"],
  [0, "[[]]]", false, "one closing bracket too many"],
  // nesting
  [0, nest(MAX_DEPTH), true, "512 nested arrays"],
  [0, nest(MAX_DEPTH + 1), false, "513 nested arrays"],
  [0, nest(MAX_DEPTH, "[]"), false, "513 levels, the innermost empty"],
  [0, nest(MAX_DEPTH - 1, "[]"), true, "512 levels, the innermost empty"],
  [0, nestObjects(MAX_DEPTH), true, "512 nested objects"],
  [0, nestObjects(MAX_DEPTH + 1), false, "513 nested objects"],
  [0, "[".repeat(100_000), false, "100,000 open brackets (no stack overflow)"],
  [0, nest(MAX_DEPTH) + nest(MAX_DEPTH), false, "two deep values"],
  [0, "[" + nest(MAX_DEPTH - 1) + "," + nest(MAX_DEPTH - 1) + "]", true, "two siblings 512 levels deep"],
  [0, `{"a":${nest(MAX_DEPTH)},"a":1}`, false, "513 levels in a member a duplicate overwrites still count"],
  // error objects
  [ERROR_OBJECT, '{"message":"x"}', true, "an error object"],
  [ERROR_OBJECT, '{"message":""}', true, "an empty message"],
  [ERROR_OBJECT, ' {"message" : "x"} ', true, "an error object with whitespace"],
  [ERROR_OBJECT, b(BOM, '{"message":"x"}'), true, "an error object after a byte order mark"],
  [ERROR_OBJECT, '{"message":"x","details":{"a":[1,{"message":2}]}}', true, "with details"],
  [ERROR_OBJECT, '{"details":{"message":"x"},"message":"y"}', true, "the message after nested ones"],
  [ERROR_OBJECT, '{"message":"\\ud800"}', true, "a lone surrogate escape is still a string"],
  [ERROR_OBJECT, '{"message":1}', false, "a number message"],
  [ERROR_OBJECT, '{"message":null}', false, "a null message"],
  [ERROR_OBJECT, '{"message":["x"]}', false, "an array message"],
  [ERROR_OBJECT, '{"message":{"message":"x"}}', false, "an object message"],
  [ERROR_OBJECT, "[]", false, "an array"],
  [ERROR_OBJECT, '["message","x"]', false, "an array of strings"],
  [ERROR_OBJECT, '[{"message":"x"}]', false, "an error object in an array"],
  [ERROR_OBJECT, '"message"', false, "a string"],
  [ERROR_OBJECT, "null", false, "null"],
  [ERROR_OBJECT, "{}", false, "an empty object"],
  [ERROR_OBJECT, '{"details":{}}', false, "details without a message"],
  [ERROR_OBJECT, '{"a":{"message":"x"}}', false, "a message one level down"],
  [ERROR_OBJECT, '{"message":"a","message":2}', false, "the last duplicate is not a string"],
  [ERROR_OBJECT, '{"message":2,"message":"a"}', true, "the last duplicate is a string"],
  [ERROR_OBJECT, '{"message":"a","x":1,"message":"b"}', true, "two string duplicates"],
  [ERROR_OBJECT, '{"\\u006dessage":"x"}', true, "an escaped key"],
  [ERROR_OBJECT, '{"\\u006D\\u0065ssag\\u0065":"x"}', true, "a key with several escapes"],
  [ERROR_OBJECT, '{"\\u006dessage":1}', false, "an escaped key with a number"],
  [ERROR_OBJECT, '{"message":"x","\\u006dessage":1}', false, "an escaped duplicate decides"],
  [ERROR_OBJECT, '{"Message":"x"}', false, "keys are case-sensitive"],
  [ERROR_OBJECT, '{"messages":"x"}', false, "a longer key"],
  [ERROR_OBJECT, '{"messag":"x"}', false, "a shorter key"],
  [ERROR_OBJECT, '{"message\\u0000":"x"}', false, "a key with an escaped NUL after it"],
  [ERROR_OBJECT, '{"me\\ssage":"x"}', false, "an invalid escape in the key"],
  [ERROR_OBJECT, '{"mes\\/sage":"x"}', false, "an escaped slash in the key"],
  [ERROR_OBJECT, '{"message":"x"', false, "an unclosed error object"],
  [ERROR_OBJECT, '{"message":"x"} 1', false, "an error object and garbage"],
  [ERROR_OBJECT, b('{"message":"', [0xed, 0xa0, 0x80], '"}'), false, "an encoded surrogate in the message"],
  [ERROR_OBJECT, `{"message":"x","d":${nest(MAX_DEPTH - 1)}}`, true, "details 512 levels deep in all"],
  [ERROR_OBJECT, `{"message":"x","d":${nest(MAX_DEPTH)}}`, false, "details 513 levels deep in all"],
  [ERROR_OBJECT, "", false, "empty input"],
  [0, '{"message":1}', true, "without the flag any JSON is fine"],
  [0, "[]", true, "without the flag an array is fine"],
  [2, "[]", true, "unknown flag bits are ignored"],
  [3, '{"message":"x"}', true, "unknown flag bits beside ERROR_OBJECT"],
  [3, "[]", false, "ERROR_OBJECT among unknown flag bits"],
];

// ---- generated inputs -----------------------------------------------------

const NUMBERS = ["0", "-0", "1", "-1", "42", "3.25", "-0.5", "1e10", "2E-3", "6.02e+23", "1E400", "123456789012"];
const ESCAPES = ['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0041", "\\u00e9", "\\uD800", "\\udc00"];
const CHARS = ["a", "b", "z", " ", "0", "{", "]", ":", ",", "é", "ß", "€", "中", "😀", "\u2028", "\u007f", "\ufeff"];
const INTERESTING = [
  ...'{}[],:"\\ \t\n\r0123456789-+.eEtrufalsn/bxu',
  "\f",
  "\v",
  "\0",
  "\x1f",
].map((c) => c.charCodeAt(0)).concat([
  0x7f,
  0x80,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xdf,
  0xe0,
  0xed,
  0xef,
  0xf0,
  0xf4,
  0xf5,
  0xff,
]);
const UTF8_SNIPPETS: number[][] = [
  [0xc3, 0xa9], // é
  [0xe2, 0x82, 0xac], // €
  [0xf0, 0x9f, 0x98, 0x80], // 😀
  [0xf4, 0x8f, 0xbf, 0xbf], // U+10FFFF
  [0xed, 0x9f, 0xbf], // U+D7FF
  [0xef, 0xbb, 0xbf], // U+FEFF
  [0xe2, 0x80, 0xa8], // U+2028
  [0xc2, 0xa0], // no-break space
  [0xc0, 0x80], // overlong
  [0xc1, 0xbf], // overlong
  [0xe0, 0x80, 0x80], // overlong
  [0xe0, 0x9f, 0xbf], // overlong
  [0xf0, 0x8f, 0xbf, 0xbf], // overlong
  [0xed, 0xa0, 0x80], // surrogate
  [0xed, 0xbf, 0xbf], // surrogate
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0xf5, 0x80, 0x80, 0x80], // past U+10FFFF
  [0x80], // stray
  [0xbf, 0xbf], // stray
  [0xe2, 0x82], // truncated
  [0xf0, 0x9f, 0x98], // truncated
  [0xc3], // truncated
  [0xfe],
  [0xff],
];
const WHITESPACE = [" ", "\t", "\n", "\r", "  ", "\n  "];

class Gen {
  constructor(readonly rng: Prng) {}

  pick<T>(list: readonly T[]): T {
    return list[this.rng.below(list.length)]!;
  }

  chance(percent: number): boolean {
    return this.rng.below(100) < percent;
  }

  ws(): string {
    return this.chance(70) ? "" : this.pick(WHITESPACE);
  }

  number(): string {
    if (this.chance(50)) return this.pick(NUMBERS);
    let s = this.chance(30) ? "-" : "";
    s += this.chance(20) ? "0" : String(1 + this.rng.below(100_000));
    if (this.chance(30)) s += "." + String(this.rng.below(1000)).padStart(1 + this.rng.below(3), "0");
    if (this.chance(25)) s += this.pick(["e", "E"]) + this.pick(["", "+", "-"]) + String(this.rng.below(400));
    return s;
  }

  string(): string {
    let s = '"';
    const len = this.rng.below(this.chance(10) ? 60 : 10);
    for (let k = 0; k < len; k++) s += this.chance(20) ? this.pick(ESCAPES) : this.pick(CHARS);
    return s + '"';
  }

  key(): string {
    return this.chance(15) ? this.pick(['"message"', '"\\u006dessage"', '"details"', '"Message"']) : this.string();
  }

  value(depth: number): string {
    const kind = this.rng.below(depth > 4 ? 6 : 8);
    switch (kind) {
      case 0:
      case 1:
        return this.number();
      case 2:
      case 3:
        return this.string();
      case 4:
        return this.pick(["true", "false", "null"]);
      case 5:
        return this.pick(["[]", "{}", "[ ]", "{ }"]);
      case 6: {
        const items = Array.from({ length: this.rng.below(5) }, () => this.ws() + this.value(depth + 1) + this.ws());
        return "[" + items.join(",") + "]";
      }
      default: {
        const members = Array.from(
          { length: this.rng.below(5) },
          () => this.ws() + this.key() + this.ws() + ":" + this.ws() + this.value(depth + 1) + this.ws(),
        );
        return "{" + members.join(",") + "}";
      }
    }
  }

  /** An error buffer: {"message": ...} with other members, duplicates and escaped keys around it. */
  errorObject(): string {
    const members: string[] = [];
    const count = 1 + this.rng.below(4);
    for (let k = 0; k < count; k++) {
      const key = this.chance(60) ? this.pick(['"message"', '"\\u006dessage"', '"messag\\u0065"']) : this.key();
      const value = this.chance(70) ? this.string() : this.value(1);
      members.push(this.ws() + key + this.ws() + ":" + this.ws() + value + this.ws());
    }
    return "{" + members.join(",") + "}";
  }

  /** Arrays and objects nested around 512 levels deep. */
  deep(): string {
    const k = MAX_DEPTH - 8 + this.rng.below(17);
    let open = "", close = "";
    for (let d = 0; d < k; d++) {
      if (this.chance(70)) {
        open += "[";
        close = "]" + close;
      } else {
        open += '{"k":';
        close = "}" + close;
      }
    }
    return open + this.value(5) + close;
  }

  document(): string {
    const r = this.rng.below(10);
    const doc = r < 4 ? this.value(0) : r < 8 ? this.errorObject() : this.deep();
    return this.ws() + doc + this.ws();
  }

  mutate(bytes: number[]): number[] {
    const at = (extra = 0) => this.rng.below(bytes.length + extra);
    const afterQuote = () => {
      const quotes = bytes.flatMap((x, i) => x === 0x22 ? [i + 1] : []);
      return quotes.length > 0 && this.chance(60) ? this.pick(quotes) : at(1);
    };
    switch (this.rng.below(11)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[at()]! ^= 1 << this.rng.below(8);
        break;
      case 1: // replace a byte
        if (bytes.length > 0) bytes[at()] = this.chance(80) ? this.pick(INTERESTING) : this.rng.below(256);
        break;
      case 2: // insert a byte
        bytes.splice(at(1), 0, this.chance(80) ? this.pick(INTERESTING) : this.rng.below(256));
        break;
      case 3: // insert a UTF-8 sequence, valid or not, mostly inside strings
        bytes.splice(afterQuote(), 0, ...this.pick(UTF8_SNIPPETS));
        break;
      case 4: // delete a byte or a run
        bytes.splice(at(), 1 + (this.chance(30) ? this.rng.below(8) : 0));
        break;
      case 5: // truncate
        bytes.length = at(1);
        break;
      case 6: { // duplicate a slice
        const from = at(), len = 1 + this.rng.below(16);
        bytes.splice(at(1), 0, ...bytes.slice(from, from + len));
        break;
      }
      case 7: { // swap two bytes
        if (bytes.length < 2) break;
        const i = at(), j = at();
        [bytes[i], bytes[j]] = [bytes[j]!, bytes[i]!];
        break;
      }
      case 8: // whitespace, JSON's or not
        bytes.splice(at(1), 0, ...encoder.encode(this.pick([" ", "\t", "\n", "\r", "\f", "\v", "\u00a0", "\ufeff"])));
        break;
      case 9: // a byte order mark in front
        bytes.unshift(...BOM);
        break;
      default: { // more nesting around it
        const k = this.chance(50) ? 1 + this.rng.below(4) : MAX_DEPTH - 4 + this.rng.below(8);
        const obj = this.chance(30);
        const open = encoder.encode((obj ? '{"w":' : "[").repeat(k));
        const close = encoder.encode((obj ? "}" : "]").repeat(k));
        bytes = [...open, ...bytes, ...close];
      }
    }
    return bytes;
  }

  input(): Input {
    let bytes = Array.from(encoder.encode(this.document()));
    const mutations = this.chance(30) ? 0 : 1 + this.rng.below(3);
    for (let k = 0; k < mutations; k++) bytes = this.mutate(bytes);
    return { flags: this.chance(50) ? ERROR_OBJECT : 0, bytes: Uint8Array.from(bytes) };
  }
}

// ---- the tests --------------------------------------------------------------

Deno.test("native JSON validator", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-json-" });
  try {
    const exe = await compileDriver(dir);

    await t.step("hand-written cases: every rule, both sides", async () => {
      const inputs = CASES.map(([flags, input]) => ({
        flags,
        bytes: typeof input === "string" ? encoder.encode(input) : input,
      }));
      const answers = await validate(exe, inputs);
      const wrong: string[] = [];
      CASES.forEach(([flags, , valid, why], k) => {
        const input = inputs[k]!;
        const shown = `flags ${flags}, ${why} (${hex(input.bytes).slice(0, 80)})`;
        if (answers[k] !== valid) wrong.push(`validator says ${answers[k]}, expected ${valid}: ${shown}`);
        if (reference(input) !== valid) wrong.push(`reference says ${!valid}, expected ${valid}: ${shown}`);
      });
      assert.deepEqual(wrong, []);
    });

    await t.step("differential: 40,000 seeded mutations agree with TextDecoder + JSON.parse", async () => {
      const gen = new Gen(new Prng(0x4a534f4e));
      const inputs = Array.from({ length: 40_000 }, () => gen.input());
      const answers = await validate(exe, inputs);
      const mismatches: string[] = [];
      const counts = [[0, 0], [0, 0]]; // [flags][valid]
      let failed = 0;
      inputs.forEach((input, k) => {
        const expected = reference(input);
        counts[input.flags]![expected ? 1 : 0]!++;
        if (answers[k] === expected) return;
        if (++failed <= 8) {
          mismatches.push(`flags ${input.flags}: validator ${answers[k]}, reference ${expected}: ${hex(input.bytes)}`);
        }
      });
      assert.equal(failed, 0, `${failed} disagreements, the first:\n${mismatches.join("\n")}`);
      // The run means something only if both answers are common under both flags.
      for (const [flags, [invalid, valid]] of counts.entries()) {
        assert.ok(valid! > 2000 && invalid! > 2000, `flags ${flags}: ${valid} valid, ${invalid} invalid`);
      }
    });

    await t.step("speed: a 1 MiB document", async () => {
      const out = await new Deno.Command(exe, { args: ["--bench"], stdout: "piped", stderr: "piped" }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.match(stdout, /^ascii: 1048576 bytes x 100: \d+\.\d+ ns\/byte/m);
      assert.match(stdout, /^utf8: 1048576 bytes x 100: \d+\.\d+ ns\/byte/m);
      console.log(stdout.trimEnd());
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
