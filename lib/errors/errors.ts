/**
 * The typed errors plugcheck raises for plugin failures. They are constructed
 * only in this room: by the guard (`guard.ts`, from what a plugin returned), the
 * host-error factories (`host_errors.ts`) and the leak check (`leak_check.ts`); this
 * file defines the classes and the code union that tells them apart. Turning
 * them into data and back is `error_data.ts`; into text, `format_error.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidInputError, PluginError } from "./errors.ts";
 * const e = new InvalidInputError("Cannot invoke \"sum\": plugin returned status 1 (INVALID_INPUT): bad", {
 *   operation: "invoke \"sum\"",
 *   status: 1,
 *   pluginMessage: "bad",
 * });
 * assert.ok(e instanceof PluginError && e.code === "INVALID_INPUT");
 * ```
 *
 * @module
 */

/** Every condition a plugcheck error can stand for. */
export type PluginErrorCode =
  | "INVALID_INPUT"
  | "UNKNOWN_METHOD"
  | "INTERNAL"
  | "PANIC"
  | "RESOURCE_LIMIT"
  | "UNSUPPORTED"
  | "STATE"
  | "ABI_MISMATCH"
  | "LOAD"
  | "MALFORMED_BUFFER"
  | "CONTRACT_VIOLATION"
  | "TIMEOUT"
  | "WEDGED"
  | "CALL_SLOTS_EXHAUSTED"
  | "CLOSED"
  | "CRASH"
  | "PROTOCOL"
  | "DISABLED"
  | "LEAK"
  | "BUSY"
  | "BUFFER_TOO_SMALL"
  | "HOST_INTERNAL";

/** Facts attached to a plugin error; all optional except the operation. */
export interface PluginErrorInit extends ErrorOptions {
  /** What the host was doing, e.g. `invoke "echo"` or `load`. */
  operation: string;
  /** The raw status the plugin returned, when there was one. */
  status?: number;
  /** The `message` from the plugin's error buffer, when there was one. */
  pluginMessage?: string;
  /** The `details` from the plugin's error buffer, when there were any. */
  details?: unknown;
}

/** Base class of every error plugcheck raises about a plugin. */
export abstract class PluginError extends Error {
  /** Which condition this is; stable across releases. */
  abstract readonly code: PluginErrorCode;
  /** What the host was doing, e.g. `invoke "echo"`. */
  readonly operation: string;
  /** The raw status the plugin returned, if any. */
  readonly status: number | undefined;
  /** The plugin's own message, if it gave one. */
  readonly pluginMessage: string | undefined;
  /** The plugin's `details`, if any. */
  readonly details: unknown;

  constructor(message: string, init: PluginErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.operation = init.operation;
    this.status = init.status;
    this.pluginMessage = init.pluginMessage;
    this.details = init.details;
  }
}

/** Status 1: the plugin rejected the input or config. */
export class InvalidInputError extends PluginError {
  readonly code = "INVALID_INPUT" as const;
}
/** Status 2: the plugin has no method of that name. */
export class UnknownMethodError extends PluginError {
  readonly code = "UNKNOWN_METHOD" as const;
}
/** Status 3: the plugin failed for a reason of its own. */
export class InternalPluginError extends PluginError {
  readonly code = "INTERNAL" as const;
}
/** Status 4: a panic or exception was caught at the plugin boundary. */
export class PluginPanicError extends PluginError {
  readonly code = "PANIC" as const;
}
/** Status 5: a plugin limit was reached (e.g. max_instances). */
export class ResourceLimitError extends PluginError {
  readonly code = "RESOURCE_LIMIT" as const;
}
/** Status 6: the request is valid but the plugin does not support it. */
export class UnsupportedError extends PluginError {
  readonly code = "UNSUPPORTED" as const;
}
/** Status 7: the plugin was called in the wrong lifecycle state. */
export class PluginStateError extends PluginError {
  readonly code = "STATE" as const;
}
/** The plugin speaks a different major ABI version than this host. */
export class AbiMismatchError extends PluginError {
  readonly code = "ABI_MISMATCH" as const;
  /** The plugin's version, `major << 16 | minor`. */
  readonly pluginVersion: number;
  /** The host's version, `major << 16 | minor`. */
  readonly hostVersion: number;
  constructor(message: string, init: PluginErrorInit & { pluginVersion: number; hostVersion: number }) {
    super(message, init);
    this.pluginVersion = init.pluginVersion;
    this.hostVersion = init.hostVersion;
  }
}
/** The library could not be loaded: missing file, not a library, missing symbol, sha256 pin. */
export class LoadError extends PluginError {
  readonly code = "LOAD" as const;
}
/** A plugin buffer was unusable (e.g. a length beyond the host's maximum). */
export class MalformedBufferError extends PluginError {
  readonly code = "MALFORMED_BUFFER" as const;
}
/** The plugin broke a rule of the ABI (unknown status, bad describe(), bad UTF-8, ...). */
export class ContractViolationError extends PluginError {
  readonly code = "CONTRACT_VIOLATION" as const;
}
/** A call outlived its deadline; it may still be running inside the plugin. */
export class PluginTimeoutError extends PluginError {
  readonly code = "TIMEOUT" as const;
  /** The deadline that expired, in milliseconds. */
  readonly timeoutMs: number;
  constructor(message: string, init: PluginErrorInit & { timeoutMs: number }) {
    super(message, init);
    this.timeoutMs = init.timeoutMs;
  }
}
/** The instance was quarantined after a timeout and takes no more calls. */
export class InstanceWedgedError extends PluginError {
  readonly code = "WEDGED" as const;
}
/** Too many nonblocking calls are running or abandoned in this process. */
export class CallSlotsExhaustedError extends PluginError {
  readonly code = "CALL_SLOTS_EXHAUSTED" as const;
}
/** The plugin or instance was already closed by the host. */
export class PluginClosedError extends PluginError {
  readonly code = "CLOSED" as const;
}

