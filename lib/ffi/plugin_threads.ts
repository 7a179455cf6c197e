/**
 * The threads a plugin started, as the native helper recorded them
 * (`native/npah_threads.c`): each thread created through its
 * `pthread_create` with the module its start routine lives in, and the CPU
 * it burned. In a sandbox child the helper is preloaded and sees every thread
 * of the process, Deno's included, and tells them apart by module; in
 * process, a plugin's own `pthread_create` import is pointed at the helper
 * once it is loaded ({@link PluginThreads.hook}), so only its threads are
 * recorded. Either way Deno's threads are never counted as a plugin's.
 *
 * @example
 * ```ts ignore
 * import { PluginThreads } from "./plugin_threads.ts";
 * const threads = PluginThreads.get();
 * threads.hook("/path/to/libplugin.so"); // after it is loaded
 * console.log(threads.running()); // [{ tid: 4242, name: "spinner", start: "spin_main", module: "...", cpuMs: 812, ageMs: 820 }]
 * ```
 *
 * @module
 */
import { type HostSymbols, hostSymbols } from "./native_helper.ts";
import { HOST_THREAD_SYMBOLS } from "./symbols.ts";

/** A thread a plugin started that is still running. */
export interface PluginThread {
  /** Its id (0: created, not started yet). */
  tid: number;
  /** Its name (`comm`); empty when it is gone or not started. */
  name: string;
  /** The module of its start routine (the plugin's path, or a library the plugin used). */
  module: string;
  /** Its start routine's symbol, when the module exports one. */
  start: string;
  /** The module that called `pthread_create`. */
  caller: string;
  /** CPU time it has burned (ms). */
  cpuMs: number;
  /** How long ago it was created (ms). */
  ageMs: number;
}

/** How threads are recorded in this process. */
export type ThreadTracking = "all" | "hooked" | "none";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The helper's thread records. */
export class PluginThreads {
  readonly #s: HostSymbols<typeof HOST_THREAD_SYMBOLS>;
  readonly #name = new Uint8Array(64);
  readonly #nameOf: (tid: number, out: Uint8Array) => number;
  /** The libraries given to {@link hook}: plugins loaded in this process. */
  readonly #plugins = new Set<string>();

  private constructor() {
    this.#s = hostSymbols(HOST_THREAD_SYMBOLS);
    const names = hostSymbols({ npah_thread_name: { parameters: ["i32", "i32", "buffer", "u32"], result: "u32" } });
    this.#nameOf = (tid, out) => names.npah_thread_name(Deno.pid, tid, out, out.length);
  }

  static #instance: PluginThreads | undefined;

  /** The records (opens the helper on first use; throws the raw error). */
  static get(): PluginThreads {
    PluginThreads.#instance ??= new PluginThreads();
    return PluginThreads.#instance;
  }

  /** `all` when the helper is preloaded (every thread seen), `hooked` once a library was hooked, else `none`. */
  get tracking(): ThreadTracking {
    const m = this.#s.npah_threads_mode();
    return m === 2 ? "all" : m === 1 ? "hooked" : "none";
  }

  /**
   * Records the threads the loaded library at `path` starts from now on
   * (points its `pthread_create` import at the helper). Returns the import
   * slots patched (0: it imports none of its own), or -errno.
   */
  hook(path: string): number {
    this.#plugins.add(path);
    const bytes = encoder.encode(path);
    return this.#s.npah_threads_hook(bytes, bytes.length);
  }

  /** The plugins' threads still running (threads Deno started are left out). */
  running(): PluginThread[] {
    let cap = 64 * 1024;
    for (;;) {
      const out = new Uint8Array(cap);
      const n = this.#s.npah_threads_list(0, out, cap);
      if (n < cap - 1024) return parse(decoder.decode(out.subarray(0, n)), (tid) => this.#threadName(tid));
      cap *= 4;
    }
  }

  /**
   * The running threads of the plugin at `path`: started from its code or
   * with its code as start routine, or by a library no loaded plugin is
   * (e.g. `std::thread` in libstdc++: any plugin may have asked for it).
   */
  runningOf(path: string): PluginThread[] {
    const plugins = this.#plugins;
    return this.running().filter((t) =>
      t.module === path || t.caller === path || (!plugins.has(t.module) && !plugins.has(t.caller))
    );
  }

  #threadName(tid: number): string {
    if (tid <= 0) return "";
    return decoder.decode(this.#name.subarray(0, this.#nameOf(tid, this.#name)));
  }
}

function parse(text: string, nameOf: (tid: number) => string): PluginThread[] {
  return text.split("\n").filter((l) => l !== "").map((l) => {
    const [tid, _host, cpuNs, ageMs, module, start, caller] = l.split("\t");
    const id = Number(tid);
    return {
      tid: id,
      name: nameOf(id),
      module: module ?? "",
      start: start ?? "",
      caller: caller ?? "",
      cpuMs: Number(cpuNs) / 1e6,
      ageMs: Number(ageMs),
    };
  }).sort((a, b) => a.tid - b.tid);
}

/** `"spinner" (tid 4242, spin_main in libspinning_thread.so, 812 ms CPU, 99% of a core)`. */
export function describeThread(t: PluginThread): string {
  const where = [t.start, t.module.split("/").at(-1)].filter((s) => s !== "").join(" in ");
  const share = t.ageMs > 0 ? `, ${Math.round(Math.min(100, (100 * t.cpuMs) / t.ageMs))}% of a core` : "";
  return `"${t.name || "?"}" (tid ${t.tid}${where ? `, ${where}` : ""}, ${Math.round(t.cpuMs)} ms CPU in ${
    Math.round(t.ageMs)
  } ms${share})`;
}
