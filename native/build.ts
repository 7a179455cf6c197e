/**
 * Builds every native artifact plugcheck needs into `build/`: the host-side
 * log helper (`native/npa_host.c`) and the fixture plugins (C with gcc, Rust
 * with `cargo --offline`). Incremental: a target is rebuilt only when a source
 * is newer than its output. Outputs are written to a temporary file and
 * renamed into place, because overwriting a loaded shared library in place
 * crashes the processes that have it mapped.
 *
 * Usage: `deno task build [--force] [--quiet]`
 *
 * @example
 * ```sh
 * deno run --allow-read --allow-write --allow-run --allow-env native/build.ts --force
 * ```
 *
 * @module
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle, BUNDLE_CONFIG_FILES } from "./build_bundle.ts";
import { PREBUILT_DIR, STAMP_NAME } from "../lib/util/prebuilt.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BUILD = join(ROOT, "build");
const EXT = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";

/** One thing to build. */
interface Target {
  name: string;
  /** Files whose change triggers a rebuild. */
  inputs: string[];
  /** Final artifact path. */
  output: string;
  /** Builds into `tmp`. */
  build: (tmp: string) => Promise<void>;
  /** What plugcheck does without it: its failure is then a warning, not a failed build. */
  optional?: string;
}

/** The stub library that fixtures marked `build-needs-absent-library` link against and cannot find at run time. */
const ABSENT_LIBRARY = "plugcheck_absent_dep";

const CFLAGS = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-fvisibility=hidden"];

async function listFiles(dir: string, pattern: RegExp): Promise<string[]> {
  const out: string[] = [];
  try {
    await Deno.stat(dir);
  } catch {
    return out; // a fixture folder that does not exist yet
  }
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory && e.name !== "target") out.push(...await listFiles(p, pattern));
    else if (e.isFile && pattern.test(e.name)) out.push(p);
  }
  return out.sort();
}

