/**
 * What a process holds, read from `/proc` by the native helper
 * (`native/npah_proc.c`): resident memory, threads and open descriptors in one cheap sample, its threads by
 * id, name and CPU, and a way to grow Deno's blocking pool to a known size. Reading `/proc` in C needs no
 * `--allow-all` and costs microseconds, so a stress run can sample while it runs.
 *
 * @example
 * ```ts ignore
 * import { ProcInfo } from "./proc_info.ts";
 * const proc = ProcInfo.get();
 * console.log(proc.sample(Deno.pid)); // { rssBytes: 41943040, threads: 9, fds: 14 }
 * ```
 *
 * @module
 */
import { type HostSymbols, hostSymbols } from "./native_helper.ts";
import { HOST_PROC_SYMBOLS } from "./symbols.ts";
import { type PluginThread, PluginThreads } from "./plugin_threads.ts";

/** One reading of a process. */
export interface ProcSample {
  /** Resident memory. */
  rssBytes: number;
  threads: number;
  /** Open file descriptors. */
  fds: number;
}

/** An open descriptor and what it points to (a path, `pipe:[n]`, `socket:[n]`, `anon_inode:[eventfd]`, ...). */
export interface FdInfo {
  fd: number;
  target: string;
}

/** What a process holds, counted exactly (see {@link ProcInfo.snapshotSelf}). */
export interface ProcessSnapshot extends ProcSample {
  pid: number;
  /** The soft descriptor limit (RLIMIT_NOFILE; -1 unlimited), when it could be read. */
  fdLimit?: number;
  threadList: ThreadInfo[];
  fdList: FdInfo[];
  /**
   * The threads plugins started that are running, when the helper records
   * them (`plugin_threads.ts`): what leftover threads are judged by, since
   * Deno's own threads come and go with load.
   */
  pluginThreads?: PluginThread[];
}

/** What a plugin can change under its host process (see {@link ProcInfo.processState}). */
export interface ProcessState {
  /** RLIMIT_NOFILE (-1: unlimited), or undefined when it cannot be read. */
  nofile: { soft: number; hard: number } | undefined;
  /** Each open descriptor: what it is (device, inode) and whether it was O_NONBLOCK. */
  fds: Map<number, { dev: number; ino: number; nonblock: boolean }>;
}

/** What a descriptor of a private copy of a library points to (`npah_memfd_copy`, see `private_copy.ts`). */
const PRIVATE_COPY = "/memfd:plugcheck-copy";

/** Deno's blocking pool holds at most this many threads. */
export const BLOCKING_POOL_MAX = 32;

/**
 * Deno starts a thread of its own (named like the main thread, with a socket
 * pair: two descriptors): its signal thread. It starts when a signal listener
 * is first added, else on its own about 0.5 s after a process starts (when
 * Deno installs its SIGINT/SIGTERM/SIGHUP/SIGUSR1 handlers); later on a busy
 * machine. {@link ProcInfo.get} starts it at once ({@link startSignalThread});
 * a snapshot still waits until that thread runs, so it is never counted as a
 * plugin's; it looks every 20 ms until the process is this old, then every
 * 50 ms.
 */
export const RUNTIME_SETTLED_MS = 1000;

/** How old a process may get while a snapshot waits for Deno's late thread ({@link RUNTIME_SETTLED_MS}). */
export const RUNTIME_SETTLED_MAX_MS = 5000;

/**
 * Starts Deno's signal thread (the late thread of {@link RUNTIME_SETTLED_MS}) now rather than ~0.5 s after
 * the process started, so a snapshot need not wait for it: a listener added and removed starts it. SIGWINCH,
 * which a process ignores by default, as Deno's handler does once no listener is left: no signal is handled
 * differently afterwards (SIGINT, SIGTERM and SIGHUP still end the process as they did; tests prove both).
 */
export function startSignalThread(): void {
  const nothing = () => {};
  try {
    Deno.addSignalListener("SIGWINCH", nothing);
    Deno.removeSignalListener("SIGWINCH", nothing);
  } catch {
    // No signals here (not Unix): no signal thread to wait for either.
  }
}

/** The number of `recvfrom` on this machine: Deno's late thread waits in it. */
const RECVFROM = Deno.build.arch === "aarch64" ? 207 : 45;

