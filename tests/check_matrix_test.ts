/**
 * `plugcheck check` on every fault fixture: the `check` column of
 * docs/faults.md names the checks each fixture must not pass (with their
 * status when it is not `fail`), and this test proves each fixture ends
 * exactly those checks so, and passes or skips every other one; the exit
 * code follows (3 when an abi check failed, else 1 with any failure, crash
 * or timeout, else 0). The fuzz smoke test is shortened to 5,000 runs.
 *
 * Three rows run at a time: as a row's test starts, the next two rows' runs
 * start too (much of a row is waiting: deadlines, sleeping fixtures, child
 * starts), and each test awaits its own row. A row's run may thus be
 * pending when the previous test ends, so these tests do not sanitize ops
 * and resources (each run still ends inside the test that awaits it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CHECK_IDS } from "../lib/check/catalog.ts";
import { parseCheckConfig } from "../lib/check/config.ts";
import { runChecks } from "../mod.ts";
import { fault, ROOT } from "./_helpers.ts";

const CONFIG = parseCheckConfig(JSON.stringify({ check: { thresholds: { fuzz_runs: 5_000 } } }), "test config");

/** The fixture column and the check column of every row of docs/faults.md. */
async function readCheckColumn(): Promise<{ fixture: string; expected: Map<string, string> }[]> {
  const text = (await Deno.readTextFile(join(ROOT, "docs/faults.md"))).split("\n## LADSPA fixtures")[0]!;
  const header = text.split("\n").find((l) => l.startsWith("| fixture"))!;
  const column = header.slice(2, -2).split(" | ").map((c) => c.trim()).indexOf("check");
  assert.ok(column > 0, "docs/faults.md has a check column");
  const rows = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("| `")) continue;
    const cells = line.slice(2, -2).split(" | ").map((c) => c.trim());
    const fixture = cells[0]!.replace(/`/g, "");
    const expected = new Map<string, string>();
    const cell = cells[column]!;
    if (cell !== "—") {
      for (const part of cell.split(", ")) {
        const m = /^`([a-z_]+\.[a-z_]+)`(?: \((crash|timeout|warn)\))?$/.exec(part);
        assert.ok(m, `docs/faults.md, ${fixture}: cannot read ${JSON.stringify(part)}`);
        assert.ok(CHECK_IDS.includes(m[1]!), `docs/faults.md, ${fixture}: no check ${m[1]}`);
        expected.set(m[1]!, m[2] ?? "fail");
      }
    }
    rows.push({ fixture, expected });
  }
  return rows;
}

const rows = await readCheckColumn();

Deno.test("docs/faults.md has a check cell for every fault fixture", async () => {
  const fixtures = new Set(rows.map((r) => r.fixture));
  for await (const e of Deno.readDir(join(ROOT, "fixtures/faults"))) {
    const name = e.name.replace(/\.(c|so)$/, "");
    if (e.name.endsWith(".c") || e.name.endsWith(".so")) assert.ok(fixtures.has(name), `${name} has a row`);
  }
});

type Report = Awaited<ReturnType<typeof runChecks>>;
const runs = new Map<number, Promise<Report>>();

/** Rows whose runs start beside the row a test awaits: one (two rows at a time; three, beside the rest of the suite, overloaded 2 cores: calls of fault rows timed out). */
const AHEAD = 1;

/** The run of row `i`, started now if it was not; the next {@link AHEAD} rows' are started beside it. */
function runOf(i: number): Promise<Report> {
  for (let k = i; k <= i + AHEAD; k++) {
    const row = rows[k];
    if (row === undefined || runs.has(k)) continue;
    const lib = row.fixture === "not_a_library" ? join(ROOT, "fixtures/faults/not_a_library.so") : fault(row.fixture);
    const run = runChecks(lib, { seed: 1, config: CONFIG });
    run.catch(() => {}); // awaited (and its failure reported) by its own test
    runs.set(k, run);
  }
  return runs.get(i)!;
}

for (const [i, row] of rows.entries()) {
  Deno.test({
    name: `plugcheck check on fault ${row.fixture}: exactly the checks of docs/faults.md do not pass`,
    sanitizeOps: false,
    sanitizeResources: false,
  }, async () => {
    const report = await runOf(i);
    const got = new Map(
      report.results.filter((r) => r.status !== "pass" && r.status !== "skip").map((r) => [r.id, r.status]),
    );
    const detail = report.results.filter((r) => got.has(r.id) || row.expected.has(r.id))
      .map((r) => `${r.id}: ${r.status} ${r.details}`).join("\n");
    assert.deepEqual(Object.fromEntries(got), Object.fromEntries(row.expected), detail);
    const statuses = [...row.expected.entries()];
    const exit = statuses.some(([id, s]) => id.startsWith("abi.") && s === "fail")
      ? 3
      : statuses.some(([, s]) => s !== "warn")
      ? 1
      : 0;
    assert.equal(report.exitCode, exit);
  });
}
