/**
 * The `provenance` of every `--format json` report of `stress`, `fuzz` and
 * `check` (issue 21, trends in CI): plugcheck's version, the library file's
 * SHA-256, and the machine's facts, the same in all three.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import denoJson from "../deno.json" with { type: "json" };
import { ProvenanceSchema } from "../lib/load/provenance.ts";
import { fixture, runCli, tempDir } from "./_helpers.ts";

const LIB = fixture("ref_c");
const sha256 = (path: string) => createHash("sha256").update(Deno.readFileSync(path)).digest("hex");

async function provenanceOf(args: string[]): Promise<ReturnType<typeof ProvenanceSchema.parse>> {
  const r = await runCli([...args, "--format", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return ProvenanceSchema.parse(JSON.parse(r.stdout).provenance);
}

Deno.test("stress, fuzz and check JSON reports carry the same provenance: version, library SHA-256, machine", async () => {
  await using dir = await tempDir();
  const all = [
    await provenanceOf(["stress", LIB, "--iterations", "200", "--seed", "1"]),
    await provenanceOf(["fuzz", LIB, "--method", "echo", "--runs", "500", "--seed", "1", "--artifacts", dir.path]),
    await provenanceOf(["check", LIB, "--seed", "1", "--filter", "^lifecycle\\.init$"]),
  ];
  const kernel = Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
  for (const p of all) {
    assert.equal(p.tool.version, denoJson.version);
    assert.equal(p.plugin_sha256, sha256(LIB));
    assert.equal(p.machine.kernel, kernel);
    assert.equal(p.machine.cores, navigator.hardwareConcurrency);
    assert.equal(p.machine.os, Deno.build.os);
  }
  assert.deepEqual(all[0], all[1]);
  assert.deepEqual(all[1], all[2]);
});

Deno.test("provenance names another build of the plugin by another SHA-256", async () => {
  await using dir = await tempDir();
  const copy = `${dir.path}/libref_c_copy.so`;
  const bytes = Deno.readFileSync(LIB);
  Deno.writeFileSync(copy, new Uint8Array([...bytes, 0])); // one byte more: still loads, another build
  const a = await provenanceOf(["fuzz", LIB, "--method", "echo", "--runs", "100", "--artifacts", dir.path]);
  const b = await provenanceOf(["fuzz", copy, "--method", "echo", "--runs", "100", "--artifacts", dir.path]);
  assert.notEqual(a.plugin_sha256, b.plugin_sha256);
  assert.equal(b.plugin_sha256, sha256(copy));
});
