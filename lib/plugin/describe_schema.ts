/**
 * The zod schema of `npa_plugin_describe()` output (see docs/abi.md,
 * "describe"), with its limits ("Limits", `describe_limits.ts`): a document of at most 1 MiB, names
 * (the plugin's, its version, each method's) of at most 256 UTF-8 bytes, a
 * method description of at most 4 KiB. Text past a limit is a contract
 * violation quoting the field, never passed on to engines and reports. Unknown
 * keys are dropped, so newer plugins stay loadable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDescription, PluginDescriptionSchema } from "./describe_schema.ts";
 * const d = PluginDescriptionSchema.parse({
 *   name: "p", version: "1.0.0", thread_safe_instances: true,
 *   methods: [{ name: "echo", description: "", input: "bytes", pure: true }],
 * });
 * assert.ok(d.methods[0]?.examples.length === 0);
 * const long = { ...d, methods: [{ ...d.methods[0], name: "m".repeat(300) }] };
 * assert.throws(
 *   () => parseDescription(new TextEncoder().encode(JSON.stringify(long))),
 *   /methods\.0\.name: 300 bytes long, over the limit of 256/,
 * );
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { describeInvalid } from "../errors/guard.ts";
import { DESCRIBE_LIMITS, describeJson } from "./describe_limits.ts";
import { groupDigits } from "../util/digits.ts";

const encoder = new TextEncoder();

/** A string of at most `max` UTF-8 bytes; the message gives the length, never the text. */
const bounded = (max: number) =>
  z.string().superRefine((s, ctx) => {
    // A UTF-16 unit is at most 3 UTF-8 bytes: most strings need no encoding to be known short.
    const n = s.length * 3 <= max ? 0 : encoder.encode(s).length;
    if (n > max) {
      ctx.addIssue({
        code: "custom",
        message: `${groupDigits(n)} bytes long, over the limit of ${groupDigits(max)}`,
      });
    }
  });

/** One example call a plugin documents; strings are the exact UTF-8 bytes. */
export const MethodExampleSchema = z.object({
  input: z.string(),
  output: z.string().optional(),
});

/** One method a plugin offers. */
export const MethodDescriptionSchema = z.object({
  name: bounded(DESCRIBE_LIMITS.nameBytes).min(1),
  description: bounded(DESCRIBE_LIMITS.descriptionBytes),
  input: z.enum(["bytes", "json"]),
  pure: z.boolean(),
  examples: z.array(MethodExampleSchema).default([]),
  /** False for a method that fails or blocks on request by design: `fuzz` and `check` leave it out unless named. */
  fuzz: z.boolean().optional(),
});

/** The whole describe() document. */
export const PluginDescriptionSchema = z.object({
  name: bounded(DESCRIBE_LIMITS.nameBytes).min(1),
  version: bounded(DESCRIBE_LIMITS.nameBytes).min(1),
  thread_safe_instances: z.boolean(),
  max_instances: z.int().positive().optional(),
  /**
   * Written by an adapter (lib/load/adapters.ts) for a library of another ABI:
   * which ABI, and what it says of its plugins in that ABI's own terms (for
   * its own checks and for `load`); kept as it is.
   */
  adapter: z.looseObject({ abi: z.string() }).optional(),
  methods: z.array(MethodDescriptionSchema).superRefine((methods, ctx) => {
    const seen = new Set<string>();
    methods.forEach((m, i) => {
      if (seen.has(m.name)) {
        ctx.addIssue({ code: "custom", message: `Duplicate method name "${m.name}"`, path: [i, "name"] });
      }
      seen.add(m.name);
    });
  }),
});

/** A plugin's validated description. */
export type PluginDescription = z.infer<typeof PluginDescriptionSchema>;
/** One validated method description. */
export type MethodDescription = z.infer<typeof MethodDescriptionSchema>;

/**
 * describe()'s bytes as a validated description: at most
 * {@link DESCRIBE_LIMITS}.documentBytes (checked before anything reads them),
 * UTF-8 JSON, matching the schema. Throws `ContractViolationError` (operation
 * `describe plugin`) naming the limit or the field.
 */
export function parseDescription(bytes: Uint8Array): PluginDescription {
  return validateDescription(describeJson(bytes));
}

/**
 * A describe() document already read as JSON (`describeJson`: a sandbox
 * child's), validated against the schema. Throws `ContractViolationError`
 * (operation `describe plugin`) naming the field.
 */
export function validateDescription(json: unknown): PluginDescription {
  const parsed = PluginDescriptionSchema.safeParse(json);
  if (!parsed.success) throw describeInvalid(parsed.error);
  return parsed.data;
}
