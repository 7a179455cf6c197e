/**
 * How a sandbox child process is started: which handler it runs and with
 * what, a cleared environment (plus the names and values the spec adds), read
 * permission only for what it needs, unscoped FFI, and write permission only
 * for its own protocol descriptors. The child itself takes it from there
 * (`child.ts`).
 *
 * @example
 * ```ts ignore
 * import { spawnChild } from "./spawn.ts";
 * const proc = await spawnChild(spec); // stdin, stdout, stderr piped
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { ChildBoot } from "./protocol.ts";

/** How a child is started. */
export interface ChildSpec {
  /** What the child is for, in messages (the plugin's path). */
  label: string;
  /** The child handler to run (`handlers.ts`), and its options. */
  handler: string;
  options: Record<string, unknown>;
  /** plugcheck's native helper (the child's guards need it). */
  hostLibraryPath: string;
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
  /** The child script (tests substitute misbehaving ones). */
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

/** The Deno cache directory of this process, so the child (with a cleared env) finds its modules. */
function denoDir(): Promise<string> {
  return Promise.resolve(Deno.env.get("DENO_DIR") || askDenoDir());
}

const ROOT_CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const CHILD_MODULE = fileURLToPath(new URL("./child.ts", import.meta.url));

/** Largest frame either side accepts: room for big outputs and batches. */
export function maxFrameFor(maxOutputBytes: number): number {
  return Math.max(4 * maxOutputBytes, 256 * 1024 * 1024);
}

/** Spawns the child process (the handshake is the caller's), with the call board at `board`. Throws the raw error. */
export async function spawnChild(spec: ChildSpec, board?: string): Promise<Deno.ChildProcess> {
  const env: Record<string, string> = { DENO_DIR: await denoDir(), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };
  for (const name of spec.env) {
    const v = Deno.env.get(name);
    if (v !== undefined) env[name] = v;
  }
  Object.assign(env, spec.setEnv);
  const boot: ChildBoot = {
    parent: Deno.pid,
    hostLibraryPath: spec.hostLibraryPath,
    maxFrame: spec.maxFrame,
    options: spec.options,
    ...board !== undefined && { board },
  };
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      "--cached-only",
      `--config=${ROOT_CONFIG}`,
      // Unscoped: Deno's UnsafePointer APIs refuse path-scoped FFI permission,
      // and native code is unrestricted by Deno permissions anyway.
      "--allow-ffi",
      `--allow-read=${[...spec.readPaths, spec.hostLibraryPath, "/proc/self/fd"].join(",")}`,
      "--allow-write=/proc/self/fd",
      spec.childModule ?? CHILD_MODULE,
      spec.handler,
      JSON.stringify(boot),
    ],
    clearEnv: true,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}
