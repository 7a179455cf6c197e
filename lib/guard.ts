/**
 * The guard: the only place plugin errors are constructed.
 *
 * After every plugin call the host hands the guard the status and the two
 * out-slots. The guard copies and frees every buffer the plugin handed out
 * (exactly once, through the plugin's own free), records contract warnings,
 * and either returns the output or throws the typed error for that status.
 * The host's own failure conditions (load, ABI, timeouts, wedged instances,
 * exhausted call slots, closed handles) are built here too.
 *
 * @example
 * ```ts
 * import { statusName } from "./guard.ts";
 * console.assert(statusName(1) === "INVALID_INPUT" && statusName(99) === "unknown");
 * ```
 *
 * @module
 */
import type { ZodError } from "zod";
import {
  AbiMismatchError,
  CallSlotsExhaustedError,
  ContractViolationError,
  type InFlightRequest,
  InstanceWedgedError,
  InternalPluginError,
  InvalidInputError,
  LoadError,
  MalformedBufferError,
  PluginClosedError,
  PluginCrashError,
  PluginDisabledError,
  PluginError,
  type PluginErrorCode,
  type PluginErrorInit,
  PluginPanicError,
  PluginStateError,
  PluginTimeoutError,
  ResourceLeakError,
  ResourceLimitError,
  SandboxProtocolError,
  UnknownMethodError,
  UnsupportedError,
} from "./errors.ts";
import { type FreeFn, type RawBuf, takeBuffer, type TakenBuffer } from "./ffi/memory.ts";

/** Status names by code, as in `include/npa.h`. */
export const STATUS_NAMES = [
  "OK",
  "INVALID_INPUT",
  "UNKNOWN_METHOD",
  "INTERNAL",
  "PANIC",
  "RESOURCE_LIMIT",
  "UNSUPPORTED",
  "STATE",
] as const;

type StatusErrorClass = new (message: string, init: PluginErrorInit) => PluginError;
const STATUS_CLASSES: readonly (StatusErrorClass | undefined)[] = [
  undefined,
  InvalidInputError,
  UnknownMethodError,
  InternalPluginError,
  PluginPanicError,
  ResourceLimitError,
  UnsupportedError,
  PluginStateError,
];

/** The ABI name of a status, or `unknown`. */
export function statusName(status: number): string {
  return STATUS_NAMES[status] ?? "unknown";
}

/** What the guard needs from the plugin it guards. */
export interface GuardContext {
  /** The plugin's `npa_buffer_free`. */
  free: FreeFn;
  /** Largest buffer the host will copy, in bytes. */
  maxOutputBytes: number;
  /** Records a contract warning (the call still succeeds). */
  warn: (message: string) => void;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lossy = new TextDecoder();

/** A plugin error buffer, decoded. */
interface ErrorPayload {
  message: string;
  details?: unknown;
  /** Set when the buffer broke the contract (not UTF-8, too long, NULL with length). */
  violation?: string;
}

function readErrorPayload(op: string, raw: RawBuf, ctx: GuardContext): ErrorPayload | undefined {
  const taken = takeBuffer(raw, ctx.free, ctx.maxOutputBytes);
  switch (taken.kind) {
    case "empty":
      return undefined;
    case "null_with_length":
      return { message: "", violation: `error buffer is NULL with length ${taken.len}` };
    case "oversize":
      return {
        message: "",
        violation: `error buffer claims ${taken.len} bytes, more than the ${taken.max}-byte maximum`,
      };
  }
  let text: string;
  try {
    text = utf8.decode(taken.bytes);
  } catch {
    return { message: lossy.decode(taken.bytes), violation: "error buffer is not valid UTF-8" };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      parsed !== null && typeof parsed === "object" && typeof (parsed as { message?: unknown }).message === "string"
    ) {
      const obj = parsed as { message: string; details?: unknown };
      return obj.details === undefined ? { message: obj.message } : { message: obj.message, details: obj.details };
    }
  } catch {
    // fall through: plain text is tolerated
  }
  ctx.warn(`Plugin error buffer for ${op} is not JSON {"message": string}: shown as plain text`);
  return { message: text };
}

/**
 * Checks a finished call: frees the error buffer and throws the typed error
 * for a non-OK status. For an OK status it frees (and warns about) a stray
 * error buffer. Frees a stray `out` buffer on failure when one is given.
 */