/**
 * How long to wait (ms) before a process `age` ms old with these threads is
 * settled (see {@link RUNTIME_SETTLED_MS}); 0 when it is. Deno's late thread
 * is one other than the main one, with the main thread's name, waiting in
 * `recvfrom` (`syscall`: the system call a thread is blocked in, by tid):
 * plugcheck's own threads (the watchdog) have that name too, but sleep.
 */
export function runtimeSettledIn(
  pid: number,
  age: number,
  threads: readonly ThreadInfo[],
  syscall: (tid: number) => number,
): number {
  if (age >= RUNTIME_SETTLED_MAX_MS) return 0;
  const main = threads.find((t) => t.tid === pid)?.name;
  if (threads.some((t) => t.tid !== pid && t.name === main && syscall(t.tid) === RECVFROM)) return 0;
  return age < RUNTIME_SETTLED_MS ? 20 : 50;
}

/** A thread of a process. */
export interface ThreadInfo {
  tid: number;
  /** Its name (`comm`): a thread inherits the name of the thread that started it unless it names itself. */
  name: string;
  /** For a thread a plugin started: its start routine, its module, the CPU it burned and its age (ms). */
  start?: string | undefined;
  module?: string | undefined;
  cpuMs?: number | undefined;
  ageMs?: number | undefined;
}

/** How a process handles a signal: a handler in the main program is the host runtime's own (Deno's). */
export type Disposition = "default" | "ignored" | "host handler" | "library handler" | "unknown";

/** The signals a host relies on, with their numbers on this system. */
export const HOST_SIGNALS: Readonly<Record<"SIGINT" | "SIGTERM" | "SIGCHLD" | "SIGPIPE", number>> =
  Deno.build.os === "darwin"
    ? { SIGINT: 2, SIGTERM: 15, SIGCHLD: 20, SIGPIPE: 13 }
    : { SIGINT: 2, SIGTERM: 15, SIGCHLD: 17, SIGPIPE: 13 };

/** This process's dispositions of {@link HOST_SIGNALS} and its umask. */
export interface SignalState {
  dispositions: Record<keyof typeof HOST_SIGNALS, Disposition>;
  /** undefined when it cannot be read without changing it (no /proc). */
  umask: number | undefined;
}

const DISPOSITIONS: readonly Disposition[] = ["default", "ignored", "host handler", "library handler"];
const SIGNAL_NAMES = Object.keys(HOST_SIGNALS) as (keyof typeof HOST_SIGNALS)[];
const SIGNAL_NUMBERS = new Int32Array(Object.values(HOST_SIGNALS));

const decoder = new TextDecoder();

/** Readings of processes. */
export class ProcInfo {
  readonly #s: HostSymbols<typeof HOST_PROC_SYMBOLS>;
  readonly #out = new Float64Array(3);
  readonly #outBytes = new Uint8Array(this.#out.buffer);
  readonly #name = new Uint8Array(64);
  readonly #ignored = new Set<string>();

  private constructor(lib: HostSymbols<typeof HOST_PROC_SYMBOLS>) {
    this.#s = lib;
  }

  static #instance: ProcInfo | undefined;

  /** The readings (opens the helper and starts Deno's signal thread on first use; throws the raw error). */
  static get(): ProcInfo {
    if (ProcInfo.#instance === undefined) {
      ProcInfo.#instance = new ProcInfo(hostSymbols(HOST_PROC_SYMBOLS));
      startSignalThread();
    }
    return ProcInfo.#instance;
  }

