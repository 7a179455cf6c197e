/**
 * The sandbox child: a Deno process that loads one plugin in process and
 * serves the parent's requests over stdio (see `protocol.ts`). Calls run
 * with `invokeSync`: the child has no deadlines of its own, because the parent
 * kills it when one expires. Plugin log records are forwarded as LOG frames.
 *
 * Started by `host.ts` as:
 * `deno run <flags> lib/sandbox/child.ts <plugin path> <options JSON>`.
 *
 * @example
 * ```sh
 * # Not run by hand: the parent writes frames to its stdin.
 * deno run --allow-ffi --allow-read lib/sandbox/child.ts build/fixtures/libref_c.so '{"log":"info"}'
 * ```
 *
 * @module
 */
import { configureSync, type LogRecord } from "../deps.ts";
import { closed } from "../guard.ts";
import { toData } from "../error_data.ts";
import type { Instance } from "../in_process/instance.ts";
import { loadInProcess, type Plugin } from "../in_process/plugin.ts";
import { resolveOptions } from "../options.ts";
import { encodeFrame, type Frame, FrameReader, KIND, PROTOCOL_VERSION } from "./protocol.ts";

/** Options the parent passes as the second argument. */
export interface ChildOptions {
  log: string;
  hostLibraryPath: string;
  maxOutputBytes: number;
  maxFrame: number;
}

function send(frame: Frame): void {
  let data = encodeFrame(frame);
  while (data.length > 0) data = data.subarray(Deno.stdout.writeSync(data));
}

const EMPTY = new Uint8Array(0);

async function main(): Promise<never> {
  const [pluginPath, optionsJson] = Deno.args;
  const opts = JSON.parse(optionsJson ?? "{}") as ChildOptions;
  configureSync({
    sinks: {
      parent: (r: LogRecord) =>
        send({
          id: 0,
          kind: KIND.LOG,
          header: {
            category: r.category,
            level: r.level,
            message: r.message.map(String).join(""),
            props: r.properties,
          },
          blobs: [],
        }),
    },
    loggers: [
      { category: ["plugin"], lowestLevel: "trace", sinks: ["parent"] },
      { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] },
    ],
  });

  // Booted: from here on the parent's load deadline covers only dlopen, init and describe.
  send({ id: 0, kind: KIND.BOOTED, header: { protocol: PROTOCOL_VERSION }, blobs: [] });
  let plugin: Plugin;
  try {
    plugin = await loadInProcess(
      pluginPath ?? "",
      resolveOptions({
        log: opts.log,
        hostLibraryPath: opts.hostLibraryPath,
        maxOutputBytes: opts.maxOutputBytes,
        timeoutMs: Infinity,
      }),
    );
  } catch (error) {
    send({
      id: 0,
      kind: KIND.HELLO,
      header: { protocol: PROTOCOL_VERSION, ok: false, error: toData(error) },
      blobs: [],
    });
    Deno.exit(0);
  }
  send({
    id: 0,
    kind: KIND.HELLO,
    header: {
      protocol: PROTOCOL_VERSION,
      ok: true,
      pid: Deno.pid,
      abi: plugin.abiVersion,
      description: plugin.describe(),
      capabilities: plugin.capabilities,
      optionalSymbols: plugin.optionalSymbols,
      initMs: plugin.initMs,
    },
    blobs: [],
  });

  const instances = new Map<number, Instance>();
  let nextInstance = 1;
  let warningsSent = 0;
  const instance = (header: Record<string, unknown>, op: string): Instance => {
    const inst = instances.get(Number(header.instance));
    if (inst === undefined) throw closed(op, "instance");
    return inst;
  };
  const reply = (id: number, header: Record<string, unknown>, blobs: Uint8Array[] = []) => {
    const warnings = plugin.contractWarnings.slice(warningsSent);
    warningsSent = plugin.contractWarnings.length;
    send({ id, kind: KIND.REPLY, header: { ...header, warnings }, blobs });
  };

  async function handle(f: Frame): Promise<void> {
    const h = f.header;
    const method = String(h.method ?? "");
    switch (f.kind) {
      case KIND.CREATE: {
        const inst = await plugin.createInstance(h.hasConfig ? f.blobs[0] : undefined, { timeoutMs: Infinity });
        const id = nextInstance++;
        instances.set(id, inst);
        return reply(f.id, { ok: true, instance: id });
      }
      case KIND.INVOKE: {
        const out = instance(h, `invoke ${JSON.stringify(method)}`).invokeSync(method, f.blobs[0] ?? EMPTY);
        return reply(f.id, { ok: true }, [out]);
      }
      case KIND.BATCH: {
        const inst = instance(h, `invoke ${JSON.stringify(method)}`);
        const results: Record<string, unknown>[] = [];
        const outs: Uint8Array[] = [];
        for (const input of f.blobs) {
          try {
            outs.push(inst.invokeSync(method, input));
            results.push({ ok: true });
          } catch (error) {
            outs.push(EMPTY);
            results.push({ ok: false, error: toData(error) });
          }
        }
        return reply(f.id, { ok: true, results }, outs);
      }
      case KIND.DESTROY: {
        await instance(h, "destroy instance").destroy();
        instances.delete(Number(h.instance));
        return reply(f.id, { ok: true });
      }
      case KIND.STATS:
        return reply(f.id, { ok: true, stats: plugin.stats() });
      case KIND.LOG_COUNTERS:
        return reply(f.id, { ok: true, counters: plugin.logCounters() });
      case KIND.CLOSE:
        await plugin.close();
        reply(f.id, { ok: true, counters: plugin.logCounters() });
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown request kind ${f.kind}`);
    }
  }

  const reader = new FrameReader(opts.maxFrame);
  for await (const chunk of Deno.stdin.readable) {
    for (const frame of reader.push(chunk)) {
      try {
        await handle(frame);
      } catch (error) {
        reply(frame.id, { ok: false, error: toData(error) });
      }
    }
  }
  // The parent closed our stdin: it is gone or done with us.
  await plugin.close();
  Deno.exit(0);
}

if (import.meta.main) await main();
