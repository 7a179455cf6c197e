/**
 * What a fuzz finding is and how one bug is told from another. A finding is
 * born either in the child (a PANIC status, a broken contract, a leak: the
 * child lives on and sends it) or in the parent, from a child's death: the
 * input in flight comes from the input file, where it happened from the
 * crash record (or the AddressSanitizer report on the child's stderr, or a
 * Rust panic message there), what it was from the exit status.
 *
 * One bug, one key: the kind's class (`memory` for a sanitizer's report,
 * `abort`, `signal` for the other fatal signals) and where it happened: the
 * first frame inside the plugin (module+offset; ASan's own label, which
 * names one write `heap-buffer-overflow` or `unknown-crash` by where the
 * buffer ends, is not part of it). A stack overflow is keyed by the frames
 * its recursion repeats; a Rust panic by its file:line; findings without
 * frames by the method and the error code and message with numbers and
 * quoted text blanked; a hang by its method alone (one hang in one method is
 * one finding), and so is heap damage glibc found (where it noticed is not
 * where the bug wrote). glibc's words when it aborts (`free(): invalid
 * pointer`) become part of the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeMessage } from "./finding.ts";
 * assert.ok(normalizeMessage('Bad byte 7 at "x"') === "Bad byte N at S");
 * ```
 *
 * @module
 */
import type { ErrorData } from "../../errors/error_data.ts";
import type { AsanFrame, AsanReport } from "./asan_report.ts";
import { ASAN_STACK_FRAMES, asanFrameText, asanMessage, summarySymbolized } from "./asan_stack.ts";
import type { CrashRecord, CurrentInput, FileFrame, FindingEvent } from "../wire.ts";

/** What kind of bug a finding is. */
export type FindingKind = "crash" | "abort" | "panic" | "exit" | "timeout" | "oom" | "leak" | "contract";

/** Every finding kind, in report order. */
export const FINDING_KINDS: readonly FindingKind[] = [
  "crash",
  "abort",
  "panic",
  "exit",
  "timeout",
  "oom",
  "leak",
  "contract",
];

/** The artifact prefix of a kind (libFuzzer's names: crash-, timeout-, oom-, leak-). */
export function artifactPrefix(kind: FindingKind): "crash" | "timeout" | "oom" | "leak" {
  return kind === "timeout" || kind === "oom" || kind === "leak" ? kind : "crash";
}

/** A finding as it arrives, before deduplication. */
export interface FindingCandidate {
  kind: FindingKind;
  /** The method the input was for (the harness's entry point for a libFuzzer target). */
  method: string;
  input: Uint8Array;
  /** What one bug shares (see the module docs). */
  key: string;
  /** One line saying what happened. */
  message: string;
  signal?: string;
  exitCode?: number;
  /** The typed error a child-side finding is (toData form). */
  error?: ErrorData | Record<string, unknown>;
  /** Contract warnings the guard recorded. */
  warnings?: string[];
  /** Where it happened: the crashed (or hung) thread's frames, innermost first. */
  frames?: FileFrame[];
  /** The faulting address, for a fault (hex). */
  address?: string;
  asan?: Pick<AsanReport, "errorType" | "summary" | "access" | "location"> & { frames: string[] };
  /** The report's first stack as parsed (the parent symbolizes it: asan_stack.ts). */
  asanStack?: AsanFrame[];
  panic?: { location: string; message: string };
  /** The end of the child's stderr (a crash's own report is there). */
  stderrTail?: string;
  /** A hang killed at the shorter deadline of a method known to hang (counted; never replaces the kept input). */
  cutShort?: true;
  /** Executions of the job when it happened. */
  execs: number;
  job: number;
}

/** Common signal numbers (Linux) and their names. */
const SIGNALS: Record<number, string> = {
  4: "SIGILL",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  11: "SIGSEGV",
  15: "SIGTERM",
};

/** A signal's name by number. */
export function signalName(n: number): string {
  return SIGNALS[n] ?? `signal ${n}`;
}

/** A message with numbers and quoted text blanked (so `at 5` and `at 7` are one bug), cut to 120 characters. */
export function normalizeMessage(message: string): string {
  return message.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, "S").replace(/\d+/g, "N").slice(0, 120);
}

