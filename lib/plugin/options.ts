/**
 * The options of `loadPlugin`, their defaults, and their validation. Every
 * option is checked here, before anything is opened or spawned, so a bad
 * option is a `RangeError`/`TypeError` that leaves nothing behind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_INVOKE_TIMEOUT_MS, resolveOptions } from "./options.ts";
 * const o = resolveOptions({ timeoutMs: 500 });
 * assert.ok(o.timeoutMs === 500 && DEFAULT_INVOKE_TIMEOUT_MS === 30_000);
 * ```
 *
 * @module
 */
import { resolve } from "node:path";
import { type LogDirectives, parseLogDirectives } from "./log_directives.ts";
import { checkDelay } from "../util/timers.ts";

/** Default largest plugin buffer the host copies: 64 MiB. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** Default deadline for init, describe, create, destroy and shutdown. */
export const DEFAULT_LIFECYCLE_TIMEOUT_MS = 10_000;
/** Default deadline for `invoke()`. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 30_000;
/** Default plugin log directives of the library (the CLI's default is `warning`). */
export const DEFAULT_LOG = "info";

/** Options of `loadPlugin` for either engine. */
export interface LoadOptions {
  /** Expected hex SHA-256 of the file, checked before `dlopen`. */
  sha256?: string;
  /** Deadline for init, describe, create, destroy and shutdown (ms). */
  timeoutMs?: number;
  /** Largest plugin buffer the host copies (bytes); larger claims are `MalformedBufferError`. */
  maxOutputBytes?: number;
  /**
   * Which plugin log messages are delivered, as a level (`"debug"`) or
   * RUST_LOG-style directives (`"info,plugin.whisper=debug,plugin.kokoro=off"`);
   * default `info`. The plugin's `log_enabled` answers from the same directives.
   */
  log?: string;
  /**
   * In process: open a private copy of the library (its own globals, its own
   * init), shared with no other handle, so its counters measure this handle
   * alone (leak checks, reload cycles). A sandbox child is exclusive anyway.
   */
  exclusive?: boolean;
  /**
   * Check what the plugin leaves running after `npa_plugin_shutdown`: the
   * threads and open descriptors of the process that holds it are counted
   * before the library is opened and after shutdown (`shutdownReport`).
   * Threads left running keep the library mapped, since unloading code under
   * a running thread crashes the process. Costs ~20 ms at each end (and
   * waits for the thread Deno starts ~0.6 s after a process starts, so it
   * is never counted as the plugin's). Applies to the load that opens the library (use `exclusive` in
   * process).
   */
  shutdownCheck?: boolean;
  /**
   * Count the heap the plugin's own code holds (`readHeap()`,
   * `heapResidue()`): its own imports of malloc, calloc, realloc, free,
   * posix_memalign, strdup, C++'s new and delete and the like are pointed at
   * plugcheck's helper once the library is opened, so every block it
   * allocates is recorded until it frees it (`native/npah_heap.c`). Costs a
   * lock and a table update per allocation of the plugin (a stack, ~1 us, for
   * a sample of them). Deno's allocations are never counted, nor what libc
   * allocates for the plugin inside its own functions. x86-64.
   */
  trackHeap?: boolean;
  /**
   * Put off unloading: `close()` destroys the instances and shuts the plugin
   * down, but the unloading itself (dlclose, which runs the library's
   * destructors and atexit handlers; a sandbox child's exit after it) waits
   * for `finishUnloads()` (`lib/host/unloads.ts`). A command prints its
   * results first, so a destructor that hangs, crashes or exits cannot take
   * them with it. Unloading is bounded by the watchdog's deadline in process
   * (when the process guards run it) and by `timeoutMs` in a sandbox child.
   */
  deferUnload?: boolean;
  /**
   * The path of an adapter library (docs/adapters.md): the plugin library is
   * then served through a private copy of it (`npa_adapter_open(path)`), for
   * a plugin of an ABI of your own. Nothing is detected: the library is
   * never opened as npa. Relative paths are resolved against the current
   * directory.
   */
  adapter?: string;
}

/** Sandbox options of `loadPlugin(path, { isolate: true, ... })`. */
export interface SandboxOptions {
  /** Environment variable names passed to the child; all others are cleared. */
  env?: readonly string[];
  /** Environment variables set in the child (e.g. `LD_PRELOAD` of a sanitizer runtime). */
  setEnv?: Readonly<Record<string, string>>;
  /**
   * Libraries the child preloads after plugcheck's own (a sanitizer runtime, the native helper), e.g. the
   * real-time watch of `ladspa.hard_rt`. An `LD_PRELOAD` in `setEnv` replaces all of these.
   */
  preload?: readonly string[];
  /** Extra paths the child may read (the plugin and plugcheck's helper always). */
  readPaths?: readonly string[];
  /** Reap a child idle this long (ms, default 60 000). */
  idleTimeoutMs?: number;
  /** Time `close()` gives the child to finish before SIGTERM (ms, default 10 000). */
  graceMs?: number;
  /** Crashes (and killed hangs) allowed per window before the plugin is disabled (default 3). */
  restartCap?: number;
  /** The window for `restartCap` (ms, default 60 000). */
  restartWindowMs?: number;
  /** The child script; tests substitute misbehaving ones. */
  childModule?: string;
}

