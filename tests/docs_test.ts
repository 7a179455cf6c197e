/**
 * The docs a plugin author copies from must work: the gcc command and the
 * Makefile in docs/abi.md build the C reference plugin into a library that
 * loads; and docs/abi.md states the rule of every check `check` runs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPlugin } from "../mod.ts";
import { ROOT } from "./_helpers.ts";
import { CHECKS } from "../lib/check/catalog.ts";
import { ruleDoc } from "../lib/check/spec.ts";

const abi = await Deno.readTextFile(join(ROOT, "docs/abi.md"));
const SOURCES = ["fixtures/ref_c/ref_c.c", "fixtures/ref_c/json.c"].map((s) => join(ROOT, s));

async function sh(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}:\n${new TextDecoder().decode(out.stderr)}`);
}

async function loadsAsRefC(path: string): Promise<void> {
  await using plugin = await loadPlugin(path, { exclusive: true });
  assert.equal(plugin.describe().name, "ref_c");
  await using inst = await plugin.createInstance();
  assert.equal(new TextDecoder().decode(await inst.invoke("upper", "built")), "BUILT");
}

Deno.test("docs/abi.md: the documented gcc command builds a loadable plugin", async () => {
  const line = abi.split("\n").find((l) => l.startsWith("gcc "));
  assert.ok(line, "a gcc line");
  const dir = await Deno.makeTempDir();
  try {
    const args = line.split(/\s+/).slice(1).flatMap((a) =>
      a === "myplugin.c" ? SOURCES : a === "plugcheck/include" ? [join(ROOT, "include")] : [a]
    );
    await sh("gcc", args, dir);
    await loadsAsRefC(join(dir, "libmyplugin.so"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docs/abi.md: the documented Makefile builds a loadable plugin", async () => {
  const makefile = abi.match(/```make\n([\s\S]*?)```/)?.[1];
  assert.ok(makefile, "a make block");
  assert.match(makefile, /\n\t\$\(CC\)/, "recipe lines start with a tab");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "Makefile"), makefile);
    await sh("make", [`SRC=${SOURCES.join(" ")}`, `NPA_INCLUDE=${join(ROOT, "include")}`, "NAME=refdoc"], dir);
    await loadsAsRefC(join(dir, "librefdoc.so"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
const anchorOf = (heading: string) => heading.toLowerCase().replace(/[^a-z0-9 _-]/g, "").trim().replace(/ /g, "-");

/** A rule document's check rows by id, and its section anchors. */
function ruleRows(doc: string): { rows: Map<string, RegExpMatchArray>; anchors: Set<string> } {
  const anchors = new Set([...doc.matchAll(/^#{2,3} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
  const rows = new Map(
    [...doc.matchAll(/^\| `([a-z_]+\.[a-z_]+)` +\| (.*?) +\| \[#([a-z-]+)\]\(#([a-z-]+)\) +\|$/gm)].map((
      m,
    ) => [m[1]!, m]),
  );
  return { rows, anchors };
}

/** Each rule document, and the checks whose rules it states (`ruleDoc`). */
const RULE_DOCS = await Promise.all(
  [...new Set(CHECKS.map((c) => ruleDoc(c.id)))].map(async (file) => ({
    file,
    doc: await Deno.readTextFile(join(ROOT, file)),
    checks: CHECKS.filter((c) => ruleDoc(c.id) === file),
  })),
);

Deno.test("ruleDoc() sends the ladspa group to docs/ladspa.md and every other check to docs/abi.md", () => {
  assert.ok(CHECKS.some((c) => c.id.startsWith("ladspa.")), "the catalog has a ladspa group");
  for (const c of CHECKS) assert.equal(ruleDoc(c.id), c.id.startsWith("ladspa.") ? "docs/ladspa.md" : "docs/abi.md");
});

for (const { file, doc, checks } of RULE_DOCS) {
  Deno.test(`${file} states the rule of every check, in a row linking the section the check names`, () => {
    const { rows, anchors } = ruleRows(doc);
    for (const check of checks) {
      const row = rows.get(check.id);
      assert.ok(row, `${file} has no row stating the rule of ${check.id}`);
      assert.ok(row[2]!.trim().length >= 20, `${check.id}: its rule text is missing`);
      assert.equal(row[3], check.rule, `${check.id}: the row links #${row[3]}, the check names #${check.rule}`);
      assert.equal(row[4], check.rule);
      assert.ok(anchors.has(check.rule), `${check.id}: ${file} has no section #${check.rule}`);
    }
    assert.deepEqual(
      [...rows.keys()].filter((id) => !checks.some((c) => c.id === id)),
      [],
      `rows in ${file} of checks that do not exist or whose rules live elsewhere`,
    );
  });
}

Deno.test("docs/abi.md states the rules only the checks used to say", () => {
  const flat = abi.replace(/\s+/g, " ");
  for (
    const rule of [
      /A `json` method must answer `NPA_INVALID_INPUT` for input that is not JSON/,
      /`live_buffers` counts the buffer that carries the stats document itself/,
      /\*\*init after shutdown\*\* never happens/,
      /`message` is a JSON \*\*string\*\*.*escape `"`, `\\`/,
      /a method `describe\(\)` declares must never be answered so/,
      /send nothing at a level it said is disabled/,
    ]
  ) {
    assert.match(flat, rule);
  }
});