export function checkStatus(op: string, status: number, err: RawBuf, ctx: GuardContext, out?: RawBuf): void {
  if (status === 0) {
    if (err.ptr !== 0n) {
      takeBuffer(err, ctx.free, ctx.maxOutputBytes);
      ctx.warn(`Plugin set an error buffer on success for ${op}: freed and ignored`);
    }
    return;
  }
  if (out && out.ptr !== 0n) {
    takeBuffer(out, ctx.free, ctx.maxOutputBytes);
    ctx.warn(`Plugin set an output buffer on failure (status ${status}) for ${op}: freed and ignored`);
  }
  const payload = readErrorPayload(op, err, ctx);
  const name = statusName(status);
  const pluginMessage = payload?.message ?? "";
  const suffix = pluginMessage === "" ? "" : `: ${pluginMessage}`;
  const init: PluginErrorInit = { operation: op, status, pluginMessage };
  if (payload?.details !== undefined) init.details = payload.details;
  if (payload?.violation) {
    throw new ContractViolationError(
      `Cannot ${op}: plugin returned status ${status} (${name}) and its ${payload.violation}${suffix}`,
      init,
    );
  }
  const Class = STATUS_CLASSES[status];
  if (Class === undefined) {
    throw new ContractViolationError(
      `Cannot ${op}: plugin returned status ${status}, which is not an npa status${suffix}`,
      init,
    );
  }
  if (payload === undefined) ctx.warn(`Plugin returned status ${status} (${name}) without an error message for ${op}`);
  throw new Class(`Cannot ${op}: plugin returned status ${status} (${name})${suffix}`, init);
}

/** Copies and frees an output buffer, or throws when it breaks the contract. */
export function takeOutput(op: string, out: RawBuf, ctx: GuardContext): Uint8Array<ArrayBuffer> {
  const taken: TakenBuffer = takeBuffer(out, ctx.free, ctx.maxOutputBytes);
  switch (taken.kind) {
    case "empty":
      return new Uint8Array(0);
    case "bytes":
      return taken.bytes;
    case "null_with_length":
      throw new ContractViolationError(
        `Cannot ${op}: plugin returned a NULL output pointer with length ${taken.len}`,
        { operation: op },
      );
    case "oversize":
      throw new MalformedBufferError(
        `Cannot ${op}: plugin output claims ${taken.len} bytes, more than the ${taken.max}-byte maximum (buffer freed unread)`,
        { operation: op },
      );
  }
}

