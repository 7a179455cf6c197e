/**
 * The zod schema of `npa_plugin_describe()` output (see docs/abi.md,
 * "describe"). Unknown keys are dropped, so newer plugins stay loadable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PluginDescriptionSchema } from "./describe_schema.ts";
 * const d = PluginDescriptionSchema.parse({
 *   name: "p", version: "1.0.0", thread_safe_instances: true,
 *   methods: [{ name: "echo", description: "", input: "bytes", pure: true }],
 * });
 * assert.ok(d.methods[0]?.examples.length === 0);
 * ```
 *
 * @module
 */
import { z } from "../util/deps.ts";

/** One example call a plugin documents; strings are the exact UTF-8 bytes. */
export const MethodExampleSchema = z.object({
  input: z.string(),
  output: z.string().optional(),
});

/** One method a plugin offers. */
export const MethodDescriptionSchema = z.object({
  name: z.string().min(1),
  description: z.string(),
  input: z.enum(["bytes", "json"]),
  pure: z.boolean(),
  examples: z.array(MethodExampleSchema).default([]),
  /** False for a method that fails or blocks on request by design: `fuzz` and `check` leave it out unless named. */
  fuzz: z.boolean().optional(),
});

/** The whole describe() document. */
export const PluginDescriptionSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  thread_safe_instances: z.boolean(),
  max_instances: z.int().positive().optional(),
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
