/**
 * What a sandbox child does, by name: the registry of child handlers. The
 * child (`child.ts`) owns the process, the guards and the frames; a handler
 * owns the work. `plugin` serves a plugin's instances; the fuzz loop will be
 * another handler, added here without touching the plugin handler.
 *
 * @example
 * ```ts ignore
 * import { HANDLERS } from "./handlers.ts";
 * const handler = await (await HANDLERS.plugin!()).start({ options, send });
 * ```
 *
 * @module
 */
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
}

/** A handler module. */
export interface HandlerModule {
  start(context: HandlerContext): Promise<ChildHandler>;
}

/** Handlers by name; each is loaded only in the child that runs it. */
export const HANDLERS: Readonly<Record<string, () => Promise<HandlerModule>>> = {
  plugin: () => import("./plugin_handler.ts"),
};
