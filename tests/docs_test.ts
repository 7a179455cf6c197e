/**
 * The docs a plugin author copies from must work: the gcc command and the
 * Makefile in docs/abi.md build the C reference plugin into a library that
 * loads.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPlugin } from "../mod.ts";
import { ROOT } from "./_helpers.ts";

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
