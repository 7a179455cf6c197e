/**
 * The process guards of plugcheck's native helper (`native/npah_process.c`,
 * `native/npah_exits.c`): what protects a process that runs plugin code
 * against plugins that print to stdout, read stdin, call `exit()`, `_exit()`
 * or `quick_exit()`, hang without returning (or while unloading), crash
 * while unloading, or fork.
 * Each guard is native because it must work while the JS thread is stuck in
 * a plugin call or the process is already exiting.
 *
 * @example
 * ```ts ignore
 * import { ProcessGuard } from "./process_guard.ts";
 * const guard = ProcessGuard.get();
 * const { output } = guard.guardStdio(); // results go to `output`; the plugin's printf to stderr
 * guard.exitGuard(1, false);
 * guard.sync('load plugin "x"', () => Deno.dlopen(...));
 * guard.hookExits("/path/of/libx.so"); // its own _exit, _Exit, quick_exit (and exit) reach the guard
 * guard.unloading('unload plugin "x"', () => library.close());
 * guard.exiting(0); // just before Deno.exit(0)
 * ```
 *
 * @module
 */
import { type HostSymbols, hostSymbols } from "./native_helper.ts";
import { HOST_PROCESS_SYMBOLS } from "./symbols.ts";

const encoder = new TextEncoder();
const LABEL_MAX = 512;
const ENOSYS = 38;

/** The process-wide guards. */
export class ProcessGuard {
  readonly #s: HostSymbols<typeof HOST_PROCESS_SYMBOLS>;
  readonly #label = new Uint8Array(LABEL_MAX);
  #reaping = false;

  private constructor(lib: HostSymbols<typeof HOST_PROCESS_SYMBOLS>) {
    this.#s = lib;
  }

  static #instance: ProcessGuard | undefined;
  #exitGuarded = false;

  /** The guards of this process if they were opened already (nothing is opened). */
  static ifOpen(): ProcessGuard | undefined {
    return ProcessGuard.#instance;
  }

  /** The guards of this process (opens the helper on first use; throws the raw error). */
  static get(): ProcessGuard {
    ProcessGuard.#instance ??= new ProcessGuard(hostSymbols(HOST_PROCESS_SYMBOLS));
    return ProcessGuard.#instance;
  }

  /**
   * Moves fd 0 and fd 1 to private descriptors (returned; -1 where one was
   * closed), points the plugin's fd 1 at stderr through a counting pipe and
   * its fd 0 at /dev/null. Idempotent. Throws the raw error.
   */
  guardStdio(): { input: number; output: number } {
    const fds = new Int32Array(2);
    const rc = this.#s.npah_stdio_guard(new Uint8Array(fds.buffer));
    if (rc !== 0) throw new Error(`Cannot move stdin/stdout to private descriptors (errno ${-rc})`);
    return { input: fds[0]!, output: fds[1]! };
  }

  /** Writes all of `bytes` to a descriptor Deno has no handle for (the private stdout). Throws the raw error. */
  writeAll(fd: number, bytes: Uint8Array): void {
    const CHUNK = 1 << 30;
    for (let at = 0; at < bytes.length; at += CHUNK) {
      const part = bytes.subarray(at, at + CHUNK) as Uint8Array<ArrayBuffer>;
      const rc = this.#s.npah_write_all(fd, part, part.length);
      if (rc !== 0) throw new Error(`Cannot write to descriptor ${fd} (errno ${-rc})`);
    }
  }

  /** Bytes the plugin wrote to stdout since {@link guardStdio}; undefined without the guard. */
  stdoutBytes(): number | undefined {
    const n = this.#s.npah_stdout_bytes();
    return n < 0 ? undefined : n;
  }

