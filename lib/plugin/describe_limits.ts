/**
 * The limits of `npa_plugin_describe()` output (docs/abi.md, "Limits"), and
 * the first half of reading it, without its schema: the document as JSON, at
 * most {@link DESCRIBE_LIMITS}.documentBytes of UTF-8. A sandbox child reads
 * describe() this far (it imports no zod, see `read_description.ts`) and its
 * parent validates the rest with `validateDescription` (`describe_schema.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeJson } from "./describe_limits.ts";
 * assert.deepEqual(describeJson(new TextEncoder().encode('{"name":"p"}')), { name: "p" });
 * assert.throws(() => describeJson(new TextEncoder().encode("{")), /not valid JSON/);
 * ```
 *
 * @module
 */
import { parseJsonOutput } from "../errors/guard.ts";
import { ContractViolationError } from "../errors/errors.ts";
import { groupDigits } from "../util/digits.ts";

/** The limits of describe() (docs/abi.md, "Limits"), in UTF-8 bytes. */
export const DESCRIBE_LIMITS = {
  /** The whole document. */
  documentBytes: 1024 * 1024,
  /** The plugin's name, its version, and each method's name. */
  nameBytes: 256,
  /** Each method's description. */
  descriptionBytes: 4096,
} as const;

/**
 * describe()'s bytes as JSON, not yet validated: at most the document limit
 * (checked before anything reads them), UTF-8 JSON. Throws
 * `ContractViolationError` (operation `describe plugin`) naming the limit.
 */
export function describeJson(bytes: Uint8Array): unknown {
  const max = DESCRIBE_LIMITS.documentBytes;
  if (bytes.length > max) {
    throw new ContractViolationError(
      `Cannot describe plugin: describe() JSON is ${groupDigits(bytes.length)} bytes, over the limit of ${
        groupDigits(max)
      } (1 MiB)`,
      { operation: "describe plugin" },
    );
  }
  return parseJsonOutput("describe plugin", bytes);
}
