/**
 * The plugins the checks of one run share (`lib/check/plugin_pool.ts`):
 * lent one check at a time, given back only when nothing went wrong, and
 * what that saves a `check` run, counted in sandbox children.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPlugin } from "../lib/host/load_plugin.ts";
import { PluginPool, POOL_RESTART_CAP, type PoolExtra } from "../lib/check/plugin_pool.ts";
import { childrenSpawned } from "../lib/sandbox/spawn.ts";
import { runChecks } from "../lib/check/run_checks.ts";
import { PluginCrashError } from "../lib/errors/errors.ts";
import { fault, fixture, ROOT } from "./_helpers.ts";

const REF_C = fixture("ref_c");
const LADSPA_REF = join(ROOT, "build", "fixtures", "ladspa", "libladspa_ref.so");
const ok = () => new AbortController().signal;

/** A pool of sandboxed plugins of `path`, and the restart caps it was asked to load with. */
function poolOf(path: string): { pool: PluginPool; caps: (number | undefined)[] } {
  const caps: (number | undefined)[] = [];
  const pool = new PluginPool((extra: PoolExtra) => {
    caps.push(extra.restartCap);
    return loadPlugin(path, { isolate: true, log: "off", ...extra });
  });
  return { pool, caps };
}

Deno.test("PluginPool lends one plugin to checks in turn, and loads another only while the first is lent", async () => {
  const { pool, caps } = poolOf(REF_C);
  try {
    const first = await pool.use({}, ok(), (p) => p.processId);
    const second = await pool.use({ restartCap: POOL_RESTART_CAP }, ok(), (p) => p.processId);
    assert.ok(first !== undefined);
    assert.equal(second, first);
    assert.equal(pool.opened, 1);
    // Two at once: the second check cannot wait for the first's plugin.
    const [a, b] = await Promise.all([
      pool.use({}, ok(), async (p) => (await new Promise((r) => setTimeout(r, 50)), p.processId)),
      pool.use({}, ok(), async (p) => (await new Promise((r) => setTimeout(r, 50)), p.processId)),
    ]);
    assert.notEqual(a, b);
    assert.equal(pool.opened, 2);
    assert.deepEqual(caps, [POOL_RESTART_CAP, POOL_RESTART_CAP]);
  } finally {
    await pool.close();
  }
});

Deno.test("PluginPool closes a plugin whose check threw or ran out of time, and lends a fresh one next", async () => {
  const { pool } = poolOf(REF_C);
  try {
    let lent: number | undefined;
    await assert.rejects(
      pool.use({}, ok(), (p) => {
        lent = p.processId;
        throw new Error("the check broke");
      }),
      /the check broke/,
    );
    const afterThrow = await pool.use({}, ok(), (p) => p.processId);
    assert.notEqual(afterThrow, lent);
    const late = new AbortController();
    late.abort();
    await pool.use({}, late.signal, () => {});
    const afterAbort = await pool.use({}, ok(), (p) => p.processId);
    assert.notEqual(afterAbort, afterThrow);
    assert.equal(pool.opened, 3);
  } finally {
    await pool.close();
  }
});

Deno.test("PluginPool closes a plugin whose child crashed during the check, though the check returned", async () => {
  const { pool } = poolOf(fault("segfault"));
  try {
    const crashed = await pool.use({}, ok(), async (p) => {
      await using inst = await p.createInstance();
      return await inst.invoke("crash").then(() => false, (e) => e instanceof PluginCrashError);
    });
    assert.ok(crashed);
    // The plugin restarted in a fresh child of its own; the pool does not lend it again.
    await pool.use({}, ok(), (p) => assert.equal(p.health().restarts, 0));
    assert.equal(pool.opened, 2);
  } finally {
    await pool.close();
  }
});

Deno.test("PluginPool refuses a check that asks for more restarts than its plugins allow", async () => {
  const { pool } = poolOf(REF_C);
  await assert.rejects(pool.use({ restartCap: POOL_RESTART_CAP + 1 }, ok(), () => {}), RangeError);
  assert.equal(pool.opened, 0);
  await pool.close();
});

Deno.test("PluginPool.close() ends the children of the plugins it holds", async () => {
  const { pool } = poolOf(REF_C);
  const pid = await pool.use({}, ok(), (p) => p.processId);
  await pool.close();
  assert.throws(() => Deno.kill(pid!, "SIGCONT"), Deno.errors.NotFound);
});

Deno.test("runChecks() serves describe_schema and lifecycle.init from the preflight's plugin: one sandbox child", async () => {
  const before = childrenSpawned();
  const report = await runChecks(REF_C, {
    seed: 1,
    jobs: 1,
    filter: ["^metadata\\.describe_schema$", "^lifecycle\\.init$"],
  });
  assert.deepEqual(report.results.map((r) => [r.id, r.status]), [
    ["metadata.describe_schema", "pass"],
    ["lifecycle.init", "pass"],
  ]);
  assert.equal(childrenSpawned() - before, 1);
});

Deno.test("runChecks() runs the LADSPA checks that run plugins on one shared sandbox child", async () => {
  const before = childrenSpawned();
  const report = await runChecks(LADSPA_REF, {
    seed: 1,
    jobs: 1,
    filter: ["^ladspa\\.(sample_rates|processing|denormals|inplace|reset|block_size|run_adding|independence)$"],
  });
  assert.deepEqual(report.results.filter((r) => r.status !== "pass").map((r) => [r.id, r.status, r.details]), []);
  assert.equal(report.results.length, 8);
  // The preflight's child, and no other.
  assert.equal(childrenSpawned() - before, 1);
});
