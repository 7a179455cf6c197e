/**
 * Dictionary files (AFL / libFuzzer format): every accepted form and
 * escape, and every malformed line reported with its line number.
 */
import assert from "node:assert/strict";
import { parseDictionary } from "../lib/fuzz/mutate/dictionary.ts";

const bytes = (words: Uint8Array[]) => words.map((w) => [...w]);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

Deno.test("parseDictionary() reads names, @levels, bare values, every escape, comments and UTF-8, in order, once each", () => {
  const text = [
    "# a comment",
    "",
    'kw1="GET"',
    '  kw_2@1 = "POST"  ',
    '"bare"',
    '\t"\\x00\\xFF\\xab"\r',
    'quote="a\\"b\\\\c"',
    "   # an indented comment",
    'utf8="\u00e9\u20ac\u{1f600}"',
    'again@12="GET"',
    '"#not a comment"',
    'spaces=" a b "',
  ].join("\n");
  assert.deepEqual(bytes(parseDictionary(text)), [
    ascii("GET"),
    ascii("POST"),
    ascii("bare"),
    [0x00, 0xff, 0xab],
    ascii('a"b\\c'),
    [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80],
    ascii("#not a comment"),
    ascii(" a b "),
  ]);
  assert.deepEqual(parseDictionary(""), []);
  assert.deepEqual(parseDictionary("# only\n\n   \n"), []);
});

Deno.test("parseDictionary() rejects each malformed entry with a SyntaxError naming its line", () => {
  const cases: [string, string][] = [
    ['"abc', "expected a closing quote"],
    ['name="abc', "expected a closing quote"],
    ['"abc\\', "expected a closing quote"],
    ['"a\\nb"', "unknown escape \\n"],
    ['"a\\tb"', "unknown escape \\t"],
    ['"\\x4"', "expected two hex digits after \\x"],
    ['"\\xg0"', "expected two hex digits after \\x"],
    ['"abc" extra', "unexpected text after the closing quote"],
    ['"abc""', "unexpected text after the closing quote"],
    ['"abc" # comment', "unexpected text after the closing quote"],
    ['""', "empty value"],
    ['name=""', "empty value"],
    ['"tab\there"', "unexpected non-printable byte 0x09"],
    ['"bell\x07"', "unexpected non-printable byte 0x07"],
    ['"del\x7f"', "unexpected non-printable byte 0x7f"],
    ["name", "expected '=' after the name"],
    ['name "x"', "expected '=' after the name"],
    ["name=x", "expected a quoted value after '='"],
    ['kw@="x"', "expected digits after '@'"],
    ["=“x”", "expected a name or a quoted value"],
    ['-name="x"', "expected a name or a quoted value"],
  ];
  for (const [line, problem] of cases) {
    const text = `# header\n\nok="fine"\n${line}\n"never read"\n`;
    assert.throws(
      () => parseDictionary(text),
      (e: unknown) => e instanceof SyntaxError && e.message === `Dictionary line 4: ${problem}`,
      `${JSON.stringify(line)} should fail with: ${problem}`,
    );
  }
});
