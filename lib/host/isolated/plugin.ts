/**
 * A plugin run in a sandbox child process: the same {@link PluginHandle}
 * interface as in process, but a segfault, abort, `exit()` or hang kills
 * only the child and becomes a typed error (`PluginCrashError`,
 * `PluginTimeoutError`). Requests are pipelined: many calls may be in flight
 * at once, and the child runs them concurrently.
 *
 * Lifetime policy (all configurable through `SandboxOptions`):
 * - The next request after a crash or a killed hang starts a fresh child.
 *   Instances of the dead child are wedged (their state is gone).
 * - More than `restartCap` crashes/kills within `restartWindowMs` disables the
 *   plugin (`PluginDisabledError`) until `enable()`.
 * - A child idle for `idleTimeoutMs` is reaped; instances it held are
 *   re-created (from their config) on their next call.
 * - `close()` asks the child to finish its requests, destroy everything and
 *   shut the plugin down, waits `graceMs`, then sends SIGTERM and, a second
 *   later, SIGKILL. Processes the plugin forked end with the child.
 *
 * @example
 * ```ts ignore
 * import { loadPlugin } from "../load_plugin.ts";
 * await using plugin = await loadPlugin("build/fixtures/faults/libsegfault.so", { isolate: true });
 * await using inst = await plugin.createInstance();
 * await inst.invoke("crash").catch((e) => console.log(e.signal)); // SIGSEGV
 * console.log(plugin.health().crashesInWindow); // 1
 * ```
 *
 * @module
 */
import type { HeapCounts, HeapResidue } from "../../ffi/plugin_heap.ts";
import { isDeepStrictEqual } from "node:util";
import { type PluginDescription, validateDescription } from "../../plugin/describe_schema.ts";
import { type LogCounters, NO_LOG_COUNTERS } from "../../ffi/host_log.ts";
import type { ProcessSnapshot } from "../../ffi/proc_info.ts";
import { contractViolationError, graceExpiredError, loadError, unloadError } from "../../errors/host_errors.ts";
import { deferUnload } from "../unloads.ts";
import type { ResolvedLoadOptions, ResolvedSandboxOptions } from "../../plugin/options.ts";
import {
  type AbiVersion,
  type Capabilities,
  configBytes,
  type InstanceConfig,
  type InvokeOptions,
  type PluginHandle,
  type ShutdownReport,
} from "../../plugin/handle.ts";
import { resolveLibrary } from "../../load/resolve_path.ts";
import { checkDelay } from "../../util/timers.ts";
import { SandboxChild } from "../../sandbox/sandbox_child.ts";
import { sanitizerEnv } from "../../load/sanitizer.ts";
import { type ChildSpec, maxFrameFor, realHostLibrary } from "../../sandbox/spawn.ts";
import type { PluginHandlerOptions } from "./child_handler.ts";
import { KIND } from "../../sandbox/protocol.ts";
import { SandboxedInstance } from "./instance.ts";
import { type SandboxHealth, SandboxSession } from "./session.ts";
import { childEntry } from "../../util/prebuilt.ts";

export { SandboxedInstance };
export type { SandboxHealth };

