/**
 * Errors as plain data and back: one shape, keyed by `code`, for every place
 * an error leaves a process or a program: `--format json` output, the sandbox
 * wire, and the reports later engines write. Keys are snake_case, as in the
 * CLI's JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromData, toData } from "./error_data.ts";
 * import { InvalidInputError } from "./errors.ts";
 * const e = new InvalidInputError("Cannot invoke \"sum\": plugin returned status 1 (INVALID_INPUT): bad", {
 *   operation: "invoke \"sum\"", status: 1, pluginMessage: "bad",
 * });
 * const back = fromData(toData(e));
 * assert.ok(back instanceof InvalidInputError && back.pluginMessage === "bad");
 * ```
 *
 * @module
 */
import {
  AbiMismatchError,
  BufferTooSmallError,
  CallSlotsExhaustedError,
  ContractViolationError,
  HostInternalError,
  InstanceBusyError,
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
  UsageError,
} from "./errors.ts";

/** The cause of an error, as data (causes are often not plugcheck errors). */
export interface CauseData {
  name: string;
  message: string;
  cause?: CauseData;
}

/** An error as data. `code` is a {@link PluginErrorCode}, `USAGE`, or `HOST_INTERNAL` for anything unexpected. */
export interface ErrorData {
  code: string;
  name: string;
  message: string;
  operation?: string;
  status?: number;
  plugin_message?: string;
  details?: unknown;
  signal?: string;
  exit_code?: number;
  stderr_tail?: string;
  /** A crash: the most resident memory the child was seen with, and whether the kernel's OOM killer ended it. */
  peak_rss_bytes?: number;
  out_of_memory?: boolean;
  request?: { kind: string; method?: string };
  timeout_ms?: number;
  plugin_version?: number;
  host_version?: number;
  leaks?: { counter: string; before: number; after: number }[];
  needed?: number;
  cause?: CauseData;
}

const MAX_CAUSES = 8;

function causeData(cause: unknown, depth: number): CauseData | undefined {
  if (cause === undefined || depth >= MAX_CAUSES) return undefined;
  const data: CauseData = cause instanceof Error
    ? { name: cause.name, message: cause.message }
    : { name: "Error", message: String(cause) };
  const next = cause instanceof Error ? causeData(cause.cause, depth + 1) : undefined;
  if (next !== undefined) data.cause = next;
  return data;
}

/** An error as data; anything that is not a plugcheck or usage error is `HOST_INTERNAL`. */
export function toData(error: unknown): ErrorData {
  if (error instanceof UsageError) return { code: "USAGE", name: error.name, message: error.message };
  if (!(error instanceof PluginError)) {
    const data: ErrorData = error instanceof Error
      ? { code: "HOST_INTERNAL", name: error.name, message: error.message }
      : { code: "HOST_INTERNAL", name: "Error", message: String(error) };
    const cause = error instanceof Error ? causeData(error.cause, 0) : undefined;
    if (cause) data.cause = cause;
    return data;
  }
  const out: ErrorData = { code: error.code, name: error.name, message: error.message, operation: error.operation };
  if (error.status !== undefined) out.status = error.status;
  if (error.pluginMessage !== undefined) out.plugin_message = error.pluginMessage;
  if (error.details !== undefined) out.details = error.details;
  if (error instanceof PluginCrashError) {
    if (error.signal !== undefined) out.signal = error.signal;
    if (error.exitCode !== undefined) out.exit_code = error.exitCode;
    if (error.request) {
      out.request = error.request.method === undefined
        ? { kind: error.request.kind }
        : { kind: error.request.kind, method: error.request.method };
    }
    out.stderr_tail = error.stderrTail;
    if (error.peakRssBytes !== undefined) out.peak_rss_bytes = error.peakRssBytes;
    if (error.outOfMemory) out.out_of_memory = true;
  }
  if (error instanceof PluginTimeoutError) out.timeout_ms = error.timeoutMs;
  if (error instanceof AbiMismatchError) {
    out.plugin_version = error.pluginVersion;
    out.host_version = error.hostVersion;
  }
  if (error instanceof ResourceLeakError) out.leaks = error.leaks;
  if (error instanceof BufferTooSmallError) out.needed = error.needed;
  const cause = causeData(error.cause, 0);
  if (cause) out.cause = cause;
  return out;
}

type Plain = new (message: string, init: PluginErrorInit) => PluginError;
const PLAIN: Partial<Record<PluginErrorCode, Plain>> = {
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
  PROTOCOL: SandboxProtocolError,
  DISABLED: PluginDisabledError,
  BUSY: InstanceBusyError,
  HOST_INTERNAL: HostInternalError,
};

function causeFrom(data: CauseData | undefined, depth = 0): Error | undefined {
  if (data === undefined || depth >= MAX_CAUSES) return undefined;
  const next = causeFrom(data.cause, depth + 1);
  const e = new Error(String(data.message), next === undefined ? undefined : { cause: next });
  e.name = String(data.name);
  return e;
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));

/**
 * Rebuilds an error from its data (as another process sent it). An unknown
 * code is a `SandboxProtocolError` naming it: the sender speaks something
 * this host does not know.
 */
export function fromData(data: Partial<ErrorData>): Error {
  const message = typeof data.message === "string" ? data.message : "unknown error";
  if (data.code === "USAGE") return new UsageError(message);
  const init: PluginErrorInit = { operation: typeof data.operation === "string" ? data.operation : "sandbox" };
  if (typeof data.status === "number") init.status = data.status;
  if (typeof data.plugin_message === "string") init.pluginMessage = data.plugin_message;
  if (data.details !== undefined) init.details = data.details;
  const cause = causeFrom(data.cause);
  if (cause !== undefined) init.cause = cause;
  switch (data.code) {
    case "ABI_MISMATCH":
      return new AbiMismatchError(message, {
        ...init,
        pluginVersion: num(data.plugin_version),
        hostVersion: num(data.host_version),
      });
    case "TIMEOUT":
      return new PluginTimeoutError(message, { ...init, timeoutMs: num(data.timeout_ms) });
    case "LEAK":
      return new ResourceLeakError(message, { ...init, leaks: data.leaks ?? [] });
    case "BUFFER_TOO_SMALL":
      return new BufferTooSmallError(message, { ...init, needed: num(data.needed) });
    case "CRASH": {
      const crash: ConstructorParameters<typeof PluginCrashError>[1] = { ...init, stderrTail: data.stderr_tail ?? "" };
      if (data.signal !== undefined) crash.signal = data.signal;
      if (data.exit_code !== undefined) crash.exitCode = data.exit_code;
      if (data.request !== undefined) crash.request = data.request;
      if (data.peak_rss_bytes !== undefined) crash.peakRssBytes = data.peak_rss_bytes;
      if (data.out_of_memory === true) crash.outOfMemory = true;
      return new PluginCrashError(message, crash);
    }
  }
  const Class = PLAIN[data.code as PluginErrorCode];
  if (Class) return new Class(message, init);
  return new SandboxProtocolError(
    `Cannot ${init.operation}: the sandbox child reported an error of unknown kind ${
      JSON.stringify(data.code)
    }: ${message}`,
    init,
  );
}
