/**
 * The npa entry points of one loaded library as typed calls: each returns
 * `{ status, out, err }` (or what the entry point gives) with lengths as
 * BigInts and out-parameters already read, so no code outside `lib/ffi/`
 * touches `sym.npa_*`, BigInt lengths or out-parameter slots. The guard
 * decides what the results mean.
 *
 * Calls that may block are nonblocking (they run on Deno's blocking pool and
 * can be raced against a deadline). Invokes go through plugcheck's helper
 * instead, which calls the plugin's `npa_instance_invoke` from C: the
 * synchronous path in `fast_call.ts`, the nonblocking one in `async_call.ts`.
 *
 * @example
 * ```ts ignore
 * import { PluginCalls } from "./calls.ts";
 * const calls = new PluginCalls(library);
 * const { status, out, err } = await calls.create(config);
 * ```
 *
 * @module
 */
import { type FreeFn, NpaBufSlot, PointerSlot, type RawBuf } from "./memory.ts";
import type { PluginLibrary } from "./dlopen.ts";
import type { ProcessGuard } from "./process_guard.ts";

/** What an entry point returned: the status and both buffers the plugin may have written. */
export interface CallResult {
  status: number;
  out: RawBuf;
  err: RawBuf;
}

/** What `npa_instance_create` returned. */
export interface CreateResult {
  status: number;
  /** The new instance, or null. */
  instance: Deno.PointerValue;
  err: RawBuf;
}

const NONE: RawBuf = { ptr: 0n, len: 0n };

/** The typed entry points of one plugin library. */
export class PluginCalls {
  readonly #s: PluginLibrary["symbols"];
  readonly #guard: ProcessGuard;
  /** The plugin's `npa_buffer_free`: frees a buffer it handed out, exactly once. */
  readonly free: FreeFn;

  /** `guard` names the synchronous calls (for the watchdog and the exit guard) and the nonblocking ones. */
  constructor(library: PluginLibrary, guard: ProcessGuard) {
    this.#s = library.symbols;
    this.#guard = guard;
    const free = this.#s.npa_buffer_free;
    this.free = (ptr, len) => guard.sync("free a plugin buffer", () => free(ptr, len));
  }

  /** `npa_abi_version()`: `major << 16 | minor`. */
  abiVersion(): number {
    return this.#guard.sync("read the ABI version", () => this.#s.npa_abi_version());
  }

  /** `npa_plugin_init(host, &err)`. */
  async init(host: Uint8Array<ArrayBuffer>): Promise<CallResult> {
    const err = new NpaBufSlot();
    const status = await this.#s.npa_plugin_init(host, err.bytes);
    return { status, out: NONE, err: err.read() };
  }

  /** `npa_plugin_describe(&out)`. */
  async describe(): Promise<CallResult> {
    const out = new NpaBufSlot();
    const status = await this.#s.npa_plugin_describe(out.bytes);
    return { status, out: out.read(), err: NONE };
  }

  /** `npa_instance_create(config, len, &instance, &err)`. */
  async create(config: Uint8Array): Promise<CreateResult> {
    const instance = new PointerSlot();
    const err = new NpaBufSlot();
    const status = await this.#s.npa_instance_create(
      config as Uint8Array<ArrayBuffer>,
      BigInt(config.length),
      instance.bytes,
      err.bytes,
    );
    return { status, instance: instance.read(), err: err.read() };
  }

  /** `npa_instance_destroy(instance)`. */
  async destroy(instance: Deno.PointerObject): Promise<void> {
    await this.#s.npa_instance_destroy(instance);
  }

  /** `npa_plugin_shutdown()`. */
  async shutdown(): Promise<void> {
    await this.#s.npa_plugin_shutdown();
  }

  /** `npa_plugin_stats(&out)`, or null when the library lacks it. Must not block (the ABI says so). */
  stats(): CallResult | null {
    const fn = this.#s.npa_plugin_stats;
    if (fn === null) return null;
    const out = new NpaBufSlot();
    const status = this.#guard.sync("read stats", () => fn(out.bytes));
    return { status, out: out.read(), err: NONE };
  }
}
