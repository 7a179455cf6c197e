/**
 * Small judgements the checks share: an error in one line, the stress
 * engine as a check (its verdicts by id become one outcome), and a sweep
 * judged call by call.
 *
 * @example
 * ```ts ignore
 * import { stressCheck } from "./check_helpers.ts";
 * const outcome = await stressCheck(ctx, { churn: true }, ["leaked_instances", "threads_after_destroy"]);
 * ```
 *
 * @module
 */
import { loadPlugin } from "../host/load_plugin.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import type { PluginOptions } from "../plugin/options.ts";
import type { PoolExtra } from "./plugin_pool.ts";
import { escapeControl } from "../util/safe_text.ts";
import type { StressOptions } from "../stress/options.ts";
import { runStress } from "../stress/run_stress.ts";
import type { VerdictId } from "../stress/verdicts.ts";
import type { StressReport } from "../stress/report.ts";
import { shellQuote, shortText } from "../util/safe_text.ts";

/** Characters of a method name a check's details show (the rest is counted). */
export const METHOD_SHOWN = 60;
import { type CheckContext, fail, type Outcome, pass, plural, sharedRun, skip } from "./spec.ts";
import type { SweepCall } from "./sweep.ts";
import { groupDigits } from "../util/digits.ts";

/** An error as one line: its class and the first line of its message. */
export function errorLine(error: unknown): string {
  if (!(error instanceof Error)) return escapeControl(String(error));
  return `${error.name}: ${escapeControl(error.message.split("\n")[0] ?? "")}`;
}

/** A call as people read it: `echo("hello")`, its input cut at 40 characters. */
export function callLine(c: Pick<SweepCall, "method" | "input">): string {
  const text = new TextDecoder().decode(c.input);
  const shown = text.length > 40 ? `${text.slice(0, 40)}... (${c.input.length} bytes)` : text;
  return `${shortText(c.method, METHOD_SHOWN)}(${escapeControl(JSON.stringify(shown))})`;
}

/**
 * `{ repro }` for an outcome when there is a command (with `extra` flags
 * appended), else nothing: the runner then gives the check's own repro.
 */
export function repro(command: string | undefined, extra?: string): { repro?: string } {
  if (command === undefined) return {};
  return { repro: extra === undefined ? command : `${command} ${extra}` };
}

/** Lines for at most `max` items, and how many more there were. */
export function lines<T>(items: readonly T[], line: (item: T) => string, max = 5): string[] {
  const out = items.slice(0, max).map(line);
  if (items.length > max) out.push(`... and ${items.length - max} more`);
  return out;
}

/** The stress options of a check run: short, seeded, sandboxed like the check. */
function stressOptions(ctx: CheckContext, extra: StressOptions): StressOptions {
  return {
    seed: ctx.seed,
    isolate: ctx.isolate,
    exclusive: !ctx.isolate,
    timeoutMs: ctx.thresholds.callTimeoutMs,
    maxRssGrowthMb: ctx.thresholds.maxRssGrowthMb,
    floor: false,
    signal: ctx.signal,
    // The call deadline bounds the plugin's lifecycle too (and its unloading after each child's CLOSE), as in every
    // other check: an unload that hangs is timeouts.lifecycle's finding, not a wait of every stress check.
    load: { timeoutMs: ctx.thresholds.callTimeoutMs, ...ctx.load, log: "off" },
    ...extra.reload === undefined && { iterations: ctx.thresholds.stressIterations },
    ...extra,
  };
}

/** The `plugcheck stress` command that repeats a check's stress run. */
function stressRepro(ctx: CheckContext, o: StressOptions): string {
  const args = ["plugcheck", "stress", ctx.shown];
  if (o.reload !== undefined) args.push("--reload", String(o.reload));
  else args.push("--iterations", String(o.iterations));
  if (o.churn) args.push("--churn");
  if (o.instances !== undefined) args.push("--instances", String(o.instances));
  for (const m of o.methods ?? []) args.push("--method", m);
  args.push("--seed", String(ctx.seed), "--timeout", String(ctx.thresholds.callTimeoutMs));
  if (ctx.isolate) args.push("--isolate");
  if (ctx.load.adapter !== undefined) args.push("--adapter", ctx.load.adapter);
  return args.map(shellQuote).join(" ");
}