  /**
   * Turns an `exit()` during a plugin call (or from a plugin thread) into a
   * failure naming the call; `exitCode` >= 0 replaces the plugin's status.
   * With `json`, the error also goes to the private stdout as a JSON document.
   */
  exitGuard(exitCode: number, json: boolean): void {
    if (this.#s.npah_exit_guard(exitCode, json ? 1 : 0) !== 0) throw new Error("Cannot install the exit guard");
    this.#exitGuarded = true;
  }

  /** True once {@link exitGuard} was installed in this process. */
  get exitGuarded(): boolean {
    return this.#exitGuarded;
  }

  /**
   * Rebinds the loaded library's own calls of `_exit`, `_Exit`, `quick_exit`
   * and `exit` (its GOT slots) to the exit guard: during a call (or
   * unloading) they become a failure naming it, while plugcheck exits they
   * keep plugcheck's exit code; without {@link exitGuard} they report on
   * stderr and proceed. Returns the slots rebound, or -1 on an architecture
   * where nothing can be rebound (x86-64 only so far). Throws the raw error.
   */
  hookExits(path: string): number {
    const bytes = encoder.encode(path);
    const rc = this.#s.npah_hook_exits(bytes, bytes.length);
    if (rc === -ENOSYS) return -1;
    if (rc < 0) throw new Error(`Cannot rebind the exit functions of ${path} (errno ${-rc})`);
    return rc;
  }

  /**
   * Unloads (runs `fn`, the dlclose) marked with `label`: the watchdog bounds
   * it, an exit inside it is a failure of unloading, and so is a crash.
   */
  unloading<T>(label: string, fn: () => T): T {
    this.#s.npah_crash_note(1);
    try {
      return this.sync(label, fn);
    } finally {
      this.#s.npah_crash_note(0);
    }
  }

  /**
   * plugcheck exits next with `code`: a plugin's exit from its atexit
   * handlers or destructors keeps that code (and is reported), the watchdog
   * bounds them, and no report goes to the results any more.
   */
  exiting(code: number): void {
    this.#s.npah_exiting(code);
  }

  /** Ends the process (exit code of {@link exitGuard}, else 1) when a marked synchronous call lasts `limitMs`. */
  watchdog(limitMs: number): void {
    if (this.#s.npah_watchdog(limitMs) !== 0) throw new Error("Cannot start the watchdog thread");
  }

  /** Runs a synchronous plugin call marked with `label`, so the watchdog and exit guard can name it. */
  sync<T>(label: string, fn: () => T): T {
    const { written } = encoder.encodeInto(label, this.#label);
    this.#s.npah_sync_begin(this.#label, written);
    try {
      return fn();
    } finally {
      this.#s.npah_sync_end();
    }
  }

  /** Marks the start of a nonblocking call (it runs on another thread); pair with {@link asyncEnd}. */
  asyncBegin(label: string): void {
    const { written } = encoder.encodeInto(label, this.#label);
    this.#s.npah_async_begin(this.#label, written);
  }

  /** Marks the end of a nonblocking call. */
  asyncEnd(): void {
    this.#s.npah_async_end();
  }

  /** In a sandbox child, first: own process group, death with the parent (and of the whole group). */
  childSetup(expectedParent: number): void {
    const rc = this.#s.npah_child_setup(expectedParent);
    if (rc !== 0) throw new Error(`Cannot set up the sandbox child (errno ${-rc})`);
  }

  /** Live processes (no zombies) whose parent is `id` (`children`) or whose process group is `id`. */
  processes(mode: "children" | "group", id: number): number[] {
    let cap = 64;
    for (;;) {
      const out = new Int32Array(cap);
      const n = this.#s.npah_list_procs(mode === "children" ? 0 : 1, id, new Uint8Array(out.buffer), cap);
      if (n < 0) return [];
      if (n <= cap) return Array.from(out.subarray(0, n));
      cap = n + 16;
    }
  }

  /**
   * Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER): what a
   * plugin daemonizes (double fork + setsid) is reparented here, not to init,
   * so {@link endDescendants} finds it. Throws the raw error.
   */
  subreaper(): void {
    const rc = this.#s.npah_subreaper();
    if (rc !== 0) throw new Error(`Cannot become a child subreaper (errno ${-rc})`);
    this.#reaping = true;
  }

  /**
   * For an interrupted CLI: ends every descendant if this process became a
   * subreaper ({@link subreaper}). A fork a nonblocking call makes after this
   * sweep (while the process exits) can still escape: in process that is
   * best effort; `--isolate` has the sandbox launcher.
   */
  static endDescendantsIfReaping(): void {
    const guard = ProcessGuard.#instance;
    if (guard !== undefined && guard.#reaping) guard.endDescendants();
  }

  /**
   * Freezes, lists and ends (SIGKILL) every live descendant of this process,
   * wherever it moved (its own session or process group included), but the
   * processes of `spare` (plugcheck's own sandbox children, which end
   * themselves); returns them with their command names.
   */
  endDescendants(spare: readonly number[] = []): { pid: number; name: string }[] {
    const out = new Uint8Array(64 * 1024);
    const count = new Int32Array(1);
    const spared = Int32Array.from(spare);
    const n = this.#s.npah_end_descendants(
      out,
      out.length,
      new Uint8Array(count.buffer),
      new Uint8Array(spared.buffer),
      spared.length,
    );
    return parseProcessLines(new TextDecoder().decode(out.subarray(0, Math.max(0, n))));
  }

  /** A process's command name, or "" when it is gone. */
  processName(pid: number): string {
    const out = new Uint8Array(64);
    const n = this.#s.npah_proc_name(pid, out, out.length);
    return new TextDecoder().decode(out.subarray(0, n));
  }
}

/** Lines "pid<TAB>name" (the native helper's and the sandbox launcher's lists of processes) as records. */
export function parseProcessLines(text: string): { pid: number; name: string }[] {
  return text.split("\n").filter((l) => l.includes("\t")).map((l) => {
    const tab = l.indexOf("\t");
    return { pid: Number(l.slice(0, tab)), name: l.slice(tab + 1) };
  }).filter((p) => Number.isInteger(p.pid) && p.pid > 0);
}
