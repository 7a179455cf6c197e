/**
 * Frames as places in the source (a crash's, a leaked block's allocation): each (module, offset) frame gets its
 * function and file:line from the module's debug information, by
 * binutils' `addr2line` (which gcc brings) when it is on the PATH, else by
 * `llvm-symbolizer`. addr2line first: it starts in ~3 ms where
 * llvm-symbolizer, linked to all of LLVM, takes ~20 ms, which a fuzz run that
 * ends at its first finding waits for; what llvm-symbolizer adds is the
 * column, which only the JSON shows (ask for it with `tool`).
 * One process runs per module, with a deadline; a frame that cannot be
 * symbolized (no tool, an unreadable module, a tool that fails or runs too
 * long, no debug information) is returned as it came, never an exception.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFrame } from "./symbolize.ts";
 * const text = formatFrame({ module: "/p/libx.so", offset: 0x1139, function: "parse_record", file: "x.c", line: 31 });
 * assert.ok(text === "parse_record at x.c:31 (libx.so+0x1139)");
 * ```
 *
 * @module
 */
import { DEFAULT_TOOL_TIMEOUT_MS, runTool, type ToolRun } from "../util/run_tool.ts";

/** A frame of a crash: the module (shared library or executable) and the pc's offset in it. */
export interface RawFrame {
  /** Path of the module, as the process mapped it. */
  module: string;
  /** The pc minus the module's load base: the ELF virtual address, as addr2line and llvm-symbolizer take it. */
  offset: number;
}

/** A frame with what the debug information says of it (each field only when known). */
export interface SymbolizedFrame extends RawFrame {
  /** The function (demangled); for an inlined frame, the inlined (innermost) function. */
  function?: string;
  /** The source file, as the tool printed it. */
  file?: string;
  line?: number;
  column?: number;
  /** For a frame in inlined code: the function it was inlined into. */
  inlinedInto?: string;
}

/** The tools {@link symbolize} can use. */
export type SymbolizerTool = "llvm-symbolizer" | "addr2line";

/** Options of {@link symbolize}. */
export interface SymbolizeOptions {
  /** Deadline of each tool process (ms), after which it is killed; default 5000. */
  timeoutMs?: number;
  /** Use only this tool (default: addr2line when on the PATH, else llvm-symbolizer). */
  tool?: SymbolizerTool;
}

/** What a tool said of one offset. */
type Place = Omit<SymbolizedFrame, "module" | "offset">;

/**
 * `frames` with function, file, line (and column, with llvm-symbolizer)
 * added where the module's debug information has them; same order and
 * length as `frames`. Frames of one module are symbolized by one process.
 */
export async function symbolize(
  frames: readonly RawFrame[],
  options: SymbolizeOptions = {},
): Promise<SymbolizedFrame[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  const byModule = new Map<string, Set<number>>();
  for (const f of frames) {
    if (f.module === "" || !Number.isSafeInteger(f.offset) || f.offset < 0) continue;
    let offsets = byModule.get(f.module);
    if (!offsets) byModule.set(f.module, offsets = new Set());
    offsets.add(f.offset);
  }
  const places = new Map<string, Map<number, Place>>();
  await Promise.all(
    [...byModule].map(async ([module, offsets]) => {
      places.set(module, await symbolizeModule(module, [...offsets], timeoutMs, options.tool));
    }),
  );
  return frames.map((f) => ({ module: f.module, offset: f.offset, ...places.get(f.module)?.get(f.offset) }));
}

/** What the tools say of `offsets` in `module` (offsets they know nothing of are left out). */
async function symbolizeModule(
  module: string,
  offsets: number[],
  timeoutMs: number,
  tool: SymbolizerTool | undefined,
): Promise<Map<number, Place>> {
  try {
    if (!(await Deno.stat(module)).isFile) return new Map();
  } catch {
    return new Map();
  }
  const addresses = offsets.map((o) => `0x${o.toString(16)}`);
  if (tool !== "llvm-symbolizer") {
    // -a prints each address before its lines: with -i an address may print several pairs.
    const run = await runTool("addr2line", ["-a", "-f", "-C", "-i", "-e", module, ...addresses], { timeoutMs });
    if (run.ran || run.reason !== "missing" || tool === "addr2line") {
      return parsedOrNothing(run, offsets, parseAddr2line);
    }
  }
  const run = await runTool(
    "llvm-symbolizer",
    [`--obj=${module}`, "--output-style=JSON", "--functions=linkage", "--demangle", ...addresses],
    { timeoutMs },
  );
  return parsedOrNothing(run, offsets, parseLlvmSymbolizer);
}

function parsedOrNothing(
  run: ToolRun,
  offsets: number[],
  parse: (stdout: string, offsets: number[]) => Map<number, Place>,
): Map<number, Place> {
  if (!run.ran || run.code !== 0) return new Map();
  try {
    return parse(run.stdout, offsets);
  } catch {
    return new Map();
  }
}

/** A name or file the tool printed, unless it means "unknown". */
function known(text: unknown): string | undefined {
  return typeof text === "string" && text !== "" && text !== "??" ? text : undefined;
}