/**
 * Runs the stress engine and judges the verdicts `ids`: a crash or hang of
 * the run is the check's crash or timeout, any failed verdict fails it, all
 * skipped skips it.
 */
export async function stressCheck(
  ctx: CheckContext,
  extra: StressOptions,
  ids: readonly VerdictId[],
): Promise<Outcome> {
  const d = ctx.description!;
  if (!d.methods.some((m) => m.examples.length > 0) && extra.methods === undefined) {
    return skip("no method declares examples: stress has no input to call with");
  }
  const o = stressOptions(ctx, extra);
  const report = await sharedStress(ctx, o, extra);
  const repro = stressRepro(ctx, o);
  const byId = new Map(report.verdicts.map((v) => [v.id as VerdictId, v]));
  const crash = byId.get("crash");
  if (crash?.status === "fail") return { status: "crash", details: crash.summary, evidence: [], repro };
  const hung = byId.get("timeouts");
  if (hung?.status === "fail") return { status: "timeout", details: hung.summary, evidence: [], repro };
  const judged = ids.map((id) => byId.get(id)).filter((v) => v !== undefined);
  const failed = judged.filter((v) => v.status === "fail");
  const adapted = report.settings.adapted;
  const calls = `${groupDigits(report.run.calls)} calls${adapted === null ? "" : ` (${adapted})`}`;
  if (failed.length > 0) {
    const evidence = failed.flatMap((v) => [`${v.id}: ${v.summary}`, ...stackLines(v.evidence)]);
    return { ...fail(failed.map((v) => v.summary).join("; "), evidence), repro };
  }
  if (judged.length > 0 && judged.every((v) => v.status === "skip")) return skip(judged[0]!.summary);
  return { ...pass(`${calls}: ${judged.map((v) => v.summary).join("; ")}`), repro };
}

/**
 * The stress run of `o`: one per run of the checks for the same options
 * (`ctx.shared`), so the checks that judge the same run (`buffers.balanced`
 * and `resources.heap`, say) start one sandbox child and make one set of calls.
 */
function sharedStress(ctx: CheckContext, o: StressOptions, extra: StressOptions): Promise<StressReport> {
  return sharedRun(ctx, ["stress", extra], () => runStress(ctx.path, o));
}

/** A verdict's allocation stacks (`heap_growth`), a line each: `31 blocks (651 bytes) from f at x.c:3 <- g at x.c:9`. */
function stackLines(evidence: Record<string, unknown>): string[] {
  const stacks = Array.isArray(evidence.stacks)
    ? evidence.stacks as { blocks: number; bytes: number; frames: string[] }[]
    : [];
  return stacks.map((st) => `${plural(st.blocks, "sampled block")} (${st.bytes} bytes) from ${st.frames.join(" <- ")}`);
}

/** The options a check loads the plugin with: sandboxed unless in process, logs off, the call deadline. */
export function checkLoadOptions(ctx: Omit<CheckContext, "signal">, extra: PoolExtra = {}): PluginOptions {
  return {
    ...ctx.load,
    isolate: ctx.isolate,
    exclusive: !ctx.isolate,
    log: "off",
    timeoutMs: ctx.thresholds.callTimeoutMs,
    ...extra,
  };
}

/**
 * Runs `fn` on the plugin loaded as a check does ({@link checkLoadOptions};
 * `extra` may allow more sandbox restarts): one the run's checks share
 * (`ctx.plugins`), or one loaded for `fn` alone and closed after it.
 */
export async function withPlugin<T>(
  ctx: CheckContext,
  fn: (plugin: PluginHandle) => T | Promise<T>,
  extra: PoolExtra = {},
): Promise<T> {
  if (ctx.plugins !== undefined) return await ctx.plugins.use(extra, ctx.signal, fn);
  const plugin = await loadPlugin(ctx.path, checkLoadOptions(ctx, extra));
  try {
    // Awaited here, so an async `fn` is done before the plugin closes.
    return await fn(plugin);
  } finally {
    await plugin.close().catch(() => {});
  }
}
