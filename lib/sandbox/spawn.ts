/**
 * How a sandbox child process is started: which entry module it runs (an
 * engine's `child_entry.ts`) and with what, a cleared environment (plus the
 * names and values the spec adds), read permission only for what it needs,
 * unscoped FFI, and write permission only for its own protocol descriptors.
 * The child itself takes it from there (`child_main.ts`).
 *
 * The child is not this process's own: it runs under the sandbox launcher
 * (`native/launcher/npah_launcher.c`, built next to the native helper), a
 * small single-threaded process between the two. The plugin's
 * `kill(getppid(), ...)` then reaches the launcher, not plugcheck; the
 * launcher ends the child and everything it started when plugcheck dies
 * (however: SIGKILL included), and, being a child subreaper, finds what the
 * plugin daemonized. What it ended when the child was gone it writes to the
 * report file ({@link readLauncherReport}), with the child's peak resident
 * memory. Its exit status is the child's.
 *
 * @example
 * ```ts ignore
 * import { spawnChild } from "./spawn.ts";
 * const { proc, leftovers } = await spawnChild(spec); // stdin, stdout, stderr piped
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HOST_LIB_ENV, hostLibraryPath } from "../ffi/native_helper.ts";
import { parseProcessLines } from "../ffi/process_guard.ts";
import type { ChildBoot } from "./protocol.ts";

/** How a child is started. */
export interface ChildSpec {
  /** What the child is for, in messages (the plugin's path). */
  label: string;
  /**
   * The child's entry module (a `file:` URL): an engine's `child_entry.ts`, which hands its
   * handler to `runChild` (`child_main.ts`). The sandbox names no engine: each
   * engine names its own entry, so the child loads that engine and nothing else.
   */
  entry: string | URL;
  /** The handler's own options. */
  options: Record<string, unknown>;
  /** Paths the child may read (the plugin, the helper, anything the handler needs). */
  readPaths: readonly string[];
  /** Environment variable names copied from this process; all others are cleared. */
  env: readonly string[];
  /** Environment variables set in the child (e.g. `LD_PRELOAD`). */
  setEnv: Readonly<Record<string, string>>;
  /** Deadline for the handler's start (dlopen, init, describe), from the child's BOOTED frame (ms). */
  startTimeoutMs: number;
  /** Largest frame either side accepts. */
  maxFrame: number;
  /** A child script that replaces `entry` (tests substitute misbehaving ones). */
  childModule?: string | undefined;
  /** Give the child a call board (`call_board.ts`): its handler runs batches of calls. */
  callBoard?: boolean;
}

/** `lookup`, run once and remembered when it succeeds; a failure is not remembered (the next call tries again). */
export function rememberSuccess<T>(lookup: () => Promise<T>): () => Promise<T> {
  let remembered: Promise<T> | undefined;
  return () => {
    remembered ??= lookup().catch((e) => {
      remembered = undefined;
      throw e;
    });
    return remembered;
  };
}

const askDenoDir = rememberSuccess(() =>
  new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped", stderr: "null" })
    .output()
    .then((o) => String(JSON.parse(new TextDecoder().decode(o.stdout)).denoDir))
);

/**
 * Where Deno keeps its cache on Linux when `DENO_DIR` is not set (`$XDG_CACHE_HOME/deno`, else `~/.cache/deno`), if
 * that directory exists: reading it costs nothing, asking `deno info` costs a process (~7 ms) per plugcheck run.
 */
