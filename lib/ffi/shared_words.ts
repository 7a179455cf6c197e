/**
 * A small file mapped shared (MAP_SHARED) by two processes, seen as u32
 * words (`native/npah_shared.c`): what one process stores is in the other's
 * view at once, and stays in the file's pages after the writer died. The
 * sandbox's call board lives in one (`lib/sandbox/call_board.ts`). The file
 * goes through the native helper, so Deno's permissions play no part; it is
 * created in `/dev/shm` (memory) when there is one, else in the temp
 * directory, and can be removed as soon as both sides have mapped it.
 *
 * @example
 * ```ts ignore
 * import { SharedWords } from "./shared_words.ts";
 * const mine = SharedWords.create("plugcheck-board", 4096)!;
 * const theirs = SharedWords.open(mine.path, 4096)!; // in the other process
 * theirs.words[3] = 7;
 * console.assert(mine.words[3] === 7);
 * mine.remove();
 * ```
 *
 * @module
 */
import { hostSymbols } from "./native_helper.ts";
import { HOST_SHARED_SYMBOLS } from "./symbols.ts";

const encoder = new TextEncoder();
let made = 0;

/** Where new files go: memory when the system has `/dev/shm`, else the temp directory. */
function placesFor(prefix: string): string[] {
  const name = `${prefix}-${Deno.pid}-${++made}-${Math.random().toString(36).slice(2, 10)}`;
  let tmp = "/tmp";
  try {
    tmp = Deno.env.get("TMPDIR") || tmp;
  } catch {
    // no permission to read the environment: /tmp
  }
  return [`/dev/shm/${name}`, `${tmp.replace(/\/+$/, "")}/${name}`];
}

/** A shared file of u32 words, mapped in this process. */
export class SharedWords {
  /** The file's path (the other process maps it by this path, until it is removed). */
  readonly path: string;
  /** The mapped words. Never touch them after {@link close}. */
  readonly words: Uint32Array;
  readonly #pointer: Deno.PointerObject;
  readonly #bytes: number;
  #mapped = true;

  private constructor(path: string, pointer: Deno.PointerObject, bytes: number) {
    this.path = path;
    this.#pointer = pointer;
    this.#bytes = bytes;
    this.words = new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(pointer, bytes));
  }

  /** Creates a new file of `bytes` zero bytes named after `prefix` and maps it; undefined when no place takes it. */
  static create(prefix: string, bytes: number): SharedWords | undefined {
    const s = hostSymbols(HOST_SHARED_SYMBOLS);
    for (const path of placesFor(prefix)) {
      const p = encoder.encode(path);
      const pointer = s.npah_shared_create(p, p.length, bytes);
      if (pointer !== null) return new SharedWords(path, pointer, bytes);
    }
    return undefined;
  }

  /** Maps the file another process created at `path`; undefined when it cannot (gone, too small). */
  static open(path: string, bytes: number): SharedWords | undefined {
    const p = encoder.encode(path);
    const pointer = hostSymbols(HOST_SHARED_SYMBOLS).npah_shared_open(p, p.length, bytes);
    return pointer === null ? undefined : new SharedWords(path, pointer, bytes);
  }

  /**
   * Has the native helper note the first fatal signal of this process in
   * the `bytes` at byte `offset` (`native/npah_blame.c`): which call the
   * faulting thread ran. False when it cannot.
   */
  armFaultNote(offset: number, bytes: number): boolean {
    if (!this.#mapped || offset < 0 || offset + bytes > this.#bytes) return false;
    const at = Deno.UnsafePointer.offset(this.#pointer, offset);
    return at !== null && hostSymbols(HOST_SHARED_SYMBOLS).npah_blame_arm(at, bytes) === 0;
  }

  /** Removes the file; both mappings stay. Idempotent. */
  remove(): void {
    const p = encoder.encode(this.path);
    hostSymbols(HOST_SHARED_SYMBOLS).npah_shared_remove(p, p.length);
  }

  /** Unmaps the words in this process: {@link words} must not be touched after this. Idempotent. */
  close(): void {
    if (!this.#mapped) return;
    this.#mapped = false;
    hostSymbols(HOST_SHARED_SYMBOLS).npah_shared_unmap(this.#pointer, this.#bytes);
  }
}
