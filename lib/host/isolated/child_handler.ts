/**
 * The `plugin` child handler: loads one plugin in the child with the
 * in-process engine and serves the parent's requests concurrently. An invoke
 * is a nonblocking call, so many run at once on the child's threads (at most
 * as many as the child has call slots; more wait their turn), unless the
 * parent marks it `sync` (it had nothing else in flight): then it takes the
 * synchronous path, which is far cheaper. Requests on one instance of a plugin
 * without `thread_safe_instances` run one at a time. A batch runs its calls
 * in order, as one request: on the synchronous path when the parent marks it
 * `sync`, else each call nonblocking (so batches in flight on a thread-safe
 * instance overlap as single calls would). It times every call, marks each on
 * the call board slot the parent gave it (so the parent can name the call a
 * crash or hang interrupted, and give each call its deadline), and stops
 * starting calls once its outputs reach the `budget` in bytes. The child has
 * no deadlines of its own: the parent kills it when one expires.
 *
 * @example
 * ```ts ignore
 * import { start } from "./child_handler.ts";
 * const handler = await start({ options: { pluginPath, log: "info", maxOutputBytes }, send });
 * ```
 *
 * @module
 */
import { callSlots } from "../../plugin/call_slots.ts";
import { type LevelName, type OutRecord, setLogOut } from "../../plugin/log_out.ts";
import { PluginError } from "../../errors/errors.ts";
import { ProcessGuard } from "../../ffi/process_guard.ts";
import { closedError } from "../../errors/host_errors.ts";
import { finishUnloads } from "../unloads.ts";
import type { Instance } from "../in_process/instance.ts";
import { loadInProcess, type Plugin } from "../in_process/plugin.ts";
import { leaveDescribeToParent } from "../../plugin/read_description.ts";
import { onLoadPhase } from "../in_process/load_phase.ts";
import { resolveOptions } from "../../plugin/options.ts";
import type { ChildHandler, HandlerContext, HandlerReply } from "../../sandbox/child_handler.ts";
import { errorToWire, type Frame, KIND } from "../../sandbox/protocol.ts";
import { CallMarks } from "../../sandbox/call_board.ts";

/** The plugin handler's options (the parent's spec). */
export interface PluginHandlerOptions {
  pluginPath: string;
  log: string;
  maxOutputBytes: number;
  /** `LoadOptions.shutdownCheck`, run in the child; its report comes back in the CLOSE reply. */
  shutdownCheck?: boolean;
  /** `LoadOptions.trackHeap`: the child counts the plugin's heap (the HEAP request reads it). */
  trackHeap?: boolean;
  /** `LoadOptions.adapter`: the plugin is served through it. */
  adapter?: string;
}

/** plugcheck's own records a child forwards: warnings and worse (the plugin's go at every level its filter lets through). */
const FORWARDED_OWN = new Set<LevelName>(["warning", "error", "fatal"]);

/** Sends this child's log records (the plugin's logs, plugcheck's warnings) to the parent, which emits them on LogTape. */
function forwardLogs(send: (frame: Frame) => void): void {
  setLogOut((r: OutRecord) => {
    const own = r.category[0] === "plugcheck";
    if (!own && r.category[0] !== "plugin") return;
    if (own && !FORWARDED_OWN.has(r.level)) return;
    send({
      id: 0,
      kind: KIND.LOG,
      header: { category: r.category, level: r.level, message: r.text, props: r.properties },
      blobs: [],
    });
  });
}

const EMPTY = new Uint8Array(0);
const NO_DEADLINE = { timeoutMs: Infinity };

