/**
 * Compare interposition without instrumentation: every fuzz child has
 * plugcheck's coverage runtime preloaded, and the operands of the memcmp,
 * strcmp, ... calls an uninstrumented plugin makes feed the CMP mutation.
 */
import assert from "node:assert/strict";
import { prepareRun } from "../lib/fuzz/parent/prepare_run.ts";
import { resolveFuzzOptions } from "../lib/fuzz/parent/options.ts";
import { coverageRuntimePath } from "../lib/load/coverage_runtime.ts";
import { runFuzz } from "../mod.ts";
import { fault, tempDir } from "./_helpers.ts";

Deno.test("prepareRun() preloads the coverage runtime into the fuzz children of an uninstrumented plugin, for its comparisons", async () => {
  await using dir = await tempDir();
  for (const [coverage, preloaded] of [[true, true], [false, false]] as const) {
    const run = await prepareRun(fault("exit_on_magic"), resolveFuzzOptions({ artifactsDir: dir.path, coverage }));
    const spec = run.session.spec({ path: "/dev/null", size: 0 } as never);
    assert.equal(run.instrumented, false);
    assert.equal((spec.setEnv?.LD_PRELOAD ?? "").includes(coverageRuntimePath()), preloaded, `coverage ${coverage}`);
    assert.equal((spec.options as { comparisons?: boolean }).comparisons === true, preloaded);
  }
});

Deno.test("runFuzz() gets past an uninstrumented plugin's memcmp with the operands the preloaded memcmp saw, and not without them", async () => {
  await using dir = await tempDir();
  const o = { methods: ["command"], seed: 1, artifactsDir: dir.path, maxFindings: 1, binaryDictionary: false };
  const found = await runFuzz(fault("exit_on_magic"), { ...o, runs: 20_000 });
  assert.deepEqual(found.findings.map((f) => f.kind), ["exit"]);
  const blind = await runFuzz(fault("exit_on_magic"), { ...o, runs: 20_000, coverage: false });
  assert.deepEqual(blind.findings, [], "neither the call operands nor the binary's words: not found");
});