/** Frames inside the plugin a key names: the first (where it happened; its callers may vary for one bug). */
const TOP_FRAMES = 1;

const baseName = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** True when a frame's module is the plugin at `module`: the same path, or the same file name (a private copy). */
export function inModule(frameModule: string | undefined, module: string): boolean {
  return frameModule !== undefined && (frameModule === module || baseName(frameModule) === baseName(module));
}

/** The frames inside `module` (the plugin), or every frame when none is. */
export function pluginFrames<T extends { module: string }>(frames: readonly T[], module: string): T[] {
  const inside = frames.filter((f) => inModule(f.module, module));
  return inside.length > 0 ? inside : [...frames];
}

/**
 * A stack split where the plugin's first frame is: the runtime frames above
 * it (libc's abort, the sanitizer runtime, plugcheck's helper), and the
 * frames from it on, which lead. All of them lead when none is the plugin's.
 */
export function splitAtPlugin<T extends { module: string }>(frames: readonly T[], module: string): {
  runtime: T[];
  plugin: T[];
} {
  const at = frames.findIndex((f) => inModule(f.module, module));
  return at <= 0 ? { runtime: [], plugin: [...frames] } : { runtime: frames.slice(0, at), plugin: frames.slice(at) };
}

const frameName = (f: FileFrame) => `${baseName(f.module)}+0x${f.offset.toString(16)}`;

/**
 * The top frames inside the plugin, as a key. A crash whose stack was deeper
 * than the record (`bottomless`: plugcheck's own loop is not in it) inside a
 * recursion (a return address seen twice below the top frame) is a stack
 * overflow: it is keyed by the return addresses that repeat, since the depth
 * and the instruction it faulted at vary from input to input while the bug
 * does not.
 */
function frameKey(frames: readonly FileFrame[], module: string, bottomless = false): string {
  const inside = pluginFrames(frames, module);
  if (!bottomless) return inside.slice(0, TOP_FRAMES).map(frameName).join(",");
  const seen = new Map<string, number>();
  for (const f of inside.slice(1)) seen.set(frameName(f), (seen.get(frameName(f)) ?? 0) + 1);
  const cycle = [...seen].filter(([, n]) => n > 1).map(([name]) => name).sort();
  if (cycle.length > 0) return `recursion:${cycle.join(",")}`;
  return inside.slice(0, TOP_FRAMES).map(frameName).join(",");
}

/** The end of a child, as the parent saw it. */
export interface ChildDeath {
  signal?: string | undefined;
  exitCode?: number | undefined;
  /** The parent killed it: a hang (no progress for the timeout) or RSS over the limit. */
  killedFor?: "timeout" | "oom" | undefined;
  /** For a hang: the deadline it was killed at (shorter than the timeout for a method known to hang). */
  hangMs?: number | undefined;
  current: CurrentInput | undefined;
  crash: CrashRecord | undefined;
  hangFrames: FileFrame[];
  stderrTail: string;
  /** A fork server's worker lost its server (its parent) while it ran: no end of its own is known. */
  hostGone?: boolean | undefined;
}

/** What the parent knows of the run a death happened in. */
export interface DeathContext {
  pluginPath: string;
  /** plugcheck's native helper: frames from its fuzz loop on are plugcheck's and Deno's, not the plugin's. */
  hostModule: string;
  methods: readonly string[];
  job: number;
  execs: number;
  timeoutMs: number;
  rssLimitMb: number;
  parseAsan: (text: string) => AsanReport | undefined;
}

/** The frames before the first one in plugcheck's helper (its fuzz loop called the plugin). */
function untilHost(frames: readonly FileFrame[], host: string): FileFrame[] {
  const at = frames.findIndex((f, i) => i > 0 && f.module === host);
  return at < 0 ? [...frames] : frames.slice(0, at);
}

/** How glibc's lines begin when malloc or free finds the heap damaged (done earlier, maybe by an earlier input). */
const HEAP_WORDS = String
  .raw`free\(\)|malloc\(\)|realloc\(\)|munmap_chunk\(\)|double free|corrupted |malloc_consolidate\(\)`;
