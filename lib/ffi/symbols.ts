/**
 * The symbol tables: the npa plugin ABI (`include/npa.h`) and plugcheck's
 * native helper (`native/`), each with its C prototype.
 *
 * Presence is checked first with {@link PROBE_SYMBOLS} (every name bound sync
 * and `optional: true`), so a missing symbol is named precisely instead of
 * failing the whole `dlopen`. Deno 2.9 returns a callable function for a
 * missing symbol bound `optional: true, nonblocking: true` (calling it jumps to
 * NULL), so nonblocking bindings are never used to test presence, and the
 * required symbols are bound non-optional. Calls that may block are bound nonblocking
 * (they run on Deno's blocking pool and can be raced against a deadline); the
 * synchronous hot path goes through the helper's `npah_call`, which calls the
 * plugin's own `npa_instance_invoke` from C (`fast_call.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PLUGIN_SYMBOLS, REQUIRED_SYMBOLS } from "./symbols.ts";
 * assert.ok(REQUIRED_SYMBOLS.every((s) => s in PLUGIN_SYMBOLS));
 * ```
 *
 * @module
 */

/** The npa ABI symbols, as bound by plugcheck. */
export const PLUGIN_SYMBOLS = {
  // uint32_t npa_abi_version(void)
  npa_abi_version: { parameters: [], result: "u32" },
  // int32_t npa_plugin_init(const NpaHost* host, NpaBuf* err)
  npa_plugin_init: {
    parameters: [
      "buffer", // const NpaHost* host
      "buffer", // NpaBuf* err
    ],
    result: "i32",
    nonblocking: true,
  },
  // int32_t npa_plugin_describe(NpaBuf* out)
  npa_plugin_describe: {
    parameters: ["buffer"], // NpaBuf* out
    result: "i32",
    nonblocking: true,
  },
  // int32_t npa_instance_create(const uint8_t* config, size_t config_len, void** out, NpaBuf* err)
  npa_instance_create: {
    parameters: [
      "buffer", // const uint8_t* config
      "usize", // size_t config_len
      "buffer", // void** out
      "buffer", // NpaBuf* err
    ],
    result: "i32",
    nonblocking: true,
  },
  // Bound with the rest of the ABI; plugcheck's invokes go through the helper's npah_call / npah_call_nb.
  // int32_t npa_instance_invoke(void* inst, const uint8_t* method, size_t method_len,
  //                             const uint8_t* input, size_t input_len, NpaBuf* out, NpaBuf* err)
  npa_instance_invoke: {
    parameters: [
      "pointer", // void* inst
      "buffer", // const uint8_t* method
      "usize", // size_t method_len
      "buffer", // const uint8_t* input
      "usize", // size_t input_len
      "buffer", // NpaBuf* out
      "buffer", // NpaBuf* err
    ],
    result: "i32",
    nonblocking: true,
  },
  // void npa_instance_destroy(void* inst)
  npa_instance_destroy: {
    parameters: ["pointer"], // void* inst
    result: "void",
    nonblocking: true,
  },
  // void npa_buffer_free(uint8_t* ptr, size_t len) — must not block
  npa_buffer_free: {
    parameters: [
      "pointer", // uint8_t* ptr
      "usize", // size_t len
    ],
    result: "void",
  },
  // void npa_plugin_shutdown(void)
  npa_plugin_shutdown: { parameters: [], result: "void", nonblocking: true },
  // int32_t npa_plugin_stats(NpaBuf* out) — optional capability, must not block
  npa_plugin_stats: { parameters: ["buffer"], result: "i32", optional: true },
} as const satisfies Deno.ForeignLibraryInterface;

/** C names a plugin must export. */
export const REQUIRED_SYMBOLS = [
  "npa_abi_version",
  "npa_plugin_init",
  "npa_plugin_describe",
  "npa_instance_create",
  "npa_instance_invoke",
  "npa_instance_destroy",
  "npa_buffer_free",
  "npa_plugin_shutdown",
] as const;

/** C names a plugin may export; each one present is a capability. */
export const OPTIONAL_SYMBOLS = ["npa_plugin_stats"] as const;

/**
 * The entry points of plugin ABIs plugcheck serves through an adapter
 * (`lib/load/adapters.ts`): a library that lacks npa's symbols but exports
 * one of these is opened through that ABI's adapter.
 */
export const FOREIGN_ENTRY_SYMBOLS = ["ladspa_descriptor"] as const;

