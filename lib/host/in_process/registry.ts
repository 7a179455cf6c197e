/**
 * Which loaded library a path means in this process. Concurrent and repeated
 * loads of one resolved path share one core, so `npa_plugin_init` runs once;
 * the last handle's release closes it. plugcheck never initializes a loaded
 * library twice:
 * - a library that could not finish closing (a call into it never returned,
 *   or a lifecycle call hung) keeps its plugin initialized, so a new load of
 *   that path is refused with a `LoadError`;
 * - a library still loaded when it is loaded again (glibc keeps a library
 *   with pending thread-local destructors mapped, as Rust's std registers,
 *   or one linked nodelete; another handle may hold it) keeps its globals,
 *   so a new load opens a private copy of the file instead: a fresh image,
 *   initialized once. The loader is asked (`dlopen(RTLD_NOLOAD)`).
 * An exclusive load always opens a private copy, shared with no one.
 *
 * @example
 * ```ts ignore
 * import { leaseCore } from "./registry.ts";
 * const { core, release } = await leaseCore(real, "libx.so", resolveOptions({}));
 * await release();
 * ```
 *
 * @module
 */
import { loadError } from "../../errors/host_errors.ts";
import type { ResolvedLoadOptions } from "../../plugin/options.ts";
import { copyLibrary, isLibraryLoaded, type LibraryCopy } from "../../ffi/private_copy.ts";
import { PluginCore } from "./core.ts";

/** A core and the function that gives it back. */
export interface Lease {
  core: PluginCore;
  /** Gives the core back; the last release of a shared core closes it. Call once. */
  release(): Promise<void>;
}

interface Shared {
  core: Promise<PluginCore>;
  refs: number;
}

const shared = new Map<string, Shared>();
/** Cores every handle released that are not unloaded yet (closing, waiting for a call, or pinned). */
const lingering = new Map<string, PluginCore>();

/**
 * Leases the core for `real` (a resolved path), opening the library if
 * needed. A library served through an adapter the caller named is another
 * core than the same path opened without it (or through another adapter).
 */
export async function leaseCore(real: string, shown: string, options: ResolvedLoadOptions): Promise<Lease> {
  if (options.exclusive) return await leaseExclusive(real, shown, options);
  const key = options.adapter === undefined ? real : `${real}\0${options.adapter}`;
  const old = lingering.get(key);
  if (old !== undefined) {
    const state = old.closeState;
    if (state === "closing") await old.whenSettled();
    else if (state !== "closed" && state !== "mapped") throw stillInMemory(shown, old);
  }
  let entry = shared.get(key);
  if (entry === undefined) {
    lingering.delete(key);
    // An image of it still in memory (kept mapped after unload, or held by another handle) has its
    // globals: open a fresh copy, never a second init of that image. The loader itself says.
    const opening = stillLoaded(real)
      ? openCopy(real, shown, options, "it is still loaded in this process")
      : PluginCore.open(real, shown, options);
    const created: Shared = { core: opening, refs: 0 };
    shared.set(key, created);
    created.core.catch(() => {
      if (shared.get(key) === created) shared.delete(key);
    });
    entry = created;
  }
  entry.refs++;
  let core: PluginCore;
  try {
    core = await entry.core;
  } catch (e) {
    entry.refs--;
    throw e;
  }
  const owner = entry;
  return {
    core,
    release: async () => {
      if (--owner.refs > 0) return;
      if (shared.get(key) === owner) shared.delete(key);
      lingering.set(key, core);
      await core.close();
      const state = core.closeState;
      if ((state === "closed" || state === "mapped") && lingering.get(key) === core) lingering.delete(key);
    },
  };
}

async function leaseExclusive(real: string, shown: string, options: ResolvedLoadOptions): Promise<Lease> {
  const core = await openCopy(real, shown, options, "exclusive: true");
  return { core, release: () => core.close() };
}

/**
 * Opens a private copy of the library (in memory: see `copyLibrary`): the
 * loader sees a new image, with its own globals and its own init. The core
 * closes the copy once it is unloaded.
 */
async function openCopy(real: string, shown: string, options: ResolvedLoadOptions, why: string): Promise<PluginCore> {
  let copy: LibraryCopy;
  try {
    copy = copyLibrary(real);
  } catch (cause) {
    throw loadError(shown, `a private copy of the library is needed (${why}) and could not be made`, cause);
  }
  try {
    return await PluginCore.open(real, shown, options, copy);
  } catch (e) {
    if (!stillLoaded(copy.path)) copy.close(); // else a hung call keeps it: so must the copy
    throw e;
  }
}

/** True when the library is still loaded (a copy opened earlier stays mapped, or someone else holds it). */
function stillLoaded(real: string): boolean {
  try {
    return isLibraryLoaded(real);
  } catch {
    return false; // the helper cannot be opened: PluginCore.open reports that
  }
}

function stillInMemory(shown: string, core: PluginCore): Error {
  const running = core.runningCalls();
  const why = running.length > 0
    ? `${running.map((op) => JSON.stringify(op)).join(", ")} has not returned`
    : "a lifecycle call never returned, so it was never shut down";
  return loadError(
    shown,
    `an earlier load of this library is still in memory with its plugin initialized (${why}), and plugcheck never initializes a library twice; load a private copy (exclusive: true), run it in a sandbox child (isolate: true), or restart the process`,
  );
}