/** Starts the handler: loads the plugin (dlopen, init, describe). */
export async function start(context: HandlerContext): Promise<ChildHandler> {
  const o = context.options as unknown as PluginHandlerOptions;
  // The parent's start deadline counts the plugin's calls only: it is told where the load is (PHASE frames).
  const phase = (op: string | null) => context.send({ id: 0, kind: KIND.PHASE, header: { op }, blobs: [] });
  phase(null);
  onLoadPhase(phase);
  forwardLogs(context.send);
  leaveDescribeToParent(); // its HELLO carries describe() as read; the parent validates it
  let plugin: Plugin;
  try {
    plugin = await loadInProcess(
      o.pluginPath,
      resolveOptions({
        log: o.log,
        maxOutputBytes: o.maxOutputBytes,
        timeoutMs: Infinity,
        shutdownCheck: o.shutdownCheck === true,
        trackHeap: o.trackHeap === true,
        ...o.adapter !== undefined && { adapter: o.adapter },
        deferUnload: true, // after the CLOSE reply: unload()
      }),
    );
  } finally {
    onLoadPhase(undefined);
  }
  return new PluginHandler(plugin, context.board);
}

/** Waits for a free call slot in this child instead of failing for want of one. */
class Slots {
  #free = callSlots.limit;
  #waiters: (() => void)[] = [];

  async run<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#free === 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#free--;
    try {
      return await fn();
    } finally {
      this.#free++;
      this.#waiters.shift()?.();
    }
  }
}

class PluginHandler implements ChildHandler {
  readonly hello: Record<string, unknown>;
  readonly #plugin: Plugin;
  readonly #guard: ProcessGuard;
  readonly #instances = new Map<number, Instance>();
  /** Per instance, the last request on it: requests on a non-thread-safe instance chain here. */
  readonly #lanes = new Map<number, Promise<unknown>>();
  readonly #running = new Set<Promise<unknown>>();
  readonly #slots = new Slots();
  readonly #board: CallMarks | undefined;
  #nextInstance = 1;
  #warningsSent = 0;

  constructor(plugin: Plugin, board: CallMarks | undefined) {
    this.#plugin = plugin;
    this.#board = board;
    this.#guard = ProcessGuard.get();
    this.hello = {
      abi: plugin.abiVersion,
      description: plugin.describe(),
      capabilities: plugin.capabilities,
      optionalSymbols: plugin.optionalSymbols,
      initMs: plugin.initMs,
    };
  }

