/**
 * The contract between a sandbox child (`child_main.ts`) and the work it runs: a
 * handler starts with its options and a way to send frames, says what goes
 * in the HELLO, serves requests (pipelined, so concurrently), and closes.
 * Each engine owns its handler and an entry module (`child_entry.ts`) that
 * hands it to `runChild`; the parent names that entry by URL, so the sandbox
 * imports nothing above it.
 *
 * @example
 * ```ts ignore
 * import type { ChildHandler, HandlerContext } from "./child_handler.ts";
 * export function start(context: HandlerContext): Promise<ChildHandler> { ... }
 * ```
 *
 * @module
 */
import type { CallMarks } from "./call_board.ts";
import type { Frame } from "./protocol.ts";

/** A reply to one request: header fields (besides `ok`) and blobs. */
export interface HandlerReply {
  header: Record<string, unknown>;
  blobs?: Uint8Array[];
}

/** What a handler gets from the child it runs in. */
export interface HandlerContext {
  /** The handler's own options, from the parent's spec. */
  options: Record<string, unknown>;
  /** Sends a frame to the parent (id 0 frames are unsolicited: logs, progress). */
  send(frame: Frame): void;
  /** The call board, when the parent gave the child one (a batch marks its calls there). */
  board?: CallMarks;
}

/** A running handler. */
export interface ChildHandler {
  /** Fields of the HELLO header the parent gets once the handler is ready. */
  readonly hello: Record<string, unknown>;
  /**
   * Serves one request. Requests arrive without waiting for earlier ones to
   * finish (the parent pipelines them); a rejection becomes an error reply.
   * A CLOSE request ends the child once its reply is sent.
   */
  handle(frame: Frame): Promise<HandlerReply>;
  /** The parent is gone (its pipe closed): finish and release everything. */
  close(): Promise<void>;
  /**
   * After CLOSE was answered (or close()): unload what closing put off (the
   * plugin library: its destructors run now). The child exits after it.
   */
  unload?(): Promise<void>;
}

/** A handler module. */
export interface HandlerModule {
  start(context: HandlerContext): Promise<ChildHandler>;
}