const HEAP_DAMAGE = new RegExp(`^(${HEAP_WORDS})`, "m");
/** A line glibc writes before it aborts: the heap checks' words, a failed assert(), a fortify check. */
const GLIBC_ABORT = new RegExp(
  String.raw`^(?:(?:${HEAP_WORDS}|_int_\w+\(\)|tcache_|fastbin)[^\n]*|[^\n]*: Assertion ` +
    String.raw`\x60[^\n]*' failed\.|\*\*\* [^\n]*terminated(?: \*\*\*)?)$`,
  "m",
);

/** The last line glibc wrote before it aborted, in `stderr` (undefined when none is there). */
export function glibcAbortMessage(stderr: string): string | undefined {
  let last: string | undefined;
  for (const line of stderr.split("\n")) if (GLIBC_ABORT.test(line.trim())) last = line.trim();
  return last?.slice(0, 200);
}

/** The first ASan frame inside the plugin, as `<module base name>+<offset>` (where it happened). */
function asanPluginFrame(asan: AsanReport, module: string): string | undefined {
  const f = asan.frames.find((f) => inModule(f.module, module));
  return f?.offset !== undefined ? `${baseName(module)}+${f.offset}` : undefined;
}

const PANIC = /thread '[^']*' panicked at ([^\n]+?:\d+)(?::\d+)?:\n([^\n]*)/g;

/** The last Rust panic message in `text`: where and what. */
function lastPanic(text: string): { location: string; message: string } | undefined {
  let last: RegExpExecArray | undefined;
  for (const m of text.matchAll(PANIC)) last = m;
  return last ? { location: last[1]!, message: last[2]! } : undefined;
}

/**
 * The finding a child's death is, or undefined when it was none of the
 * plugin's doing (no input was running and nothing was recorded).
 */
