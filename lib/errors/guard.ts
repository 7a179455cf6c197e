/**
 * The guard: the only place plugin errors are constructed.
 *
 * After every plugin call the host hands the guard the status and the two
 * out-slots. The guard copies and frees every buffer the plugin handed out
 * (exactly once, through the plugin's own free), records contract warnings,
 * and either returns the output or throws the typed error for that status.
 * The host's own failure conditions (load, ABI, timeouts, wedged instances,
 * exhausted call slots, closed handles) are built beside it, in
 * `host_errors.ts`. Everything a
 * plugin supplies is bounded first (`bounds.ts`), so no later path sees more
 * than a bounded message and bounded `details`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusName } from "./guard.ts";
 * assert.ok(statusName(1) === "INVALID_INPUT" && statusName(99) === "unknown");
 * ```
 *
 * @module
 */
import type { ZodError } from "../util/zod.ts";
import {
  ContractViolationError,
  InternalPluginError,
  InvalidInputError,
  MalformedBufferError,
  type PluginError,
  type PluginErrorInit,
  PluginPanicError,
  PluginStateError,
  ResourceLimitError,
  UnknownMethodError,
  UnsupportedError,
} from "./errors.ts";
import { boundDetails, boundMessage, MAX_PARSE_DEPTH, nestsDeeper, topLevelMessage } from "./bounds.ts";
import { type FreeFn, type RawBuf, takeBuffer, type TakenBuffer } from "../ffi/memory.ts";

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
  /**
   * Takes a buffer (a non-NULL one) over for the guard, when something else
   * already did: a fork server's worker copies and frees the buffers of a
   * call in its own process, and the guard judges what it sent (default:
   * `takeBuffer` with `free` and `maxOutputBytes`). A NULL buffer is never
   * read or freed, so `takeBuffer` says what it is either way.
   */
  take?: (raw: RawBuf) => TakenBuffer;
}

function take(raw: RawBuf, ctx: GuardContext): TakenBuffer {
  return ctx.take !== undefined && raw.ptr !== 0n ? ctx.take(raw) : takeBuffer(raw, ctx.free, ctx.maxOutputBytes);
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
  const taken = take(raw, ctx);
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
    const shown = boundMessage(lossy.decode(taken.bytes)).text;
    return { message: shown, violation: "error buffer is not valid UTF-8" };
  }
  let payload: ErrorPayload | undefined;
  if (nestsDeeper(text, MAX_PARSE_DEPTH)) {
    // Never parsed whole: its parse alone would be seconds of plugcheck's time inside the plugin's deadline.
    const message = topLevelMessage(text);
    const problem = `the error nests deeper than ${MAX_PARSE_DEPTH} levels`;
    ctx.warn(`Plugin error details for ${op} were omitted: ${problem}`);
    if (message !== undefined) return bounded(op, { message, details: `[details omitted: ${problem}]` }, ctx);
  } else {
    try {
      const parsed: unknown = JSON.parse(text);
      if (
        parsed !== null && typeof parsed === "object" && typeof (parsed as { message?: unknown }).message === "string"
      ) {
        const obj = parsed as { message: string; details?: unknown };
        payload = obj.details === undefined ? { message: obj.message } : { message: obj.message, details: obj.details };
      }
    } catch {
      // fall through: plain text is tolerated
    }
  }
  if (payload === undefined) {
    ctx.warn(`Plugin error buffer for ${op} is not JSON {"message": string}: shown as plain text`);
    payload = { message: text };
  }
  return bounded(op, payload, ctx);
}

/** The payload with its message and details within `bounds.ts` limits (a contract warning when cut). */
function bounded(op: string, payload: ErrorPayload, ctx: GuardContext): ErrorPayload {
  const message = boundMessage(payload.message);
  if (message.truncated) ctx.warn(`Plugin error message for ${op} was cut to its first 8192 characters`);
  const out: ErrorPayload = { message: message.text };
  if (payload.details !== undefined) {
    const details = boundDetails(payload.details);
    if (details.problem) ctx.warn(`Plugin error details for ${op} were omitted: ${details.problem}`);
    out.details = details.value;
  }
  return out;
}

/**
 * Checks a finished call: frees the error buffer and throws the typed error
 * for a non-OK status. For an OK status it frees (and warns about) a stray
 * error buffer. Frees a stray `out` buffer on failure when one is given.
 */
export function checkStatus(op: string, status: number, err: RawBuf, ctx: GuardContext, out?: RawBuf): void {
  if (status === 0) {
    if (err.ptr !== 0n) {
      take(err, ctx);
      ctx.warn(`Plugin set an error buffer on success for ${op}: freed and ignored`);
    }
    return;
  }
  if (out && out.ptr !== 0n) {
    take(out, ctx);
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
  const taken: TakenBuffer = take(out, ctx);
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

const ISSUES_SHOWN = 3;

/**
 * describe() did not match the schema; names each issue by its path (the
 * first three, then how many more), once: no raw zod dump after it.
 */
export function describeInvalid(error: ZodError): ContractViolationError {
  const at = (i: ZodError["issues"][number]) => (i.path.length > 0 ? i.path.map(String).join(".") : "(root)");
  const [first, ...rest] = error.issues;
  let text = `invalid at ${first ? `${at(first)}: ${first.message}` : "(root): invalid"}`;
  for (const i of rest.slice(0, ISSUES_SHOWN - 1)) text += `; at ${at(i)}: ${i.message}`;
  if (rest.length >= ISSUES_SHOWN) text += ` (and ${rest.length - ISSUES_SHOWN + 1} more)`;
  return new ContractViolationError(`Cannot describe plugin: describe() JSON is ${text}`, {
    operation: "describe plugin",
  });
}
