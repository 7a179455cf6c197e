/**
 * What the LADSPA adapter says of a library in the `adapter` part of its
 * describe() document (docs/ladspa.md): each plugin's label, unique ID,
 * names, properties and ports with their range hints, read leniently (the
 * numbers of a plugin that broke the rules are still numbers), and the
 * sums the `ladspa.*` checks share: a port's range at a sample rate, the
 * npa method that runs a plugin, the values a control is tried at.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ladspaLibrary, methodOf } from "./ladspa_doc.ts";
 * const lib = ladspaLibrary({ adapter: { abi: "ladspa", plugins: [
 *   { index: 0, label: "amp", unique_id: 1, name: "Amp", maker: "me", copyright: "None", properties: [], ports: [] },
 * ] } });
 * assert.ok(typeof lib === "object" && lib !== null && methodOf(lib.plugins, 0) === "amp");
 * ```
 *
 * @module
 */
import * as z from "../../util/zod.ts";

/** A port's range hints as the adapter lists them: bounds as declared (not multiplied by a sample rate). */
const HintsSchema = z.object({
  /** The raw HintDescriptor (optional: the contract does not promise it). */
  bits: z.int().optional(),
  bounded_below: z.boolean(),
  bounded_above: z.boolean(),
  toggled: z.boolean(),
  sample_rate: z.boolean(),
  logarithmic: z.boolean(),
  integer: z.boolean(),
  /** null when not bounded on that side, or when the bound is not a finite number. */
  lower: z.number().nullable(),
  upper: z.number().nullable(),
  /** The DEFAULT_* hint by name ("minimum", ..., "440"), null for none. */
  default: z.string().nullable(),
});

const PortSchema = z.object({
  index: z.int(),
  name: z.string().nullable(),
  /** The raw LADSPA_PortDescriptor (optional). */
  descriptor: z.int().optional(),
  direction: z.enum(["input", "output", "invalid"]),
  kind: z.enum(["control", "audio", "invalid"]),
  hints: HintsSchema,
  /** The default by the LADSPA rules, at 48000 Hz for SAMPLE_RATE ports; null when there is none. */
  default_value: z.number().nullable(),
});

const PluginSchema = z.object({
  index: z.int(),
  /** The npa method that runs it (the Label, or `<Label>#<index>` for a repeated one). */
  method: z.string().optional(),
  label: z.string().nullable(),
  unique_id: z.number(),
  name: z.string().nullable(),
  maker: z.string().nullable(),
  copyright: z.string().nullable(),
  properties: z.array(z.string()),
  /** Which of the optional functions it has (optional: the contract does not promise them). */
  has_activate: z.boolean().optional(),
  has_run_adding: z.boolean().optional(),
  has_set_run_adding_gain: z.boolean().optional(),
  /** Why the adapter cannot use it (a NULL Label or function, unreadable ports). */
  broken: z.string().optional(),
  ports: z.array(PortSchema),
});

/** The `adapter` part of the LADSPA adapter's describe() document. */
export const LadspaAdapterSchema = z.object({
  abi: z.literal("ladspa"),
  plugins: z.array(PluginSchema),
});

export type LadspaLibrary = z.infer<typeof LadspaAdapterSchema>;
export type LadspaPlugin = LadspaLibrary["plugins"][number];
export type LadspaPort = LadspaPlugin["ports"][number];

/** The sample rate the adapter computes describe()'s default values at. */
export const DESCRIBE_RATE = 48_000;

/**
 * The LADSPA part of a describe() document: the library, `undefined` when
 * the document is not a LADSPA adapter's (no `adapter`, or another ABI's),
 * or a string saying what is malformed in it.
 */
export function ladspaLibrary(description: object | undefined): LadspaLibrary | undefined | string {
  const adapter = (description as { adapter?: { abi?: unknown } } | undefined)?.adapter;
  if (adapter?.abi !== "ladspa") return undefined;
  const parsed = LadspaAdapterSchema.safeParse(adapter);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return `adapter.${issue.path.join(".")}: ${issue.message}`;
}

/** The npa method that runs plugin `i` of `plugins`: its `method`, else its Label (`<Label>#<index>` when repeated). */
export function methodOf(plugins: readonly LadspaPlugin[], i: number): string {
  const p = plugins[i]!;
  if (p.method !== undefined) return p.method;
  const label = p.label ?? "";
  return plugins.slice(0, i).some((q) => q.label === p.label) ? `${label}#${p.index}` : label;
}

/** A plugin as evidence names it: `label (#index)`. */
export function pluginLine(p: LadspaPlugin): string {
  return `${p.label === null ? "(no label)" : JSON.stringify(p.label)} (#${p.index})`;
}

/** A port as evidence names it: `port 2 "Gain"`. */
export function portLine(port: LadspaPort): string {
  return `port ${port.index}${port.name === null ? " (no name)" : ` ${JSON.stringify(port.name)}`}`;
}

/** The plugins the adapter can run (not `broken`), with their methods. */
export function usablePlugins(lib: LadspaLibrary): { plugin: LadspaPlugin; method: string }[] {
  return lib.plugins.map((plugin, i) => ({ plugin, method: methodOf(lib.plugins, i) }))
    .filter((p) => p.plugin.broken === undefined);
}

/** A port's declared bounds at sample rate `rate` (SAMPLE_RATE bounds are multiples of it); null for an open end. */
export function boundsAt(port: LadspaPort, rate: number): { lower: number | null; upper: number | null } {
  const h = port.hints;
  const scale = h.sample_rate ? rate : 1;
  return {
    lower: h.bounded_below && h.lower !== null ? h.lower * scale : null,
    upper: h.bounded_above && h.upper !== null ? h.upper * scale : null,
  };
}

/** `v` rounded to single precision, with the 9 significant digits that name that float. */
export const asFloat = (v: number): number => Number(Math.fround(v).toPrecision(9));

/** True for a control input port (the ports a run sets). */
export const isControlInput = (p: LadspaPort): boolean => p.direction === "input" && p.kind === "control";

/**
 * The values a control input is tried at (at 48000 Hz, where describe()'s
 * defaults are): its lower bound, upper bound, default and middle,
 * without repeats. An end left open is the default when it lies past the
 * other bound, else that bound -/+ 1; no bounds at all: default -/+ 1 (or
 * 0 and 1, always for a TOGGLED port: off and on). The middle is geometric on a LOGARITHMIC range with both ends
 * above 0, rounded for INTEGER ports; a TOGGLED port is tried at its two
 * ends only. Values are single-precision numbers (a port is a float), as
 * 9 significant digits (which name one float, as the adapter prints them).
 */
export function controlPoints(port: LadspaPort): number[] {
  const { lower, upper } = boundsAt(port, DESCRIBE_RATE);
  const def = port.default_value;
  let lo: number, hi: number;
  if (lower !== null && upper !== null) [lo, hi] = [lower, upper];
  else if (lower !== null) [lo, hi] = [lower, def !== null && def > lower ? def : lower + 1];
  else if (upper !== null) [lo, hi] = [def !== null && def < upper ? def : upper - 1, upper];
  else [lo, hi] = def !== null && !port.hints.toggled ? [def - 1, def + 1] : [0, 1];
  const h = port.hints;
  let mid = h.logarithmic && lo > 0 && hi > 0 ? Math.sqrt(lo * hi) : (lo + hi) / 2;
  if (h.integer) mid = Math.round(mid);
  const values = h.toggled ? [lo, hi] : [lo, hi, ...def === null ? [] : [def], mid];
  return [...new Set(values.filter(Number.isFinite).map(asFloat))];
}
