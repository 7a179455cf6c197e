/**
 * describe()'s bytes as the plugin's description in this process: read
 * within the limits (`describe_limits.ts`), then validated against the
 * schema (zod, loaded on first use), unless this process is a sandbox child
 * that called {@link leaveDescribeToParent}: its parent validates the
 * document, so the child imports no zod.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readDescription } from "./read_description.ts";
 * const doc = { name: "p", version: "1", thread_safe_instances: true, methods: [] };
 * const d = await readDescription(new TextEncoder().encode(JSON.stringify({ ...doc, extra: 1 })));
 * assert.deepEqual(d, doc); // validated: unknown keys dropped
 * ```
 *
 * @module
 */
import { describeJson } from "./describe_limits.ts";
import type { PluginDescription } from "./describe_schema.ts";

/** False in a sandbox child, whose parent validates describe(): {@link leaveDescribeToParent}. */
let validatedHere = true;

/**
 * Leaves the validation of describe() to this process's parent (a sandbox
 * child's): {@link readDescription} then keeps the document as read, and the
 * parent checks it with `validateDescription` before anything else.
 */
export function leaveDescribeToParent(): void {
  validatedHere = false;
}

/**
 * describe()'s bytes as the plugin's description: `describeJson`, then
 * the schema (zod, loaded on first use), unless {@link leaveDescribeToParent}
 * was called: then the document as read, which only its parent may trust.
 */
export async function readDescription(bytes: Uint8Array): Promise<PluginDescription> {
  const json = describeJson(bytes);
  if (!validatedHere) return json as PluginDescription;
  return (await import("./describe_schema.ts")).validateDescription(json);
}
