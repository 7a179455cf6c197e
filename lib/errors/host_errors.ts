/**
 * The host's own failure conditions as typed errors, each made by a function
 * named after what it makes: a library that cannot be loaded
 * ({@link loadError}), an ABI mismatch, a missed deadline
 * ({@link timeoutError}), a wedged instance, exhausted call slots, a closed
 * handle, a crashed sandbox child ({@link crashError}), a protocol breach.
 * Errors from what a plugin returned are the guard's (`guard.ts`); both live
 * in this room so every error plugcheck raises is born in one place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closedError, timeoutError } from "./host_errors.ts";
 * assert.ok(closedError("invoke \"echo\"", "instance").message === 'Cannot invoke "echo": the instance is closed');
 * assert.ok(timeoutError("initialize plugin", 200).timeoutMs === 200);
 * ```
 *
 * @module
 */
import {
  AbiMismatchError,
  BufferTooSmallError,
  CallSlotsExhaustedError,
  ContractViolationError,
  type CrashBlame,
  HostInternalError,
  type InFlightRequest,
  InstanceBusyError,
  InstanceWedgedError,
  LoadError,
  PluginClosedError,
  PluginCrashError,
  PluginDisabledError,
  type PluginErrorInit,
  PluginTimeoutError,
  SandboxProtocolError,
} from "./errors.ts";

/** A library that could not be loaded. */
export function loadError(path: string, reason: string, cause?: unknown): LoadError {
  const init: PluginErrorInit = { operation: "load" };
  if (cause !== undefined) init.cause = cause;
  return new LoadError(`Cannot load plugin ${JSON.stringify(path)}: ${reason}`, init);
}

/** The plugin's major ABI version differs from the host's. */
export function abiMismatchError(path: string, pluginVersion: number, hostVersion: number): AbiMismatchError {
  const v = (n: number) => `${n >>> 16}.${n & 0xffff}`;
  return new AbiMismatchError(
    `Cannot load plugin ${JSON.stringify(path)}: it speaks npa ABI ${v(pluginVersion)}, this host speaks ${
      v(hostVersion)
    } (major versions differ)`,
    { operation: "load", pluginVersion, hostVersion },
  );
}

/** What a missed deadline leaves behind, said in the error (B21: nothing promised that does not follow). */
export const CONSEQUENCES = {
  /** An instance call in process. */
  instance: "the call may still be running, so the instance is quarantined",
  /** A library-wide call in process (init, describe, destroy, shutdown): no instance to quarantine. */
  library: "the call may still be running, so the library stays loaded until it returns",
  /** A create in process: an instance it makes late is destroyed. */
  create: "the call may still be running; an instance it makes late is destroyed",
  /** A sandboxed call: the child is killed. */
  sandbox: "the sandbox child was killed",
} as const;

/** A call outlived its deadline. */
export function timeoutError(
  op: string,
  timeoutMs: number,
  consequence: string = CONSEQUENCES.instance,
): PluginTimeoutError {
  return new PluginTimeoutError(`Cannot ${op}: no reply within ${timeoutMs} ms; ${consequence}`, {
    operation: op,
    timeoutMs,
  });
}

/** A call on an instance quarantined after a timeout (or whose sandbox child died). */
export function wedgedError(op: string, why = "an earlier call timed out"): InstanceWedgedError {
  return new InstanceWedgedError(`Cannot ${op}: the instance is wedged (${why}); create a new instance`, {
    operation: op,
  });
}

/** The sandbox did not shut down within its grace period. */
export function graceExpiredError(op: string, graceMs: number, signal: string): PluginTimeoutError {
  return new PluginTimeoutError(
    `Cannot ${op}: the sandbox child did not finish within the ${graceMs} ms grace (destroy or shutdown is stuck); it was stopped with ${signal}`,
    { operation: op, timeoutMs: graceMs },
  );
}

/** Too many nonblocking calls running or abandoned in this process. */
export function slotsExhaustedError(op: string, limit: number): CallSlotsExhaustedError {
  return new CallSlotsExhaustedError(
    `Cannot ${op}: ${limit} plugin calls are already running or abandoned in this process; wait for them or restart the process`,
    { operation: op },
  );
}

