/**
 * What a sandbox child does, by name: the registry of child handlers (their
 * contract is `handler.ts`). The child (`child.ts`) owns the process, the
 * guards and the frames; a handler owns the work. `plugin` serves a plugin's instances; `fuzz` runs the fuzz
 * loop (`lib/fuzz/child/child_handler.ts`); `probe` runs one lifecycle probe of `check`
 * (`lib/check/probe_handler.ts`).
 *
 * @example
 * ```ts ignore
 * import { HANDLERS } from "./handlers.ts";
 * const handler = await (await HANDLERS.plugin!()).start({ options, send });
 * ```
 *
 * @module
 */
import type { HandlerModule } from "./child_handler.ts";

/** Handlers by name; each is loaded only in the child that runs it. */
export const HANDLERS: Readonly<Record<string, () => Promise<HandlerModule>>> = {
  plugin: () => import("../host/isolated/child_handler.ts"),
  fuzz: () => import("../fuzz/child/child_handler.ts"),
  probe: () => import("../check/probe_handler.ts"),
};
