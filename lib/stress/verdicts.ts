/**
 * The verdicts of a stress run: each a conclusion drawn from what the run
 * measured, with its evidence in words and numbers, passed, failed, or
 * skipped with the reason it could not be judged. A run fails when any
 * verdict fails. `check` reads these by id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rssVerdict } from "./verdicts.ts";
 * const v = rssVerdict({ growthBytes: 200 * 2 ** 20, slopePer10k: 4096, maxMb: 64, per: "10k calls" });
 * assert.ok(v.status === "fail" && v.id === "rss_growth");
 * ```
 *
 * @module
 */
import { toData } from "../errors/error_data.ts";
import { sameCall } from "../errors/host_errors.ts";
import { PluginCrashError, type PluginError, PluginTimeoutError } from "../errors/errors.ts";
import type { FdInfo, ThreadInfo } from "../ffi/proc_info.ts";
import { describeThread, type PluginThread } from "../ffi/plugin_threads.ts";
import type { OutcomeBook } from "./plan.ts";
import { groupDigits } from "../util/digits.ts";

/** Descriptors a process may be short of its limit and still count as out of them (plugcheck's own held ones). */
const FD_LIMIT_MARGIN = 8;

/** What a stress run concludes, by id. */
export const VERDICT_IDS = [
  "crash",
  "timeouts",
  "errors",
  "wrong_results",
  "max_instances",
  "leaked_instances",
  "leaked_buffers",
  "threads_after_destroy",
  "fds_after_destroy",
  "threads_after_shutdown",
  "fds_after_shutdown",
  "rss_growth",
  "heap_growth",
] as const;

/** A verdict's id. */
export type VerdictId = (typeof VERDICT_IDS)[number];

/** One verdict. */
export interface Verdict {
  id: VerdictId;
  status: "pass" | "fail" | "skip";
  /** What was found (or why it was not judged), with its numbers. */
  summary: string;
  /** The numbers and examples behind it. */
  evidence: Record<string, unknown>;
}

const verdict = (
  id: VerdictId,
  status: Verdict["status"],
  summary: string,
  evidence: Record<string, unknown> = {},
) => ({
  id,
  status,
  summary,
  evidence,
});

/** A verdict that could not be judged, and why. */
export function skipped(id: VerdictId, why: string): Verdict {
  return verdict(id, "skip", why);
}

const n = (x: number) => groupDigits(x);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** The run's crash (or the hang that killed its sandbox child), if any. */
export function crashVerdict(fatal: PluginError | undefined): Verdict {
  if (fatal === undefined || !(fatal instanceof PluginCrashError)) {
    return verdict("crash", "pass", "the plugin never crashed");
  }
  const b = fatal.blame;
  const r = b?.culprit ?? fatal.request;
  const others = b?.culprit ? b.inFlight.filter((x) => !sameCall(x, b.culprit)).length : 0;
  const beside = others > 0 ? ` (its thread faulted; ${n(others)} other call(s) in flight)` : "";
  const where = b && !b.culprit && b.inFlight.length > 1
    ? ` with ${n(b.inFlight.length)} calls in flight, the faulting one not known`
    : r?.method !== undefined
    ? ` during invoke "${r.method}"${b?.culprit ? beside : ""}`
    : r
    ? ` during ${r.kind}`
    : "";
  const late = b?.mayBeEarlier ? " (heap damage found late: it may come from an earlier call)" : "";
  const how = fatal.signal ? `killed by ${fatal.signal}` : `exited with code ${fatal.exitCode}`;
  return verdict("crash", "fail", `the plugin crashed its process (${how})${where}${late}; the run ended there`, {
    error: toData(fatal),
  });
}

/** Calls that got no reply in time. */
export function timeoutVerdict(timeouts: number, timeoutMs: number, fatal: PluginError | undefined): Verdict {
  const killed = fatal instanceof PluginTimeoutError;
  if (timeouts === 0 && !killed) return verdict("timeouts", "pass", `every call returned within ${n(timeoutMs)} ms`);
  const count = Math.max(timeouts, killed ? 1 : 0);
  const what = killed
    ? "its sandbox child was killed and the run ended there"
    : "in process such a call cannot be cancelled: its instance was given up and the call still holds a thread";
  return verdict("timeouts", "fail", `${n(count)} call(s) got no reply within ${n(timeoutMs)} ms: ${what}`, {
    timeouts: count,
    timeout_ms: timeoutMs,
  });
}

/** Failures that the input did not give before, and failures that are always wrong. */
export function errorsVerdict(book: OutcomeBook, failedCalls: number): Verdict {
  if (book.unexpected === 0) {
    const also = failedCalls > 0
      ? ` (${n(failedCalls)} failed calls, each failing as its input did the first time)`
      : "";
    return verdict("errors", "pass", `no unexpected failure${also}`);
  }
  const first = book.unexpectedExamples[0]!;
  return verdict(
    "errors",
    "fail",
    `${
      n(book.unexpected)
    } unexpected failure(s): e.g. ${first.method} (${first.source}) gave ${first.got} where ${first.expected} was expected`,
    { unexpected: book.unexpected, examples: book.unexpectedExamples },
  );
}

