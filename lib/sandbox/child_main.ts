/**
 * A sandbox child process. Before anything else it puts itself in a process
 * group of its own that dies with its parent (the sandbox launcher), and moves the protocol pipes
 * off fd 0 and fd 1 (the plugin's stdout then goes to stderr, counted; its
 * stdin reads /dev/null). Then it starts the handler its engine gave it and
 * serves the parent's frames; requests are handed to the handler as they
 * arrive, without waiting for earlier ones, and replies go back by id.
 *
 * If plugcheck itself fails in here (a bug, not the plugin), the child sends
 * a FATAL frame and exits with `FATAL_EXIT`, so the parent never blames
 * the plugin for it.
 *
 * An engine's entry module is what `spawn.ts` runs: `deno run <flags>
 * lib/<engine>/child_entry.ts <boot JSON>`, and it calls {@link runChild} with
 * its handler. The sandbox thereby imports nothing above it.
 *
 * @example
 * ```ts ignore
 * // An engine's child_entry.ts, run by the parent (which writes frames to its stdin):
 * import { runChild } from "../../sandbox/child_main.ts";
 * import * as handler from "./child_handler.ts";
 * if (import.meta.main) await runChild(handler);
 * ```
 *
 * @module
 */
import { ProcessGuard } from "../ffi/process_guard.ts";
import { ProcInfo } from "../ffi/proc_info.ts";
import { CallMarks } from "./call_board.ts";
import type { ChildHandler, HandlerModule } from "./child_handler.ts";
import {
  type ChildBoot,
  encodeFrameParts,
  errorToWire,
  FATAL_EXIT,
  type Frame,
  KIND,
  PROTOCOL_VERSION,
  readFile,
  readFrames,
} from "./protocol.ts";

/**
 * The end of a child once its handler closed: unloads what the handler put
 * off (the plugin's destructors run now, after the CLOSE reply), says so
 * (an EVENT `{ unloaded: true }`: a child that ends before it, whatever its
 * status, did not unload cleanly), and exits.
 */
async function finish(handler: ChildHandler, send: (frame: Frame) => void): Promise<never> {
  await handler.unload?.();
  send({ id: 0, kind: KIND.EVENT, header: { unloaded: true }, blobs: [] });
  Deno.exit(0);
}

function serve(handler: ChildHandler, frame: Frame, send: (frame: Frame) => void): void {
  handler.handle(frame).then(
    (reply) => {
      send({ id: frame.id, kind: KIND.REPLY, header: { ok: true, ...reply.header }, blobs: reply.blobs ?? [] });
      if (frame.kind === KIND.CLOSE) return finish(handler, send);
    },
    (error) => send({ id: frame.id, kind: KIND.REPLY, header: { ok: false, error: errorToWire(error) }, blobs: [] }),
  );
}

/**
 * Runs this process as a sandbox child serving `module`'s handler. Called by
 * an engine's entry module (`child_entry.ts`) when it is the main module; the
 * boot JSON is the first argument.
 */
export async function runChild(module: HandlerModule): Promise<never> {
  const [bootJson] = Deno.args;
  const boot = JSON.parse(bootJson ?? "{}") as ChildBoot;
  const guard = ProcessGuard.get();
  guard.childSetup(boot.parent);
  const fds = guard.guardStdio();
  const output = Deno.openSync(`/proc/self/fd/${fds.output}`, { write: true });
  const input = Deno.openSync(`/proc/self/fd/${fds.input}`, { read: true });
  // Reads of the protocol pipe hold a duplicate descriptor for a while: plugcheck's, never the plugin's.
  const proc = ProcInfo.get();
  proc.ignoreTargets(proc.fds(Deno.pid).filter((f) => f.fd === fds.input || f.fd === fds.output).map((f) => f.target));
  const send = (frame: Frame) => {
    for (const part of encodeFrameParts(frame)) {
      let data = part;
      while (data.length > 0) data = data.subarray(output.writeSync(data));
    }
  };
  const fatal = (error: unknown) => {
    try {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      send({ id: 0, kind: KIND.FATAL, header: { message }, blobs: [] });
    } finally {
      Deno.exit(FATAL_EXIT);
    }
  };
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    fatal(e.error);
  });
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    fatal(e.reason);
  });
  // The call board, mapped before BOOTED: the parent removes its file then.
  const board = boot.board === undefined ? undefined : CallMarks.open(boot.board);
  // Booted: from here on the parent's load deadline covers only the handler's start.
  send({
    id: 0,
    kind: KIND.BOOTED,
    header: { protocol: PROTOCOL_VERSION, board: board !== undefined, pid: Deno.pid },
    blobs: [],
  });
  let handler: ChildHandler;
  try {
    handler = await module.start({ options: boot.options, send, ...board && { board } });
  } catch (error) {
    send({
      id: 0,
      kind: KIND.HELLO,
      header: { protocol: PROTOCOL_VERSION, ok: false, error: errorToWire(error) },
      blobs: [],
    });
    Deno.exit(0);
  }
  send({
    id: 0,
    kind: KIND.HELLO,
    header: { protocol: PROTOCOL_VERSION, ok: true, pid: Deno.pid, ...handler.hello },
    blobs: [],
  });

  for await (const frame of readFrames(readFile(input), boot.maxFrame)) serve(handler, frame, send);
  // The parent closed our input: it is gone or done with us.
  await handler.close();
  return await finish(handler, send);
}
