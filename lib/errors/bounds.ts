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
 * import { boundDetails, boundMessage, MAX_PARSE_DEPTH, nestsDeeper, topLevelMessage } from "./bounds.ts";
 * assert.ok(boundMessage("x".repeat(10_000)).text.endsWith("[truncated: 1808 more characters]"));
 * assert.ok(boundDetails(JSON.parse("[".repeat(40) + "]".repeat(40))).problem !== undefined);
 * const deep = '{"message":"deep","details":' + "[".repeat(5000) + "]".repeat(5000) + "}";
 * assert.ok(nestsDeeper(deep, MAX_PARSE_DEPTH) && topLevelMessage(deep) === "deep");
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

/**
 * Deepest nesting of an error document that is handed to `JSON.parse` at
 * all: two million levels cost it seconds of plugcheck's own time, which
 * would count against the plugin's deadline.
 */
export const MAX_PARSE_DEPTH = 1024;

/** Index of the closing quote of the JSON string that opens at `start` (the text's end when there is none). */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++; // a backslash escapes the next character
    else if (c === 34) return i;
  }
  return text.length;
}

/** The JSON string literal at `start` decoded, or undefined. */
function stringAt(text: string, start: number): string | undefined {
  if (text[start] !== '"') return undefined;
  try {
    const v: unknown = JSON.parse(text.slice(start, stringEnd(text, start) + 1));
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** True when `text` (JSON or not) nests arrays and objects deeper than `limit` outside strings. */
export function nestsDeeper(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) i = stringEnd(text, i);
    else if ((c === 91 || c === 123) && ++depth > limit) return true;
    else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/**
 * The string value of the top-level `"message"` key of a JSON object text,
 * read without parsing the rest (for a document too deep to parse), or
 * undefined.
 */
export function topLevelMessage(text: string): string | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) depth++;
    else if (c === 93 || c === 125) depth--;
    else if (c === 34) {
      const end = stringEnd(text, i);
      if (depth === 1 && stringAt(text, i) === "message") {
        let j = end + 1;
        while (/\s/.test(text[j] ?? "")) j++;
        if (text[j] === ":") {
          j++;
          while (/\s/.test(text[j] ?? "")) j++;
          return stringAt(text, j);
        }
      }
      i = end;
    }
  }
  return undefined;
}