/** Decodes a buffer the ABI says is UTF-8 JSON (describe, stats). */
export function parseJsonOutput(op: string, bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (cause) {
    throw new ContractViolationError(`Cannot ${op}: plugin output is not valid UTF-8`, { operation: op, cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    const shown = text.length > 80 ? `${text.slice(0, 80)}...` : text;
    throw new ContractViolationError(`Cannot ${op}: plugin output is not valid JSON: ${JSON.stringify(shown)}`, {
      operation: op,
      cause,
    });
  }
}

/** describe() did not match the schema; quotes the first zod issue and its path. */
export function describeInvalid(error: ZodError): ContractViolationError {
  const issue = error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "(root)";
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : "";
  return new ContractViolationError(
    `Cannot describe plugin: describe() JSON is invalid at ${path}: ${issue?.message ?? "invalid"}${more}`,
    { operation: "describe plugin", details: error.issues, cause: error },
  );
}

/** A library that could not be loaded. */
export function loadFailed(path: string, reason: string, cause?: unknown): LoadError {
  const init: PluginErrorInit = { operation: "load" };
  if (cause !== undefined) init.cause = cause;
  return new LoadError(`Cannot load plugin ${JSON.stringify(path)}: ${reason}`, init);
}

/** The plugin's major ABI version differs from the host's. */
export function abiMismatch(path: string, pluginVersion: number, hostVersion: number): AbiMismatchError {
  const v = (n: number) => `${n >>> 16}.${n & 0xffff}`;
  return new AbiMismatchError(
    `Cannot load plugin ${JSON.stringify(path)}: it speaks npa ABI ${v(pluginVersion)}, this host speaks ${
      v(hostVersion)
    } (major versions differ)`,
    { operation: "load", pluginVersion, hostVersion },
  );
}

/** A call outlived its deadline. */
export function timedOut(
  op: string,
  timeoutMs: number,
  consequence = "the call may still be running, so the instance is quarantined",
): PluginTimeoutError {
  return new PluginTimeoutError(`Cannot ${op}: no reply within ${timeoutMs} ms; ${consequence}`, {
    operation: op,
    timeoutMs,
  });
}

/** A call on an instance quarantined after a timeout (or whose sandbox child died). */
export function wedged(op: string, why = "an earlier call timed out"): InstanceWedgedError {
  return new InstanceWedgedError(`Cannot ${op}: the instance is wedged (${why}); create a new instance`, {
    operation: op,
  });
}

/** The sandbox did not shut down within its grace period. */
export function graceExpired(op: string, graceMs: number, signal: string): PluginTimeoutError {
  return new PluginTimeoutError(
    `Cannot ${op}: the sandbox child did not finish within the ${graceMs} ms grace (destroy or shutdown is stuck); it was stopped with ${signal}`,
    { operation: op, timeoutMs: graceMs },
  );
}

/** Too many nonblocking calls running or abandoned in this process. */
export function slotsExhausted(op: string, limit: number): CallSlotsExhaustedError {
  return new CallSlotsExhaustedError(
    `Cannot ${op}: ${limit} plugin calls are already running or abandoned in this process; wait for them or restart the process`,
    { operation: op },
  );
}

/** A call on a closed plugin or destroyed instance. */
export function closed(op: string, what: "plugin" | "instance"): PluginClosedError {
  return new PluginClosedError(`Cannot ${op}: the ${what} is closed`, { operation: op });
}

/** A contract breach found by the host itself (not through a status). */
export function contractViolation(op: string, what: string): ContractViolationError {
  return new ContractViolationError(`Cannot ${op}: ${what}`, { operation: op });
}

/** How a sandbox child ended. */
export interface ChildExit {
  signal?: string | undefined;
  exitCode?: number | undefined;
  stderrTail: string;
}

/** The sandbox child died while `op` ran (or between requests). */
export function crashed(op: string, exit: ChildExit, request?: InFlightRequest): PluginCrashError {
  const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.exitCode ?? "unknown"}`;
  const lastLine = exit.stderrTail.trim().split("\n").at(-1)?.trim();
  const init: PluginErrorInit & ConstructorParameters<typeof PluginCrashError>[1] = {
    operation: op,
    stderrTail: exit.stderrTail,
  };
  if (exit.signal !== undefined) init.signal = exit.signal;
  if (exit.exitCode !== undefined) init.exitCode = exit.exitCode;
  if (request !== undefined) init.request = request;
  return new PluginCrashError(
    `Cannot ${op}: the plugin crashed the sandbox child (${how})${
      lastLine ? `; its last stderr line: ${lastLine}` : ""
    }`,
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
export function disabled(op: string, reason: string): PluginDisabledError {
  return new PluginDisabledError(
    `Cannot ${op}: the plugin is disabled after repeated crashes (${reason}); clear it with enable()`,
    { operation: op },
  );
}

/** Counters that did not return to their baseline, or undefined when none leaked. */
export function leakCheck(
  op: string,
  before: Record<string, number> | null,
  after: Record<string, number> | null,
): ResourceLeakError | undefined {
  if (before === null || after === null) return undefined;
  const leaks = ["live_instances", "live_buffers"]
    .filter((k) => (after[k] ?? 0) > (before[k] ?? 0))
    .map((counter) => ({ counter, before: before[counter] ?? 0, after: after[counter] ?? 0 }));
  if (leaks.length === 0) return undefined;
  const what = leaks.map((l) => `${l.counter} ${l.before} -> ${l.after}`).join(", ");
  return new ResourceLeakError(
    `Plugin leaked during ${op}: ${what} (not back to the count before create once the instance was destroyed and every buffer freed)`,
    {
      operation: op,
      leaks,
    },
  );
}

/** A plugin error as plain JSON, to cross the sandbox boundary. */
export function errorToWire(error: unknown): Record<string, unknown> {
  if (error instanceof PluginError) {
    const wire: Record<string, unknown> = {
      code: error.code,
      message: error.message,
      operation: error.operation,
    };
    if (error.status !== undefined) wire.status = error.status;
    if (error.pluginMessage !== undefined) wire.pluginMessage = error.pluginMessage;
    if (error.details !== undefined) wire.details = error.details;
    for (const k of ["timeoutMs", "pluginVersion", "hostVersion", "leaks"] as const) {
      if (k in error) wire[k] = (error as unknown as Record<string, unknown>)[k];
    }
    return wire;
  }
  return { code: "HOST", message: error instanceof Error ? error.message : String(error), operation: "sandbox child" };
}

const WIRE_CLASSES: Partial<Record<PluginErrorCode, new (message: string, init: PluginErrorInit) => PluginError>> = {
  INVALID_INPUT: InvalidInputError,
  UNKNOWN_METHOD: UnknownMethodError,
  INTERNAL: InternalPluginError,
  PANIC: PluginPanicError,
  RESOURCE_LIMIT: ResourceLimitError,
  UNSUPPORTED: UnsupportedError,
  STATE: PluginStateError,
  LOAD: LoadError,
  MALFORMED_BUFFER: MalformedBufferError,
  CONTRACT_VIOLATION: ContractViolationError,
  WEDGED: InstanceWedgedError,
  CALL_SLOTS_EXHAUSTED: CallSlotsExhaustedError,
  CLOSED: PluginClosedError,
};

/** Rebuilds the typed error a sandbox child reported. */
export function errorFromWire(wire: Record<string, unknown>): PluginError {
  const code = String(wire.code) as PluginErrorCode;
  const message = typeof wire.message === "string" ? wire.message : "unknown error";
  const init: PluginErrorInit = { operation: typeof wire.operation === "string" ? wire.operation : "sandbox" };
  if (typeof wire.status === "number") init.status = wire.status;
  if (typeof wire.pluginMessage === "string") init.pluginMessage = wire.pluginMessage;
  if (wire.details !== undefined) init.details = wire.details;
  switch (code) {
    case "ABI_MISMATCH":
      return new AbiMismatchError(message, {
        ...init,
        pluginVersion: Number(wire.pluginVersion),
        hostVersion: Number(wire.hostVersion),
      });
    case "TIMEOUT":
      return new PluginTimeoutError(message, { ...init, timeoutMs: Number(wire.timeoutMs) });
    case "LEAK":
      return new ResourceLeakError(message, { ...init, leaks: (wire.leaks ?? []) as ResourceLeakError["leaks"] });
  }
  const Class = WIRE_CLASSES[code];
  if (Class) return new Class(message, init);
  return new SandboxProtocolError(`Cannot ${init.operation}: the sandbox child failed: ${message}`, init);
}
