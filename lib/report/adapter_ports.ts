/**
 * The ports an adapter lists for each method (the `adapter` part of a
 * describe() document: `plugins[]` with a `method` and its `ports[]`, as the
 * LADSPA adapter writes them, docs/ladspa.md), as lines under the method in
 * `plugcheck load`. A part of another shape shows nothing (`--format json`
 * has it whole).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adapterPortLines } from "./adapter_ports.ts";
 * const adapter = { abi: "ladspa", plugins: [{ method: "amp", ports: [
 *   { index: 0, name: "Gain", direction: "input", kind: "control",
 *     hints: { lower: 0, upper: null, logarithmic: true }, default_value: 1 },
 * ] }] };
 * assert.deepEqual(adapterPortLines(adapter).get("amp"), ["port 0  Gain  control in   0..  log  default 1"]);
 * ```
 *
 * @module
 */
import * as z from "../util/zod.ts";
import { shortText } from "../util/safe_text.ts";

const bound = z.number().nullable().optional();

const PortSchema = z.object({
  index: z.int().nonnegative(),
  name: z.string(),
  direction: z.string(),
  kind: z.string(),
  hints: z.object({
    lower: bound,
    upper: bound,
    logarithmic: z.boolean().optional(),
    integer: z.boolean().optional(),
    toggled: z.boolean().optional(),
    sample_rate: z.boolean().optional(),
  }).optional(),
  default_value: bound,
});

const PartSchema = z.object({ plugins: z.array(z.object({ method: z.string(), ports: z.array(PortSchema) })) });

/** A number as people read it: six significant digits (a float bound is not 0.449999988). */
const num = (x: number) => String(Number(x.toPrecision(6)));

/** Characters of a port name shown. */
const NAME_SHOWN = 32;

/** Lines per method name: one per port, with its direction, kind, range, hints and default. */
export function adapterPortLines(adapter: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const parsed = PartSchema.safeParse(adapter);
  if (!parsed.success) return out;
  for (const plugin of parsed.data.plugins) {
    const names = plugin.ports.map((p) => shortText(p.name, NAME_SHOWN));
    const width = Math.max(0, ...names.map((n) => n.length));
    out.set(
      plugin.method,
      plugin.ports.map((p, i) => {
        const h = p.hints ?? {};
        const dir = p.direction === "input" ? "in " : p.direction === "output" ? "out" : p.direction;
        const parts = [`port ${p.index}`, names[i]!.padEnd(width), `${p.kind} ${dir}`];
        if (p.kind === "control") {
          const range = h.lower == null && h.upper == null
            ? ""
            : `${h.lower == null ? "" : num(h.lower)}..${h.upper == null ? "" : num(h.upper)}`;
          const flags = [
            range,
            h.sample_rate ? "x rate" : "",
            h.logarithmic ? "log" : "",
            h.integer ? "int" : "",
            h.toggled ? "toggle" : "",
            p.default_value == null ? "" : `default ${num(p.default_value)}`,
          ].filter((f) => f !== "");
          parts.push(...flags);
        }
        return parts.join("  ").trimEnd();
      }),
    );
  }
  return out;
}
