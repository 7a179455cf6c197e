/**
 * Runs one lifecycle probe step (`probe.ts`) where a check runs: in a probe
 * sandbox child of its own (a crash or hang of the plugin ends that child,
 * and comes back as `PluginCrashError` / `PluginTimeoutError`), or in this
 * process with `--in-process`.
 *
 * @example
 * ```ts ignore
 * import { probe } from "./run_probe.ts";
 * const { statuses } = await probe(ctx, "second_init");
 * ```
 *
 * @module
 */
import { resolve } from "node:path";
import { SandboxChild } from "../sandbox/sandbox_child.ts";
import { maxFrameFor } from "../sandbox/spawn.ts";
import { sanitizerEnv } from "../load/sanitizer.ts";
import type { ProbeRequest, ProbeResult, ProbeStep } from "./probe.ts";
import { runStep } from "./probe.ts";
import { type CheckContext, sharedRun } from "./spec.ts";
import { childEntry } from "../util/prebuilt.ts";

/** Time a probe child gets on top of the call deadline (its start-up, the log probe's wait). */
const PROBE_SLACK_MS = 1_000;

/**
 * Runs `step` on the context's library; `method` is the method after_shutdown invokes. A step the run
 * already ran with the same method is shared (`ctx.shared`): the four `abi.*` checks read one probe.
 */
export function probe(ctx: CheckContext, step: ProbeStep, method?: string): Promise<ProbeResult> {
  return sharedRun(ctx, ["probe", step, method ?? null], () => runProbe(ctx, step, method));
}

async function runProbe(ctx: CheckContext, step: ProbeStep, method?: string): Promise<ProbeResult> {
  const request: ProbeRequest = {
    step,
    pluginPath: ctx.path,
    ...method !== undefined && { method },
    ...ctx.load.adapter !== undefined && { adapter: resolve(ctx.load.adapter) },
  };
  if (!ctx.isolate) return await runStep(request);
  const child = await SandboxChild.start({
    label: ctx.shown,
    entry: childEntry("lib/check/probe_entry.ts"),
    options: { ...request },
    readPaths: [ctx.path, ...request.adapter !== undefined ? [request.adapter] : [], ...ctx.load.readPaths ?? []],
    env: ctx.load.env ?? [],
    setEnv: { ...await sanitizerEnv(ctx.path), ...ctx.load.setEnv },
    startTimeoutMs: ctx.thresholds.callTimeoutMs + PROBE_SLACK_MS,
    maxFrame: maxFrameFor(1 << 20),
  });
  const result = child.hello.result as ProbeResult;
  child.kill("closed");
  await child.waitExit();
  return result;
}
