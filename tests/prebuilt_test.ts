/**
 * The prebuilt bundle (`build/js/`, lib/util/prebuilt.ts): when `cli.ts` runs
 * it, when it runs the sources instead, and that a bundled command line starts
 * bundled sandbox children. `deno task test` builds first, so the bundle is
 * fresh here unless a source was edited after the build.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import {
  bundledEntryName,
  CHILD_ENTRIES,
  childEntry,
  PREBUILT_DIR,
  PREBUILT_ENV,
  prebuiltState,
  RUNNING_PREBUILT,
  STAMP_NAME,
} from "../lib/util/prebuilt.ts";
import { CLI_ARGS, fixture, liveProcesses, ROOT, runCli, tempDir, text } from "./_helpers.ts";

/** A stamp under `root` listing `files` (relative) with their modification times now. */
function writeStamp(root: string, files: string[]): void {
  Deno.mkdirSync(join(root, PREBUILT_DIR), { recursive: true });
  const stamped: Record<string, number> = {};
  for (const f of files) stamped[f] = Deno.statSync(join(root, f)).mtime!.getTime();
  Deno.writeTextFileSync(join(root, PREBUILT_DIR, STAMP_NAME), JSON.stringify({ files: stamped }));
}

Deno.test("prebuiltState: fresh while every stamped file is unchanged; stale once one changes or goes; absent without a stamp; disabled by PLUGCHECK_PREBUILT=0", async () => {
  await using dir = await tempDir("plugcheck-prebuilt-");
  const root = pathToFileURL(`${dir.path}/`);
  const noEnv = () => undefined;
  assert.deepEqual(prebuiltState(root, noEnv), { state: "absent" });
  Deno.mkdirSync(join(dir.path, "lib"));
  Deno.writeTextFileSync(join(dir.path, "lib/a.ts"), "export const a = 1;\n");
  Deno.writeTextFileSync(join(dir.path, "lib/b.ts"), "export const b = 1;\n");
  writeStamp(dir.path, ["lib/a.ts", "lib/b.ts"]);
  assert.deepEqual(prebuiltState(root, noEnv), { state: "fresh", files: 2 });
  assert.deepEqual(prebuiltState(root, (n) => n === PREBUILT_ENV ? "0" : undefined), { state: "disabled" });
  // An edit (a new modification time, as an editor or `git checkout` leaves it).
  Deno.utimeSync(join(dir.path, "lib/b.ts"), new Date(), new Date(Date.now() + 5000));
  assert.deepEqual(prebuiltState(root, noEnv), { state: "stale", file: "lib/b.ts" });
  writeStamp(dir.path, ["lib/a.ts", "lib/b.ts"]);
  Deno.removeSync(join(dir.path, "lib/a.ts"));
  assert.deepEqual(prebuiltState(root, noEnv), { state: "stale", file: "lib/a.ts" });
  Deno.writeTextFileSync(join(dir.path, PREBUILT_DIR, STAMP_NAME), "{ not json");
  assert.deepEqual(prebuiltState(root, noEnv), { state: "absent" });
});

Deno.test("prebuilt stamp: lists every module under lib/, and the bundle holds every sandbox child's entry", () => {
  const stamp = JSON.parse(Deno.readTextFileSync(join(ROOT, PREBUILT_DIR, STAMP_NAME))) as {
    files: Record<string, number>;
  };
  const modules: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      if (e.isDirectory) walk(join(d, e.name));
      else if (e.name.endsWith(".ts")) modules.push(relative(ROOT, join(d, e.name)));
    }
  };
  walk(join(ROOT, "lib"));
  assert.ok(modules.length > 100);
  assert.deepEqual(modules.filter((m) => !(m in stamp.files)), []);
  for (const source of CHILD_ENTRIES) {
    assert.ok(Deno.statSync(join(ROOT, source)).isFile, source);
    assert.ok(Deno.statSync(join(ROOT, PREBUILT_DIR, bundledEntryName(source))).isFile, bundledEntryName(source));
  }
  // These tests run from the sources: their children do too.
  assert.equal(RUNNING_PREBUILT, false);
  assert.equal(childEntry(CHILD_ENTRIES[0]!), pathToFileURL(join(ROOT, CHILD_ENTRIES[0]!)).href);
});

Deno.test("cli.ts runs the prebuilt bundle after deno task build, and the sources with PLUGCHECK_PREBUILT=0", async () => {
  const built = await runCli(["--version", "--verbose"]);
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stdout, /^plugcheck \d+\.\d+\.\d+\n$/);
  assert.match(built.stderr, /running the prebuilt build\/js\/ \(made from \d+ source files, none changed since\)/);
  const sources = await runCli(["--version", "--verbose"], { env: { [PREBUILT_ENV]: "0" } });
  assert.equal(sources.code, 0, sources.stderr);
  assert.equal(sources.stdout, built.stdout);
  assert.match(sources.stderr, /running the sources: PLUGCHECK_PREBUILT=0/);
});

/** Runs a 2-second isolated call and returns the sandbox child's entry module as its command line names it. */
async function isolatedChildEntry(env: Record<string, string>): Promise<string | undefined> {
  const cli = new Deno.Command(Deno.execPath(), {
    args: [...CLI_ARGS, "invoke", fixture("ref_c"), "sleep_ms", "--input", "2000", "--isolate"],
    cwd: ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let entry: string | undefined;
  try {
    const end = Date.now() + 15_000;
    while (entry === undefined && Date.now() < end) {
      const all = liveProcesses();
      const launchers = new Set(all.filter((p) => p.ppid === cli.pid && p.name === "npah_launcher").map((p) => p.pid));
      entry = all.find((p) => launchers.has(p.ppid))?.args.find((a) => /child_entry\.(ts|js)$/.test(a));
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    const out = await cli.output();
    assert.equal(out.code, 0, text(out.stderr));
  }
  return entry;
}

Deno.test("cli.ts from the bundle starts bundled sandbox children; from the sources, children from the sources", async () => {
  assert.equal(await isolatedChildEntry({}), join(ROOT, PREBUILT_DIR, "host_isolated_child_entry.js"));
  assert.equal(await isolatedChildEntry({ [PREBUILT_ENV]: "0" }), join(ROOT, "lib/host/isolated/child_entry.ts"));
});
