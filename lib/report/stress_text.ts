/**
 * The stress report as text for a terminal or a CI log: what ran, its
 * throughput and latency against the dispatch floor, the resources of the
 * process that held the plugin, and every verdict with its evidence. Plugin
 * text is escaped; colour comes from the caller's `paint`.
 *
 * @example
 * ```ts ignore
 * import { renderStressReport } from "./stress_text.ts";
 * import { plain } from "./paint.ts";
 * ctx.out(renderStressReport(report, plain));
 * ```
 *
 * @module
 */
import { decodeBase64 } from "../util/base64.ts";
import { escapeControl, invokeLine, shellQuote } from "../util/safe_text.ts";
import type { StressReport } from "../stress/report.ts";
import type { Paint } from "./paint.ts";
import { count, duration, mib, plural, rate } from "./units.ts";

function latencyLine(l: StressReport["run"]["latency"]): string {
  return `p50 ${duration(l.p50_ms)}  p90 ${duration(l.p90_ms)}  p99 ${duration(l.p99_ms)}  p99.9 ${
    duration(l.p999_ms)
  }  max ${duration(l.max_ms)}`;
}

function what(r: StressReport): string {
  const s = r.settings;
  const where = r.plugin.isolated ? "in a sandbox child" : "in process";
  if (r.mode === "reload") return `reload, ${r.reload?.completed ?? 0} of ${s.reload} cycles, ${where}`;
  const loops = plural(s.concurrency, "loop");
  const over = r.mode === "steady"
    ? ` over ${plural(s.instances ?? 0, "instance")}`
    : ", each creating, calling and destroying instances";
  const length = s.iterations !== null ? `${count(s.iterations)} calls` : duration(s.duration_ms ?? 0);
  return `${r.mode}, ${loops}${over}, ${length}, ${where}`;
}

/**
 * Which failures were expected: those of inputs that failed on their first
 * call and every later time the same way (a method that fails on purpose,
 * like an example that asks for an error), and how many were not
 * (RESOURCE_LIMIT answers are counted apart).
 */
function failuresLine(r: StressReport): string {
  const failing = r.inputs.filter((i) => i.expected_failures > 0);
  const expected = failing.reduce((n, i) => n + i.expected_failures, 0);
  const other = r.run.failed - r.run.resource_limit - expected;
  const otherText = `${count(other)} not expected (see the verdicts)`;
  if (failing.length === 0) return otherText;
  const shown = failing.slice(0, 3).map((i) =>
    `${escapeControl(i.method)} ${escapeControl(i.source)} (${i.first_error ?? "failed"} ${count(i.expected_failures)})`
  );
  if (failing.length > 3) shown.push(`${failing.length - 3} more`);
  return `${count(expected)} expected, from inputs that fail every call as on their first: ${shown.join(", ")}${
    other > 0 ? `; ${otherText}` : ""
  }`;
}

/** Below this (ms: half the 0.1 us percentiles are rounded to) the plugin's share of p50 is nothing measurable. */
const SHARE_RESOLUTION_MS = 0.00005;

/** What the plugin adds to the median call over the no-op floor, or that it adds nothing measurable. */
function shareText(r: StressReport): string {
  const share = r.run.latency.p50_ms - (r.floor?.latency.p50_ms ?? 0);
  return share < SHARE_RESOLUTION_MS
    ? "the plugin adds nothing measurable to p50"
    : `the plugin's share of p50 is ${duration(share)}`;
}

/** A call of the crash data: method and input (base64). */
type CrashCall = { method: string; input_base64?: string };

/** The command that reproduces `call` alone, or how to build it when its input does not fit a shell line. */
function reproLine(r: StressReport, call: CrashCall): string {
  const line = call.input_base64 === undefined
    ? undefined
    : invokeLine(r.plugin.path, call.method, decodeBase64(call.input_base64));
  return line ??
    `save the call's input_base64 (from --format json) to a file, then plugcheck invoke ${shellQuote(r.plugin.path)} ${
      shellQuote(call.method)
    } --input-file FILE --isolate`;
}

/**
 * What ended the run, the child's last words, and the command that
 * reproduces it: the culprit's (the call whose thread faulted), with the
 * other calls in flight named; with no culprit known, one command per call
 * in flight, each to be run alone.
 */
