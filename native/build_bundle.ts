/**
 * The build's JavaScript target: bundles the command line
 * (`lib/commands/main.ts`) and the three sandbox children's entries into
 * `build/js/` with `deno bundle`, and writes the stamp `cli.ts` compares with
 * the sources before it runs the bundle (see `lib/util/prebuilt.ts`).
 *
 * One `deno bundle --code-splitting` of four small generated entry files, all
 * in one directory: the output is then flat (every chunk and entry sits in
 * `build/js/`, two levels under the root as every module of `lib/<room>/`
 * does, so paths derived from `import.meta.url` hold), and the modules the
 * processes share are one chunk each. Each generated entry calls its module's
 * `main` (inside a bundle `import.meta.main` is false but for the entry).
 * The directory is built beside the old one and swapped in whole.
 *
 * @example
 * ```ts ignore
 * import { bundle } from "./build_bundle.ts";
 * await bundle(ROOT, BUILD, inputs, tmp); // the build's target for build/js/sources.json
 * ```
 *
 * @module
 */
import { join, relative } from "node:path";
import { bundledEntryName, CHILD_ENTRIES, PREBUILT_DIR, STAMP_NAME } from "../lib/util/prebuilt.ts";

/**
 * The processes bundled: the command line (its module re-exported whole, `cli.ts` calls `runCli`) and each
 * sandbox child (its entry's `main` called), under the names `childEntry` looks for.
 */
const ENTRIES: readonly { name: string; source: string; runs: boolean }[] = [
  { name: "cli", source: "lib/commands/main.ts", runs: false },
  ...CHILD_ENTRIES.map((source) => ({ name: bundledEntryName(source).replace(/\.js$/, ""), source, runs: true })),
];

/** Besides the modules under `lib/`, the files whose change makes the bundle stale (relative to the root). */
export const BUNDLE_CONFIG_FILES: readonly string[] = [
  "deno.json",
  "deno.lock",
  "native/build.ts",
  "native/build_bundle.ts",
];

/**
 * Bundles into `build/js/` (swapped in whole) and writes the stamp of `inputs` (absolute paths; a file that does not
 * exist, such as a missing lock file, is left out) into it and into `tmp`, which the build renames over the stamp.
 */
export async function bundle(root: string, buildDir: string, inputs: readonly string[], tmp: string): Promise<void> {
  const dir = join(root, PREBUILT_DIR);
  // Before bundling: a file edited meanwhile then differs from its stamp, and the bundle is never used.
  const files: Record<string, number> = {};
  for (const f of inputs) {
    const mtime = await Deno.stat(f).then((st) => st.mtime?.getTime() ?? 0, () => undefined);
    if (mtime !== undefined) files[relative(root, f)] = mtime;
  }
  const stamp = `${JSON.stringify({ files }, null, 1)}\n`;
  const gen = join(buildDir, `js-entries.tmp-${Deno.pid}`);
  const next = join(buildDir, `js.tmp-${Deno.pid}`);
  const old = join(buildDir, `js.old-${Deno.pid}`);
  try {
    await Deno.mkdir(gen, { recursive: true });
    for (const e of ENTRIES) {
      const from = relative(gen, join(root, e.source));
      await Deno.writeTextFile(
        join(gen, `${e.name}.ts`),
        e.runs ? `import { main } from "${from}";\nawait main();\n` : `export * from "${from}";\n`,
      );
    }
    const args = ["bundle", "--quiet", "--platform", "deno", "--code-splitting", "--sourcemap", "linked"];
    const out = await new Deno.Command(Deno.execPath(), {
      args: [...args, "--outdir", next, ...ENTRIES.map((e) => join(gen, `${e.name}.ts`))],
      cwd: root,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`deno bundle failed (exit code ${out.code})`);
    await Deno.writeTextFile(join(next, STAMP_NAME), stamp);
    await Deno.rename(dir, old).catch(() => {});
    await Deno.rename(next, dir);
    await Deno.writeTextFile(tmp, stamp);
  } finally {
    for (const d of [gen, next, old]) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
}