/** Loads `path` in a sandbox child (what `loadPlugin(path, { isolate: true })` calls once the options are checked). */
export async function loadSandboxedPlugin(
  path: string,
  options: ResolvedLoadOptions,
  sandbox: ResolvedSandboxOptions,
): Promise<SandboxedPlugin> {
  const real = await resolveLibrary(path, options.sha256);
  let helper: string;
  try {
    helper = await realHostLibrary(); // the same resolution spawnChild uses, done once per process
  } catch (cause) {
    throw loadError(path, "cannot open plugcheck's native helper (run `deno task build`)", cause);
  }
  const handler: PluginHandlerOptions = {
    pluginPath: real,
    log: options.log,
    maxOutputBytes: options.maxOutputBytes,
    ...options.shutdownCheck && { shutdownCheck: true },
    ...options.trackHeap && { trackHeap: true },
    ...options.adapter !== undefined && { adapter: options.adapter },
  };
  const spec: ChildSpec = {
    label: path,
    entry: childEntry("lib/host/isolated/child_entry.ts"),
    options: { ...handler },
    readPaths: [real, ...options.adapter !== undefined ? [options.adapter] : [], ...sandbox.readPaths],
    env: sandbox.env,
    // An AddressSanitizer build gets its runtime preloaded, and the helper comes after it (it records the
    // threads the plugin starts, see plugin_threads.ts), then the caller's `preload`. What the caller sets wins.
    setEnv: { ...withHelperPreloaded(await sanitizerEnv(real), [helper, ...sandbox.preload]), ...sandbox.setEnv },
    startTimeoutMs: options.timeoutMs,
    maxFrame: maxFrameFor(options.maxOutputBytes),
    childModule: sandbox.childModule,
    callBoard: true,
  };
  const child = await SandboxChild.start(spec);
  let description: PluginDescription;
  try {
    // The child read describe() as JSON; the schema is checked here, so the child needs no zod.
    description = validateDescription(child.hello.description);
  } catch (error) {
    // As in process after a describe() that breaks the rules: the plugin is shut down and unloaded.
    const closed = await new SandboxSession(spec, sandbox, () => undefined, child).close().catch(() => undefined);
    await closed?.unloading?.catch(() => {});
    throw error;
  }
  return new SandboxedPlugin(real, spec, options, sandbox, child, description);
}

/**
 * `env` with the native helper (and the caller's preloads) preloaded last:
 * its `pthread_create` then sees every thread of the child and tells the
 * plugin's from Deno's by module. A sanitizer runtime must come first, so the
 * helper follows it.
 */
function withHelperPreloaded(env: Record<string, string>, helper: readonly string[]): Record<string, string> {
  const before = env.LD_PRELOAD;
  return { ...env, LD_PRELOAD: [...before ? [before] : [], ...helper].join(":") };
}

/** A plugin running in a sandbox child process. */
export class SandboxedPlugin implements PluginHandle {
  /** Always true: calls run in a child process. */
  readonly isolated = true;
  readonly path: string;
  readonly abiVersion: AbiVersion;
  readonly capabilities: Capabilities;
  readonly optionalSymbols: readonly string[];
  readonly initMs: number;
  readonly #description: PluginDescription;
  readonly #timeoutMs: number;
  readonly #deferUnload: boolean;
  readonly #session: SandboxSession;