function linuxDefaultDenoDir(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const base = Deno.env.get("XDG_CACHE_HOME") || (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache` : "");
  if (base === "") return undefined;
  try {
    return Deno.statSync(`${base}/deno`).isDirectory ? `${base}/deno` : undefined;
  } catch {
    return undefined;
  }
}

/** The Deno cache directory of this process, so the child (with a cleared env) finds its modules. */
export function denoDir(): Promise<string> {
  return Promise.resolve(Deno.env.get("DENO_DIR") || linuxDefaultDenoDir() || askDenoDir());
}

/** The real path of this process's native helper, resolved once (children get it, and read permission for it). */
export const realHostLibrary: () => Promise<string> = rememberSuccess(() => Deno.realPath(hostLibraryPath()));

const ROOT_CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

/** Largest frame either side accepts: room for big outputs and batches. */
export function maxFrameFor(maxOutputBytes: number): number {
  return Math.max(4 * maxOutputBytes, 256 * 1024 * 1024);
}

/** The sandbox launcher's executable: next to the native helper (`deno task build` puts both in `build/`). */
export const LAUNCHER_NAME = "npah_launcher";

/** A started child: the launcher's process (whose status is the child's) and where it lists what it ended. */
export interface SpawnedChild {
  proc: Deno.ChildProcess;
  /** The launcher's report file (see {@link readLauncherReport}), or undefined when no temporary file could be made. */
  leftovers: string | undefined;
}

/** What the launcher reports once the child is gone. */
export interface LauncherReport {
  /** The processes it ended (the plugin's leftovers: forks, daemons). */
  ended: { pid: number; name: string }[];
  /** The child's peak resident memory (bytes), from its rusage when reaped; undefined when not reported. */
  maxRssBytes: number | undefined;
}

/** What the launcher wrote to its file once the child was gone; the file is then removed. */
export function readLauncherReport(file: string | undefined): LauncherReport {
  if (file === undefined) return { ended: [], maxRssBytes: undefined };
  try {
    const text = Deno.readTextFileSync(file);
    const kib = /^maxrss_kib\t(\d+)$/m.exec(text)?.[1];
    return { ended: parseProcessLines(text), maxRssBytes: kib === undefined ? undefined : Number(kib) * 1024 };
  } catch {
    return { ended: [], maxRssBytes: undefined };
  } finally {
    try {
      Deno.removeSync(file);
    } catch {
      // gone already
    }
  }
}

function leftoversFile(): string | undefined {
  try {
    return Deno.makeTempFileSync({ prefix: "plugcheck-leftovers-" });
  } catch {
    return undefined; // no temporary directory we may write: the launcher still ends them, unlisted
  }
}

/** The launcher's name for the child's LD_PRELOAD (see npah_launcher.c). */
const CHILD_PRELOAD_ENV = "NPAH_CHILD_LD_PRELOAD";

let spawned = 0;

/** Sandbox children this process has started so far (what the runs that share children save is counted in them). */
export function childrenSpawned(): number {
  return spawned;
}

/**
 * A child's environment: only the variables `names` (from this process's)
 * and `set`, the native helper's path (the child uses this process's), and
 * its LD_PRELOAD under the launcher's name for it.
 */
async function childEnv(names: readonly string[], set: Record<string, string>, base: Record<string, string>) {
  const env: Record<string, string> = { ...base };
  for (const name of names) {
    const v = Deno.env.get(name);
    if (v !== undefined) env[name] = v;
  }
  // The child uses this process's native helper (its real path, which its read permission names).
  env[HOST_LIB_ENV] = await realHostLibrary();
  Object.assign(env, set);
  // The preloads are the child's, not the launcher's: it sets LD_PRELOAD again just before it starts the child.
  if (env.LD_PRELOAD !== undefined) {
    env[CHILD_PRELOAD_ENV] = env.LD_PRELOAD;
    delete env.LD_PRELOAD;
  }
  return env;
}

/** Starts `program` with `args` under the launcher, pipes on all three. Throws the raw error. */
function launch(program: string, args: string[], env: Record<string, string>, host: string): SpawnedChild {
  const leftovers = leftoversFile();
  const command = new Deno.Command(join(dirname(host), LAUNCHER_NAME), {
    args: [String(Deno.pid), leftovers ?? "-", program, ...args],
    clearEnv: true,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  try {
    const proc = command.spawn();
    spawned++;
    return { proc, leftovers };
  } catch (e) {
    readLauncherReport(leftovers); // removes the file
    throw e;
  }
}

/**
 * Spawns a native program (no Deno in it: the fuzz fork server) under the
 * launcher, with the environment a sandbox child gets. Throws the raw error.
 */
export async function spawnNative(
  program: string,
  args: string[],
  o: { env: readonly string[]; setEnv: Record<string, string> },
): Promise<SpawnedChild> {
  const env = await childEnv(o.env, o.setEnv, { NO_COLOR: "1" });
  return launch(program, args, env, await realHostLibrary());
}

/** Spawns the child process (the handshake is the caller's), with the call board at `board`. Throws the raw error. */
export async function spawnChild(spec: ChildSpec, board?: string): Promise<SpawnedChild> {
  const env = await childEnv(spec.env, spec.setEnv, {
    DENO_DIR: await denoDir(),
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
  });
  const boot: ChildBoot = {
    parent: 0, // its parent is the launcher, which checks for plugcheck itself
    maxFrame: spec.maxFrame,
    options: spec.options,
    ...board !== undefined && { board },
  };
  return launch(
    Deno.execPath(),
    [
      "run",
      "--quiet",
      "--no-prompt",
      "--cached-only",
      `--config=${ROOT_CONFIG}`,
      // Unscoped: Deno's UnsafePointer APIs refuse path-scoped FFI permission,
      // and native code is unrestricted by Deno permissions anyway.
      "--allow-ffi",
      `--allow-read=${[...spec.readPaths, env[HOST_LIB_ENV], "/proc/self/fd"].join(",")}`,
      "--allow-write=/proc/self/fd",
      `--allow-env=${HOST_LIB_ENV}`,
      spec.childModule ?? fileURLToPath(spec.entry),
      JSON.stringify(boot),
    ],
    env,
    await realHostLibrary(),
  );
}