/** What was running in a sandbox child when it died. */
export interface InFlightRequest {
  /** `invoke`, `batch`, `create`, `destroy`, `stats`, `close`, or `start`. */
  kind: string;
  method?: string;
  /** The input(s) the call was given; known to the parent before the child ran them. */
  inputs?: Uint8Array[];
}

/** Which call a sandbox child's crash is blamed on, with calls in flight on several lanes. */
export interface CrashBlame {
  /** The call whose thread took the fatal signal, when the child noted one. */
  culprit?: InFlightRequest;
  /** True when a thread that ran no invoke took it (a create or destroy, or a thread of the plugin's own). */
  outsideCall?: boolean;
  /** Every call in flight when the child died (the culprit among them). */
  inFlight: InFlightRequest[];
  /** Heap damage found late (by malloc or free): the crash may come from an earlier call. */
  mayBeEarlier?: boolean;
}

/** The sandbox child died: a signal (SIGSEGV, SIGABRT, ...) or an exit code. */
export class PluginCrashError extends PluginError {
  readonly code = "CRASH" as const;
  /** Signal name that ended the child, if any. */
  readonly signal: string | undefined;
  /** Exit code of the child, if it exited. */
  readonly exitCode: number | undefined;
  /** The last 64 KiB of the child's stderr. */
  readonly stderrTail: string;
  /** The request in flight when it died, if any. */
  readonly request: InFlightRequest | undefined;
  /** Which call is blamed, and what else was in flight (sandbox children with a call board). */
  readonly blame: CrashBlame | undefined;
  /** The most resident memory the child was seen with (bytes), when it was watched. */
  readonly peakRssBytes: number | undefined;
  /** True when the kernel's OOM killer ended the child (it ran out of memory). */
  readonly outOfMemory: boolean;
  constructor(
    message: string,
    init: PluginErrorInit & {
      signal?: string;
      exitCode?: number;
      stderrTail: string;
      request?: InFlightRequest;
      blame?: CrashBlame;
      peakRssBytes?: number;
      outOfMemory?: boolean;
    },
  ) {
    super(message, init);
    this.signal = init.signal;
    this.exitCode = init.exitCode;
    this.stderrTail = init.stderrTail;
    this.request = init.request;
    this.blame = init.blame;
    this.peakRssBytes = init.peakRssBytes;
    this.outOfMemory = init.outOfMemory === true;
  }
}
/** The sandbox child broke the protocol (bad frame, wrong id, early EOF, version). */
export class SandboxProtocolError extends PluginError {
  readonly code = "PROTOCOL" as const;
}
/** The sandboxed plugin crashed too often and is disabled until cleared. */
export class PluginDisabledError extends PluginError {
  readonly code = "DISABLED" as const;
}
/** A counter from npa_plugin_stats did not return to its baseline. */
export class ResourceLeakError extends PluginError {
  readonly code = "LEAK" as const;
  /** Counters that leaked, with their values before and after. */
  readonly leaks: { counter: string; before: number; after: number }[];
  constructor(
    message: string,
    init: PluginErrorInit & { leaks: { counter: string; before: number; after: number }[] },
  ) {
    super(message, init);
    this.leaks = init.leaks;
  }
}
/** A synchronous call on an instance that has an async call running (and is not thread-safe). */
export class InstanceBusyError extends PluginError {
  readonly code = "BUSY" as const;
}
/** `invokeInto`: the output did not fit the caller's buffer (it was freed; nothing was copied). */
export class BufferTooSmallError extends PluginError {
  readonly code = "BUFFER_TOO_SMALL" as const;
  /** The output's length in bytes: a buffer this large would have held it. */
  readonly needed: number;
  constructor(message: string, init: PluginErrorInit & { needed: number }) {
    super(message, init);
    this.needed = init.needed;
  }
}
/** plugcheck itself failed (a bug, reported by a sandbox child): not the plugin's fault. */
export class HostInternalError extends PluginError {
  readonly code = "HOST_INTERNAL" as const;
}

/** A bad command line or argument: printed as one line; exit code 2 in the CLI. Not about the plugin. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
