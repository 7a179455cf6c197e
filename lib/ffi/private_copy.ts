/**
 * What the dynamic loader holds, and private copies of a library: whether a
 * path is loaded in this process already (so loading it again would share
 * that image and its globals), and a copy of a library file in anonymous
 * memory (memfd) that loads as an image of its own, with no file written
 * anywhere. Both go through plugcheck's native helper.
 *
 * @example
 * ```ts ignore
 * import { copyLibrary, isLibraryLoaded } from "./private_copy.ts";
 * const copy = copyLibrary("build/fixtures/libref_c.so");
 * // ... Deno.dlopen(copy.path, ...) ...; once it is unloaded:
 * if (!isLibraryLoaded(copy.path)) copy.close();
 * ```
 *
 * @module
 */
import { hostSymbols } from "./native_helper.ts";
import { HOST_COPY_SYMBOLS } from "./symbols.ts";

/**
 * True when the library at `path` is loaded in this process already (by
 * plugcheck or anyone else): opening it again would share that image and
 * its globals. Asks the loader without loading it (through the helper).
 */
export function isLibraryLoaded(path: string): boolean {
  const bytes = new TextEncoder().encode(path);
  return hostSymbols(HOST_COPY_SYMBOLS).npah_is_loaded(bytes, bytes.length) === 1;
}

/** A private copy of a library file, loadable at `path` while it is open. */
export interface LibraryCopy {
  /** `/proc/self/fd/<n>`: what to dlopen. */
  path: string;
  /** Closes the copy; only once nothing has it loaded (see {@link isLibraryLoaded}). */
  close(): void;
}

/**
 * A private copy of the library at `path` in anonymous memory (memfd): a
 * new image for the loader, with its own globals and init, and no file
 * written anywhere. Throws the raw error.
 */
export function copyLibrary(path: string): LibraryCopy {
  const s = hostSymbols(HOST_COPY_SYMBOLS);
  const bytes = new TextEncoder().encode(path);
  const fd = s.npah_memfd_copy(bytes, bytes.length);
  if (fd < 0) throw new Error(`Cannot make a private copy of ${path} in memory (errno ${-fd})`);
  let open = true;
  return {
    path: `/proc/self/fd/${fd}`,
    close: () => {
      if (open) s.npah_close_fd(fd);
      open = false;
    },
  };
}
