/**
 * How a sandbox child ended, seen from the parent, and the error each
 * caller gets for it. A kill on purpose is recorded with its reason before
 * the process is gone; otherwise the exit status tells: a FATAL frame the
 * child sent makes it `fatal`, a clean exit of a child being closed or
 * reaped ends it so, and anything else is a crash. A request the end
 * interrupted (or that came after it) fails with the matching typed error,
 * a crash carrying the child's stderr tail and the request in flight.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PluginCrashError } from "../errors/errors.ts";
 * import { endError, endFromStatus } from "./child_end.ts";
 * const end = endFromStatus({ success: false, code: 139, signal: "SIGSEGV" }, undefined, undefined, undefined);
 * assert.deepEqual(end, { reason: "crashed", signal: "SIGSEGV" });
 * const error = endError(end, undefined, () => "", "invoke echo", { kind: "invoke", method: "echo" });
 * assert.ok(error instanceof PluginCrashError);
 * assert.equal(error.message, "Cannot invoke echo: the plugin crashed the sandbox child (killed by SIGSEGV)");
 * ```
 *
 * @module
 */
import type { CrashBlame, InFlightRequest } from "../errors/errors.ts";
import type { ProcessGuard } from "../ffi/process_guard.ts";
import { childKilledError, crashError, hostInternalError, protocolError } from "../errors/host_errors.ts";
import type { ChildMemory } from "./memory_watch.ts";
import type { FaultNote } from "./call_board.ts";

/** Why a child ended. */
export type EndReason = "crashed" | "timed_out" | "protocol" | "closed" | "reaped" | "fatal";

/** How a child ended, once it has. */
export interface ChildEnd {
  reason: EndReason;
  signal?: string;
  exitCode?: number;
  /** For a kill on purpose: what caused it. */
  why?: string;
  /** For a crash: what the parent saw of its memory (a SIGKILL with an OOM kill counted ran out of memory). */
  memory?: ChildMemory;
}

/** A process the plugin left in the child's group. */
export interface Leftover {
  pid: number;
  name: string;
}

/**
 * The end of a child that exited with `status`: `recorded` (a kill on
 * purpose) given the status's signal or exit code, else told from the
 * status, the child's FATAL message (`fatal`) and why it was retired.
 */
export function endFromStatus(
  status: Deno.CommandStatus,
  recorded: ChildEnd | undefined,
  fatal: string | undefined,
  retired: EndReason | undefined,
  memory?: ChildMemory,
): ChildEnd {
  const clean = status.code === 0 && !status.signal;
  const end: ChildEnd = recorded ??
    {
      reason: fatal !== undefined ? "fatal" : retired !== undefined && clean ? retired : "crashed",
    };
  if (status.signal) end.signal = status.signal;
  else end.exitCode = status.code;
  if (end.reason === "crashed" && memory !== undefined) end.memory = memory;
  return end;
}

/** glibc's words when malloc or free finds the heap damaged: damage done earlier, maybe by an earlier call. */
const HEAP_DAMAGE =
  /^(free\(\)|malloc\(\)|realloc\(\)|munmap_chunk\(\)|double free|corrupted |malloc_consolidate\(\))/m;

/**
 * Which call a crash is blamed on: the call whose thread took the fatal
 * signal (`note`, from the child's call board), every call `inFlight` at the
 * end (one per request: a batch's is the call it was on), and whether the
 * crash is heap damage found late (glibc's words in `stderrTail`), which may
 * come from an earlier call. Undefined for an `end` that is no crash, and
 * when there is nothing to say (no note and at most one call in flight).
 */
export function blameOf(
  end: ChildEnd,
  note: FaultNote | undefined,
  inFlight: readonly InFlightRequest[],
  stderrTail: string,
): CrashBlame | undefined {
  if (end.reason !== "crashed") return undefined;
  const calls = inFlight.filter((r) => r.method !== undefined);
  const late = HEAP_DAMAGE.test(stderrTail);
  if (note === undefined && calls.length <= 1 && !late) return undefined;
  const blame: CrashBlame = { inFlight: calls };
  if (note?.call !== undefined) blame.culprit = note.call;
  else if (note !== undefined) blame.outsideCall = true;
  if (late) blame.mayBeEarlier = true;
  return blame;
}

/** The error for a request (`op`, `inFlight`) the child's end interrupted, or that came after it. */
export function endError(
  end: ChildEnd,
  fatal: string | undefined,
  stderrTail: () => string,
  op: string,
  inFlight: InFlightRequest | undefined,
  blame?: CrashBlame,
): Error {
  if (fatal !== undefined) return hostInternalError(op, fatal);
  if (end.reason === "crashed") {
    return crashError(
      op,
      { signal: end.signal, exitCode: end.exitCode, stderrTail: stderrTail(), memory: end.memory },
      inFlight,
      blame,
    );
  }
  if (end.why !== undefined) return childKilledError(op, end.why);
  return protocolError(op, `the child ended (${end.reason}) before replying`);
}

/**
 * Lists what is left of a child's process group but the child itself (still
 * dying when its launcher was killed), then ends the group (SIGKILL).
 */
export function endGroup(guard: ProcessGuard, pid: number): Leftover[] {
  const pids = guard.processes("group", pid).filter((p) => p !== pid);
  const left = pids.map((p) => ({ pid: p, name: guard.processName(p) }));
  if (pids.length > 0) {
    try {
      Deno.kill(-pid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  }
  return left;
}

/**
 * The plugin's leftovers once the child is gone: what the launcher ended
 * (everything the child left, as its report lists them), and what is left of
 * the child's group should the launcher itself have been killed.
 */
export function leftoversOf(
  guard: ProcessGuard,
  ended: readonly { pid: number; name: string }[],
  childPid: number | undefined,
): Leftover[] {
  const seen = new Set(ended.map((p) => p.pid));
  const group = childPid === undefined ? [] : endGroup(guard, childPid);
  return [...ended, ...group.filter((p) => !seen.has(p.pid))];
}

/**
 * Sends `sig` to a sandbox child under its `launcher`. SIGTERM and SIGKILL
 * end the child and every process it started: the launcher, sent SIGTERM
 * (after SIGCONT, should the plugin have stopped it), kills them all, and
 * SIGKILL also goes to the child's group at once. Any other signal goes to
 * the child's group (nowhere before the child said its pid).
 */
export function signalChild(launcher: Deno.ChildProcess, childPid: number | undefined, sig: Deno.Signal): void {
  const ending = sig === "SIGTERM" || sig === "SIGKILL";
  if (ending) {
    for (const s of ["SIGCONT", "SIGTERM"] as const) {
      try {
        launcher.kill(s);
      } catch {
        // already gone
      }
    }
  }
  if (childPid === undefined || (ending && sig !== "SIGKILL")) return;
  try {
    Deno.kill(-childPid, sig);
  } catch {
    // already gone
  }
}

/**
 * What a child's plugin left running, right now: the rest of the child's
 * group (its forks), and the processes its launcher adopted (daemons: a
 * double fork with setsid leaves the group, and orphans go to the launcher,
 * a subreaper). The child itself is not counted.
 */
export function leftNow(guard: ProcessGuard, pid: number, launcherPid: number): Leftover[] {
  const pids = new Set([...guard.processes("group", pid), ...guard.processes("children", launcherPid)]);
  pids.delete(pid);
  return [...pids].map((p) => ({ pid: p, name: guard.processName(p) }));
}