/** Every npa name (and each foreign entry point) bound sync and optional: `null` exactly when the library lacks it. */
export const PROBE_SYMBOLS: Record<
  (typeof REQUIRED_SYMBOLS)[number] | (typeof OPTIONAL_SYMBOLS)[number] | (typeof FOREIGN_ENTRY_SYMBOLS)[number],
  { parameters: []; result: "void"; optional: true }
> = Object.fromEntries(
  [...REQUIRED_SYMBOLS, ...OPTIONAL_SYMBOLS, ...FOREIGN_ENTRY_SYMBOLS].map((
    name,
  ) => [name, { parameters: [], result: "void", optional: true }]),
) as never;

/**
 * What an adapter exports beside the npa symbols: it is told which library to
 * serve before anything else but `npa_abi_version` (docs/adapters.md).
 * Optional (sync): `null` when the library lacks it, so a file that is no
 * adapter is told apart from one that cannot be opened.
 */
export const ADAPTER_SYMBOLS = {
  // int32_t npa_adapter_open(const uint8_t* target_path, size_t path_len, NpaBuf* err): the target's constructors run
  npa_adapter_open: { parameters: ["buffer", "usize", "buffer"], result: "i32", optional: true },
} as const satisfies Deno.ForeignLibraryInterface;

/*
 * plugcheck's native helper (`native/`), one table per part: Deno spends
 * ~170 us binding each symbol, so each part of lib/ffi binds only its own
 * (`hostSymbols` in native_helper.ts) and a sandbox child pays for what it uses.
 */

