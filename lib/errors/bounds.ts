/**
 * Bounds on what a plugin may hand the host as text or JSON. The guard
 * passes every error message and `details` value through these, so every
 * later path (text, JSON, the sandbox wire, reports) sees bounded data: a
 * plugin that nests `details` two million levels deep or writes a 4 MB message
 * gets a visible marker and a contract warning, never a stack overflow.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { boundDetails, boundMessage } from "./bounds.ts";
 * assert.ok(boundMessage("x".repeat(10_000)).text.endsWith("[truncated: 1808 more characters]"));
 * assert.ok(boundDetails(JSON.parse("[".repeat(40) + "]".repeat(40))).problem !== undefined);
 * ```
 *
 * @module
 */

/** Longest plugin message kept, in UTF-16 code units. */
export const MAX_MESSAGE_CHARS = 8192;
/** Deepest `details` nesting kept. */
export const MAX_DETAILS_DEPTH = 32;
/** Largest `details` kept, in characters of its JSON text. */
export const MAX_DETAILS_CHARS = 16 * 1024;

/** A message cut to {@link MAX_MESSAGE_CHARS}, with a marker saying how much is gone. */
export function boundMessage(text: string): { text: string; truncated: boolean } {
  if (text.length <= MAX_MESSAGE_CHARS) return { text, truncated: false };
  const rest = text.length - MAX_MESSAGE_CHARS;
  return { text: `${text.slice(0, MAX_MESSAGE_CHARS)}... [truncated: ${rest} more characters]`, truncated: true };
}

/** Depth of a JSON value, walked without recursion; stops counting past `limit`. */
function depthOver(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

/**
 * `details` if it is within bounds; otherwise a marker string in its place
 * and the reason (for a contract warning).
 */
export function boundDetails(details: unknown): { value: unknown; problem: string | undefined } {
  if (depthOver(details, MAX_DETAILS_DEPTH)) {
    const problem = `details nest deeper than ${MAX_DETAILS_DEPTH} levels`;
    return { value: `[details omitted: ${problem}]`, problem };
  }
  const size = JSON.stringify(details)?.length ?? 0;
  if (size > MAX_DETAILS_CHARS) {
    const problem = `details are ${size} characters of JSON, more than ${MAX_DETAILS_CHARS}`;
    return { value: `[details omitted: ${problem}]`, problem };
  }
  return { value: details, problem: undefined };
}
