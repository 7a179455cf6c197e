/**
 * Lifecycle probes: the short sequences of raw npa calls that `check` needs
 * and no engine makes on purpose, because a host must never make them (create
 * before init, a second init, calls after shutdown, `npa_buffer_free(NULL,
 * 0)`, describe() again and again), and the one that needs the in-process
 * engine's log counters after close. Each step opens the library in a process
 * of its own (a probe child, `probe_handler.ts`) or, in process, a private copy
 * of it, so it always meets a library image that was never initialized.
 *
 * A step returns plain data (statuses, texts, counters); the checks judge it.
 *
 * @example
 * ```ts ignore
 * import { runStep } from "./probe.ts";
 * const r = await runStep({ step: "second_init", pluginPath });
 * console.log(r.statuses); // [0, 7]
 * ```
 *
 * @module
 */
import { type CallResult, PluginCalls } from "../ffi/calls.ts";
import { FastPath } from "../ffi/fast_call.ts";
import { openPluginLibrary } from "../ffi/dlopen.ts";
import { copyLibrary, isLibraryLoaded } from "../ffi/private_copy.ts";
import { discardBuffer, isNull, type RawBuf, takeBuffer } from "../ffi/memory.ts";
import { ProcessGuard } from "../ffi/process_guard.ts";
import { stallTimer, stallTracker } from "../ffi/stall_deadline.ts";
import { BarePlugin } from "../load/bare_plugin.ts";
import { HOST_ABI_VERSION, readStats } from "../load/open_checked.ts";

/** The probe steps. */
export const PROBE_STEPS = [
  "abi",
  "create_before_init",
  "second_init",
  "describe_repeat",
  "free_null",
  "after_shutdown",
  "log_after_shutdown",
] as const;
export type ProbeStep = typeof PROBE_STEPS[number];

/** What a step is told. */
export interface ProbeRequest {
  step: ProbeStep;
  pluginPath: string;
  /** after_shutdown: the method to invoke. */
  method?: string;
  /** `LoadOptions.adapter` (absolute): the library is served through it. */
  adapter?: string;
}

/** What a step found; which fields are set depends on the step. */
export interface ProbeResult {
  /** abi: the loader refused the file (its words). */
  loadError?: string;
  /** abi: required symbols the library lacks. */
  missing?: string[];
  /** abi: optional symbols it exports. */
  optional?: string[];
  /** abi: what `npa_abi_version()` returned. */
  abi?: number;
  /** Statuses, in the step's order (see the step). */
  statuses?: number[];
  /** describe_repeat: the documents. */
  texts?: string[];
  /** free_null: live_buffers at a control read, before and after the free (absent without npa_plugin_stats). */
  liveBuffers?: [number, number, number];
  /** log_after_shutdown: messages that arrived after shutdown returned. */
  afterClose?: number;
}

const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

/** Runs one step. In process, on a private copy of the library when it is loaded here already. */
export async function runStep(r: ProbeRequest): Promise<ProbeResult> {
  const loaded = isLibraryLoaded(r.pluginPath);
  if (r.step === "log_after_shutdown") return await logAfterShutdown(r.pluginPath, loaded, r.adapter);
  const copy = loaded ? copyLibrary(r.pluginPath) : undefined;
  // The copy stays open: the library it holds is never unloaded (a probe leaves the plugin in odd states).
  const path = copy?.path ?? r.pluginPath;
  if (r.step === "abi") return r.adapter === undefined ? abiStep(path) : adapterAbiStep(path, r.adapter);
  const bare = BarePlugin.open(path, r.pluginPath, r.adapter);
  const calls = bare.calls;
  const status = (c: { status: number; err: RawBuf; out?: RawBuf }) => {
    discardBuffer(c.err, calls.free);
    if (c.out) discardBuffer(c.out, calls.free);
    return c.status;
  };
  if (r.step === "create_before_init") {
    const c = await calls.create(EMPTY);
    if (c.status === 0 && c.instance !== null && !isNull(c.instance)) await calls.destroy(c.instance);
    return { statuses: [status(c)] };
  }
  const init = async () => {
    bare.logContext(); // a fresh context (logs off) for each init
    return status(await bare.initRaw());
  };
  const first = await init();
  if (first !== 0) return { statuses: [first] };
  switch (r.step) {
    case "second_init":
      return { statuses: [first, await init()] };
    case "describe_repeat": {
      const texts: string[] = [];
      for (let i = 0; i < 3; i++) texts.push(text(await calls.describe(), calls));
      return { statuses: [first], texts };
    }
    case "free_null": {
      const ctx = { free: calls.free, maxOutputBytes: 1 << 20, warn: () => {} };
      // Two reads first: how live_buffers moves across a stats read alone (it should not), then the free.
      const control = readStats(calls, ctx);
      const before = readStats(calls, ctx);
      calls.free(null, 0n);
      const after = readStats(calls, ctx);
      const result: ProbeResult = { statuses: [first] };
      if (control !== null && before !== null && after !== null) {
        result.liveBuffers = [control.live_buffers!, before.live_buffers!, after.live_buffers!];
      }
      return result;
    }
    case "after_shutdown": {
      const made = await calls.create(EMPTY);
      const created = status(made);
      if (created !== 0 || made.instance === null || isNull(made.instance)) return { statuses: [first, created] };
      await calls.shutdown();
      // The instance is left alive on purpose: invoking a destroyed one would be the host's bug, not the plugin's.
      const again = await calls.create(EMPTY);
      if (again.status === 0 && again.instance !== null && !isNull(again.instance)) await calls.destroy(again.instance);
      const createAfter = status(again);
      const fast = FastPath.get();
      const target = fast.target(fast.bind(bare.entryPath), made.instance, 1 << 20);
      const out = fast.invokeSync(target, r.method ?? "echo", EMPTY);
      const invokeAfter = out === undefined ? status(fast.raw()) : 0;
      return { statuses: [first, created, createAfter, invokeAfter] };
    }
  }
  throw new Error(`unknown probe step ${r.step}`);
}

