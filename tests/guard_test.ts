/**
 * The guard on buffers the reference plugins never produce: plain-text and
 * non-UTF-8 error buffers, NULL pointers with a length, stray buffers, an
 * unknown status, oversize outputs, and describe() schema violations.
 *
 * Buffers are fabricated in JS memory (the only Deno.Unsafe* use outside
 * lib/ffi/) and "freed" by a recorder, so each test also proves every buffer
 * is freed exactly once.
 */
import assert from "node:assert/strict";
import { checkStatus, describeInvalid, type GuardContext, parseJsonOutput, takeOutput } from "../lib/errors/guard.ts";
import type { RawBuf } from "../lib/ffi/memory.ts";
import { PluginDescriptionSchema } from "../lib/plugin/describe_schema.ts";
import {
  ContractViolationError,
  InternalPluginError,
  InvalidInputError,
  MalformedBufferError,
  UnknownMethodError,
} from "../mod.ts";

const keep: Uint8Array[] = []; // keeps fabricated buffers alive for the test run

function buf(content: string | Uint8Array): RawBuf {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  keep.push(bytes);
  return { ptr: Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)), len: BigInt(bytes.length) };
}
const NONE: RawBuf = { ptr: 0n, len: 0n };

function guard(max = 1024): GuardContext & { freed: bigint[]; warnings: string[] } {
  const freed: bigint[] = [];
  const warnings: string[] = [];
  return {
    freed,
    warnings,
    maxOutputBytes: max,
    free: (ptr) => freed.push(Deno.UnsafePointer.value(ptr)),
    warn: (m) => warnings.push(m),
  };
}

Deno.test("checkStatus() with OK and no buffers does nothing", () => {
  const g = guard();
  checkStatus('invoke "x"', 0, NONE, g, NONE);
  assert.deepEqual([g.freed, g.warnings], [[], []]);
});

Deno.test("checkStatus() frees a stray error buffer on success and records a warning", () => {
  const g = guard();
  const err = buf('{"message":"odd"}');
  checkStatus('invoke "x"', 0, err, g);
  assert.deepEqual(g.freed, [err.ptr]);
  assert.deepEqual(g.warnings, ['Plugin set an error buffer on success for invoke "x": freed and ignored']);
});

Deno.test("checkStatus() turns a JSON error buffer into the typed error with details, freed once", () => {
  const g = guard();
  const err = buf('{"message":"Bad thing","details":{"at":3}}');
  assert.throws(() => checkStatus('invoke "parse"', 1, err, g), (e: unknown) => {
    assert.ok(e instanceof InvalidInputError);
    assert.equal(e.message, 'Cannot invoke "parse": plugin returned status 1 (INVALID_INPUT): Bad thing');
    assert.deepEqual(e.details, { at: 3 });
    return true;
  });
  assert.deepEqual(g.freed, [err.ptr]);
  assert.deepEqual(g.warnings, []);
});

Deno.test("checkStatus() tolerates a plain-text error buffer with a contract warning", () => {
  const g = guard();
  const err = buf("disk full");
  assert.throws(() => checkStatus('invoke "save"', 3, err, g), (e: unknown) => {
    assert.ok(e instanceof InternalPluginError);
    assert.equal(e.pluginMessage, "disk full");
    return true;
  });
  assert.deepEqual(g.freed, [err.ptr]);
  assert.match(g.warnings[0]!, /error buffer for invoke "save" is not JSON \{"message": string\}/);
});

Deno.test("checkStatus() makes a non-UTF-8 error buffer a ContractViolationError, shown lossy", () => {
  const g = guard();
  const err = buf(new Uint8Array([0x62, 0x61, 0x64, 0xff, 0xfe]));
  assert.throws(() => checkStatus('invoke "x"', 1, err, g), (e: unknown) => {
    assert.ok(e instanceof ContractViolationError);
    assert.equal(e.status, 1);
    assert.equal(
      e.message,
      'Cannot invoke "x": plugin returned status 1 (INVALID_INPUT) and its error buffer is not valid UTF-8: bad\uFFFD\uFFFD',
    );
    return true;
  });
  assert.deepEqual(g.freed, [err.ptr]);
});

Deno.test("checkStatus() reports a NULL error pointer with a length without freeing it", () => {
  const g = guard();
  assert.throws(
    () => checkStatus('invoke "x"', 3, { ptr: 0n, len: 5n }, g),
    /status 3 \(INTERNAL\) and its error buffer is NULL with length 5$/,
  );
  assert.deepEqual(g.freed, []);
});