  /** One sample of `pid`, or undefined when it is gone. */
  sample(pid: number): ProcSample | undefined {
    if (this.#s.npah_proc_sample(pid, this.#outBytes) !== 0) return undefined;
    const o = this.#out;
    return { rssBytes: o[0]!, threads: o[1]!, fds: o[2]! };
  }

  /** Thread `tid` of `pid`: its CPU time (ms, 10 ms steps), and whether it runs or waits for a CPU (not asleep). */
  threadCpu(pid: number, tid: number): { cpuMs: number; runnable: boolean } | undefined {
    if (this.#s.npah_thread_cpu(pid, tid, this.#outBytes) !== 0) return undefined;
    return { cpuMs: this.#out[0]!, runnable: this.#out[1]! === 82 }; // "R"
  }

  /** The most resident memory `pid` has had (VmHWM), or undefined when it is gone. */
  peakRss(pid: number): number | undefined {
    const b = this.#s.npah_proc_peak_rss(pid);
    return b < 0 ? undefined : b;
  }

  /**
   * How long each thread of `pid` has waited for a CPU while ready to run
   * (ms, by thread id), or undefined when it is gone or the kernel keeps no
   * scheduler statistics.
   */
  runDelays(pid: number): Map<number, number> | undefined {
    let cap = 256;
    for (;;) {
      const out = new BigInt64Array(2 * cap);
      const n = this.#s.npah_run_delays(pid, new Uint8Array(out.buffer), cap);
      if (n < 0) return undefined;
      if (n <= cap) {
        const m = new Map<number, number>();
        for (let i = 0; i < n; i++) m.set(Number(out[2 * i]), Number(out[2 * i + 1]) / 1e6);
        return m;
      }
      cap = n + 64;
    }
  }

  /** The kernel's count of OOM kills since boot, or undefined when it does not say. */
  oomKills(): number | undefined {
    const n = this.#s.npah_oom_kills();
    return n < 0 ? undefined : n;
  }

  /** How long ago `pid` started (ms, 10 ms resolution), or undefined when it is gone. */
  ageMs(pid: number): number | undefined {
    const ms = this.#s.npah_proc_age_ms(pid);
    return ms < 0 ? undefined : ms;
  }

  /** The threads of `pid` with their names (empty when it is gone). */
  threads(pid: number): ThreadInfo[] {
    let cap = 256;
    for (;;) {
      const ids = new Int32Array(cap);
      const n = this.#s.npah_list_threads(pid, new Uint8Array(ids.buffer), cap);
      if (n < 0) return [];
      if (n <= cap) {
        return Array.from(ids.subarray(0, n), (tid) => ({ tid, name: this.#threadName(pid, tid) }))
          .sort((a, b) => a.tid - b.tid);
      }
      cap = n + 64;
    }
  }

  /**
   * This process's threads and descriptors, counted so that Deno's own
   * threads cannot pass for a plugin's: once the process is
   * {@link RUNTIME_SETTLED_MS} old, and with the blocking pool filled to its
   * maximum first (32 threads; more calls than that at once queue). The pool
   * grows with the calls made at once, and races in tokio can start a thread
   * more; full, it is the same size at every snapshot. Costs ~10-20 ms.
   */
  async snapshotSelf(): Promise<ProcessSnapshot> {
    const pid = Deno.pid;
    await this.#runtimeSettled(pid);
    await this.fillBlockingPool();
    const threadList = this.threads(pid);
    // plugcheck's private copies of libraries (exclusive loads, adapters) are its own, open until unloaded.
    const fdList = this.fds(pid).filter((f) => !this.#ignored.has(f.target) && !f.target.startsWith(PRIVATE_COPY));
    // Read through held descriptors, so it works when the plugin used up the process's; 0 if even that failed.
    const rssBytes = this.sample(pid)?.rssBytes ?? 0;
    const fdLimit = this.#nofile()?.soft;
    const snap: ProcessSnapshot = {
      pid,
      rssBytes,
      threads: threadList.length,
      fds: fdList.length,
      threadList,
      fdList,
      ...fdLimit !== undefined && { fdLimit },
    };
    const recorded = PluginThreads.get();
    if (recorded.tracking !== "none") snap.pluginThreads = recorded.running();
    return snap;
  }

  /**
   * Waits until Deno's late thread runs in `pid` (this process): a thread
   * other than the main one with the main thread's name; or until the process
   * is {@link RUNTIME_SETTLED_MAX_MS} old.
   */
  async #runtimeSettled(pid: number): Promise<void> {
    for (;;) {
      const age = this.ageMs(pid) ?? RUNTIME_SETTLED_MAX_MS;
      const wait = runtimeSettledIn(pid, age, this.threads(pid), (tid) => this.#s.npah_thread_syscall(pid, tid));
      if (wait === 0) return;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * Descriptors pointing to these targets (`pipe:[n]`, ...) are plugcheck's
   * own and left out of {@link snapshotSelf}: a sandbox child's protocol
   * pipes, which Deno duplicates while a read is pending.
   */
  ignoreTargets(targets: readonly string[]): void {
    for (const t of targets) this.#ignored.add(t);
  }

  /**
   * Fills Deno's blocking pool to its maximum: {@link BLOCKING_POOL_MAX}
   * calls that each hold a pool thread until all of them run at once, or
   * until none has started for 50 ms (a thread of the pool is busy: a
   * pending read of a pipe, a call stuck in a plugin; the pool is full).
   */
  async fillBlockingPool(): Promise<void> {
    const gen = this.#s.npah_pool_fill_begin();
    const n = BLOCKING_POOL_MAX;
    await Promise.all(Array.from({ length: n }, () => this.#s.npah_pool_hold(gen, n, 50)));
  }

  /** The open descriptors of `pid` and what each points to (empty when it is gone). */
  fds(pid: number): FdInfo[] {
    let cap = 64 * 1024;
    for (;;) {
      const out = new Uint8Array(cap);
      const n = this.#s.npah_fd_targets(pid, out, cap);
      if (n < 0) return [];
      if (n < cap - 1024) {
        return decoder.decode(out.subarray(0, n)).split("\n").filter((l) => l !== "").map((l) => {
          const tab = l.indexOf("\t");
          return { fd: Number(l.slice(0, tab)), target: l.slice(tab + 1) };
        }).sort((a, b) => a.fd - b.fd);
      }
      cap *= 4;
    }
  }

  /**
   * This process's descriptor limit and descriptor flags, to compare after a
   * plugin ran (see {@link restoreProcessState}). Reads held descriptors
   * only: it works when the process is out of descriptors.
   */
  processState(): ProcessState {
    const fds: ProcessState["fds"] = new Map();
    for (const { fd } of this.fds(Deno.pid)) {
      if (this.#s.npah_fd_state(fd, 0, this.#outBytes) === 0) {
        fds.set(fd, { dev: this.#out[0]!, ino: this.#out[1]!, nonblock: this.#out[2] === 1 });
      }
    }
    return { nofile: this.#nofile(), fds };
  }

  /**
   * What was changed since `before`, in words (empty: nothing), with what
   * could be put back put back: O_NONBLOCK cleared on the descriptors that
   * were blocking (the same files still), the soft descriptor limit raised
   * again as far as the hard limit allows.
   */
  restoreProcessState(before: ProcessState): string[] {
    const changes: string[] = [];
    const now = this.#nofile();
    const lower = (a: number, b: number) => a >= 0 && (b < 0 || a < b);
    if (before.nofile && now && (lower(now.soft, before.nofile.soft) || lower(now.hard, before.nofile.hard))) {
      const shown = (l: { soft: number; hard: number }) =>
        [l.soft, l.hard].map((v) => v < 0 ? "unlimited" : String(v)).join("/");
      const raised = this.#s.npah_nofile_raise(before.nofile.soft);
      const back = raised >= 0 && !lower(raised, before.nofile.soft);
      changes.push(
        `lowered the process's descriptor limit (RLIMIT_NOFILE, soft/hard) from ${shown(before.nofile)} to ${
          shown(now)
        }${back ? " (plugcheck raised it back)" : " (the hard limit cannot be raised again)"}`,
      );
    }
    const nonblock: number[] = [];
    for (const [fd, was] of before.fds) {
      if (was.nonblock || this.#s.npah_fd_state(fd, 0, this.#outBytes) !== 0) continue;
      if (this.#out[0] !== was.dev || this.#out[1] !== was.ino || this.#out[2] !== 1) continue;
      this.#s.npah_fd_state(fd, 1, this.#outBytes);
      nonblock.push(fd);
    }
    if (nonblock.length > 0) {
      changes.push(
        `set O_NONBLOCK on ${nonblock.length} descriptor(s) it does not own (${nonblock.slice(0, 8).join(", ")}${
          nonblock.length > 8 ? ", ..." : ""
        }; plugcheck made them blocking again)`,
      );
    }
    return changes;
  }

  #nofile(): ProcessState["nofile"] {
    if (this.#s.npah_nofile_limit(this.#outBytes) !== 0) return undefined;
    return { soft: this.#out[0]!, hard: this.#out[1]! };
  }

  /** How this process handles {@link HOST_SIGNALS} now, and its umask (read without changing it). */
  signalState(): SignalState {
    const out = new Int32Array(SIGNAL_NUMBERS.length);
    const umask = this.#s.npah_signal_state(
      new Uint8Array(SIGNAL_NUMBERS.buffer),
      SIGNAL_NUMBERS.length,
      new Uint8Array(out.buffer),
    );
    const dispositions = Object.fromEntries(
      SIGNAL_NAMES.map((name, i) => [name, DISPOSITIONS[out[i]!] ?? "unknown"]),
    ) as SignalState["dispositions"];
    return { dispositions, umask: umask < 0 ? undefined : umask };
  }

  #threadName(pid: number, tid: number): string {
    const n = this.#s.npah_thread_name(pid, tid, this.#name, this.#name.length);
    return decoder.decode(this.#name.subarray(0, n));
  }
}