/** A call that must run (destroy, shutdown) found no free call slot within its deadline: it was not made. */
export function slotWaitError(op: string, timeoutMs: number, limit: number): PluginTimeoutError {
  return new PluginTimeoutError(
    `Cannot ${op}: no call slot freed within ${timeoutMs} ms (${limit} plugin calls are running or abandoned in this process); the call was not made`,
    { operation: op, timeoutMs },
  );
}

/** A call on a closed plugin or destroyed instance. */
export function closedError(op: string, what: "plugin" | "instance"): PluginClosedError {
  return new PluginClosedError(`Cannot ${op}: the ${what} is closed`, { operation: op });
}

/** A contract breach found by the host itself (not through a status). */
export function contractViolationError(op: string, what: string): ContractViolationError {
  return new ContractViolationError(`Cannot ${op}: ${what}`, { operation: op });
}

/** How a sandbox child ended. */
export interface ChildExit {
  signal?: string | undefined;
  exitCode?: number | undefined;
  stderrTail: string;
  /** What the parent saw of the child's memory (see `lib/sandbox/memory_watch.ts`). */
  memory?: { peakRssBytes: number | undefined; oomKill: boolean | undefined } | undefined;
}

function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** How a child killed by SIGKILL (not by plugcheck) ran out of memory, or why it may not have. */
function killedHow(exit: ChildExit): string {
  const m = exit.memory;
  if (exit.signal !== "SIGKILL" || m === undefined) return "";
  const rss = m.peakRssBytes === undefined ? "" : `, with ${mib(m.peakRssBytes)} resident at the most`;
  if (m.oomKill) return `: out of memory, the kernel's OOM killer ended it${rss}`;
  const counted = m.oomKill === false ? "; the kernel counted no OOM kill, so something else sent it" : "";
  return `, not by plugcheck${rss}${counted}`;
}

/** True when `a` and `b` are the same call (method and input). */
export function sameCall(a: InFlightRequest | undefined, b: InFlightRequest | undefined): boolean {
  if (a === undefined || b === undefined || a.method !== b.method) return false;
  const x = a.inputs?.[0], y = b.inputs?.[0];
  return x === undefined || y === undefined ? x === y : x.length === y.length && x.every((v, i) => v === y[i]);
}

/** What the blame adds to the message of the crash error for `request`. */
function blameText(blame: CrashBlame | undefined, request: InFlightRequest | undefined): string {
  if (blame === undefined) return "";
  const late = blame.mayBeEarlier ? "; heap damage found late: it may come from an earlier call" : "";
  const c = blame.culprit;
  if (c !== undefined) {
    return (sameCall(c, request) ? "" : `; the call whose thread faulted was invoke ${JSON.stringify(c.method)}`) +
      late;
  }
  const n = blame.inFlight.length;
  if (blame.outsideCall) {
    return `; the faulting thread ran no invoke (a create, a destroy, or a thread of the plugin's own)${late}`;
  }
  return (n > 1 ? `; ${n} calls were in flight, which one faulted is not known` : "") + late;
}

/** The sandbox child died while `op` ran (or between requests). */
export function crashError(
  op: string,
  exit: ChildExit,
  request?: InFlightRequest,
  blame?: CrashBlame,
): PluginCrashError {
  const how = exit.signal
    ? `killed by ${exit.signal}${killedHow(exit)}`
    : `exited with code ${exit.exitCode ?? "unknown"}`;
  // An AddressSanitizer report ends with a legend: its SUMMARY line says what happened.
  // Deno's own panic in the child (e.g. its epoll descriptor replaced by the plugin) says which part of Deno gave up.
  const panic = /^Deno has panicked/m.test(exit.stderrTail)
    ? /^thread '[^']*' \(\d+\) panicked at [^\n]*\n([^\n]+)/m.exec(exit.stderrTail)?.[1]?.trim() ?? ""
    : undefined;
  const summary = /^SUMMARY: (AddressSanitizer: .*)$/m.exec(exit.stderrTail)?.[1] ??
    (panic === undefined
      ? undefined
      : `the Deno runtime in the child panicked${
        panic ? ` (${panic})` : ""
      }: the plugin broke the runtime's own state, e.g. replaced or closed its descriptors`);
  const lastLine = exit.stderrTail.trim().split("\n").at(-1)?.trim();
  const init: PluginErrorInit & ConstructorParameters<typeof PluginCrashError>[1] = {
    operation: op,
    stderrTail: exit.stderrTail,
  };
  if (exit.signal !== undefined) init.signal = exit.signal;
  if (exit.exitCode !== undefined) init.exitCode = exit.exitCode;
  if (request !== undefined) init.request = request;
  if (blame !== undefined) init.blame = blame;
  if (exit.memory?.peakRssBytes !== undefined) init.peakRssBytes = exit.memory.peakRssBytes;
  if (exit.signal === "SIGKILL" && exit.memory?.oomKill) init.outOfMemory = true;
  return new PluginCrashError(
    `Cannot ${op}: the plugin crashed the sandbox child (${how})${
      summary ? `; ${summary}` : lastLine ? `; its last stderr line: ${lastLine}` : ""
    }${blameText(blame, request)}`,
    init,
  );
}

