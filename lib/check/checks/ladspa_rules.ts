/**
 * The LADSPA rules that are pure functions of what the adapter says of a
 * library (docs/ladspa.md, "descriptors" and "ranges"): each returns the
 * broken rules as lines of evidence naming the plugin and the port, split
 * into failures and warnings. No plugin code runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { descriptorFindings } from "./ladspa_rules.ts";
 * const plugin = { index: 0, label: "a", unique_id: 7, name: "A", maker: "m", copyright: "c", properties: [], ports: [] };
 * const found = descriptorFindings({ abi: "ladspa", plugins: [plugin, { ...plugin, index: 1, label: "b" }] });
 * assert.match(found.fails[0]!, /unique ID 7 is also/);
 * ```
 *
 * @module
 */
import { boundsAt, DESCRIBE_RATE, type LadspaLibrary, type LadspaPort, pluginLine, portLine } from "./ladspa_doc.ts";

/** What a rule found: failures and warnings, one line each. */
export interface Findings {
  fails: string[];
  warns: string[];
}

const present = (s: string | null): boolean => s !== null && s.trim().length > 0;

/** DEFAULT_* values of the mask 0x3C0 that LADSPA 1.1 does not define. */
const UNDEFINED_DEFAULTS = new Set([0x300, 0x340, 0x380, 0x3c0]);

/** The port descriptor bits, when the adapter gave them: ` (descriptor 0x3)`. */
const bits = (p: LadspaPort): string =>
  p.descriptor === undefined ? "" : ` (descriptor 0x${p.descriptor.toString(16)})`;

/**
 * `ladspa.descriptors`: a plugin the adapter cannot use; Label, Name, Maker
 * and Copyright present; Labels and unique IDs unique in the library; each
 * port exactly one of input/output and one of control/audio; port names
 * present and unique within their plugin.
 */
export function descriptorFindings(lib: LadspaLibrary): Findings {
  const fails: string[] = [];
  const labels = new Map<string, string>();
  const ids = new Map<number, string>();
  for (const p of lib.plugins) {
    const who = pluginLine(p);
    if (p.broken !== undefined) fails.push(`${who}: the adapter cannot use it: ${p.broken}`);
    const missing = (["label", "name", "maker", "copyright"] as const).filter((k) => !present(p[k]));
    if (missing.length > 0) fails.push(`${who}: no ${missing.join(", no ")}`);
    if (p.label !== null) {
      const first = labels.get(p.label);
      if (first !== undefined) fails.push(`${who}: its label is also ${first}'s`);
      else labels.set(p.label, who);
    }
    const firstId = ids.get(p.unique_id);
    if (firstId !== undefined) fails.push(`${who}: unique ID ${p.unique_id} is also ${firstId}'s`);
    else ids.set(p.unique_id, who);
    const names = new Map<string, LadspaPort>();
    for (const port of p.ports) {
      const where = `${who} ${portLine(port)}`;
      if (port.direction === "invalid") fails.push(`${where}: not exactly one of INPUT and OUTPUT${bits(port)}`);
      if (port.kind === "invalid") fails.push(`${where}: not exactly one of CONTROL and AUDIO${bits(port)}`);
      if (port.name === null || !present(port.name)) {
        fails.push(`${where}: no name`);
        continue;
      }
      const same = names.get(port.name);
      if (same !== undefined) fails.push(`${where}: the same name as port ${same.index}`);
      else names.set(port.name, port);
    }
  }
  return { fails, warns: [] };
}

/** Numbers in evidence: what %.9g would print. */
const num = (v: number): string => String(Number(v.toPrecision(6)));

/** a <= b, allowing for the rounding of single-precision bounds printed with 9 digits. */
const atMost = (a: number, b: number): boolean => a <= b + 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

/** Which bounds each DEFAULT_* hint is computed from. */
const DEFAULT_NEEDS: Record<string, "lower" | "upper" | "both"> = {
  minimum: "lower",
  low: "both",
  middle: "both",
  high: "both",
  maximum: "upper",
};

/**
 * `ladspa.ranges`, failures: a bound hint whose bound is not a number;
 * lower > upper; an undefined DEFAULT_* value; a DEFAULT_* hint without the
 * bounds it is computed from; a default outside the bounds. Warnings: a
 * LOGARITHMIC range that includes 0 (hosts cannot draw it, nor place
 * LOW/MIDDLE/HIGH on it); a TOGGLED port bounded other than 0..1.
 */
export function rangeFindings(lib: LadspaLibrary): Findings {
  const fails: string[] = [];
  const warns: string[] = [];
  for (const p of lib.plugins) {
    for (const port of p.ports) {
      const where = `${pluginLine(p)} ${portLine(port)}`;
      const h = port.hints;
      const rate = h.sample_rate ? ` (at ${DESCRIBE_RATE} Hz)` : "";
      if (h.bounded_below && h.lower === null) {
        fails.push(`${where}: BOUNDED_BELOW, but its lower bound is not a number`);
      }
      if (h.bounded_above && h.upper === null) {
        fails.push(`${where}: BOUNDED_ABOVE, but its upper bound is not a number`);
      }
      const { lower, upper } = boundsAt(port, DESCRIBE_RATE);
      const ordered = lower === null || upper === null || lower <= upper;
      if (!ordered) fails.push(`${where}: lower bound ${num(h.lower!)} > upper bound ${num(h.upper!)}`);
      const mask = h.bits === undefined ? 0 : h.bits & 0x3c0;
      if (UNDEFINED_DEFAULTS.has(mask)) {
        fails.push(`${where}: DEFAULT bits 0x${mask.toString(16)} are not a LADSPA default`);
      }
      const needs = h.default === null ? undefined : DEFAULT_NEEDS[h.default];
      const lacks = needs === "lower"
        ? lower === null
        : needs === "upper"
        ? upper === null
        : needs === "both"
        ? lower === null || upper === null
        : false;
      if (lacks) {
        const which = needs === "both" ? "both bounds" : needs === "upper" ? "an upper bound" : "a lower bound";
        fails.push(`${where}: DEFAULT_${h.default!.toUpperCase()} needs ${which}, and the port has not`);
      }
      const def = port.default_value;
      if (def !== null && ordered && !lacks) {
        if (lower !== null && !atMost(lower, def)) {
          fails.push(`${where}: default ${num(def)} (${h.default}) is below the lower bound ${num(lower)}${rate}`);
        }
        if (upper !== null && !atMost(def, upper)) {
          fails.push(`${where}: default ${num(def)} (${h.default}) is above the upper bound ${num(upper)}${rate}`);
        }
      }
      if (h.logarithmic && (lower === null || lower <= 0) && (upper === null || upper >= 0)) {
        const range = `${lower === null ? "(open)" : num(lower)}..${upper === null ? "(open)" : num(upper)}`;
        warns.push(`${where}: LOGARITHMIC range ${range}${rate} includes 0: hosts cannot draw it`);
      }
      if (h.toggled && ((lower !== null && lower !== 0) || (upper !== null && upper !== 1))) {
        const range = `${lower === null ? "(open)" : num(lower)}..${upper === null ? "(open)" : num(upper)}`;
        warns.push(`${where}: TOGGLED, but bounded ${range} instead of 0..1`);
      }
    }
  }
  return { fails, warns };
}
