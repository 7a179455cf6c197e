/*
 * npa.h — the native plugin ABI ("npa"), version 1.0.
 *
 * A plugin is a shared library that exports the flat C symbols below. A host
 * (plugcheck, or any program) loads it, calls npa_abi_version(), then
 * npa_plugin_init() exactly once, then any number of instance calls, then
 * npa_plugin_shutdown(). docs/abi.md states every rule in prose; this header
 * is the machine-readable half of the same contract.
 *
 * Conventions used below:
 *   - Every function that can fail returns an int32_t status (NPA_OK = 0).
 *   - Strings are UTF-8, passed as (pointer, length) pairs, never NUL-terminated.
 *   - NpaBuf out-parameters point to memory owned by the host; the plugin
 *     writes a buffer it allocated into them. The host frees every such buffer
 *     exactly once with npa_buffer_free(ptr, len) of the same plugin.
 */
#ifndef NPA_H
#define NPA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NPA_ABI_VERSION_MAJOR 1u
#define NPA_ABI_VERSION_MINOR 0u
/* major << 16 | minor */
#define NPA_ABI_VERSION ((NPA_ABI_VERSION_MAJOR << 16) | NPA_ABI_VERSION_MINOR)

#if defined(_WIN32)
#define NPA_EXPORT __declspec(dllexport)
#else
#define NPA_EXPORT __attribute__((visibility("default")))
#endif

/* Status codes. Any other value returned by a plugin is a contract violation. */
typedef enum NpaStatus {
  NPA_OK = 0,
  NPA_INVALID_INPUT = 1,  /* the input or config was rejected */
  NPA_UNKNOWN_METHOD = 2, /* no method of that name */
  NPA_INTERNAL = 3,       /* the plugin failed for a reason of its own */
  NPA_PANIC = 4,          /* a panic/exception was caught at the boundary */
  NPA_RESOURCE_LIMIT = 5, /* e.g. max_instances reached, out of memory */
  NPA_UNSUPPORTED = 6,    /* the request is valid but not supported */
  NPA_STATE = 7           /* called in the wrong lifecycle state */
} NpaStatus;

/* Log levels, most severe first (the same order as Rust's `log` crate). */
typedef enum NpaLogLevel {
  NPA_LOG_ERROR = 1,
  NPA_LOG_WARN = 2,
  NPA_LOG_INFO = 3,
  NPA_LOG_DEBUG = 4,
  NPA_LOG_TRACE = 5
} NpaLogLevel;

/* A byte buffer handed from plugin to host. {NULL, 0} means "empty". */
typedef struct NpaBuf {
  uint8_t* ptr;
  size_t len;
} NpaBuf;

/* Host -> plugin log sink. May be called from any thread, at any time from
 * the start of npa_plugin_init on (during init too), even after shutdown
 * (such messages are dropped and counted). Never blocks for long and never
 * calls back into the plugin. */
typedef void (*NpaLogFn)(void* ctx, int32_t level, const uint8_t* target,
                         size_t target_len, const uint8_t* message,
                         size_t message_len);
/* Returns non-zero when a message at `level` for `target` would be kept.
 * Plugins should ask before formatting expensive messages. */
typedef int32_t (*NpaLogEnabledFn)(void* ctx, int32_t level,
                                   const uint8_t* target, size_t target_len);

/* Filled by the host and passed to npa_plugin_init. The struct itself is
 * valid only during that call: copy what you need. The function pointers and
 * ctx stay valid for the rest of the process. */
typedef struct NpaHost {
  uint32_t abi_version; /* the host's NPA_ABI_VERSION */
  uint32_t struct_size; /* sizeof(NpaHost) as the host knows it */
  void* ctx;            /* pass back unchanged to log / log_enabled */
  NpaLogFn log;
  NpaLogEnabledFn log_enabled;
} NpaHost;

/* ---- Required symbols ---------------------------------------------------- */

/* major << 16 | minor. Callable at any time, from any thread, no side effects. */
NPA_EXPORT uint32_t npa_abi_version(void);

/* Called exactly once, before anything else but npa_abi_version. On failure
 * the host calls nothing else (but npa_buffer_free for `err`). */
NPA_EXPORT int32_t npa_plugin_init(const NpaHost* host, NpaBuf* err);

/* UTF-8 JSON describing the plugin (see docs/abi.md, "describe"). */
NPA_EXPORT int32_t npa_plugin_describe(NpaBuf* out);

/* `config` is UTF-8 JSON (an object) or empty (config_len == 0). */
NPA_EXPORT int32_t npa_instance_create(const uint8_t* config,
                                       size_t config_len, void** out,
                                       NpaBuf* err);

NPA_EXPORT int32_t npa_instance_invoke(void* inst, const uint8_t* method,
                                       size_t method_len, const uint8_t* input,
                                       size_t input_len, NpaBuf* out,
                                       NpaBuf* err);

/* Frees everything the instance owns. Called once per created instance. */
NPA_EXPORT void npa_instance_destroy(void* inst);

/* Frees a buffer this plugin wrote into an NpaBuf. Called exactly once per
 * non-NULL buffer, with the same ptr and len. Must be callable from any
 * thread, and must not block. */
NPA_EXPORT void npa_buffer_free(uint8_t* ptr, size_t len);

/* Called once, after every instance was destroyed. Any plugin thread must
 * have finished before this returns. */
NPA_EXPORT void npa_plugin_shutdown(void);

/* ---- Optional symbols ---------------------------------------------------- */

/* UTF-8 JSON object of counters; at least live_instances, live_buffers and
 * init_calls. Cheap, non-blocking, callable at any time after init. */
NPA_EXPORT int32_t npa_plugin_stats(NpaBuf* out);

#ifdef __cplusplus
}
#endif

#endif /* NPA_H */