/** Outputs of pure methods that changed, or differ from an example's expected output. */
export function wrongResultsVerdict(book: OutcomeBook): Verdict {
  if (book.wrong > 0) {
    const first = book.wrongExamples[0]!;
    return verdict(
      "wrong_results",
      "fail",
      `${n(book.wrong)} of ${
        n(book.checked)
      } checked outputs were wrong: e.g. ${first.method} (${first.source}) returned ${first.got}, expected ${first.expected}; a pure method that shares state between calls or instances, or an instance used by two threads at once`,
      { wrong: book.wrong, checked: book.checked, examples: book.wrongExamples },
    );
  }
  if (book.checked === 0) {
    return skipped("wrong_results", "no output to compare: no pure method was called and no example gives an output");
  }
  return verdict("wrong_results", "pass", `all ${n(book.checked)} checked outputs were right`, {
    checked: book.checked,
  });
}

/** What the max_instances probe found. */
export type ProbeResult =
  | { kind: "undeclared" }
  | { kind: "too_many"; max: number }
  | { kind: "refused"; max: number; error: string }
  | { kind: "refused_early"; max: number; live: number; error: string }
  | { kind: "accepted"; max: number };

/** One extra instance beyond `max_instances` must be refused with RESOURCE_LIMIT. */
export function maxInstancesVerdict(r: ProbeResult): Verdict {
  switch (r.kind) {
    case "undeclared":
      return skipped("max_instances", "describe() declares no max_instances");
    case "too_many":
      return skipped("max_instances", `max_instances ${n(r.max)} is too many instances to create in a stress run`);
    case "accepted":
      return verdict(
        "max_instances",
        "fail",
        `the plugin declares max_instances ${n(r.max)}, yet instance ${
          n(r.max + 1)
        } was created; it must answer RESOURCE_LIMIT`,
        { max_instances: r.max },
      );
    case "refused_early":
      return verdict(
        "max_instances",
        "fail",
        `instance ${n(r.live + 1)} was refused (${r.error}) though max_instances is ${n(r.max)}`,
        { max_instances: r.max, live: r.live, error: r.error },
      );
    case "refused":
      return r.error === "ResourceLimitError"
        ? verdict(
          "max_instances",
          "pass",
          `instance ${n(r.max + 1)} was refused with RESOURCE_LIMIT (max_instances ${n(r.max)})`,
        )
        : verdict(
          "max_instances",
          "fail",
          `instance ${n(r.max + 1)} beyond max_instances ${n(r.max)} was refused with ${r.error}, not RESOURCE_LIMIT`,
          { max_instances: r.max, error: r.error },
        );
  }
}

/** npa_plugin_stats counters before the instances were created and after all were destroyed. */
export function leakVerdicts(
  before: Record<string, number> | null,
  after: Record<string, number> | null,
  when: string,
  /** Each counter's least-squares slope per 10k calls over the run, where it was sampled. */
  trend: Partial<Record<"live_instances" | "live_buffers", number>> = {},
): Verdict[] {
  return (["live_instances", "live_buffers"] as const).map((counter) => {
    const id = counter === "live_instances" ? "leaked_instances" : "leaked_buffers";
    if (before === null || after === null) {
      return skipped(id, "the plugin does not export npa_plugin_stats, so its counters cannot be read");
    }
    const b = before[counter] ?? 0, a = after[counter] ?? 0;
    const rate = trend[counter];
    const rising = rate !== undefined && rate >= 1
      ? `; it rose by about ${n(Math.round(rate))} per 10k calls during the run`
      : "";
    return a > b
      ? verdict(id, "fail", `${counter} ${n(b)} -> ${n(a)} ${when}${rising}`, {
        counter,
        before: b,
        after: a,
        per_10k_calls: rate ?? null,
      })
      : verdict(id, "pass", `${counter} back to ${n(b)} ${when}`, { counter, before: b, after: a });
  });
}