/**
 * A function name, unless it is the nearest symbol of a stripped library
 * rather than the function: `_init` and `_fini` (the only symbols left below
 * and above a stripped library's code) hold no code of the plugin's own.
 */
function knownFunction(text: unknown): string | undefined {
  const name = known(text);
  return name === "_init" || name === "_fini" ? undefined : name;
}

function positive(n: unknown): number | undefined {
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** A place without the fields that are unknown (the frames' optional fields are absent, not undefined). */
function place(fields: Record<keyof Place, string | number | undefined>): Place {
  const p: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) p[k] = v;
  return p as Place;
}

/**
 * llvm-symbolizer's `--output-style=JSON`: an array with one object per
 * address, in order (`{"Address": "0x1139", "Symbol": [{"FunctionName",
 * "FileName", "Line", "Column", ...}, ...]}`, the innermost inlined function
 * first; `{"Error": {...}}` for a module it cannot read). Older versions print
 * one JSON document per line.
 */
function parseLlvmSymbolizer(stdout: string, offsets: number[]): Map<number, Place> {
  let entries: unknown[];
  try {
    const doc = JSON.parse(stdout);
    entries = Array.isArray(doc) ? doc : [doc];
  } catch {
    entries = stdout.split("\n").filter((l) => l.trim() !== "").flatMap((l) => {
      const doc = JSON.parse(l);
      return Array.isArray(doc) ? doc : [doc];
    });
  }
  const out = new Map<number, Place>();
  entries.forEach((entry, i) => {
    if (typeof entry !== "object" || entry === null) return;
    const e = entry as { Address?: unknown; Symbol?: unknown };
    const offset = typeof e.Address === "string" ? Number.parseInt(e.Address, 16) : offsets[i];
    if (offset === undefined || !offsets.includes(offset) || !Array.isArray(e.Symbol)) return;
    const [inner, caller] = e.Symbol as {
      FunctionName?: unknown;
      FileName?: unknown;
      Line?: unknown;
      Column?: unknown;
    }[];
    if (!inner) return;
    const p = place({
      function: knownFunction(inner.FunctionName),
      file: known(inner.FileName),
      line: positive(inner.Line),
      column: positive(inner.Column),
      inlinedInto: caller ? knownFunction(caller.FunctionName) : undefined,
    });
    if (Object.keys(p).length > 0) out.set(offset, p);
  });
  return out;
}

/**
 * `addr2line -a -f -C -i`: for each address, the address line
 * (`0x0000000000001139`), then pairs of lines: the function (`??` when
 * unknown) and `file:line` (`??:0`, `??:?` when unknown; possibly followed by
 * ` (discriminator N)`). With `-i`, an address in inlined code prints one
 * pair per inlining level, the innermost first.
 */
function parseAddr2line(stdout: string, offsets: number[]): Map<number, Place> {
  const lines = stdout.split("\n");
  const out = new Map<number, Place>();
  let i = 0;
  for (const offset of offsets) {
    while (i < lines.length && !isAddressLine(lines[i]!, offset)) i++;
    if (i >= lines.length) break;
    i++;
    const pairs: { function: string | undefined; file: string | undefined; line: number | undefined }[] = [];
    while (i + 1 < lines.length && !/^0x[0-9a-f]+$/i.test(lines[i]!)) {
      const fn = lines[i]!;
      const where = /^(.*):(\d+|\?)(?: \(discriminator \d+\))?$/.exec(lines[i + 1]!);
      const line = where && where[2] !== "?" ? positive(Number(where[2])) : undefined;
      pairs.push({ function: knownFunction(fn), file: where ? known(where[1]) : undefined, line });
      i += 2;
    }
    const [inner, caller] = pairs;
    if (!inner) continue;
    const p = place({
      function: inner.function,
      file: inner.file,
      line: inner.line,
      column: undefined,
      inlinedInto: caller?.function,
    });
    if (Object.keys(p).length > 0) out.set(offset, p);
  }
  return out;
}

function isAddressLine(line: string, offset: number): boolean {
  return /^0x[0-9a-f]+$/i.test(line) && Number.parseInt(line, 16) === offset;
}

/** The base name of a path. */
function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * A frame as one line of text: `parse_record at src/x.c:31 (libx.so+0x1139)`,
 * `inner at x.c:2, inlined into outer (libx.so+0x114b)`, or `libx.so+0x1139`
 * when nothing is known (the module by its base name).
 */
export function formatFrame(f: SymbolizedFrame): string {
  const where = `${baseName(f.module)}+0x${f.offset.toString(16)}`;
  const parts: string[] = [];
  if (f.function !== undefined) parts.push(f.function);
  if (f.file !== undefined) parts.push(`at ${f.file}${f.line !== undefined ? `:${f.line}` : ""}`);
  if (parts.length === 0) return where;
  const inlined = f.inlinedInto !== undefined ? `, inlined into ${f.inlinedInto}` : "";
  return `${parts.join(" ")}${inlined} (${where})`;
}