/** How a sandbox child's unloading went wrong (after its CLOSE reply): see `lib/sandbox/stop.ts`. */
export interface UnloadTrouble {
  /** It did not exit within this many ms and was stopped (with `signal`). */
  hungMs?: number;
  signal?: string;
  exitCode?: number;
  /** It said it had unloaded before it ended. */
  unloaded: boolean;
}

/**
 * Unloading a sandboxed plugin failed: its library destructors or atexit
 * handlers hung (`PluginTimeoutError`), or ended the child before it said it
 * had unloaded, by a signal or with any status, 0 included (`PluginCrashError`).
 */
export function unloadError(op: string, how: UnloadTrouble, stderrTail = ""): PluginCrashError | PluginTimeoutError {
  if (how.hungMs !== undefined) {
    return new PluginTimeoutError(
      `Cannot ${op}: the sandbox child did not finish unloading within ${how.hungMs} ms (a library destructor or atexit handler hangs); it was stopped with ${
        how.signal ?? "SIGKILL"
      }`,
      { operation: op, timeoutMs: how.hungMs },
    );
  }
  const ended = how.signal !== undefined
    ? `was killed by ${how.signal}`
    : `exited with code ${how.exitCode ?? "unknown"}`;
  const init: PluginErrorInit & ConstructorParameters<typeof PluginCrashError>[1] = { operation: op, stderrTail };
  if (how.signal !== undefined) init.signal = how.signal;
  if (how.exitCode !== undefined) init.exitCode = how.exitCode;
  return new PluginCrashError(
    how.unloaded
      ? `Cannot ${op}: the sandbox child ${ended} after it had unloaded the plugin`
      : `Cannot ${op}: the sandbox child ${ended} while unloading the plugin (in a library destructor or atexit handler), before it said it had unloaded`,
    init,
  );
}

/** The sandbox child broke the wire protocol. */
export function protocolError(op: string, what: string, cause?: unknown): SandboxProtocolError {
  const init: PluginErrorInit = { operation: op };
  if (cause !== undefined) init.cause = cause;
  return new SandboxProtocolError(`Cannot ${op}: sandbox protocol error: ${what}`, init);
}

/** The sandboxed plugin is disabled after too many crashes. */
export function disabledError(op: string, reason: string): PluginDisabledError {
  return new PluginDisabledError(
    `Cannot ${op}: the plugin is disabled after repeated crashes (${reason}); clear it with enable()`,
    { operation: op },
  );
}

/** A synchronous call on an instance with an async call running (not thread-safe). */
export function busyError(op: string): InstanceBusyError {
  return new InstanceBusyError(
    `Cannot ${op} synchronously: an async call on this instance is still running (the plugin does not declare thread_safe_instances)`,
    { operation: op },
  );
}

/** `invokeInto`: the output did not fit the caller's buffer. */
export function bufferTooSmallError(op: string, needed: number, capacity: number): BufferTooSmallError {
  return new BufferTooSmallError(
    `Cannot ${op}: the output is ${needed} bytes, the buffer holds ${capacity} (output freed, nothing copied)`,
    { operation: op, needed },
  );
}

/** A sandbox child's other requests when it is killed for one that missed its deadline. */
export function childKilledError(op: string, why: string): InstanceWedgedError {
  return new InstanceWedgedError(`Cannot ${op}: the sandbox child was killed because ${why}`, { operation: op });
}

/** plugcheck's own failure inside a sandbox child: never blamed on the plugin. */
export function hostInternalError(op: string, message: string): HostInternalError {
  return new HostInternalError(
    `Cannot ${op}: plugcheck failed inside its sandbox child (a plugcheck bug, not the plugin's fault): ${message}`,
    { operation: op },
  );
}
