/**
 * The call sweep: loads the plugin once (in a sandbox child unless
 * `--in-process`), calls every declared method with its sample inputs on an
 * instance of its own, then an unknown method, and, if asked, generated bad
 * inputs: for every method the edge inputs (empty, one byte, 64 MiB), and for
 * `json` methods inputs that are not JSON; records each call's output or typed error and
 * the contract warnings it raised, and what the plugin left around it
 * (counters, log counters, warnings after close: stdout bytes, processes).
 * A crash or hang is recorded as that call's error and the sweep goes on in
 * a fresh child. Most checks of `errors`, `buffers`, `outputs`, `stdio`,
 * `timeouts` and `metadata` are one judgement over one sweep.
 *
 * @example
 * ```ts ignore
 * import { sweep } from "./sweep.ts";
 * const s = await sweep(ctx, { badInputs: true });
 * for (const c of s.calls) console.log(c.method, c.kind, c.error ?? c.output);
 * ```
 *
 * @module
 */
import type { MethodDescription } from "../plugin/describe_schema.ts";
import { PluginCrashError, PluginTimeoutError } from "../errors/errors.ts";
import type { LogCounters } from "../ffi/host_log.ts";
import { loadPlugin } from "../host/load_plugin.ts";
import type { InstanceHandle, PluginHandle } from "../plugin/handle.ts";
import { type CheckContext, sharedRun } from "./spec.ts";
import { sameBytes } from "../stress/plan.ts";
import { DEFAULT_MAX_OUTPUT_BYTES } from "../plugin/options.ts";

/** Why a call was made. */
export type CallKind = "example" | "sample" | "edge" | "bad_input" | "unknown_method";

/** One call of the sweep. */
export interface SweepCall {
  method: string;
  kind: CallKind;
  input: Uint8Array;
  /** An example's expected output. */
  expected?: string;
  /**
   * The output, unless the call was an edge or bad input's and it is over 64 KiB: no check reads those, and a sweep
   * shared by a whole run would otherwise hold a 64 MiB echo per method.
   */
  output?: Uint8Array;
  error?: unknown;
  /** Contract warnings raised during the call. */
  warnings: string[];
}

/** What a sweep saw. */
export interface SweepResult {
  calls: SweepCall[];
  /** Warnings of the load and after close (stdout bytes, processes left running, stray buffers at close). */
  warnings: string[];
  logs: LogCounters;
  /** Failures of destroy and close (a destroy or shutdown past its deadline, a leak found on close). */
  lifecycleErrors: unknown[];
  /** npa_plugin_stats before the first instance and after the last destroy (null without the capability). */
  stats: { before: Record<string, number>; after: Record<string, number> } | null;
}

/** What to sweep. */
export interface SweepOptions {
  /** Also call every method with the {@link edgeInputs}, and `json` methods with inputs that are not JSON. */
  badInputs?: boolean;
  /** The host's log directives (default `off`: every level disabled). */
  log?: string;
  /** Only these methods (default: all). */
  methods?: readonly string[];
  /** Deadline of each call (default: the call deadline of the thresholds). */
  callTimeoutMs?: number;
}

/** The name of a method no plugin has. */
export const UNKNOWN_METHOD = "plugcheck.no_such_method";

const enc = new TextEncoder();

/** Inputs that are not JSON, for `json` methods: each must answer INVALID_INPUT (an empty one may mean "none"). */
export const BAD_JSON_INPUTS: readonly Uint8Array[] = [
  enc.encode("{"),
  enc.encode("[1,"),
  enc.encode('"open'),
  new Uint8Array([0xff, 0xfe, 0x7b]),
];

/**
 * Inputs at the edges, for every method: empty, one byte ("0": a digit, and
 * valid JSON), and the host's maximum, 64 MiB of "a" (the most plugcheck
 * takes back from a call: a method must refuse or handle what its examples
 * never show; more than any thread's stack, so a `char buf[len]` or an
 * `alloca(len)` crashes here). A status outside 0..7, a crash or a broken
 * buffer on one of them is the sweep's finding like any other call's. Made
 * on first use, once.
 */
export function edgeInputs(): readonly Uint8Array[] {
  edges ??= [...SHORT_EDGE_INPUTS, new Uint8Array(DEFAULT_MAX_OUTPUT_BYTES).fill(0x61)];
  return edges;
}
/** The edge inputs but the 64 MiB one: empty, and one byte. */
export const SHORT_EDGE_INPUTS: readonly Uint8Array[] = [new Uint8Array(0), enc.encode("0")];
let edges: readonly Uint8Array[] | undefined;

/** An edge or bad input's output over this size is not kept (see {@link SweepCall.output}). */
const KEEP_EDGE_OUTPUT_BYTES = 64 * 1024;

/** The inputs a method is called with: its examples, else one plain input of its kind. */
export function sampleInputs(m: MethodDescription): { input: Uint8Array; kind: CallKind; expected?: string }[] {
  if (m.examples.length > 0) {
    return m.examples.map((e) => ({
      input: enc.encode(e.input),
      kind: "example" as const,
      ...e.output !== undefined && { expected: e.output },
    }));
  }
  return [{ input: enc.encode(m.input === "json" ? "null" : ""), kind: "sample" }];
}