function crashLines(r: StressReport): [string, string][] {
  const c = r.crash as {
    message?: string;
    stderr_tail?: string;
    request?: { method?: string };
    input_base64?: string;
    also_in_flight?: CrashCall[];
    candidates?: CrashCall[];
    may_be_earlier?: boolean;
  };
  const lines: [string, string][] = [["crash", escapeControl(c.message ?? "")]];
  const tail = (c.stderr_tail ?? "").trimEnd().split("\n").filter((l) => l !== "").slice(-3);
  for (const l of tail) lines.push(["", `| ${escapeControl(l)}`]);
  const names = (calls: CrashCall[]) => calls.map((x) => escapeControl(x.method)).join(", ");
  if (c.may_be_earlier) lines.push(["", "heap damage found late: it may come from an earlier call"]);
  if (c.candidates !== undefined) {
    lines.push(["in flight", `${c.candidates.length} calls (${names(c.candidates)}); which one faulted is not known`]);
    c.candidates.forEach((call, i) => lines.push([i === 0 ? "reproduce" : "", `${reproLine(r, call)}   # alone`]));
    return lines;
  }
  const method = c.request?.method;
  if (method === undefined) return lines;
  if (c.also_in_flight !== undefined && c.also_in_flight.length > 0) {
    lines.push(["culprit", `invoke ${JSON.stringify(escapeControl(method))} (its thread faulted)`]);
    lines.push(["in flight", `also ${names(c.also_in_flight)}`]);
  }
  lines.push([
    "reproduce",
    reproLine(r, { method, ...c.input_base64 !== undefined && { input_base64: c.input_base64 } }),
  ]);
  return lines;
}

/** The report as lines of text. */
export function renderStressReport(r: StressReport, paint: Paint): string {
  const safe = escapeControl;
  const out: string[] = [];
  const row = (label: string, text: string) => out.push(`${label.padEnd(11)}${text}`);
  row("plugin", `${safe(r.plugin.name)} ${safe(r.plugin.version)} (${r.plugin.path})`);
  row("stress", `${what(r)}, seed ${r.seed}`);
  if (r.settings.adapted !== null) row("", r.settings.adapted);
  const methods = [...new Set(r.inputs.map((i) => i.method))];
  row("inputs", `${r.inputs.length} (${methods.map(safe).join(", ")})`);
  const run = r.run;
  const failed = Object.entries(run.errors).map(([k, v]) => `${k} ${count(v.count)}`).join(", ");
  row(
    "calls",
    `${count(run.calls)} in ${duration(run.duration_ms)} (${rate(run.per_second)}), ${count(run.ok)} ok${
      run.failed > 0 ? `, ${count(run.failed)} failed (${failed})` : ""
    }${run.resource_limit > 0 ? `, ${count(run.resource_limit)} RESOURCE_LIMIT` : ""}`,
  );
  if (run.failed > run.resource_limit) row("failures", failuresLine(r));
  if (run.latency.count > 0) row("latency", latencyLine(run.latency));
  if (r.floor) {
    row("floor", `${latencyLine(r.floor.latency)}  (${rate(r.floor.per_second)} on a no-op: ${shareText(r)})`);
  }
  const inst = r.instances;
  row(
    "instances",
    `${count(inst.created)} created, ${count(inst.destroyed)} destroyed, at most ${count(inst.max_live)} live${
      inst.wedged > 0 ? `, ${count(inst.wedged)} given up after a hang` : ""
    }${
      r.mode === "churn"
        ? `; create p50 ${duration(inst.create_latency.p50_ms)}, destroy p50 ${duration(inst.destroy_latency.p50_ms)}`
        : ""
    }`,
  );
  const res = r.resources;
  if (res.baseline && res.end) {
    row(
      "resources",
      `rss ${mib(res.baseline.rss_bytes)} -> ${mib(res.end.rss_bytes)} (peak ${
        mib(res.peak?.rss_bytes ?? 0)
      }), threads ${res.baseline.threads} -> ${res.end.threads}, fds ${res.baseline.fds} -> ${res.end.fds}${
        res.pid !== null ? ` (pid ${res.pid})` : ""
      }`,
    );
  }
  if (r.stats) {
    const keys = ["live_instances", "live_buffers"];
    row("stats", keys.map((k) => `${k} ${r.stats!.before[k] ?? 0} -> ${r.stats!.after[k] ?? 0}`).join(", "));
  }
  if (r.reload) {
    const init = r.reload.per_cycle.map((c) => c.init_ms);
    if (init.length > 0) {
      row("reload", `init ${duration(Math.min(...init))} to ${duration(Math.max(...init))} per cycle`);
    }
  }
  if (r.stopped_early) row("stopped", `early: ${safe(r.stopped_early)}`);
  if (r.crash) { for (const line of crashLines(r)) row(line[0], line[1]); }
  out.push("verdicts");
  const idWidth = Math.max(...r.verdicts.map((v) => v.id.length));
  for (const v of r.verdicts) {
    const mark = v.status === "pass"
      ? paint("green", "pass")
      : v.status === "fail"
      ? paint("red", "FAIL")
      : paint("dim", "skip");
    out.push(`  ${mark}  ${v.id.padEnd(idWidth)}  ${safe(v.summary)}`);
  }
  const failedCount = r.verdicts.filter((v) => v.status === "fail").length;
  out.push(
    r.ok
      ? `${paint("green", "ok")}: no verdict failed`
      : `${paint("red", "FAIL")}: ${failedCount} of ${r.verdicts.length} verdicts failed`,
  );
  return `${out.join("\n")}\n`;
}