function text(c: CallResult, calls: PluginCalls): string {
  discardBuffer(c.err, calls.free);
  const taken = takeBuffer(c.out, calls.free, 1 << 20);
  if (c.status !== 0) return `(status ${c.status})`;
  return taken.kind === "bytes" ? decoder.decode(taken.bytes) : `(${taken.kind})`;
}

function abiStep(path: string): ProbeResult {
  let opened;
  try {
    opened = openPluginLibrary(path);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { loadError: msg.replace(/^(Could not open library: )+/, "").replace(`${path}: `, "") };
  }
  if (!opened.ok && "entry" in opened) {
    // A library of another ABI: its adapter is what speaks npa (the library stays held until it has it).
    try {
      return servedAbi(BarePlugin.open(path));
    } finally {
      opened.hold.close();
    }
  }
  if (!opened.ok) {
    return { missing: opened.missing, optional: [], ...opened.abiVersion !== undefined && { abi: opened.abiVersion } };
  }
  const abi = new PluginCalls(opened.library, ProcessGuard.get()).abiVersion();
  return { missing: [], optional: opened.optionalPresent, abi };
}

/** The abi step through an adapter the caller named: the adapter is what speaks npa, and it must take the library. */
function adapterAbiStep(path: string, adapter: string): ProbeResult {
  let bare: BarePlugin;
  try {
    bare = BarePlugin.open(path, path, adapter);
  } catch (e) {
    return { loadError: e instanceof Error ? e.message : String(e) };
  }
  return servedAbi(bare);
}

/** The abi step's answer for a library an adapter serves: what the adapter exports and speaks. */
function servedAbi(bare: BarePlugin): ProbeResult {
  return { missing: [], optional: [...bare.optionalPresent], abi: bare.abi.raw };
}

async function logAfterShutdown(path: string, exclusive: boolean, adapter?: string): Promise<ProbeResult> {
  // Imported here: the in-process host brings zod and LogTape, whose start-up (~60 ms of CPU: Deno's npm resolution)
  // every other probe child, one per probe step, does without.
  const [{ loadInProcess }, { resolveOptions }] = await Promise.all([
    import("../host/in_process/plugin.ts"),
    import("../plugin/options.ts"),
  ]);
  const plugin = await loadInProcess(
    path,
    resolveOptions({ log: "trace", exclusive, ...adapter !== undefined && { adapter } }),
  );
  await plugin.close();
  await lateMessages(() => plugin.logCounters().afterClose);
  return { statuses: [0], afterClose: plugin.logCounters().afterClose };
}

/**
 * Waits for messages logged after shutdown: 300 ms of time this process could run (a loaded machine that keeps the
 * plugin's late thread from a CPU does not end the wait early), or until they stop coming, 50 ms after the first.
 */
function lateMessages(count: () => number): Promise<void> {
  return new Promise((resolve) => {
    let last = 0;
    let quietSince = 0;
    const done = () => {
      cancel();
      clearInterval(poll);
      resolve();
    };
    const cancel = stallTimer(LATE_WINDOW_MS, stallTracker(() => [Deno.pid]), done);
    const poll = setInterval(() => {
      const n = count();
      if (n !== last) [last, quietSince] = [n, performance.now()];
      else if (n > 0 && performance.now() - quietSince >= 50) done();
    }, 10);
  });
}

/** How long the log_after_shutdown step waits for late messages (ms of time the process could run). */
export const LATE_WINDOW_MS = 300;

/** The host's ABI major, for the version check. */
export const HOST_MAJOR = HOST_ABI_VERSION >>> 16;