export function deathFinding(d: ChildDeath, c: DeathContext): FindingCandidate | undefined {
  const current = d.current;
  if (current === undefined) return undefined;
  const method = c.methods[current.method] ?? c.methods[0] ?? "?";
  const base = {
    method,
    input: current.bytes,
    execs: c.execs,
    job: c.job,
    stderrTail: d.stderrTail.slice(-8192),
  };
  const where = current.inCall
    ? `during invoke ${JSON.stringify(method)}`
    : `between calls of ${JSON.stringify(method)}`;
  // A child killed at the deadline while it was dying of something else (its crash recorder ran, or its sanitizer
  // finished a report: symbolizing and printing take long on a loaded machine) died of that: a crash, not a hang.
  const asan = c.parseAsan(d.stderrTail);
  const dying = d.crash !== undefined || (asan !== undefined && /^SUMMARY: AddressSanitizer/m.test(d.stderrTail));
  if (d.killedFor === "timeout" && !dying) {
    // One hang per method: where a stuck thread happens to be when asked (a loop, a signal handler it
    // keeps entering) says nothing about which bug it is.
    const frames = untilHost(d.hangFrames, c.hostModule);
    const ms = d.hangMs ?? c.timeoutMs;
    return {
      ...base,
      kind: "timeout",
      key: `timeout:${method}`,
      message: ms < c.timeoutMs
        ? `no return from invoke ${JSON.stringify(method)} within ${ms} ms (cut short: it hung before)`
        : `no return from invoke ${JSON.stringify(method)} within ${c.timeoutMs} ms`,
      ...frames.length > 0 && { frames },
      ...ms < c.timeoutMs && { cutShort: true as const },
    };
  }
  if (d.killedFor === "oom") {
    return {
      ...base,
      kind: "oom",
      key: `oom:${method}`,
      message: `the child's RSS went over ${c.rssLimitMb} MiB ${where}`,
    };
  }
  const crash = d.crash;
  // Killed by the watch, a dying child's signal is its own (the recorder's), not the watch's SIGKILL.
  const signal = crash !== undefined && (d.killedFor !== undefined || d.signal === undefined)
    ? signalName(crash.signal)
    : d.signal;
  const frames = untilHost(crash?.frames ?? [], c.hostModule);
  const bottomless = frames.length > 1 && frames.length === crash?.frames.length;
  const located = {
    ...frames.length > 0 && { frames },
    ...crash && crash.siCode > 0 && { address: `0x${crash.address.toString(16)}` },
  };
  if (asan) {
    const at = asanPluginFrame(asan, c.pluginPath);
    // A symbolized summary names the function (` in parse`); an unsymbolized one only a module+offset.
    const message = summarySymbolized(asan.summary)
      ? `AddressSanitizer: ${asan.summary.replace(/^AddressSanitizer: /, "")}`
      : asanMessage(asan, at, "at");
    return {
      ...base,
      ...located,
      kind: "crash",
      ...signal !== undefined && { signal },
      key: `memory:${at ?? asan.location ?? (frameKey(frames, c.pluginPath, bottomless) || method)}`,
      message,
      asanStack: asan.frames,
      asan: {
        errorType: asan.errorType,
        summary: asan.summary,
        ...asan.access !== undefined && { access: asan.access },
        ...asan.location !== undefined && { location: asan.location },
        frames: asan.frames.slice(0, ASAN_STACK_FRAMES).map(asanFrameText),
      },
    };
  }
  if (signal !== undefined) {
    const panic = signal === "SIGABRT" ? lastPanic(d.stderrTail) : undefined;
    if (panic) {
      return {
        ...base,
        ...located,
        kind: "panic",
        signal,
        key: `panic:${panic.location}`,
        message: `a Rust panic unwound to the ABI boundary and aborted (${panic.message}) ${where}`,
        panic,
      };
    }
    const kind = signal === "SIGABRT" ? "abort" : "crash";
    const said = signal === "SIGABRT" ? glibcAbortMessage(d.stderrTail) : undefined;
    // The input in flight is the culprit only when the call's own thread faulted, and found the damage it did.
    const doubt = crash !== undefined && !crash.loopThread
      ? "; on a thread other than the call's (the plugin's own): it may come from an earlier input"
      : HEAP_DAMAGE.test(d.stderrTail)
      ? "; heap damage found late: it may come from an earlier input"
      : "";
    return {
      ...base,
      ...located,
      kind,
      signal,
      // Heap damage glibc found is keyed by method: where glibc noticed it (the next malloc or free) is not where
      // the bug wrote, and varies with the inputs before.
      key: kind === "abort" && HEAP_DAMAGE.test(d.stderrTail)
        ? `abort:heap-damage:${method}`
        : `${kind === "abort" ? "abort" : "signal"}:${frameKey(frames, c.pluginPath, bottomless) || method}`,
      message: `killed by ${signal} ${where}${said ? `: ${said}` : ""}${doubt}`,
    };
  }
  if (d.hostGone === true && d.exitCode === undefined) {
    return {
      ...base,
      kind: "crash",
      key: `host-gone:${method}`,
      message: `the fuzz fork server, the worker's parent, ended ${where}: the plugin killed the process that ` +
        `started its own, or took it down`,
    };
  }
  if (d.exitCode !== undefined) {
    return {
      ...base,
      kind: "exit",
      exitCode: d.exitCode,
      key: `exit:${method}:${d.exitCode}`,
      message: `the plugin ended its process with exit code ${d.exitCode} ${where} (exit() or _exit())`,
    };
  }
  return undefined;
}

/** A finding the child judged itself (a PANIC status, a broken contract, a leak). */
export function childFinding(e: FindingEvent, input: Uint8Array, job: number, execsBefore: number): FindingCandidate {
  const base = { method: e.method, input, execs: execsBefore + e.execs, job };
  if (e.kind === "leak") {
    return {
      ...base,
      kind: "leak",
      key: `leak:${e.method}:${e.counter}`,
      message: `${e.counter} rose from ${e.before} to ${e.after} after invoke ${JSON.stringify(e.method)}`,
    };
  }
  const error = e.error ?? {};
  const code = String(error.code ?? "CONTRACT_VIOLATION");
  const warning = e.warnings?.[0];
  const message = typeof error.message === "string" && (e.kind === "panic" || warning === undefined)
    ? error.message
    : warning ?? String(error.message ?? "a contract warning");
  return {
    ...base,
    kind: e.kind,
    key: `${e.kind}:${e.method}:${code}:${normalizeMessage(message)}`,
    message,
    error,
    ...e.warnings?.length && { warnings: e.warnings },
  };
}