async function exec(cmd: string, args: string[]): Promise<void> {
  let result;
  try {
    result = await new Deno.Command(cmd, { args, cwd: ROOT, stdout: "inherit", stderr: "inherit" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot build: ${cmd} is not installed (plugcheck needs gcc and cargo to build its fixtures)`);
    }
    throw e;
  }
  if (!result.success) throw new Error(`Cannot build: ${cmd} ${args.join(" ")} exited with code ${result.code}`);
}

/** Whether clang is installed (asked once): the coverage fixtures need it; the rest builds with gcc. */
let clangFound: Promise<boolean> | undefined;
function haveClang(): Promise<boolean> {
  clangFound ??= new Deno.Command("clang", { args: ["--version"], stdout: "null", stderr: "null" }).output()
    .then((r) => r.success, () => false);
  return clangFound;
}

function cTarget(name: string, sources: string[], output: string, extra: string[] = [], compiler = "gcc"): Target {
  return {
    name,
    // The build script too: a changed flag must rebuild what is already there.
    inputs: [
      ...sources,
      join(ROOT, "include/npa.h"),
      join(ROOT, "include/ladspa_abi.h"),
      fileURLToPath(import.meta.url),
    ],
    output,
    build: (tmp) =>
      exec(compiler, [
        ...CFLAGS,
        "-I",
        join(ROOT, "include"),
        "-o",
        tmp,
        ...sources.filter((s) => s.endsWith(".c")),
        ...extra,
      ]),
  };
}

/**
 * A C target linked against a stub `lib<ABSENT_LIBRARY>` that exists only while linking: it is built in a temporary
 * directory that is removed afterwards, so the output has a DT_NEEDED entry that cannot be found at run time.
 */
function cTargetNeedingAbsentLibrary(name: string, sources: string[], output: string, extra: string[]): Target {
  return {
    ...cTarget(name, sources, output, extra),
    build: async (tmp) => {
      const dir = await Deno.makeTempDir({ prefix: "plugcheck-absent-" });
      try {
        const stub = join(dir, "stub.c");
        await Deno.writeTextFile(stub, `int ${ABSENT_LIBRARY}(void) { return 0; }\n`);
        await exec("gcc", [...CFLAGS, "-o", join(dir, `lib${ABSENT_LIBRARY}.${EXT}`), stub]);
        // --no-as-needed before -l: the entry is recorded although no symbol of the stub is used.
        const link = ["-L", dir, "-Wl,--no-as-needed", `-l${ABSENT_LIBRARY}`];
        await cTarget(name, sources, output, [...extra, ...link]).build(tmp);
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}

function rustTarget(
  name: string,
  crateDir: string,
  libName: string,
  output: string,
  sources: string[],
  targetDirName = "cargo",
): Target {
  return {
    name,
    inputs: sources,
    output,
    build: async (tmp) => {
      const targetDir = join(BUILD, targetDirName);
      await exec("cargo", [
        "build",
        "--offline",
        "--release",
        "--quiet",
        "--manifest-path",
        join(crateDir, "Cargo.toml"),
        "--target-dir",
        targetDir,
      ]);
      await Deno.copyFile(join(targetDir, "release", `lib${libName}.${EXT}`), tmp);
    },
  };
}

/** A native executable from one C file (`headers`: what it includes, for rebuilds), with plugcheck's warnings. */
function cExecutable(
  name: string,
  src: string | string[],
  headers: string[],
  output: string,
  libs: string[] = [],
): Target {
  const srcs = typeof src === "string" ? [src] : src;
  return {
    name,
    inputs: [...srcs, ...headers, fileURLToPath(import.meta.url)],
    output,
    build: (tmp) => exec("gcc", ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-o", tmp, ...srcs, ...libs]),
  };
}

async function targets(): Promise<Target[]> {
  const list: Target[] = [
    // Every C source and header under native/ but the coverage runtime (its own library, below; its header is
    // shared). nodelete: plugins keep its log functions for the life of the process and its guard threads run in
    // it, so it must stay mapped even when every handle to it is closed (Deno closes them when an isolate ends).
    cTarget(
      "native helper",
      (await listFiles(join(ROOT, "native"), /\.[ch]$/)).filter((f) =>
        f !== join(ROOT, "native/coverage/npa_cov.c") && !f.startsWith(join(ROOT, "native/launcher/")) &&
        !f.startsWith(join(ROOT, "native/adapters/")) && !f.startsWith(join(ROOT, "native/fuzz_server/"))
      ),
      join(BUILD, `libnpa_host.${EXT}`),
      ["-lpthread", "-ldl", "-Wl,-z,nodelete"],
    ),
    // The sandbox launcher (an executable): the process between plugcheck and every sandbox child, next to the
    // helper, where lib/sandbox/spawn.ts looks for it.
    cExecutable("sandbox launcher", join(ROOT, "native/launcher/npah_launcher.c"), [
      join(ROOT, "native/npah_tree.h"),
    ], join(BUILD, "npah_launcher")),
    // The fuzz fork server (an executable): a fuzz job (a libFuzzer harness, an npa plugin), forked from one
    // initialized process per life. It opens the native helper at run time (lib/fuzz/parent/fork_server.ts names it), so links nothing of it.
    cExecutable(
      "fuzz fork server",
      ["npah_fuzz_server.c", "server_io.c", "server_npa.c"].map((f) => join(ROOT, "native/fuzz_server", f)),
      [
        join(ROOT, "native/fuzz_server/server_io.h"),
        join(ROOT, "native/fuzz_server/server_npa.h"),
        join(ROOT, "native/npah_fuzz.h"),
        join(ROOT, "native/coverage/npa_cov.h"),
        join(ROOT, "include/npa.h"),
      ],
      join(BUILD, "npah_fuzz_server"),
      ["-ldl"],
    ),
    // The SanitizerCoverage runtime, preloaded into fuzz children of instrumented plugins. It defines memcmp and
    // friends, so nothing in it may become a call to them.
    cTarget(
      "coverage runtime",
      await listFiles(join(ROOT, "native/coverage"), /\.[ch]$/),
      join(BUILD, `libnpa_cov.${EXT}`),
      ["-fno-builtin", "-fno-tree-loop-distribute-patterns", "-ldl", "-Wl,-z,nodelete"],
    ),
    cTarget(
      "C reference plugin",
      await listFiles(join(ROOT, "fixtures/ref_c"), /\.[ch]$/),
      join(BUILD, "fixtures", `libref_c.${EXT}`),
      ["-lpthread"],
    ),
  ];
  // Fault fixtures (one misbehaving plugin per C file), probes and fuzz targets (which include
  // ../faults/fault_base.h). A line `/* build-flags: ... */` in a source adds compiler and linker flags
  // (e.g. -Wl,-z,nodelete); `/* build-needs-absent-library */` links it against a library absent at run time.
  // The LADSPA adapter: an npa plugin that loads a LADSPA library and serves its plugins as methods
  // (docs/ladspa.md); plugcheck opens a private copy of it for each LADSPA library it loads.
  // It includes the real-time watch's header (native/adapters/rt_watch/): the watch is an interposer preloaded only
  // into the sandbox child of the ladspa.hard_rt check; it counts calls of malloc, locks, sleeps and I/O while the
  // adapter says a plugin's run is on (-fno-builtin: nothing in it may become a call to what it defines).
  const adapterSources = await listFiles(join(ROOT, "native/adapters/ladspa"), /\.[ch]$/);
  const rtWatchSources = await listFiles(join(ROOT, "native/adapters/rt_watch"), /\.[ch]$/);
  if (adapterSources.length > 0) {
    list.push(
      cTarget(
        "LADSPA adapter",
        [...adapterSources, ...rtWatchSources.filter((f) => f.endsWith("/rt_watch.h"))],
        join(BUILD, "adapters", `libnpa_ladspa.${EXT}`),
        ["-ldl", "-lm"],
      ),
    );
  }
  if (rtWatchSources.length > 0) {
    list.push(
      cTarget(
        "real-time watch",
        [...rtWatchSources, join(ROOT, "native/npah_leave_preload.h")],
        join(BUILD, "adapters", `libnpa_rt_watch.${EXT}`),
        ["-fno-builtin", "-fno-tree-loop-distribute-patterns", "-ldl"],
      ),
    );
  }
  // LADSPA fixtures (fixtures/ladspa/: a reference plugin and one broken rule per C file) include their own headers,
  // and so does the adapter example (fixtures/adapters/: a toy ABI, a toy plugin and its adapter, docs/adapters.md).
  // Release pairs (fixtures/releases/: one plugin built twice, for --against) include the fault base and a header.
  for (const dir of ["faults", "probes", "fuzz", "ladspa", "adapters", "releases"]) {
    const base = join(ROOT, "fixtures", dir);
    const ownHeaders = dir === "ladspa" || dir === "adapters";
    const headers = await listFiles(join(ROOT, ownHeaders ? `fixtures/${dir}` : "fixtures/faults"), /\.h$/)
      .then(async (h) => dir === "releases" ? [...h, ...await listFiles(base, /\.h$/)] : h);
    for (const src of await listFiles(base, /\.c$/)) {
      if (dirname(src) !== base) continue;
      const name = src.slice(src.lastIndexOf("/") + 1, -2);
      const text = await Deno.readTextFile(src);
      const flags = text.match(/\/\* build-flags: (.+?) \*\//)?.[1]?.split(/\s+/) ?? [];
      const output = join(BUILD, "fixtures", dir, `lib${name}.${EXT}`);
      // `/* build-compiler: clang */`: built with clang (SanitizerCoverage fixtures), skipped with a note without it.
      if (text.includes("/* build-compiler: clang */")) {
        if (await haveClang()) {
          list.push(
            cTarget(`${dir} fixture ${name} (clang)`, [src, ...headers], output, ["-lpthread", ...flags], "clang"),
          );
        } else if (!skippedForClang.includes(name)) skippedForClang.push(name);
        continue;
      }
      const makeTarget = text.includes("/* build-needs-absent-library */") ? cTargetNeedingAbsentLibrary : cTarget;
      list.push(makeTarget(`${dir} fixture ${name}`, [src, ...headers], output, ["-lpthread", ...flags]));
    }
  }
  // The C host the sync-path benchmark measures plugcheck against (an executable, not a library).
  const cHost = join(ROOT, "bench/c_host.c");
  list.push({
    name: "benchmark C host",
    inputs: [cHost, join(ROOT, "include/npa.h")],
    output: join(BUILD, "bench", "c_host"),
    build: (tmp) =>
      exec("gcc", [
        "-std=c11",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-I",
        join(ROOT, "include"),
        "-o",
        tmp,
        cHost,
        "-ldl",
      ]),
  });
  const rustDir = join(ROOT, "fixtures/ref_rust");
  const refRustSources = await listFiles(rustDir, /\.(rs|toml|lock)$/);
  list.push(
    rustTarget(
      "Rust reference plugin",
      rustDir,
      "ref_rust",
      join(BUILD, "fixtures", `libref_rust.${EXT}`),
      refRustSources,
    ),
  );
  // Rust fault fixtures: one workspace, one library per crate. Their base mounts modules of the reference plugin
  // (#[path]), so its sources are theirs too.
  const faultsRust = join(ROOT, "fixtures/faults/rust");
  const faultSources = await listFiles(faultsRust, /\.(rs|toml|lock)$/);
  for (const crate of faultSources.length > 0 ? ["panic_unwind", "panic_caught"] : []) {
    list.push(
      rustTarget(
        `Rust fault fixture ${crate}`,
        faultsRust,
        crate,
        join(BUILD, "fixtures", "faults", `lib${crate}.${EXT}`),
        [...faultSources, ...refRustSources.filter((f) => f.endsWith(".rs"))],
        "cargo-faults",
      ),
    );
  }
  // Last: the prebuilt JavaScript of the command line and the sandbox children (lib/util/prebuilt.ts); its output
  // is the stamp of every file it was made from.
  const bundled = [...await listFiles(join(ROOT, "lib"), /\.ts$/), ...BUNDLE_CONFIG_FILES.map((f) => join(ROOT, f))];
  list.push({
    name: "prebuilt JavaScript (deno bundle)",
    inputs: bundled,
    output: join(ROOT, PREBUILT_DIR, STAMP_NAME),
    build: (tmp) => bundle(ROOT, BUILD, bundled, tmp),
    optional: "plugcheck runs from its sources, ~25 ms slower to start",
  });
  return list;
}

async function mtime(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

async function upToDate(t: Target): Promise<boolean> {
  const out = await mtime(t.output);
  if (out === 0) return false;
  for (const i of t.inputs) if (await mtime(i) > out) return false;
  return true;
}

/** Fixtures not built because clang is missing (their tests fail saying so). */
const skippedForClang: string[] = [];

/** Builds what is out of date; returns the number of targets built. */
export async function build(options: { force?: boolean; quiet?: boolean } = {}): Promise<number> {
  let built = 0;
  for (const t of await targets()) {
    if (!options.force && await upToDate(t)) continue;
    if (!options.quiet) console.error(`build: ${t.name} -> ${relative(ROOT, t.output)}`);
    await Deno.mkdir(dirname(t.output), { recursive: true });
    const tmp = `${t.output}.tmp-${Deno.pid}`;
    try {
      await t.build(tmp);
      await Deno.rename(tmp, t.output);
    } catch (e) {
      if (t.optional === undefined) throw e;
      console.error(`build: warning: ${t.name} not built (${e instanceof Error ? e.message : e}): ${t.optional}`);
      continue;
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
    built++;
  }
  if (skippedForClang.length > 0) {
    console.error(
      `build: clang is not installed, so the coverage fixtures were not built (${skippedForClang.join(", ")}); ` +
        "install it (Debian: apt-get install clang) to run the coverage tests",
    );
  }
  return built;
}

if (import.meta.main) {
  const force = Deno.args.includes("--force");
  const quiet = Deno.args.includes("--quiet");
  try {
    const n = await build({ force, quiet });
    if (!quiet) console.error(n === 0 ? "build: everything is up to date" : `build: ${n} target(s) built`);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