/** True for the errors that end a call without an answer from the plugin (it crashed or hung). */
export function unanswered(error: unknown): boolean {
  return error instanceof PluginCrashError || error instanceof PluginTimeoutError;
}

/**
 * Runs the sweep, or shares the one a check of the same run already started with the same options
 * (`ctx.shared`): the sweep is the same calls in the same order, so its result is too. Throws only when
 * the plugin cannot be loaded at all.
 */
export function sweep(ctx: CheckContext, options: SweepOptions = {}): Promise<SweepResult> {
  const key = [
    "sweep",
    options.badInputs === true,
    options.log ?? "off",
    options.methods ?? null,
    options.callTimeoutMs ?? ctx.thresholds.callTimeoutMs,
  ];
  return sharedRun(ctx, key, () => runSweep(ctx, options));
}

async function runSweep(ctx: CheckContext, options: SweepOptions): Promise<SweepResult> {
  const plugin = await loadPlugin(ctx.path, {
    ...ctx.load,
    isolate: ctx.isolate,
    exclusive: !ctx.isolate,
    log: options.log ?? "off",
    timeoutMs: options.callTimeoutMs ?? ctx.thresholds.callTimeoutMs,
    // A crash is one call's result here: the sweep goes on in a fresh child.
    restartCap: 1_000,
    // Room for what a method makes of the largest edge input (a label appended, an escape, a hex dump): only a
    // length past 4x that is the plugin's malformed buffer, not the host's limit.
    maxOutputBytes: 4 * DEFAULT_MAX_OUTPUT_BYTES,
  });
  const calls: SweepCall[] = [];
  const timeoutMs = options.callTimeoutMs ?? ctx.thresholds.callTimeoutMs;
  let stats: SweepResult["stats"] = null;
  let logs: LogCounters | undefined;
  const lifecycleErrors: unknown[] = [];
  const loadWarnings = plugin.contractWarnings.length;
  try {
    const statsBefore = await plugin.readStats();
    const d = plugin.describe();
    const wanted = d.methods.filter((m) => options.methods === undefined || options.methods.includes(m.name));
    for (const m of wanted) {
      const plan = sampleInputs(m);
      if (options.badInputs) {
        for (const input of edgeInputs()) {
          if (!plan.some((p) => sameBytes(p.input, input))) plan.push({ input, kind: "edge" });
        }
        if (m.input === "json") { for (const input of BAD_JSON_INPUTS) plan.push({ input, kind: "bad_input" }); }
      }
      await callAll(plugin, m.name, plan, calls, lifecycleErrors, timeoutMs);
    }
    const first = d.methods[0]?.examples[0]?.input ?? "";
    const unknown = [{ input: enc.encode(first), kind: "unknown_method" as const }];
    await callAll(plugin, UNKNOWN_METHOD, unknown, calls, lifecycleErrors, timeoutMs);
    const statsAfter = await plugin.readStats();
    if (statsBefore !== null && statsAfter !== null) stats = { before: statsBefore, after: statsAfter };
    logs = await plugin.readLogCounters();
  } finally {
    await plugin.close().catch((e) => lifecycleErrors.push(e));
  }
  const warnings = [...plugin.contractWarnings.slice(0, loadWarnings)];
  const callWarnings = new Set(calls.flatMap((c) => c.warnings));
  for (const w of plugin.contractWarnings.slice(loadWarnings)) if (!callWarnings.has(w)) warnings.push(w);
  return { calls, warnings, logs: logs!, lifecycleErrors, stats };
}

/** Calls `method` with each planned input on one instance (a fresh one after a crash or hang). */
async function callAll(
  plugin: PluginHandle,
  method: string,
  plan: { input: Uint8Array; kind: CallKind; expected?: string }[],
  calls: SweepCall[],
  lifecycleErrors: unknown[],
  timeoutMs: number,
): Promise<void> {
  const destroy = (i: InstanceHandle | undefined) =>
    i?.state === "live" ? i.destroy().catch((e) => lifecycleErrors.push(e)) : i?.destroy().catch(() => {});
  let inst: InstanceHandle | undefined;
  try {
    for (const p of plan) {
      const call: SweepCall = {
        method,
        kind: p.kind,
        input: p.input,
        warnings: [],
        ...p.expected !== undefined && {
          expected: p.expected,
        },
      };
      const seen = plugin.contractWarnings.length;
      try {
        if (inst === undefined || inst.state !== "live") {
          await destroy(inst);
          inst = await plugin.createInstance(undefined, { timeoutMs });
        }
        const output = await inst.invoke(method, p.input, { timeoutMs });
        if (output.length <= KEEP_EDGE_OUTPUT_BYTES || (p.kind !== "edge" && p.kind !== "bad_input")) {
          call.output = output;
        }
      } catch (error) {
        call.error = error;
      }
      call.warnings = plugin.contractWarnings.slice(seen);
      calls.push(call);
    }
  } finally {
    await destroy(inst);
  }
}