/** Threads and descriptors above their baseline at `when`. */
export function leftoverVerdicts(
  ids:
    | readonly ["threads_after_destroy", "fds_after_destroy"]
    | readonly ["threads_after_shutdown", "fds_after_shutdown"],
  c: {
    before: { threads: number; fds: number };
    after: { threads: number; fds: number; fdLimit?: number };
    leftThreads: ThreadInfo[];
    leftFds: FdInfo[];
    /** Threads judged by what the helper recorded: only the plugin's count (see `ProcessBaseline`). */
    attributed?: boolean;
  },
  when: string,
  cycle?: number,
): Verdict[] {
  const at = cycle === undefined ? "" : ` (cycle ${cycle})`;
  const threads = c.attributed ? c.leftThreads.length : c.after.threads - c.before.threads;
  const whose = c.attributed ? " the plugin started" : "";
  const fds = c.after.fds - c.before.fds;
  const names = summarizeThreads(c.leftThreads);
  const targets = summarizeFds(c.leftFds);
  // Held descriptors of plugcheck's own (its /proc readings) are not counted: "near" the limit, not at it.
  const limit = c.after.fdLimit;
  const exhausted = limit !== undefined && limit > 0 && c.after.fds >= limit - FD_LIMIT_MARGIN
    ? `; the process is at its descriptor limit (${n(limit)}): every further open fails`
    : "";
  return [
    threads > 0
      ? verdict(ids[0], "fail", `${n(threads)} more thread(s)${whose} ${when} than before${at}: ${names}`, {
        before: c.before.threads,
        after: c.after.threads,
        threads: c.leftThreads,
        attributed: c.attributed === true,
        ...cycle !== undefined && { cycle },
      })
      : verdict(
        ids[0],
        "pass",
        c.attributed
          ? `no thread the plugin started still runs ${when}`
          : `threads back to ${n(c.before.threads)} ${when}`,
        { before: c.before.threads, after: c.after.threads, attributed: c.attributed === true },
      ),
    fds > 0
      ? verdict(
        ids[1],
        "fail",
        `${n(fds)} more open descriptor(s) ${when} than before${at} (${n(c.before.fds)} -> ${n(c.after.fds)})${
          targets ? `: ${targets}` : ""
        }${exhausted}`,
        {
          before: c.before.fds,
          after: c.after.fds,
          fds: c.leftFds.slice(0, 50),
          ...limit !== undefined && { fd_limit: limit },
          ...cycle !== undefined && { cycle },
        },
      )
      : verdict(ids[1], "pass", `open descriptors back to ${n(c.before.fds)} ${when}`, {
        before: c.before.fds,
        after: c.after.fds,
      }),
  ];
}

/** Thread names plugcheck's own threads carry: a plugin thread started from one of them inherits the name. */
const HOST_THREAD_NAMES = new Set(["deno", "tokio-runtime-w"]);

/** Left threads by name, most first, with their first ids: `"flusher" x3 (tids 101, 102, 103)`. */
function summarizeThreads(threads: readonly ThreadInfo[]): string {
  const byName = new Map<string, number[]>();
  if (threads.length === 1 && threads[0]!.cpuMs !== undefined) return describeThread(threads[0] as PluginThread);
  const cpu = new Map<string, number>();
  for (const t of threads) {
    // A thread the helper recorded is named with where it started: `"worker" in libx.so`.
    const key = t.module ? `"${t.name}" in ${t.module.split("/").at(-1)}` : `"${t.name}"`;
    byName.set(key, [...byName.get(key) ?? [], t.tid]);
    if (t.cpuMs !== undefined) cpu.set(key, (cpu.get(key) ?? 0) + t.cpuMs);
  }
  const parts = [...byName].sort((a, b) => b[1].length - a[1].length).slice(0, 4).map(([key, tids]) =>
    `${key}${tids.length > 1 ? ` x${tids.length}` : ""} (tid${tids.length > 1 ? "s" : ""} ${
      tids.slice(0, 3).join(", ")
    }${tids.length > 3 ? ", ..." : ""}${cpu.has(key) ? `; ${Math.round(cpu.get(key)!)} ms CPU` : ""})`
  );
  const inherited = threads.some((t) => HOST_THREAD_NAMES.has(t.name))
    ? "; a thread inherits the name of the thread that started it: name your threads to tell them apart"
    : "";
  return `${parts.join(", ")}${inherited}`;
}

/** New descriptors by what they point to, most first: `/dev/null x37, pipe x2`. */
function summarizeFds(fds: readonly FdInfo[]): string {
  const counts = new Map<string, number>();
  for (const f of fds) {
    const kind = f.target.replace(/:\[\d+\]$/, "");
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, c]) => c > 1 ? `${k} x${c}` : k).join(", ");
}

/** RSS growth beyond the limit, while still growing. */
export function rssVerdict(r: { growthBytes: number; slopePer10k: number; maxMb: number; per: string }): Verdict {
  const evidence = { growth_bytes: r.growthBytes, slope_bytes: Math.round(r.slopePer10k), per: r.per, max_mb: r.maxMb };
  if (r.growthBytes > r.maxMb * 2 ** 20 && r.slopePer10k > 0) {
    const slopeText = `+${r.slopePer10k < 2 ** 20 ? kib(r.slopePer10k) : mib(r.slopePer10k)} per ${r.per}`;
    return verdict(
      "rss_growth",
      "fail",
      `RSS grew ${mib(r.growthBytes)} (more than ${r.maxMb} MiB) and was still growing (${slopeText})`,
      evidence,
    );
  }
  // The slope (in the evidence) is left out of a pass: over a short run it extrapolates noise to 10k calls.
  return verdict("rss_growth", "pass", `RSS grew ${mib(Math.max(0, r.growthBytes))}; limit ${r.maxMb} MiB`, evidence);
}
