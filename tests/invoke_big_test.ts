/**
 * Big outputs of `plugcheck invoke` and `Instance.invoke`: text mode prints
 * the plugin's bytes exactly (the input read into one buffer, the output
 * copied over it, nothing decoded or encoded), JSON mode still builds the
 * same document, and `invoke`'s `into` option is used only when it may be.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { shownOutput } from "../lib/report/invoke_report.ts";
import { readInput } from "../lib/commands/input.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { InvokeReportSchema, loadPlugin } from "../mod.ts";
import { fault, fixture, runCli } from "./_helpers.ts";

const C = fixture("ref_c");
const RUST = fixture("ref_rust");

/** `n` random bytes (not UTF-8, in practice: the JSON document's base64 case). */
function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

/** Runs `fn` with a temporary directory holding `in.bin` = `bytes`; removes it afterwards. */
async function withInputFile(bytes: Uint8Array, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "plugcheck-invoke-big-" });
  try {
    const path = join(dir, "in.bin");
    await Deno.writeFile(path, bytes);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("plugcheck invoke --input-file: a 24 MiB binary echo prints the exact bytes in text mode", async () => {
  const bytes = randomBytes(24 * 1024 * 1024 + 3);
  await withInputFile(bytes, async (path) => {
    for (const plugin of [C, RUST]) {
      const r = await runCli(["invoke", plugin, "echo", "--input-file", path, "--log", "off"], {
        killAfterMs: 120_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.equal(r.stdoutBytes.length, bytes.length);
      assert.ok(Buffer.from(r.stdoutBytes).equals(Buffer.from(bytes)), "stdout differs from the input");
    }
  });
});

Deno.test("plugcheck invoke --repeat: the last big output, copied over the input, is still exact", async () => {
  // upper changes the bytes, so an output that was not copied over the input (or copied before the call) would show.
  const input = new TextEncoder().encode("abc-é-xyz\n".repeat(400_000)); // ~4.4 MiB of UTF-8
  const expected = new TextEncoder().encode("ABC-é-XYZ\n".repeat(400_000));
  await withInputFile(input, async (path) => {
    const r = await runCli(["invoke", C, "upper", "--input-file", path, "--repeat", "3", "--log", "off"], {
      killAfterMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Buffer.from(r.stdoutBytes).equals(Buffer.from(expected)), "stdout is not the uppercased input");
    assert.match(r.stderr, /^3 calls: min /m);
  });
});

Deno.test("plugcheck invoke --stdin: a 5 MiB binary echo through a pipe prints the exact bytes", async () => {
  const bytes = randomBytes(5 * 1024 * 1024 + 7); // several doublings of the read buffer
  const r = await runCli(["invoke", C, "echo", "--stdin", "--log", "off"], { stdin: bytes, killAfterMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Buffer.from(r.stdoutBytes).equals(Buffer.from(bytes)), "stdout differs from the input");
});

Deno.test("plugcheck invoke --json: a big binary output is still the same document, output_base64 exact", async () => {
  const bytes = randomBytes(1024 * 1024 + 5);
  await withInputFile(bytes, async (path) => {
    const r = await runCli(["invoke", C, "echo", "--input-file", path, "--json", "--log", "off"], {
      killAfterMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const doc = InvokeReportSchema.parse(JSON.parse(r.stdout));
    assert.deepEqual(Object.keys(doc), ["ok", "method", "output_base64", "timing", "warnings"]);
    assert.equal(doc.ok, true);
    assert.equal(doc.method, "echo");
    assert.deepEqual(doc.warnings, []);
    assert.equal(doc.timing.calls, 1);
    assert.equal(doc.output_base64, Buffer.from(bytes).toString("base64"));
  });
});

Deno.test("plugcheck invoke --json: UTF-8 output is output_text, JSON output parsed, broken JSON warned", async () => {
  let r = await runCli(["invoke", C, "echo", "--input", "héllo", "--json"]);
  let doc = InvokeReportSchema.parse(JSON.parse(r.stdout));
  assert.deepEqual(Object.keys(doc), ["ok", "method", "output_text", "timing", "warnings"]);
  assert.equal(doc.output_text, "héllo");
  r = await runCli(["invoke", C, "sum", "--input", "[1, 2]", "--json"]);
  doc = InvokeReportSchema.parse(JSON.parse(r.stdout));
  assert.deepEqual(Object.keys(doc), ["ok", "method", "output", "timing", "warnings"]);
  assert.equal(doc.output, 3);
  r = await runCli(["invoke", fault("json_not_json"), "greet", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  doc = InvokeReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(doc.output_text, "hello");
  assert.ok(
    doc.warnings.some((w: string) =>
      /Method "greet" is declared "json" in describe\(\), but its output is not valid JSON/.test(w)
    ),
    JSON.stringify(doc.warnings),
  );
});

Deno.test("shownOutput builds nothing for a bytes method in text mode, and the document's fields in JSON mode", () => {
  const binary = new Uint8Array([0xff, 0x00, 0x80]);
  assert.deepEqual(shownOutput(binary, "bytes", false), { fields: undefined, notJson: false });
  assert.deepEqual(shownOutput(binary, undefined, false), { fields: undefined, notJson: false });
  assert.deepEqual(shownOutput(binary, "bytes", true), { fields: { output_base64: "/wCA" }, notJson: false });
  const hi = new TextEncoder().encode("hi");
  assert.deepEqual(shownOutput(hi, "bytes", true), { fields: { output_text: "hi" }, notJson: false });
  // A json method is still parsed in text mode, for the warning; its fields only in JSON mode.
  const three = new TextEncoder().encode("3");
  assert.deepEqual(shownOutput(three, "json", false), { fields: undefined, notJson: false });
  assert.deepEqual(shownOutput(three, "json", true), { fields: { output: 3 }, notJson: false });
  assert.deepEqual(shownOutput(hi, "json", false), { fields: undefined, notJson: true });
  assert.deepEqual(shownOutput(hi, "json", true), { fields: { output_text: "hi" }, notJson: true });
  assert.deepEqual(shownOutput(binary, "json", true), { fields: { output_base64: "/wCA" }, notJson: true });
});

Deno.test("readInput reads a file of exactly the limit, refuses one byte more and an endless device", async () => {
  const bytes = randomBytes(100_000);
  await withInputFile(bytes, async (path) => {
    const got = await readInput({ "input-file": path }, bytes.length);
    assert.ok(Buffer.from(got).equals(Buffer.from(bytes)));
    await assert.rejects(() => readInput({ "input-file": path }, bytes.length - 1), UsageError);
  });
  await assert.rejects(() => readInput({ "input-file": "/dev/zero" }, 1_000_000), /larger than the 1000000-byte limit/);
});

Deno.test("Instance.invoke into: a big output that fits goes there; small or larger ones get memory of their own", async () => {
  const plugin = await loadPlugin(C);
  try {
    const inst = await plugin.createInstance();
    const input = randomBytes(256 * 1024);
    const into = new Uint8Array(input.length + 10).fill(7);
    const big = await inst.invoke("echo", input, { into });
    assert.equal(big.buffer, into.buffer, "a big output that fits is a view of into");
    assert.equal(big.byteOffset, 0);
    assert.ok(Buffer.from(big).equals(Buffer.from(input)));
    assert.equal(into[input.length], 7, "nothing written past the output");

    const small = new Uint8Array(input.length - 1).fill(7);
    const own = await inst.invoke("echo", input, { into: small });
    assert.notEqual(own.buffer, small.buffer);
    assert.ok(Buffer.from(own).equals(Buffer.from(input)));
    assert.ok(small.every((b) => b === 7), "an array too small is left alone");

    const spare = new Uint8Array(64).fill(7);
    const tiny = await inst.invoke("echo", "hi", { into: spare });
    assert.equal(new TextDecoder().decode(tiny), "hi");
    assert.ok(spare.every((b) => b === 7), "a small output stays in the slab");

    const before = new Uint8Array(into);
    await assert.rejects(() => inst.invoke("fail_with", '{"status":3,"message":"x"}', { into }));
    assert.deepEqual(into, before, "a failed call writes nothing there");
    await inst.destroy();
  } finally {
    await plugin.close();
  }
});

Deno.test("Instance.invoke over its own input: a big echo copied over the input it read is exact", async () => {
  const plugin = await loadPlugin(C);
  try {
    const inst = await plugin.createInstance();
    const input = randomBytes(3 * 1024 * 1024);
    const expected = new Uint8Array(input);
    const out = await inst.invoke("echo", input, { into: input });
    assert.equal(out.buffer, input.buffer);
    assert.ok(Buffer.from(out).equals(Buffer.from(expected)));
    await inst.destroy();
  } finally {
    await plugin.close();
  }
});
