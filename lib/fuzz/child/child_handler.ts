/**
 * The `fuzz` sandbox child handler: opens the input file, loads the target
 * (an npa plugin with one instance, or a libFuzzer harness, whose
 * `LLVMFuzzerInitialize` runs here), arms the crash recorder, and runs FUZZ
 * requests with the engine (`engine.ts`). Its HELLO carries the plugin's
 * describe() text for the parent to validate. It imports neither zod nor
 * LogTape, so a child restarted after a crash is fuzzing again in tens of
 * milliseconds.
 *
 * @example
 * ```ts ignore
 * import { start } from "./child_handler.ts";
 * const handler = await start({ options: fuzzChildOptions, send });
 * ```
 *
 * @module
 */
import { FuzzLoop } from "../../ffi/fuzz_loop.ts";
import { openHarnessLibrary } from "../../ffi/dlopen.ts";
import { ProcessGuard } from "../../ffi/process_guard.ts";
import { loadError } from "../../errors/host_errors.ts";
import type { ChildHandler, HandlerContext, HandlerReply } from "../../sandbox/child_handler.ts";
import { type Frame, KIND } from "../../sandbox/protocol.ts";
import { FuzzEngine } from "../engine/fuzz_engine.ts";
import type { EngineTarget } from "../engine/batch_loop.ts";
import { NpaTarget } from "./npa_target.ts";
import type { FuzzChildOptions, FuzzRequest } from "../wire.ts";

/** Starts the handler: maps the input file, loads and arms the target. */
export async function start(context: HandlerContext): Promise<ChildHandler> {
  const o = context.options as unknown as FuzzChildOptions;
  let loop: FuzzLoop;
  try {
    loop = FuzzLoop.open(o.inputFile, o.inputFileSize);
  } catch (cause) {
    throw loadError(o.pluginPath, "cannot map the fuzz input file", cause);
  }
  let target: EngineTarget;
  let npa: NpaTarget | undefined;
  if (o.target === "npa") {
    const config = o.config === undefined ? undefined : new TextEncoder().encode(o.config);
    npa = await NpaTarget.open(o.pluginPath, { ...o, config });
    loop.targetNpa(npa.entryPath, npa.instance, o.maxOutputBytes);
    target = npa;
  } else {
    const guard = ProcessGuard.get();
    try {
      openHarnessLibrary(o.pluginPath, (fn) => guard.sync(`load harness ${JSON.stringify(o.pluginPath)}`, fn));
    } catch (cause) {
      throw loadError(o.pluginPath, "not a loadable libFuzzer harness (no LLVMFuzzerTestOneInput?)", cause);
    }
    const failed = loop.targetLibFuzzer(o.pluginPath);
    if (failed !== undefined) throw loadError(o.pluginPath, `LLVMFuzzerInitialize returned ${failed}`);
    target = { judge: () => ({ warnings: [] }) };
  }
  let edges = 0;
  if (o.coverage) {
    try {
      edges = loop.guide();
    } catch (cause) {
      throw loadError(o.pluginPath, "cannot switch the fuzz loop to coverage guidance", cause);
    }
    if (edges === 0) {
      throw loadError(
        o.pluginPath,
        "it is built with SanitizerCoverage but registered no 8-bit counters (build it with -fsanitize-coverage=inline-8bit-counters,...)",
      );
    }
  }
  if (edges === 0 && o.comparisons === true && !loop.compare()) {
    throw loadError(o.pluginPath, "plugcheck's coverage runtime is not loaded in this fuzz child");
  }
  loop.arm();
  return new FuzzHandler(loop, target, npa, context.send, edges, o.comparisons === true);
}

class FuzzHandler implements ChildHandler {
  readonly hello: Record<string, unknown>;
  readonly #loop: FuzzLoop;
  readonly #target: EngineTarget;
  readonly #npa: NpaTarget | undefined;
  readonly #send: (frame: Frame) => void;

  /** Comparisons feed the mutator: guided, or blind with the coverage runtime's interposers. */
  readonly #comparisons: boolean;

  constructor(
    loop: FuzzLoop,
    target: EngineTarget,
    npa: NpaTarget | undefined,
    send: (frame: Frame) => void,
    edges: number,
    comparisons: boolean,
  ) {
    this.#loop = loop;
    this.#target = target;
    this.#npa = npa;
    this.#send = send;
    this.#comparisons = edges > 0 || comparisons;
    this.hello = { ...npa && { describe: npa.describeText, stats: npa.hasStats }, edges };
  }

  handle(frame: Frame): Promise<HandlerReply> {
    if (frame.kind === KIND.CLOSE) return this.#close();
    if (frame.kind !== KIND.FUZZ) return Promise.reject(new Error(`unknown request kind ${frame.kind}`));
    const req = frame.header as unknown as FuzzRequest;
    const seeds = frame.blobs.slice(0, req.seeds);
    const known = frame.blobs.slice(req.seeds, req.seeds + (req.known ?? 0));
    const dict = frame.blobs.slice(req.seeds + (req.known ?? 0));
    const send = (header: Record<string, unknown>, blobs: Uint8Array[]) =>
      this.#send({ id: 0, kind: KIND.EVENT, header, blobs });
    return new FuzzEngine(this.#loop, this.#target, req, seeds, dict, send, this.#comparisons, known).run()
      .then((result) => ({ header: { ...result } }));
  }

  close(): Promise<void> {
    return this.#close().then(() => {});
  }

  #closing: Promise<HandlerReply> | undefined;

  #close(): Promise<HandlerReply> {
    this.#closing ??= (async () => {
      await this.#npa?.close();
      return { header: {} };
    })();
    return this.#closing;
  }
}
