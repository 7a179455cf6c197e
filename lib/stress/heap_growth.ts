/**
 * The `heap_growth` verdict: does the plugin keep losing memory? With the
 * plugin's own heap counted (`LoadOptions.trackHeap`, `npah_heap.c`: every
 * block its code allocates, recorded until it frees it, with a serial
 * number), the run takes two marks: before the calls, and after every
 * instance was destroyed. What is still live then and was allocated between
 * them is the plugin's residue; it is a leak when both halves of the run
 * left blocks behind ({@link HEAP_LEAK_MIN} or more each). The halves are
 * halves of the plugin's allocations (the serial numbers between the marks),
 * which a steady run makes at a steady pace: no timed mark is needed, so a
 * sandbox child's batches, which answer late, cannot skew them. A table built once, a cache
 * filled early, or a cache that keeps replacing its entries leaves blocks in
 * one half at most; a leak of one block every few calls leaves them in both,
 * whatever their size. The evidence names the stacks that allocated the lost
 * blocks, symbolized to function and line where the plugin has debug
 * information. RSS growth (`rss_growth`) stays the coarser second verdict.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { judgeResidue } from "./heap_growth.ts";
 * const v = judgeResidue({ before: 0, first: 150, second: 150, bytes: 7200, stacks: [] }, [], 300);
 * assert.ok(v.status === "fail" && v.id === "heap_growth");
 * ```
 *
 * @module
 */
import type { HeapResidue } from "../ffi/plugin_heap.ts";
import { formatFrame, symbolize, type SymbolizedFrame } from "../load/symbolize.ts";
import type { PluginHandle } from "../plugin/handle.ts";
import { skipped, type Verdict } from "./verdicts.ts";
import { groupDigits } from "../util/digits.ts";

/** Blocks each half of a run must leave behind for its residue to be a leak. */
export const HEAP_LEAK_MIN = 8;
/** Stacks the evidence shows, and frames of each. */
const SHOWN_STACKS = 3;
const SHOWN_FRAMES = 6;

/** The marks of one run on a plugin whose heap is counted. */
export class HeapMarks {
  readonly #plugin: PluginHandle;
  readonly #from: number;

  private constructor(plugin: PluginHandle, from: number) {
    this.#plugin = plugin;
    this.#from = from;
  }

  /** The first mark (now); undefined when the plugin's heap is not counted. */
  static async begin(plugin: PluginHandle): Promise<HeapMarks | undefined> {
    const now = await plugin.readHeap().catch(() => null);
    return now === null ? undefined : new HeapMarks(plugin, now.serial);
  }

  /**
   * The second mark (now): what is live, split at the first mark and at the
   * middle of the allocations made since; undefined when the heap cannot be
   * read.
   */
  async residue(): Promise<HeapResidue | undefined> {
    const end = await this.#plugin.readHeap().catch(() => null);
    if (end === null) return undefined;
    const mid = this.#from + Math.floor((end.serial - this.#from) / 2);
    return (await this.#plugin.heapResidue(this.#from, mid).catch(() => null)) ?? undefined;
  }
}

/**
 * The verdict from a residue (`stacks`: its stacks, symbolized, in the same
 * order). `calls`: the calls the run made.
 */
export function judgeResidue(r: HeapResidue, stacks: readonly SymbolizedFrame[][], calls: number): Verdict {
  const lost = r.first + r.second;
  const evidence: Record<string, unknown> = {
    kept_before_run: r.before,
    first_half: r.first,
    second_half: r.second,
    bytes: r.bytes,
    calls,
    stacks: r.stacks.slice(0, SHOWN_STACKS).map((s, i) => ({
      blocks: s.blocks,
      bytes: s.bytes,
      frames: (stacks[i] ?? s.frames).slice(0, SHOWN_FRAMES).map(formatFrame),
    })),
  };
  const blocks = (x: number) => `${groupDigits(x)} block${x === 1 ? "" : "s"}`;
  if (r.first >= HEAP_LEAK_MIN && r.second >= HEAP_LEAK_MIN) {
    const top = allocatedAt(stacks.length > 0 ? stacks : r.stacks.map((x) => x.frames));
    const where = top === undefined ? "" : `, allocated at ${formatFrame(top)}`;
    return {
      id: "heap_growth",
      status: "fail",
      summary: `the plugin lost ${blocks(lost)} (${bytesText(r.bytes)}) over ${
        groupDigits(calls)
      } calls: still allocated after every instance was destroyed, ${
        groupDigits(r.first)
      } from the first half of the run and ${groupDigits(r.second)} from the second${where}`,
      evidence,
    };
  }
  const kept = lost === 0
    ? "no block the plugin allocated during the run is left"
    : `${blocks(lost)} left (${bytesText(r.bytes)}), not from both halves of the run: kept, not lost`;
  return { id: "heap_growth", status: "pass", summary: `${kept} after every instance was destroyed`, evidence };
}

/**
 * The verdict of a run from its marks' residue ({@link HeapMarks.residue},
 * read before the plugin is closed); symbolizes the residue's stacks first.
 * `notJudged`: why the run cannot be judged, if so.
 */
export async function heapVerdict(
  marks: HeapMarks | undefined,
  r: HeapResidue | undefined,
  notJudged: string | undefined,
  calls: number,
): Promise<Verdict> {
  if (marks === undefined) {
    return skipped("heap_growth", "the plugin's heap is not counted (turned off, or not on this architecture)");
  }
  if (notJudged !== undefined) return skipped("heap_growth", notJudged);
  if (r === undefined) return skipped("heap_growth", "the plugin's heap could not be read after the run");
  return judgeResidue(r, await symbolizeStacks(r), calls);
}

/**
 * The residue's first stacks (at most 3, of at most 6 frames), symbolized, in
 * its order; frames of the main program left out (Deno: named without a path
 * in process, by its path in a sandbox child), and from `r.stacks` too.
 */
export async function symbolizeStacks(r: HeapResidue): Promise<SymbolizedFrame[][]> {
  const deno = Deno.execPath();
  for (const s of r.stacks) s.frames = s.frames.filter((f) => f.module.includes("/") && f.module !== deno);
  const shown = r.stacks.slice(0, SHOWN_STACKS).map((s) => s.frames.slice(0, SHOWN_FRAMES));
  const named = await symbolize(shown.flat());
  let at = 0;
  return shown.map((frames) => named.slice(at, at += frames.length));
}

/** Where the first stack's block was allocated: its first frame outside libc, the loader and libstdc++. */
export function allocatedAt(stacks: readonly (readonly SymbolizedFrame[])[]): SymbolizedFrame | undefined {
  return stacks[0]?.find((f) => f.module !== "" && !isRuntime(f.module));
}

/** libc, the loader, libstdc++: never where a plugin's block was lost. */
function isRuntime(module: string): boolean {
  const base = module.split("/").at(-1) ?? module;
  return /^(libc|ld-linux|libstdc\+\+|libgcc_s|libpthread)[.-]/.test(base);
}

function bytesText(b: number): string {
  if (b < 10 * 1024) return `${groupDigits(b)} bytes`;
  if (b < 10 * 2 ** 20) return `${(b / 1024).toFixed(1)} KiB`;
  return b < 10 * 2 ** 30 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 30).toFixed(1)} GiB`;
}