/** Everything `loadPlugin` accepts. */
export type PluginOptions = LoadOptions & SandboxOptions & { isolate?: boolean };

/** Defaults of {@link SandboxOptions}. */
export const SANDBOX_DEFAULTS = {
  idleTimeoutMs: 60_000,
  graceMs: 10_000,
  restartCap: 3,
  restartWindowMs: 60_000,
} as const;

/** Load options, checked and with defaults filled in. */
export interface ResolvedLoadOptions {
  sha256: string | undefined;
  timeoutMs: number;
  maxOutputBytes: number;
  log: string;
  directives: LogDirectives;
  exclusive: boolean;
  shutdownCheck: boolean;
  trackHeap: boolean;
  deferUnload: boolean;
  /** The adapter's absolute path, when one is given. */
  adapter: string | undefined;
}

/** Sandbox options, checked and with defaults filled in. */
export interface ResolvedSandboxOptions {
  env: readonly string[];
  setEnv: Readonly<Record<string, string>>;
  preload: readonly string[];
  readPaths: readonly string[];
  idleTimeoutMs: number;
  graceMs: number;
  restartCap: number;
  restartWindowMs: number;
  childModule: string | undefined;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks the load options; throws RangeError/TypeError naming the bad one. */
export function resolveOptions(options: LoadOptions = {}): ResolvedLoadOptions {
  const sha256 = options.sha256;
  if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
    throw new TypeError(`sha256 must be 64 hex digits: got ${JSON.stringify(sha256)}`);
  }
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0 || maxOutputBytes > 2 ** 32 - 1) {
    throw new RangeError(`maxOutputBytes must be an integer from 0 to ${2 ** 32 - 1}: got ${maxOutputBytes}`);
  }
  const log = options.log ?? DEFAULT_LOG;
  const adapter = options.adapter;
  if (adapter !== undefined && (typeof adapter !== "string" || adapter === "" || adapter.includes("\0"))) {
    throw new TypeError(`adapter must be the path of an adapter library: got ${JSON.stringify(adapter)}`);
  }
  return {
    sha256: sha256?.toLowerCase(),
    timeoutMs: checkDelay(options.timeoutMs ?? DEFAULT_LIFECYCLE_TIMEOUT_MS, "timeoutMs"),
    maxOutputBytes,
    log,
    directives: parseLogDirectives(log),
    exclusive: options.exclusive ?? false,
    shutdownCheck: options.shutdownCheck ?? false,
    trackHeap: options.trackHeap ?? false,
    deferUnload: options.deferUnload ?? false,
    adapter: adapter === undefined ? undefined : resolve(adapter),
  };
}

/** Checks the sandbox options; throws RangeError/TypeError naming the bad one. */
export function resolveSandboxOptions(options: SandboxOptions = {}): ResolvedSandboxOptions {
  const env = options.env ?? [];
  for (const name of env) {
    if (!ENV_NAME.test(name)) throw new TypeError(`env takes variable names: got ${JSON.stringify(name)}`);
  }
  const setEnv = options.setEnv ?? {};
  for (const [name, value] of Object.entries(setEnv)) {
    if (!ENV_NAME.test(name) || typeof value !== "string") {
      throw new TypeError(`setEnv takes name -> string: got ${JSON.stringify(name)}`);
    }
  }
  const preload = options.preload ?? [];
  for (const path of preload) {
    if (typeof path !== "string" || path === "" || /[:\s]/.test(path)) {
      throw new TypeError(`preload takes library paths without ':' or spaces: got ${JSON.stringify(path)}`);
    }
  }
  const restartCap = options.restartCap ?? SANDBOX_DEFAULTS.restartCap;
  if (!(restartCap === Infinity || (Number.isSafeInteger(restartCap) && restartCap >= 1))) {
    throw new RangeError(`restartCap must be a positive integer or Infinity: got ${restartCap}`);
  }
  return {
    env,
    setEnv,
    preload,
    readPaths: options.readPaths ?? [],
    idleTimeoutMs: checkDelay(options.idleTimeoutMs ?? SANDBOX_DEFAULTS.idleTimeoutMs, "idleTimeoutMs"),
    graceMs: checkDelay(options.graceMs ?? SANDBOX_DEFAULTS.graceMs, "graceMs", { infinity: false }),
    restartCap,
    restartWindowMs: checkDelay(options.restartWindowMs ?? SANDBOX_DEFAULTS.restartWindowMs, "restartWindowMs"),
    childModule: options.childModule,
  };
}