  /** @internal Use `loadPlugin(path, { isolate: true })`. */
  constructor(
    path: string,
    spec: ChildSpec,
    options: ResolvedLoadOptions,
    sandbox: ResolvedSandboxOptions,
    child: SandboxChild,
    description: PluginDescription,
  ) {
    this.path = path;
    const h = child.hello;
    this.abiVersion = h.abi as AbiVersion;
    this.capabilities = h.capabilities as Capabilities;
    this.optionalSymbols = h.optionalSymbols as string[];
    this.initMs = Number(h.initMs);
    this.#description = description;
    const document = h.description; // as the child read it: each fresh child's must be the same
    this.#timeoutMs = options.timeoutMs;
    this.#deferUnload = options.deferUnload;
    this.#session = new SandboxSession(
      spec,
      sandbox,
      (fresh, op) =>
        isDeepStrictEqual(fresh.hello.description, document)
          ? undefined
          : contractViolationError(op, "describe() changed between two loads of the same library"),
      child,
    );
  }

  /** Contract warnings the children recorded, and what plugcheck saw of them (stdout bytes, leftover processes). */
  get contractWarnings(): readonly string[] {
    return this.#session.warnings;
  }

  /** The validated describe() document from the first child. */
  describe(): PluginDescription {
    return this.#description;
  }

  /**
   * The last 64 KiB of the stderr of the current (or last) child: what the
   * plugin wrote to stderr or stdout (its stdout goes there), as it wrote it.
   */
  get childStderr(): string {
    return this.#session.stderrTail;
  }

  /** A snapshot of the sandbox's health. */
  health(): SandboxHealth {
    return this.#session.health();
  }

  /** Clears a disabled state and the crash window. */
  enable(): void {
    this.#session.enable();
  }

  async readStats(): Promise<Record<string, number> | null> {
    const { reply } = await this.#session.request(KIND.STATS, {}, [], {
      op: "read stats",
      timeoutMs: this.#timeoutMs,
      waitOutStalls: true,
    });
    return (reply.header.stats ?? null) as Record<string, number> | null;
  }

  async readHeap(): Promise<HeapCounts | null> {
    const { reply } = await this.#session.request(KIND.HEAP, {}, [], {
      op: "read the plugin's heap",
      timeoutMs: this.#timeoutMs,
      waitOutStalls: true,
    });
    return (reply.header.heap ?? null) as HeapCounts | null;
  }

  async heapResidue(from: number, mid: number): Promise<HeapResidue | null> {
    const { reply } = await this.#session.request(KIND.HEAP, { from, mid }, [], {
      op: "read the plugin's heap",
      timeoutMs: this.#timeoutMs,
      waitOutStalls: true,
    });
    return (reply.header.residue ?? null) as HeapResidue | null;
  }

  async readLogCounters(): Promise<LogCounters> {
    if (this.#session.isClosed || this.#session.current === undefined) {
      return (this.#session.lastClose?.counters as LogCounters | undefined) ?? NO_LOG_COUNTERS;
    }
    const { reply } = await this.#session.request(KIND.LOG_COUNTERS, {}, [], {
      op: "read log counters",
      timeoutMs: this.#timeoutMs,
      waitOutStalls: true,
    });
    return reply.header.counters as LogCounters;
  }

  async createInstance(config?: InstanceConfig, options: InvokeOptions = {}): Promise<SandboxedInstance> {
    const bytes = configBytes(config);
    const timeoutMs = checkDelay(options.timeoutMs ?? this.#timeoutMs, "timeoutMs");
    const placed = await SandboxedInstance.create(this.#session, bytes, timeoutMs);
    return new SandboxedInstance(this.#session, bytes, placed, this.#timeoutMs);
  }

  /** What the current child holds, counted exactly in the child (see `PluginHandle.snapshot`). */
  async snapshot(): Promise<ProcessSnapshot> {
    const { reply } = await this.#session.request(KIND.SNAPSHOT, {}, [], {
      op: "read the sandbox child's threads and descriptors",
      timeoutMs: this.#timeoutMs,
      waitOutStalls: true,
    });
    return reply.header.snapshot as ProcessSnapshot;
  }

  async noopInstance(): Promise<SandboxedInstance> {
    const placed = await SandboxedInstance.create(this.#session, undefined, this.#timeoutMs, true);
    return new SandboxedInstance(this.#session, undefined, placed, this.#timeoutMs, true);
  }

  /** The current sandbox child's process id (undefined between children). */
  get processId(): number | undefined {
    return this.#session.current?.pid;
  }

  /**
   * With `shutdownCheck`, after `close()`: what the last child's plugin
   * shutdown left running (counted in that child).
   */
  get shutdownReport(): ShutdownReport | undefined {
    return (this.#session.lastClose?.shutdown ?? undefined) as ShutdownReport | undefined;
  }

  /**
   * Lets the child finish its requests, destroy every instance and shut the
   * plugin down within the grace period; then SIGTERM, then SIGKILL. Throws
   * `PluginTimeoutError` when the grace ran out (the child is stopped either
   * way). Then the child unloads the plugin and exits, within `timeoutMs`:
   * a destructor that hangs is `PluginTimeoutError`, one that crashes or
   * ends the child (with any status) `PluginCrashError`. With `deferUnload`
   * that wait is put off to `finishUnloads()`. Idempotent.
   */
  async close(): Promise<void> {
    const result = await this.#session.close();
    if (result && !result.inTime) {
      throw graceExpiredError("close sandboxed plugin", this.#session.graceMs, result.signal ?? "SIGKILL");
    }
    const unloading = result?.unloading;
    if (unloading === undefined) return;
    const op = `unload plugin ${JSON.stringify(this.#description.name)}`;
    const check = async () => {
      const how = await unloading;
      return how.ok ? undefined : unloadError(op, how, this.#session.stderrTail);
    };
    if (this.#deferUnload) return deferUnload(check);
    const problem = await check();
    if (problem) throw problem;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
