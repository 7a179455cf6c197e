/**
 * The rule a directory of libraries is checked against as a whole (`plugcheck
 * check DIR`): `ladspa.unique_ids_across`, LADSPA unique IDs that two
 * libraries both declare (docs/ladspa.md#unique-ids-across). Hosts find a
 * plugin by its ID, so a host with both libraries installed gets one or the
 * other. It reads what the preflight of each library's run learned
 * (describe()), so it costs nothing more; an ID repeated within one library
 * is `ladspa.descriptors`' finding, not this one's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uniqueIdCollisions } from "./across.ts";
 * const lib = (label: string, id: number) => ({
 *   adapter: { abi: "ladspa", plugins: [{ index: 0, label, unique_id: id, name: "N", maker: "m", copyright: "c",
 *     properties: [], ports: [] }] },
 * });
 * const found = uniqueIdCollisions([
 *   { library: "a.so", description: lib("amp", 1048) },
 *   { library: "b.so", description: lib("gain", 1048) },
 *   { library: "c.so", description: lib("other", 7) },
 * ]);
 * assert.deepEqual(found.map((c) => c.uniqueId), [1048]);
 * assert.deepEqual(found[0]!.plugins.map((p) => p.library), ["a.so", "b.so"]);
 * ```
 *
 * @module
 */
import { ladspaLibrary } from "./checks/ladspa_doc.ts";
import type { CheckResult } from "./result.ts";
import { plural } from "./spec.ts";

/** The id, title and rule anchor of the directory-wide check. */
export const ACROSS_CHECK = {
  id: "ladspa.unique_ids_across",
  group: "ladspa",
  title: "No two libraries of the directory declare one LADSPA unique ID",
  rule: "unique-ids-across",
} as const;

/** One unique ID declared by plugins of more than one library. */
export interface UniqueIdCollision {
  uniqueId: number;
  /** Every plugin declaring it, in the order of the libraries. */
  plugins: { library: string; label: string | null; index: number }[];
}

/** The unique IDs that plugins of two or more of `libraries` declare, in ascending order. */
export function uniqueIdCollisions(
  libraries: readonly { library: string; description?: object | undefined }[],
): UniqueIdCollision[] {
  const byId = new Map<number, UniqueIdCollision["plugins"]>();
  for (const { library, description } of libraries) {
    const lib = ladspaLibrary(description);
    if (lib === undefined || typeof lib === "string") continue;
    for (const p of lib.plugins) {
      const list = byId.get(p.unique_id) ?? [];
      list.push({ library, label: p.label, index: p.index });
      byId.set(p.unique_id, list);
    }
  }
  return [...byId.entries()]
    .filter(([, plugins]) => new Set(plugins.map((p) => p.library)).size > 1)
    .sort(([a], [b]) => a - b)
    .map(([uniqueId, plugins]) => ({ uniqueId, plugins }));
}

/** A collision as one line: `unique ID 1048: a.so "amp" (#0), b.so "gain" (#0)`. */
export function collisionLine(c: UniqueIdCollision): string {
  const who = c.plugins.map((p) =>
    `${p.library} ${p.label === null ? "(no label)" : JSON.stringify(p.label)} (#${p.index})`
  );
  return `unique ID ${c.uniqueId}: ${who.join(", ")}`;
}

/** The check-like result of the directory-wide rule, over `ladspaLibraries` LADSPA libraries. */
export function acrossResult(collisions: readonly UniqueIdCollision[], ladspaLibraries: number): CheckResult {
  const head = { ...ACROSS_CHECK, durationMs: 0 };
  if (ladspaLibraries < 2) {
    const n = ladspaLibraries === 1 ? "1 LADSPA library" : "no LADSPA library";
    return { ...head, status: "skip", details: `${n}: nothing to compare`, evidence: [] };
  }
  if (collisions.length === 0) {
    return {
      ...head,
      status: "pass",
      details: `${ladspaLibraries} LADSPA libraries, every unique ID declared by one library`,
      evidence: [],
    };
  }
  const lines = collisions.map(collisionLine);
  return {
    ...head,
    status: "fail",
    details: `${plural(collisions.length, "unique ID")} declared by more than one library: ${lines[0]}`,
    evidence: lines,
  };
}
