/**
 * The `errors.bad_config` check: `npa_instance_create` refuses a config that
 * is not a JSON object (not JSON at all, an array, a number, a string, null)
 * with INVALID_INPUT (STATE is accepted too), answers an object of the wrong
 * shape with OK or INVALID_INPUT, and leaves no instance behind: the error
 * path of create, which no example and no other check takes, is where a
 * half-built instance is forgotten. `live_instances` (`npa_plugin_stats`) is
 * read before the refused creates and after them, before anything is
 * destroyed: what destroy leaks is `resources.churn`'s, and an error buffer
 * `npa_buffer_free` does not uncount is `buffers.balanced`'s. The plugin's
 * own heap is counted too (`trackHeap`), so a leak on the error path shows
 * without `npa_plugin_stats`: when every bad config was refused, they are all
 * sent a second time, and blocks both rounds left behind are a leak (a
 * first create that builds a table once leaves blocks in the first round
 * only; error buffers `npa_buffer_free` kept, counted in `live_buffers`, are
 * taken off: they are `buffers.balanced`'s). It runs in a sandbox child of its own, so what it provokes is
 * charged to no other check.
 *
 * @example
 * ```ts ignore
 * import { BAD_CONFIG_CHECK } from "./bad_config.ts";
 * ```
 *
 * @module
 */
import { InvalidInputError, PluginError, PluginStateError } from "../../errors/errors.ts";
import type { InstanceHandle } from "../../plugin/handle.ts";
import { loadPlugin } from "../../host/load_plugin.ts";
import { escapeControl } from "../../util/safe_text.ts";
import { checkLoadOptions, errorLine, lines } from "../check_helpers.ts";
import { allocatedAt, symbolizeStacks } from "../../stress/heap_growth.ts";
import { formatFrame } from "../../load/symbolize.ts";
import type { HeapResidue } from "../../ffi/plugin_heap.ts";
import { type CheckSpec, fail, pass, plural } from "../spec.ts";
import { unanswered } from "../sweep.ts";

const enc = new TextEncoder();

/** Configs a plugin must refuse: not a JSON object. */
export const NOT_OBJECT_CONFIGS: readonly { what: string; bytes: Uint8Array }[] = [
  { what: "not JSON", bytes: enc.encode('{"sample_rate":') },
  { what: "an array", bytes: enc.encode("[]") },
  { what: "a number", bytes: enc.encode("42") },
  { what: "a string", bytes: enc.encode('"config"') },
  { what: "null", bytes: enc.encode("null") },
];

/** An object of the wrong shape: keys plugins use (the reference plugins', the LADSPA adapter's) with wrong types. */
export const WRONG_SHAPE_CONFIG: Uint8Array = enc.encode(
  '{"counter_start":"five","sample_rate":-1,"max_block":[],"out_of_range":"yes"}',
);

const shown = (bytes: Uint8Array) => escapeControl(new TextDecoder().decode(bytes));

