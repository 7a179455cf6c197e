/**
 * The house: lib/ is a stack of rooms and imports run one way, from a higher
 * room to a lower one (ffi -> errors -> plugin -> load -> sandbox -> host ->
 * engines -> report -> against -> commands), with no circle between files. Read from the
 * source text, so a new import that runs back up fails here first.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./_helpers.ts";

/** Rooms from the bottom up; rooms on one floor may not import each other. */
const FLOORS: readonly (readonly string[])[] = [
  ["util"],
  ["ffi"],
  ["errors"],
  ["plugin"],
  ["load"],
  ["sandbox"],
  ["host"],
  ["stress", "fuzz", "harness", "audio"],
  ["check"],
  ["report"],
  ["against"],
  ["commands"],
];

/**
 * Sub-rooms of the fuzz wing from the bottom up: mutators; what both processes share (wire, inbox); crash analysis;
 * the engine (run in a Deno fuzz child, or in the parent for a fork server); the two processes; the entry (mod.ts).
 */
const FUZZ_FLOORS: readonly (readonly string[])[] = [["mutate"], ["(root)"], ["crash"], ["engine"], [
  "child",
  "parent",
], ["(entry)"]];

const LIB = join(ROOT, "lib");

/** Relative imports of a file (static, type-only and dynamic), as absolute paths. */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(file);
  // Leave out the doc comments' examples: they are not imports of the module.
  const code = text.replace(/\/\*\*[\s\S]*?\*\//g, "");
  const specs = [...code.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s)).filter((p) => p.startsWith(LIB + "/"));
}

function roomOf(file: string): string {
  return relative(LIB, file).split("/")[0]!;
}

function floorOf(room: string, floors: readonly (readonly string[])[]): number {
  const i = floors.findIndex((f) => f.includes(room));
  assert.ok(i >= 0, `room ${room} is on no floor of the house (add it to FLOORS in tests/house_test.ts)`);
  return i;
}

function fuzzRoomOf(file: string): string {
  const parts = relative(join(LIB, "fuzz"), file).split("/");
  if (parts.length === 1 && parts[0] === "mod.ts") return "(entry)";
  return parts.length > 1 ? parts[0]! : "(root)";
}

const FILES = sourceFilesOf(LIB, [".ts"]);

Deno.test("lib/ has no loose files: every module lives in a room", () => {
  const loose = FILES.filter((f) => dirname(f) === LIB).map((f) => relative(ROOT, f));
  assert.deepEqual(loose, []);
});

Deno.test("lib/ imports run one way: no room imports a room above it or beside it", () => {
  const wrong: string[] = [];
  for (const file of FILES) {
    const from = roomOf(file);
    for (const target of importsOf(file)) {
      const to = roomOf(target);
      if (to === from) continue;
      const a = floorOf(from, FLOORS), b = floorOf(to, FLOORS);
      if (b >= a) wrong.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("lib/fuzz/ sub-rooms: the parent and the child never import each other; mutators and crash analysis import neither", () => {
  const wrong: string[] = [];
  for (const file of FILES.filter((f) => roomOf(f) === "fuzz")) {
    const from = fuzzRoomOf(file);
    for (const target of importsOf(file).filter((t) => roomOf(t) === "fuzz")) {
      const to = fuzzRoomOf(target);
      if (to === from) continue;
      if (floorOf(to, FUZZ_FLOORS) >= floorOf(from, FUZZ_FLOORS)) {
        wrong.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)} (${from} -> ${to})`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("lib/fuzz/ is entered through its mod.ts: no other room imports the wing's insides", () => {
  const wrong: string[] = [];
  for (const file of FILES.filter((f) => roomOf(f) !== "fuzz")) {
    for (const target of importsOf(file).filter((t) => roomOf(t) === "fuzz")) {
      if (relative(LIB, target) !== "fuzz/mod.ts") wrong.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("lib/ has no import circle between files", () => {
  const graph = new Map(FILES.map((f) => [f, importsOf(f)]));
  const state = new Map<string, "open" | "done">();
  const circles: string[] = [];
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      circles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(ROOT, p)).join(" -> "));
      return;
    }
    state.set(f, "open");
    for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
    state.set(f, "done");
  };
  for (const f of FILES) visit(f, []);
  assert.deepEqual(circles, []);
});

Deno.test("lib/ formats numbers with groupDigits, never toLocaleString or Intl (ICU's first use costs a process ~16 ms)", () => {
  const users = FILES.filter((f) => !f.endsWith("/util/digits.ts"))
    .filter((f) => /\.toLocaleString\(|\bIntl\./.test(Deno.readTextFileSync(f)))
    .map((f) => relative(ROOT, f));
  assert.deepEqual(users, []);
});

Deno.test("lib/ and native/ have no file over 400 lines", () => {
  const native = sourceFilesOf(join(ROOT, "native"), [".c", ".h", ".ts"]);
  const long = [...FILES, ...native]
    .map((f) => [relative(ROOT, f), Deno.readTextFileSync(f).split("\n").length - 1] as const)
    .filter(([, n]) => n > 400)
    .map(([f, n]) => `${f}: ${n} lines`);
  assert.deepEqual(long, []);
});

function sourceFilesOf(dir: string, ends: readonly string[]): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...sourceFilesOf(p, ends));
    else if (ends.some((x) => e.name.endsWith(x))) out.push(p);
  }
  return out;
}
