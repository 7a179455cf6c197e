/**
 * The limits of describe() (docs/abi.md, "Limits"): parseDescription()
 * refuses a document, a name or a description past its limit with the limit
 * named and the text left out; every command refuses such a plugin with exit
 * 1; and text within the limits is shortened for people in `load`'s text.
 */
import assert from "node:assert/strict";
import { parseDescription } from "../lib/plugin/describe_schema.ts";
import { DESCRIBE_LIMITS } from "../lib/plugin/describe_limits.ts";
import { LoadReportSchema, renderLoadReport } from "../lib/report/load_report.ts";
import { ContractViolationError } from "../mod.ts";
import { fault, runCli } from "./_helpers.ts";

const enc = new TextEncoder();
const doc = (patch: Record<string, unknown> = {}, method: Record<string, unknown> = {}) =>
  enc.encode(JSON.stringify({
    name: "p",
    version: "1.0.0",
    thread_safe_instances: true,
    methods: [{ name: "echo", description: "Echoes", input: "bytes", pure: true, ...method }],
    ...patch,
  }));

Deno.test("parseDescription() takes a document at each limit and refuses one byte past it, naming the limit", () => {
  const { nameBytes, descriptionBytes, documentBytes } = DESCRIBE_LIMITS;
  // "é" is 2 UTF-8 bytes: the limits count bytes, not characters.
  assert.equal(parseDescription(doc({}, { name: "é".repeat(nameBytes / 2) })).methods[0]!.name.length, nameBytes / 2);
  assert.equal(parseDescription(doc({ name: "n".repeat(nameBytes), version: "v".repeat(nameBytes) })).name.length, 256);
  parseDescription(doc({}, { description: "d".repeat(descriptionBytes) }));
  const cases: [Uint8Array, RegExp][] = [
    [doc({}, { name: `${"é".repeat(nameBytes / 2)}x` }), /at methods\.0\.name: 257 bytes long, over the limit of 256/],
    [doc({ name: "n".repeat(nameBytes + 1) }), /at name: 257 bytes long, over the limit of 256/],
    [doc({ version: "v".repeat(nameBytes + 1) }), /at version: 257 bytes long/],
    [doc({}, { description: "d".repeat(descriptionBytes + 1) }), /at methods\.0\.description: 4,097 bytes long/],
    [doc({}, { name: "" }), /at methods\.0\.name/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => parseDescription(bytes), (e: unknown) => {
      assert.ok(e instanceof ContractViolationError);
      assert.equal(e.operation, "describe plugin");
      assert.match(e.message, message);
      assert.ok(e.message.length < 300, "the text itself is not repeated");
      return true;
    });
  }
  // The document's size is judged before it is parsed: a big one need not even be JSON.
  const big = new Uint8Array(documentBytes + 1).fill(0x20);
  assert.throws(() => parseDescription(big), /is 1,048,577 bytes, over the limit of 1,048,576 \(1 MiB\)/);
  const examples = [{ input: "x".repeat(documentBytes - 300) }];
  assert.equal(parseDescription(doc({}, { examples })).methods[0]!.examples.length, 1, "1 MiB in all is fine");
});

Deno.test("every command refuses a plugin past a describe() limit with exit 1 (harness: 3) and the limit named", async () => {
  const cases: [string, string[], RegExp][] = [
    ["long_method_name", ["load"], /methods\.1\.name: 4,998 bytes long, over the limit of 256/],
    ["long_method_name", ["invoke", "$LIB", "echo"], /over the limit of 256/],
    ["long_method_name", ["fuzz", "$LIB", "--runs", "100", "--seed", "1"], /over the limit of 256/],
    ["long_method_name", ["stress", "$LIB", "--iterations", "10", "--isolate"], /over the limit of 256/],
    ["huge_description", ["load", "$LIB", "--isolate"], /10,000,195 bytes, over the limit of 1,048,576/],
    ["huge_description", ["invoke", "$LIB", "echo"], /10,000,195 bytes, over the limit of 1,048,576/],
    ["huge_description", ["harness", "$LIB", "--method", "echo"], /10,000,195 bytes, over the limit of 1,048,576/],
  ];
  for (const [fixture, args, message] of cases) {
    const full = args[0] === "load" && args.length === 1 ? ["load", "$LIB"] : args;
    const argv = full.map((a) => a === "$LIB" ? fault(fixture) : a);
    const r = await runCli(argv, { killAfterMs: 60_000 });
    const what = `${fixture}: ${argv.slice(0, 1)}`;
    // harness, as for any describe() it cannot use, says it cannot load the plugin (describe_bad_schema does the same).
    assert.equal(r.code, argv[0] === "harness" ? 3 : 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.ok(
      r.stdout.length + r.stderr.length < 5_000,
      `${what}: ${r.stdout.length + r.stderr.length} bytes of output`,
    );
  }
});

Deno.test("renderLoadReport() shortens a long method name and description for people; the document keeps them whole", () => {
  const name = "m".repeat(200);
  const description = `\u001b[5m${"Describes at length. ".repeat(190)}`;
  const report = LoadReportSchema.parse({
    ok: true,
    path: "/opt/libdemo.so",
    isolated: false,
    abi_version: "1.0",
    host_abi_version: "1.0",
    symbols: { required: ["a"], optional: [] },
    capabilities: { stats: false },
    init_ms: 1,
    description: {
      name: "p".repeat(250),
      version: "1.0.0",
      thread_safe_instances: true,
      methods: [
        { name: "echo", description: "Echoes", input: "bytes", pure: true },
        { name, description, input: "bytes", pure: true },
      ],
    },
    stats: null,
    warnings: [],
  });
  const text = renderLoadReport(report);
  for (const line of text.split("\n")) assert.ok(line.length < 400, `a ${line.length}-character line`);
  assert.ok(text.includes(`  ${"m".repeat(48)}... [152 more characters]  bytes  pure    \\x1b[5mDescribes`));
  assert.match(text, /\.\.\. \[3,794 more characters\]\n$/);
  assert.equal(report.description.methods[1]!.name, name);
});