/** The check. */
export const BAD_CONFIG_CHECK: CheckSpec = {
  id: "errors.bad_config",
  title: "A config that is not a JSON object is refused with INVALID_INPUT, and a refused create leaves no instance",
  rule: "instance-config",
  needs: "plugin",
  run: async (ctx) => {
    const timeoutMs = ctx.thresholds.callTimeoutMs;
    const plugin = await loadPlugin(ctx.path, { ...checkLoadOptions(ctx), trackHeap: true });
    const wrong: string[] = [];
    const accepted: InstanceHandle[] = [];
    let before: Record<string, number> | null = null;
    let after: Record<string, number> | null = null;
    let liveAtRead = 0;
    let heap: HeapResidue | null = null;
    /** Creates an instance with `bytes`, keeping it if create accepted it; notes an answer the rules do not allow. */
    const create = async (bytes: Uint8Array, what: string, mustRefuse: boolean) => {
      try {
        accepted.push(await plugin.createInstance(bytes, { timeoutMs }));
        if (mustRefuse) wrong.push(`${what} (${shown(bytes)}): accepted (OK)`);
      } catch (e) {
        if (e instanceof InvalidInputError || (mustRefuse && e instanceof PluginStateError)) return;
        // A crash or hang is the check's outcome (the runner's); so is anything but create's own answer.
        if (unanswered(e) || !(e instanceof PluginError) || e.operation !== "create instance") throw e;
        wrong.push(`${what} (${shown(bytes)}): ${errorLine(e)}`);
      }
    };
    try {
      before = await plugin.readStats();
      const start = await plugin.readHeap();
      for (const { what, bytes } of NOT_OBJECT_CONFIGS) await create(bytes, what, true);
      // Read before any destroy: what destroy leaks or how long it takes is other checks' (resources.churn,
      // timeouts.lifecycle), and an error buffer npa_buffer_free does not uncount is buffers.balanced's.
      after = await plugin.readStats();
      liveAtRead = accepted.length;
      if (start !== null && liveAtRead === 0) {
        // Every one refused: the same again, so blocks kept once can be told from blocks lost each time.
        const mid = (await plugin.readHeap())!;
        for (const { what, bytes } of NOT_OBJECT_CONFIGS) await create(bytes, what, false);
        const end = await plugin.readStats();
        if (accepted.length === 0) heap = await plugin.heapResidue(start.serial, mid.serial);
        // Error buffers npa_buffer_free kept (live_buffers grew) are buffers.balanced's, blocks of the heap or not.
        const kept = (from: Record<string, number> | null, to: Record<string, number> | null) =>
          Math.max(0, (to?.live_buffers ?? 0) - (from?.live_buffers ?? 0));
        if (heap !== null) {
          heap = { ...heap, first: heap.first - kept(before, after), second: heap.second - kept(after, end) };
        }
      }
      await create(WRONG_SHAPE_CONFIG, "an object of the wrong shape", false);
    } finally {
      for (const inst of accepted) await inst.destroy().catch(() => {});
      await plugin.close().catch(() => {});
    }
    // Instances the refused creates left behind: what live_instances grew by, less those create accepted.
    const left = before === null || after === null
      ? 0
      : (after.live_instances ?? 0) - (before.live_instances ?? 0) - liveAtRead;
    // The plugin's heap: blocks both rounds of refused creates left behind.
    let heapLost: { line: string; evidence: string[] } | undefined;
    if (heap !== null && heap.first > 0 && heap.second > 0) {
      const stacks = await symbolizeStacks(heap);
      const at = allocatedAt(stacks);
      const lost = `${plural(heap.first + heap.second, "block")} (${heap.bytes} bytes) over ${
        plural(2 * NOT_OBJECT_CONFIGS.length, "refused create")
      }, ${heap.first} in the first ${NOT_OBJECT_CONFIGS.length} and ${heap.second} in the next${
        at ? `, allocated at ${formatFrame(at)}` : ""
      }`;
      heapLost = {
        line: lost,
        evidence: [`the plugin's heap: ${lost}`, ...stacks.map((frames) => frames.map(formatFrame).join(" <- "))],
      };
    }
    if (left > 0) {
      const leak = `live_instances ${before!.live_instances} -> ${after!.live_instances} over ${
        plural(NOT_OBJECT_CONFIGS.length - liveAtRead, "refused create")
      }`;
      return fail(`refused creates leaked their instances: ${leak}`, [
        leak,
        ...heapLost?.evidence ?? [],
        ...lines(wrong, (w) => w),
      ]);
    }
    if (heapLost !== undefined) {
      return fail(`refused creates leaked the plugin's heap: ${heapLost.line}`, [
        ...heapLost.evidence,
        ...lines(wrong, (w) => w),
      ]);
    }
    if (wrong.length > 0) {
      return fail(
        `${plural(wrong.length, "bad config")} not refused with INVALID_INPUT: ${wrong[0]}`,
        lines(wrong, (w) => w),
      );
    }
    const counted = before === null && heap === null
      ? "; no npa_plugin_stats and no heap count, so leaks are not counted"
      : before === null
      ? "; nothing left on the plugin's heap"
      : "; no instance left behind";
    return pass(
      `${plural(NOT_OBJECT_CONFIGS.length, "config")} that are not JSON objects refused with INVALID_INPUT, ` +
        `one of the wrong shape answered${counted}`,
    );
  },
};