Deno.test("checkStatus() accepts a failure without an error buffer, with a warning", () => {
  const g = guard();
  assert.throws(() => checkStatus('invoke "x"', 2, NONE, g), (e: unknown) => {
    assert.ok(e instanceof UnknownMethodError);
    assert.equal(e.message, 'Cannot invoke "x": plugin returned status 2 (UNKNOWN_METHOD)');
    return true;
  });
  assert.deepEqual(g.warnings, ['Plugin returned status 2 (UNKNOWN_METHOD) without an error message for invoke "x"']);
});

Deno.test("checkStatus() frees a stray output buffer on failure; an unknown status is a violation", () => {
  const g = guard();
  const out = buf("partial");
  const err = buf('{"message":"nope"}');
  assert.throws(() => checkStatus('invoke "x"', 42, err, g, out), (e: unknown) => {
    assert.ok(e instanceof ContractViolationError);
    assert.equal(e.message, 'Cannot invoke "x": plugin returned status 42, which is not an npa status: nope');
    return true;
  });
  assert.deepEqual(g.freed, [out.ptr, err.ptr]);
  assert.match(g.warnings[0]!, /output buffer on failure \(status 42\)/);
});

Deno.test("takeOutput() copies then frees; refuses oversize and NULL-with-length", () => {
  const g = guard(4);
  const ok = buf("abcd");
  assert.deepEqual(takeOutput("op", ok, g), new TextEncoder().encode("abcd"));
  const big = buf("abcde");
  assert.throws(() => takeOutput("op", big, g), MalformedBufferError);
  assert.deepEqual(g.freed, [ok.ptr, big.ptr], "oversize buffers are freed unread");
  assert.throws(() => takeOutput("op", { ptr: 0n, len: 3n }, g), /NULL output pointer with length 3/);
  assert.deepEqual(takeOutput("op", NONE, g), new Uint8Array(0));
  assert.equal(g.freed.length, 2);
});

Deno.test("parseJsonOutput() rejects invalid UTF-8 and invalid JSON as contract violations", () => {
  assert.throws(() => parseJsonOutput("describe plugin", new Uint8Array([0xff])), /not valid UTF-8/);
  assert.throws(
    () => parseJsonOutput("describe plugin", new TextEncoder().encode("{name:")),
    (e: unknown) => e instanceof ContractViolationError && /not valid JSON: "\{name:"/.test(e.message),
  );
});

Deno.test("describeInvalid() quotes the zod issue path of a bad describe() document", () => {
  const bad = PluginDescriptionSchema.safeParse({
    name: "p",
    version: "1",
    thread_safe_instances: true,
    methods: [{ name: "a", description: "", input: "text", pure: true }],
  });
  assert.equal(bad.success, false);
  const e = describeInvalid(bad.error!);
  assert.ok(e instanceof ContractViolationError);
  assert.match(e.message, /^Cannot describe plugin: describe\(\) JSON is invalid at methods\.0\.input: /);
  const dup = PluginDescriptionSchema.safeParse({
    name: "p",
    version: "1",
    thread_safe_instances: false,
    methods: [
      { name: "a", description: "", input: "json", pure: true },
      { name: "a", description: "", input: "json", pure: true },
    ],
  });
  assert.match(describeInvalid(dup.error!).message, /at methods\.1\.name: Duplicate method name "a"/);
});

Deno.test("checkStatus() never parses an error nested 2,000,000 deep: its message is kept, its details omitted with a warning", () => {
  const g = guard(16 << 20);
  // A key "message" inside the details and an escaped quote in the message must not fool the top-level read.
  const text = `{"details":[{"message":"inner"},${"[".repeat(2_000_000)}${
    "]".repeat(2_000_000)
  }],"message":"deep \\"x\\""}`;
  const err = buf(text);
  assert.throws(() => checkStatus('invoke "deep"', 3, err, g), (e: unknown) => {
    assert.ok(e instanceof InternalPluginError);
    assert.equal(e.message, 'Cannot invoke "deep": plugin returned status 3 (INTERNAL): deep "x"');
    assert.equal(e.details, "[details omitted: the error nests deeper than 1024 levels]");
    return true;
  });
  assert.deepEqual(g.warnings, [
    'Plugin error details for invoke "deep" were omitted: the error nests deeper than 1024 levels',
  ]);
  assert.deepEqual(g.freed, [err.ptr]);
});