  handle(frame: Frame): Promise<HandlerReply> {
    if (frame.kind === KIND.CLOSE) return this.#close();
    const run = this.#dispatch(frame).then((reply) => this.#withWarnings(reply));
    this.#running.add(run);
    const forget = () => this.#running.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Unloads the plugin closing left loaded (its destructors run now, after the CLOSE reply). */
  async unload(): Promise<void> {
    await finishUnloads();
  }

  async close(): Promise<void> {
    await this.#close();
  }

  async #dispatch(f: Frame): Promise<HandlerReply> {
    const h = f.header;
    const method = String(h.method ?? "");
    const id = Number(h.instance);
    switch (f.kind) {
      case KIND.CREATE: {
        const inst = h.noop === true
          ? await this.#plugin.noopInstance()
          : await this.#slots.run(() => this.#plugin.createInstance(h.hasConfig ? f.blobs[0] : undefined, NO_DEADLINE));
        const created = this.#nextInstance++;
        this.#instances.set(created, inst);
        return { header: { instance: created } };
      }
      case KIND.INVOKE: {
        const inst = this.#instance(id, `invoke ${JSON.stringify(method)}`);
        const input = f.blobs[0] ?? EMPTY;
        const out = await this.#lane(
          id,
          // `sync`: the parent had nothing else in flight, so the synchronous path costs no concurrency.
          () =>
            h.sync === true
              ? Promise.resolve(inst.invokeSync(method, input))
              : this.#slots.run(() => inst.invoke(method, input, NO_DEADLINE)),
        );
        return { header: {}, blobs: [out] };
      }
      case KIND.BATCH: {
        const methods = Array.isArray(h.methods) ? h.methods.map(String) : [];
        const inst = this.#instance(id, `invoke ${JSON.stringify(methods[0] ?? "")}`);
        return await this.#lane(id, () => this.#batch(inst, h, methods, f.blobs));
      }
      case KIND.DESTROY: {
        const inst = this.#instance(id, "destroy instance");
        await this.#lane(id, () => this.#slots.run(() => inst.destroy()));
        this.#instances.delete(id);
        this.#lanes.delete(id);
        return { header: {} };
      }
      case KIND.STATS:
        return { header: { stats: this.#plugin.stats() } };
      case KIND.LOG_COUNTERS:
        return { header: { counters: this.#plugin.logCounters() } };
      case KIND.SNAPSHOT:
        return { header: { snapshot: await this.#plugin.snapshot() } };
      case KIND.HEAP: {
        const heap = this.#plugin.heap();
        if (typeof h.from !== "number" || typeof h.mid !== "number") return { header: { heap } };
        return { header: { heap, residue: this.#plugin.residue(h.from, h.mid) } };
      }
      default:
        throw new Error(`unknown request kind ${f.kind}`);
    }
  }

  /**
   * Every input in order, call `i` with `methods[which[i]]` (`which` absent:
   * all with `methods[0]`); plugin errors are results. Replies `ran` (the
   * calls made), the failures as `[index, error]` pairs, and blobs: each
   * output, then each call's time in ms (f64).
   */
  async #batch(
    inst: Instance,
    h: Record<string, unknown>,
    methods: string[],
    inputs: Uint8Array[],
  ): Promise<HandlerReply> {
    const which = Array.isArray(h.which) ? h.which as number[] : undefined;
    const sync = h.sync === true;
    const budget = typeof h.budget === "number" ? h.budget : Infinity;
    const board = CallMarks.valid(h.slot) ? this.#board : undefined;
    const slot = board ? h.slot as number : 0;
    const outs: Uint8Array[] = [];
    const failed: [number, unknown][] = [];
    const ms = new Float64Array(inputs.length);
    let bytes = 0;
    let ran = 0;
    while (ran < inputs.length && bytes < budget) {
      const i = ran++;
      const method = methods[which?.[i] ?? 0] ?? "";
      const input = inputs[i]!;
      board?.started(slot, i + 1);
      const t0 = performance.now();
      try {
        const out = sync
          ? inst.invokeSync(method, input)
          : await this.#slots.run(() => inst.invoke(method, input, NO_DEADLINE));
        outs.push(out);
        bytes += out.length;
      } catch (error) {
        if (!(error instanceof PluginError)) throw error;
        outs.push(EMPTY);
        failed.push([i, errorToWire(error)]);
      }
      ms[i] = performance.now() - t0;
      board?.returned(slot, i + 1);
    }
    outs.push(new Uint8Array(ms.buffer, 0, ran * 8));
    return { header: { ran, failed }, blobs: outs };
  }

  /** Runs `fn` after the instance's previous request when its plugin is not thread-safe. */
  #lane<T>(id: number, fn: () => Promise<T>): Promise<T> {
    if (this.#plugin.describe().thread_safe_instances) return fn();
    const run = (this.#lanes.get(id) ?? Promise.resolve()).then(fn);
    this.#lanes.set(id, run.catch(() => {}));
    return run;
  }

  #instance(id: number, op: string): Instance {
    const inst = this.#instances.get(id);
    if (inst === undefined) throw closedError(op, "instance");
    return inst;
  }

  #withWarnings(reply: HandlerReply): HandlerReply {
    const all = this.#plugin.contractWarnings;
    if (all.length === this.#warningsSent) return reply;
    const warnings = all.slice(this.#warningsSent);
    this.#warningsSent = all.length;
    return { ...reply, header: { ...reply.header, warnings } };
  }

  #closing: Promise<HandlerReply> | undefined;

  /** Lets what runs finish, closes the plugin (destroy, shutdown), and reports what it wrote to stdout. */
  #close(): Promise<HandlerReply> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#running]);
      await this.#plugin.close().catch(() => {}); // failures are in the contract warnings
      return this.#withWarnings({
        header: {
          counters: this.#plugin.logCounters(),
          stdoutBytes: this.#guard.stdoutBytes() ?? 0,
          shutdown: this.#plugin.shutdownReport ?? null,
        },
      });
    })();
    return this.#closing;
  }
}
