/**
 * Errors as data and as text: `toData`/`fromData` round-trip every class by
 * its code, `formatError` follows the cause chain, plugin text is escaped for
 * terminals (and exact in JSON), and the guard bounds what a plugin supplies.
 */
import assert from "node:assert/strict";
import { fromData, toData } from "../lib/errors/error_data.ts";
import { formatError } from "../lib/errors/format_error.ts";
import { escapeControl } from "../lib/util/safe_text.ts";
import { boundDetails, boundMessage, MAX_DETAILS_DEPTH } from "../lib/errors/bounds.ts";
import {
  AbiMismatchError,
  BufferTooSmallError,
  InvalidInputError,
  LoadError,
  PluginCrashError,
  PluginTimeoutError,
  ResourceLeakError,
  SandboxProtocolError,
  UsageError,
} from "../mod.ts";

Deno.test("toData() and fromData() round-trip each error class with its own fields", () => {
  const cases = [
    new InvalidInputError('Cannot invoke "x": bad', {
      operation: 'invoke "x"',
      status: 1,
      pluginMessage: "bad",
      details: { at: 3 },
    }),
    new PluginTimeoutError('Cannot invoke "x": late', { operation: 'invoke "x"', timeoutMs: 50 }),
    new AbiMismatchError("abi", { operation: "load", pluginVersion: 0x20000, hostVersion: 0x10000 }),
    new ResourceLeakError("leak", {
      operation: "invoke",
      leaks: [{ counter: "live_buffers", before: 1, after: 2 }],
    }),
    new BufferTooSmallError("small", { operation: "invoke", needed: 99 }),
    new PluginCrashError("crash", {
      operation: "invoke",
      signal: "SIGSEGV",
      stderrTail: "tail",
      request: { kind: "invoke", method: "crash" },
    }),
  ];
  for (const e of cases) {
    const back = fromData(JSON.parse(JSON.stringify(toData(e))));
    assert.equal(back.constructor, e.constructor, e.name);
    assert.deepEqual(toData(back), toData(e), e.name);
  }
  assert.deepEqual(toData(cases[0]), {
    code: "INVALID_INPUT",
    name: "InvalidInputError",
    message: 'Cannot invoke "x": bad',
    operation: 'invoke "x"',
    status: 1,
    plugin_message: "bad",
    details: { at: 3 },
  });
});

Deno.test("toData() marks unexpected errors HOST_INTERNAL and usage errors USAGE; causes travel", () => {
  assert.equal(toData(new TypeError("oops")).code, "HOST_INTERNAL");
  assert.equal(toData(new UsageError("bad flag")).code, "USAGE");
  const load = new LoadError("Cannot load", { operation: "load", cause: new Error("libx.so: cannot open") });
  const back = fromData(toData(load));
  assert.ok(back instanceof LoadError);
  assert.equal((back.cause as Error).message, "libx.so: cannot open");
  const unknown = fromData({ code: "WHAT", message: "m", operation: "op" });
  assert.ok(unknown instanceof SandboxProtocolError);
  assert.match(unknown.message, /unknown kind "WHAT": m$/);
});

Deno.test("formatError() shows details, crash stderr, causes and hint, escaped; stacks only when verbose", () => {
  const crash = new PluginCrashError('Cannot invoke "x": crashed', {
    operation: "x",
    stderrTail: Array.from({ length: 15 }, (_, i) => `line ${i}`).join("\n"),
    cause: new Error("inner\u001b[2J"),
  });
  const lines = formatError(crash, { hint: "try again" });
  assert.equal(lines[0], 'Cannot invoke "x": crashed');
  assert.equal(lines[1], "  child stderr (last 10 of 15 lines):");
  assert.equal(lines[2], "    | line 5");
  assert.equal(lines.at(-2), "  cause: inner\\x1b[2J");
  assert.equal(lines.at(-1), "  hint: try again");
  assert.ok(!lines.some((l) => /^\s+at /.test(l)));
  const loud = formatError(crash, { verbose: true });
  assert.equal(loud.filter((l) => l.startsWith("    | ")).length, 15);
  assert.ok(loud.some((l) => /^\s+at /.test(l)), "a stack frame");
  assert.ok(loud.some((l) => l.startsWith("Caused by: Error: inner\\x1b[2J")));
});

Deno.test("escapeControl() escapes C0, DEL, C1, line separators and bidi overrides, nothing else", () => {
  assert.equal(
    escapeControl("Bad\u001b]0;pwned\u0007\u001b[2J\r\nfake: ok"),
    "Bad\\x1b]0;pwned\\x07\\x1b[2J\\r\\nfake: ok",
  );
  assert.equal(escapeControl("a\u009bb\u202ec\u2028d\u007f"), "a\\x9bb\\u202ec\\u2028d\\x7f");
  assert.equal(escapeControl("plain é ü 日本 ::x"), "plain é ü 日本 ::x");
});

Deno.test("boundMessage() and boundDetails() cut oversize plugin text and deep JSON with a marker", () => {
  const m = boundMessage("x".repeat(4_000_000));
  assert.equal(m.truncated, true);
  assert.ok(m.text.length < 9000);
  assert.match(m.text, /\.\.\. \[truncated: 3991808 more characters\]$/);
  const deep = JSON.parse("[".repeat(2_000_000) + "]".repeat(2_000_000));
  const d = boundDetails(deep);
  assert.equal(d.problem, `details nest deeper than ${MAX_DETAILS_DEPTH} levels`);
  assert.equal(d.value, `[details omitted: details nest deeper than ${MAX_DETAILS_DEPTH} levels]`);
  assert.equal(boundDetails({ ok: [1, 2] }).problem, undefined);
  assert.match(String(boundDetails("y".repeat(20_000)).problem), /characters of JSON, more than 16384/);
});