/** The helper's log queue (`npa_host.c`). */
export const HOST_LOG_SYMBOLS = {
  // ---- log queue (npa_host.c)
  // void* npah_queue_new(uint32_t capacity)
  npah_queue_new: { parameters: ["u32"], result: "pointer" },
  // uint32_t* npah_queue_flag(void* queue): 1 while records wait
  npah_queue_flag: { parameters: ["pointer"], result: "pointer" },
  // double npah_queue_abandoned(void* queue): records taken back from writers that never finished them
  npah_queue_abandoned: { parameters: ["pointer"], result: "f64" },
  // void* npah_ctx_new(void* queue, uint32_t plugin_id, int32_t max_level)
  npah_ctx_new: { parameters: ["pointer", "u32", "i32"], result: "pointer" },
  // uint32_t npah_fill_host(void* ctx, uint8_t* out, uint32_t out_len)
  npah_fill_host: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
  // int32_t npah_ctx_set_filter(void* ctx, int32_t default_level, const uint8_t* spec, uint32_t spec_len)
  npah_ctx_set_filter: { parameters: ["pointer", "i32", "buffer", "u32"], result: "i32" },
  // void npah_ctx_close(void* ctx)
  npah_ctx_close: { parameters: ["pointer"], result: "void" },
  // int32_t npah_ctx_bind(void* ctx, const uint8_t* path, uint32_t len)
  npah_ctx_bind: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  // int32_t npah_ctx_release(void* ctx)
  npah_ctx_release: { parameters: ["pointer"], result: "i32" },
  // uint32_t npah_ctx_stats(uint64_t* out, uint32_t out_len)
  npah_ctx_stats: { parameters: ["buffer", "u32"], result: "u32" },
  // uint32_t npah_ctx_counters(void* ctx, uint64_t* out, uint32_t out_len)
  npah_ctx_counters: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
  // uint32_t npah_drain(void* queue, uint8_t* buf, uint32_t cap)
  npah_drain: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The helper's process guards (`npah_process.c`, `npah_exits.c`). */
export const HOST_PROCESS_SYMBOLS = {
  // ---- exit guard (npah_exits.c)
  // int32_t npah_exit_guard(int32_t exit_code, int32_t json)
  npah_exit_guard: { parameters: ["i32", "i32"], result: "i32" },
  // int32_t npah_hook_exits(const uint8_t* path, uint32_t len): slots rebound, or -errno (-ENOSYS: not here)
  npah_hook_exits: { parameters: ["buffer", "u32"], result: "i32" },
  // void npah_exiting(int32_t code)
  npah_exiting: { parameters: ["i32"], result: "void" },
  // void npah_crash_note(int32_t on)
  npah_crash_note: { parameters: ["i32"], result: "void" },
  // ---- process guards (npah_process.c)
  // void npah_sync_begin(const uint8_t* label, uint32_t len) / void npah_sync_end(void)
  npah_sync_begin: { parameters: ["buffer", "u32"], result: "void" },
  npah_sync_end: { parameters: [], result: "void" },
  // void npah_async_begin(const uint8_t* label, uint32_t len) / void npah_async_end(void)
  npah_async_begin: { parameters: ["buffer", "u32"], result: "void" },
  npah_async_end: { parameters: [], result: "void" },
  // int32_t npah_watchdog(uint32_t limit_ms)
  npah_watchdog: { parameters: ["u32"], result: "i32" },
  // int32_t npah_stdio_guard(int32_t fds[2])
  npah_stdio_guard: { parameters: ["buffer"], result: "i32" },
  // double npah_stdout_bytes(void)
  npah_stdout_bytes: { parameters: [], result: "f64" },
  // int32_t npah_child_setup(int32_t expected_parent)
  npah_child_setup: { parameters: ["i32"], result: "i32" },
  // int32_t npah_list_procs(int32_t mode, int32_t id, int32_t* out, uint32_t cap)
  npah_list_procs: { parameters: ["i32", "i32", "buffer", "u32"], result: "i32" },
  // uint32_t npah_proc_name(int32_t pid, uint8_t* out, uint32_t cap)
  npah_proc_name: { parameters: ["i32", "buffer", "u32"], result: "u32" },
  // int32_t npah_subreaper(void)
  npah_subreaper: { parameters: [], result: "i32" },
  // int32_t npah_end_descendants(uint8_t* out, uint32_t cap, int32_t* count, const int32_t* spare, uint32_t n_spare)
  npah_end_descendants: { parameters: ["buffer", "u32", "buffer", "buffer", "u32"], result: "i32" },
  // int32_t npah_write_all(int32_t fd, const uint8_t* buf, uint32_t len)
  npah_write_all: { parameters: ["i32", "buffer", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** What a process holds, read from /proc (`npah_proc.c`). */
export const HOST_PROC_SYMBOLS = {
  // ---- what a process holds (npah_proc.c)
  // int32_t npah_proc_sample(int32_t pid, double out[3]): resident bytes, threads, descriptors
  npah_proc_sample: { parameters: ["i32", "buffer"], result: "i32" },
  // int32_t npah_thread_cpu(int32_t pid, int32_t tid, double out[2]): CPU ms, state letter
  npah_thread_cpu: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  // double npah_proc_age_ms(int32_t pid): < 0 when it is gone
  npah_proc_age_ms: { parameters: ["i32"], result: "f64" },
  // int32_t npah_list_threads(int32_t pid, int32_t* out, uint32_t cap)
  npah_list_threads: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // uint32_t npah_thread_name(int32_t pid, int32_t tid, uint8_t* out, uint32_t cap)
  npah_thread_name: { parameters: ["i32", "i32", "buffer", "u32"], result: "u32" },
  // int32_t npah_thread_syscall(int32_t pid, int32_t tid): the system call it is blocked in, -1 if none
  npah_thread_syscall: { parameters: ["i32", "i32"], result: "i32" },
  // int32_t npah_fd_targets(int32_t pid, uint8_t* out, uint32_t cap): "fd\ttarget\n" lines
  npah_fd_targets: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // int32_t npah_nofile_limit(double out[2]): soft, hard (-1 unlimited); npah_state.c
  npah_nofile_limit: { parameters: ["buffer"], result: "i32" },
  // double npah_nofile_raise(double soft): the soft limit now, or -errno
  npah_nofile_raise: { parameters: ["f64"], result: "f64" },
  // int32_t npah_fd_state(int32_t fd, int32_t clear_nonblock, double out[3]): device, inode, O_NONBLOCK
  npah_fd_state: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  // uint32_t npah_pool_fill_begin(void)
  npah_pool_fill_begin: { parameters: [], result: "u32" },
  // int32_t npah_pool_hold(uint32_t gen, uint32_t n, uint32_t quiet_ms): on the blocking pool
  npah_pool_hold: { parameters: ["u32", "u32", "u32"], result: "i32", nonblocking: true },
  // int32_t npah_signal_state(const int32_t* signals, uint32_t n, int32_t* out): the umask, or -1
  npah_signal_state: { parameters: ["buffer", "u32", "buffer"], result: "i32" },
  // double npah_oom_kills(void): the kernel's OOM kills since boot (/proc/vmstat), < 0 when unknown
  npah_oom_kills: { parameters: [], result: "f64" },
  // double npah_proc_peak_rss(int32_t pid): VmHWM in bytes, < 0 when it is gone
  npah_proc_peak_rss: { parameters: ["i32"], result: "f64" },
  // int32_t npah_run_delays(int32_t pid, int64_t* out, uint32_t cap): (tid, ns waiting for a CPU) pairs
  npah_run_delays: { parameters: ["i32", "buffer", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The threads a plugin started (`npah_threads.c`). */
export const HOST_THREAD_SYMBOLS = {
  // int32_t npah_threads_mode(void): 2 preloaded (every thread), 1 a library hooked, 0 none
  npah_threads_mode: { parameters: [], result: "i32" },
  // int32_t npah_threads_hook(const uint8_t* path, uint32_t len): slots patched, or -errno
  npah_threads_hook: { parameters: ["buffer", "u32"], result: "i32" },
  // int32_t npah_threads_list(int32_t host, uint8_t* out, uint32_t cap): "tid\thost\tcpu_ns\tage_ms\tmodule\tsymbol\tcaller\n"
  npah_threads_list: { parameters: ["i32", "buffer", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The heap a plugin's own code holds (`npah_heap.c`, `npah_heap_hooks.c`). */
export const HOST_HEAP_SYMBOLS = {
  // int32_t npah_heap_hook(const uint8_t* path, uint32_t len): the library's id, or -errno
  npah_heap_hook: { parameters: ["buffer", "u32"], result: "i32" },
  // int32_t npah_heap_forget(int32_t id): 0, or -EINVAL
  npah_heap_forget: { parameters: ["i32"], result: "i32" },
  // int32_t npah_heap_read(int32_t id, double* out5): live, live bytes, allocations, serial now, untracked
  npah_heap_read: { parameters: ["i32", "buffer"], result: "i32" },
  // int32_t npah_heap_residue(int32_t id, double from, double mid, double* out4, uint8_t* text, uint32_t cap)
  npah_heap_residue: { parameters: ["i32", "f64", "f64", "buffer", "buffer", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The synchronous call path (`npah_call.c`). */
export const HOST_CALL_SYMBOLS = {
  // ---- fast call path (npah_call.c)
  // int32_t npah_bind(const uint8_t* path, uint32_t len) / void npah_unbind(int32_t slot)
  npah_bind: { parameters: ["buffer", "u32"], result: "i32" },
  npah_unbind: { parameters: ["i32"], result: "void" },
  // uint8_t* npah_block(void): this thread's call block
  npah_block: { parameters: [], result: "pointer" },
  // uint32_t npah_block_layout(uint32_t* out, uint32_t cap)
  npah_block_layout: { parameters: ["buffer", "u32"], result: "u32" },
  // int32_t npah_call(void)
  npah_call: { parameters: [], result: "i32" },
  // int32_t npah_call_with(const uint8_t* input, uint8_t* dst): NULL = from the block
  npah_call_with: { parameters: ["buffer", "buffer"], result: "i32" },
  // void npah_take(uint8_t* dst) / void npah_discard(void)
  npah_take: { parameters: ["buffer"], result: "void" },
  npah_discard: { parameters: [], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Loaded-library lookups and in-memory copies (`npah_call.c`). */
export const HOST_COPY_SYMBOLS = {
  // ---- copies and lookups (npah_call.c)
  // int32_t npah_memfd_copy(const uint8_t* path, uint32_t len): a descriptor of a private copy, or -errno
  npah_memfd_copy: { parameters: ["buffer", "u32"], result: "i32" },
  // void npah_close_fd(int32_t fd)
  npah_close_fd: { parameters: ["i32"], result: "void" },
  // int32_t npah_is_loaded(const uint8_t* path, uint32_t len): 1 when loaded in this process
  npah_is_loaded: { parameters: ["buffer", "u32"], result: "i32" },
  // int32_t npah_load_global(const uint8_t* path, uint32_t len, uint8_t* msg, uint32_t cap): RTLD_GLOBAL, for good
  npah_load_global: { parameters: ["buffer", "u32", "buffer", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The nonblocking call path and the no-op target (`npah_call.c`). */
export const HOST_NB_SYMBOLS = {
  // ---- nonblocking call path (npah_call.c)
  // uint32_t npah_nb_layout(uint32_t* out, uint32_t cap)
  npah_nb_layout: { parameters: ["buffer", "u32"], result: "u32" },
  // int32_t npah_call_nb(uint8_t* block, const uint8_t* method, const uint8_t* input), on the blocking pool
  npah_call_nb: { parameters: ["pointer", "buffer", "buffer"], result: "i32", nonblocking: true },
  // void npah_take_nb(uint8_t* block, uint8_t* dst): NULL dst frees unread
  npah_take_nb: { parameters: ["pointer", "buffer"], result: "void" },
  // int32_t npah_bind_noop(void): the slot of a target that does nothing (the dispatch floor)
  npah_bind_noop: { parameters: [], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * The fuzz batch loop (`npah_fuzz.c`), its coverage guidance (`npah_fuzz_cov.c`) and its crash recorder
 * (`npah_fuzz_crash.c`).
 */
export const HOST_FUZZ_SYMBOLS = {
  // ---- fuzz batch loop (npah_fuzz.c)
  // uint32_t npah_fuzz_layout(uint32_t* out, uint32_t cap)
  npah_fuzz_layout: { parameters: ["buffer", "u32"], result: "u32" },
  // void* npah_fuzz_open(const uint8_t* path, uint32_t len, uint64_t size): maps the input file
  npah_fuzz_open: { parameters: ["buffer", "u32", "u64"], result: "pointer" },
  // uint32_t npah_fuzz_views(void* ctx, uint64_t* out, uint32_t cap)
  npah_fuzz_views: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
  // int32_t npah_fuzz_target_npa(void* ctx, const uint8_t* path, uint32_t len, void* inst, uint32_t max_out)
  npah_fuzz_target_npa: { parameters: ["pointer", "buffer", "u32", "pointer", "u32"], result: "i32" },
  // int32_t npah_fuzz_target_libfuzzer(void* ctx, const uint8_t* path, uint32_t len): runs LLVMFuzzerInitialize
  npah_fuzz_target_libfuzzer: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  // int32_t npah_fuzz_method(void* ctx, const uint8_t* method, uint32_t len, uint32_t flags)
  npah_fuzz_method: { parameters: ["pointer", "buffer", "u32", "u32"], result: "i32" },
  // int32_t npah_fuzz_run(void* ctx, uint32_t from, uint32_t count): the batch loop
  npah_fuzz_run: { parameters: ["pointer", "u32", "u32"], result: "i32" },
  // void npah_fuzz_forget(void* ctx)
  npah_fuzz_forget: { parameters: ["pointer"], result: "void" },
  // ---- crash recorder (npah_fuzz_crash.c)
  // int32_t npah_fuzz_arm(void* ctx): crash recorder on this thread
  npah_fuzz_arm: { parameters: ["pointer"], result: "i32" },
  // ---- coverage guidance (npah_fuzz_cov.c)
  // int64_t npah_fuzz_coverage(void* ctx): guided mode; edges instrumented, -1 no runtime, -2 out of memory
  npah_fuzz_coverage: { parameters: ["pointer"], result: "i64" },
  // int32_t npah_fuzz_compare(void* ctx): blind mode's comparison tables; 0, -1 no runtime
  npah_fuzz_compare: { parameters: ["pointer"], result: "i32" },
  // uint32_t npah_fuzz_cov_views(void* ctx, uint64_t* out, uint32_t cap): the comparison tables
  npah_fuzz_cov_views: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Files two processes map shared (`npah_shared.c`): the sandbox's call board. */
export const HOST_SHARED_SYMBOLS = {
  // ---- shared files (npah_shared.c)
  // void* npah_shared_create(const uint8_t* path, uint32_t len, uint32_t size): NULL on failure
  npah_shared_create: { parameters: ["buffer", "u32", "u32"], result: "pointer" },
  // void* npah_shared_open(const uint8_t* path, uint32_t len, uint32_t size): NULL on failure
  npah_shared_open: { parameters: ["buffer", "u32", "u32"], result: "pointer" },
  // int32_t npah_shared_remove(const uint8_t* path, uint32_t len): 0 or -errno
  npah_shared_remove: { parameters: ["buffer", "u32"], result: "i32" },
  // int32_t npah_shared_unmap(void* p, uint32_t size): 0 or -errno
  npah_shared_unmap: { parameters: ["pointer", "u32"], result: "i32" },
  // int32_t npah_blame_arm(uint8_t* area, uint32_t bytes): 0 or -errno (npah_blame.c)
  npah_blame_arm: { parameters: ["pointer", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Every symbol of the helper. */
export const HOST_SYMBOLS = {
  ...HOST_LOG_SYMBOLS,
  ...HOST_PROCESS_SYMBOLS,
  ...HOST_PROC_SYMBOLS,
  ...HOST_CALL_SYMBOLS,
  ...HOST_COPY_SYMBOLS,
  ...HOST_NB_SYMBOLS,
  ...HOST_FUZZ_SYMBOLS,
  ...HOST_SHARED_SYMBOLS,
  ...HOST_THREAD_SYMBOLS,
} as const satisfies Deno.ForeignLibraryInterface;
