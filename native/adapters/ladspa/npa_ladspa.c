/*
 * npa_ladspa.c — the LADSPA adapter's npa entry points (include/npa.h,
 * docs/abi.md) and its one extra export, npa_adapter_open, which loads the
 * LADSPA library this copy of the adapter serves. One npa method per LADSPA
 * descriptor, named after its Label (a repeated Label: Label#index).
 *
 * Lifecycle: npa_abi_version -> npa_adapter_open (once) -> npa_plugin_init
 * (once) -> describe / stats / instances -> npa_plugin_shutdown (dlcloses the
 * target). The descriptor table is written by npa_adapter_open and read-only
 * until shutdown; counters are atomics; the list of live instances (so that
 * shutdown can free instances the host never destroyed) has a mutex.
 */
#include "ladspa_adapter.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LS_MAGIC 0x4C41444Eu /* "LADN" */

enum { ST_NONE, ST_OPEN, ST_INIT, ST_DOWN };

static atomic_int g_state = ST_NONE;
static void* g_lib;
static LsTable g_table;
static void* g_log_ctx;
static NpaLogFn g_log;
static NpaLogEnabledFn g_log_enabled;
static atomic_long g_live_instances, g_live_buffers, g_init_calls, g_ladspa_instances;
static pthread_mutex_t g_list_lock = PTHREAD_MUTEX_INITIALIZER;
static LsInst* g_list;

const LsTable* ls_table(void) { return &g_table; }
void ls_count_ladspa(int delta) { atomic_fetch_add(&g_ladspa_instances, delta); }

/* ---- buffers, errors, logs ---------------------------------------------- */

int32_t ls_give(LsStr* s, NpaBuf* out) {
  if (s->oom || !s->ptr) {
    ls_str_free(s);
    return NPA_RESOURCE_LIMIT;
  }
  out->ptr = (uint8_t*)s->ptr;
  out->len = s->len;
  s->ptr = NULL;
  s->len = s->cap = 0;
  atomic_fetch_add(&g_live_buffers, 1);
  return NPA_OK;
}

int32_t ls_fail_str(NpaBuf* err, int32_t status, const LsStr* msg) {
  LsStr s = {0};
  ls_str_puts(&s, "{\"message\":");
  ls_json_strn(&s, msg->ptr ? msg->ptr : "", msg->len);
  ls_str_puts(&s, "}");
  if (err) ls_give(&s, err);
  ls_str_free(&s);
  return status;
}

int32_t ls_fail(NpaBuf* err, int32_t status, const char* fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  LsStr msg = {.ptr = text, .len = n < 0 ? 0 : (size_t)n >= sizeof text ? sizeof text - 1 : (size_t)n};
  return ls_fail_str(err, status, &msg);
}

void ls_log(int32_t level, const char* fmt, ...) {
  NpaLogFn log = g_log;
  if (!log) return;
  if (g_log_enabled && !g_log_enabled(g_log_ctx, level, (const uint8_t*)"ladspa", 6)) return;
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof text) n = sizeof text - 1;
  log(g_log_ctx, level, (const uint8_t*)"ladspa", 6, (const uint8_t*)text, (size_t)n);
}

/* ---- opening the LADSPA library ------------------------------------------ */

static void table_free(void) {
  for (size_t i = 0; i < g_table.count; i++) free(g_table.plugins[i].method);
  free(g_table.plugins);
  free(g_table.file_name);
  memset(&g_table, 0, sizeof g_table);
}

static int32_t open_fail(NpaBuf* err, const char* fmt, const char* arg) {
  table_free();
  if (g_lib) dlclose(g_lib);
  g_lib = NULL;
  return ls_fail(err, NPA_INVALID_INPUT, fmt, arg);
}

/* Names the method of plugin i: its Label (as valid UTF-8, at most LS_MAX_METHOD bytes), or
 * Label#index when an earlier method took that name; a descriptor without a Label: #index. */
static int name_taken(size_t i, const LsStr* s) {
  for (size_t j = 0; j < i; j++) {
    if (g_table.plugins[j].method_len == s->len && memcmp(g_table.plugins[j].method, s->ptr, s->len) == 0) return 1;
  }
  return 0;
}

static int name_method(size_t i) {
  LsPlugin* pl = &g_table.plugins[i];
  LsStr s = {0};
  if (pl->d->Label) ls_utf8_clean(&s, pl->d->Label, LS_MAX_METHOD);
  /* An empty or taken name gets #index; "a", "a", "a#1" needs it twice. */
  for (int tries = 0; !s.oom && (s.len == 0 || name_taken(i, &s)) && tries < 8; tries++) {
    ls_str_printf(&s, "#%lu", pl->index);
  }
  if (s.oom || !s.ptr || name_taken(i, &s)) {
    ls_str_free(&s);
    return 0;
  }
  pl->method = s.ptr;
  pl->method_len = s.len;
  return 1;
}

NPA_EXPORT int32_t npa_adapter_open(const uint8_t* target_path, size_t path_len, NpaBuf* err) {
  if (!err) return NPA_INVALID_INPUT;
  if (atomic_load(&g_state) != ST_NONE) return ls_fail(err, NPA_STATE, "npa_adapter_open was already called");
  if (!target_path || path_len == 0 || memchr(target_path, 0, path_len)) {
    return ls_fail(err, NPA_INVALID_INPUT, "cannot open the LADSPA library: %s", "the path is empty or holds a NUL");
  }
  char* path = malloc(path_len + 1);
  if (!path) return ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
  memcpy(path, target_path, path_len);
  path[path_len] = 0;
  const char* slash = strrchr(path, '/');
  g_table.file_name = strdup(slash ? slash + 1 : path);
  dlerror();
  g_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  free(path);
  if (!g_lib) {
    const char* why = dlerror();
    return open_fail(err, "cannot open the LADSPA library: %s", why ? why : "unknown error");
  }
  LADSPA_Descriptor_Function fn = (LADSPA_Descriptor_Function)dlsym(g_lib, "ladspa_descriptor");
  if (!fn) return open_fail(err, "%s", "the library exports no ladspa_descriptor");
  size_t cap = 16;
  g_table.plugins = calloc(cap, sizeof(LsPlugin));
  for (unsigned long i = 0; g_table.plugins; i++) {
    const LADSPA_Descriptor* d = fn(i);
    if (!d) break;
    if (i == LS_MAX_DESCRIPTORS) return open_fail(err, "%s", "more than 4096 descriptors");
    if (g_table.count == cap) {
      LsPlugin* more = realloc(g_table.plugins, cap * 2 * sizeof(LsPlugin));
      if (!more) break;
      memset(more + cap, 0, cap * sizeof(LsPlugin));
      g_table.plugins = more, cap *= 2;
    }
    LsPlugin* pl = &g_table.plugins[g_table.count++];
    pl->d = d;
    pl->index = i;
    pl->broken = ls_broken_reason(d);
    if (!name_method(g_table.count - 1)) return open_fail(err, "%s", "cannot name a method uniquely (out of memory?)");
  }
  if (!g_table.plugins || !g_table.file_name) return open_fail(err, "%s", "out of memory");
  if (g_table.count == 0) return open_fail(err, "%s", "ladspa_descriptor(0) returned NULL: the library holds no plugin");
  atomic_store(&g_state, ST_OPEN);
  return NPA_OK;
}

/* ---- npa entry points ------------------------------------------------------ */

NPA_EXPORT uint32_t npa_abi_version(void) { return NPA_ABI_VERSION; }

NPA_EXPORT int32_t npa_plugin_init(const NpaHost* host, NpaBuf* err) {
  if (!err) return NPA_INVALID_INPUT;
  atomic_fetch_add(&g_init_calls, 1);
  int expected = ST_OPEN;
  if (!atomic_compare_exchange_strong(&g_state, &expected, ST_INIT)) {
    return ls_fail(err, NPA_STATE,
                   expected == ST_NONE ? "npa_plugin_init before npa_adapter_open" : "npa_plugin_init called twice");
  }
  if (host && host->struct_size >= offsetof(NpaHost, log_enabled) + sizeof(NpaLogEnabledFn)) {
    g_log_ctx = host->ctx;
    g_log_enabled = host->log_enabled;
    g_log = host->log;
  }
  size_t broken = 0;
  for (size_t i = 0; i < g_table.count; i++) broken += g_table.plugins[i].broken != NULL;
  ls_log(NPA_LOG_INFO, "%s: %zu LADSPA plugins (%zu unusable)", g_table.file_name, g_table.count, broken);
  return NPA_OK;
}

NPA_EXPORT int32_t npa_plugin_describe(NpaBuf* out) {
  if (!out) return NPA_INVALID_INPUT;
  if (atomic_load(&g_state) != ST_INIT) return NPA_STATE;
  LsStr s = {0};
  ls_describe(&g_table, &s);
  return ls_give(&s, out);
}

NPA_EXPORT int32_t npa_plugin_stats(NpaBuf* out) {
  if (!out) return NPA_INVALID_INPUT;
  LsStr s = {0};
  ls_str_printf(&s, "{\"live_instances\":%ld,\"live_buffers\":%ld,\"init_calls\":%ld,\"ladspa_instances\":%ld}",
                atomic_load(&g_live_instances), atomic_load(&g_live_buffers), atomic_load(&g_init_calls),
                atomic_load(&g_ladspa_instances));
  return ls_give(&s, out);
}

NPA_EXPORT int32_t npa_instance_create(const uint8_t* config, size_t config_len, void** out, NpaBuf* err) {
  if (!out || !err || (!config && config_len)) return NPA_INVALID_INPUT;
  if (atomic_load(&g_state) != ST_INIT) return ls_fail(err, NPA_STATE, "The adapter is not initialised or shut down");
  LsConfig cfg;
  int32_t rc = ls_config_parse(config, config_len, &cfg, err);
  if (rc != NPA_OK) return rc;
  LsInst* inst = calloc(1, sizeof *inst);
  if (inst) inst->live = calloc(g_table.count, sizeof(LsLive*));
  if (!inst || !inst->live) {
    free(inst);
    return ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
  }
  inst->magic = LS_MAGIC;
  inst->cfg = cfg;
  pthread_mutex_lock(&g_list_lock);
  inst->next = g_list;
  if (g_list) g_list->prev = inst;
  g_list = inst;
  pthread_mutex_unlock(&g_list_lock);
  atomic_fetch_add(&g_live_instances, 1);
  *out = inst;
  return NPA_OK;
}

static void inst_free(LsInst* inst) {
  ls_inst_release(inst, g_table.count);
  inst->magic = 0;
  free(inst->live);
  free(inst);
  atomic_fetch_sub(&g_live_instances, 1);
}

NPA_EXPORT void npa_instance_destroy(void* handle) {
  if (atomic_load(&g_state) != ST_INIT) return; /* shutdown freed it already */
  LsInst* inst = handle;
  if (!inst || inst->magic != LS_MAGIC) return;
  pthread_mutex_lock(&g_list_lock);
  if (inst->prev) inst->prev->next = inst->next;
  else g_list = inst->next;
  if (inst->next) inst->next->prev = inst->prev;
  pthread_mutex_unlock(&g_list_lock);
  inst_free(inst);
}

NPA_EXPORT int32_t npa_instance_invoke(void* handle, const uint8_t* method, size_t method_len, const uint8_t* input,
                                       size_t input_len, NpaBuf* out, NpaBuf* err) {
  if (!out || !err) return NPA_INVALID_INPUT;
  if (atomic_load(&g_state) != ST_INIT) return ls_fail(err, NPA_STATE, "The adapter is not initialised or shut down");
  LsInst* inst = handle;
  if (!inst || inst->magic != LS_MAGIC) return ls_fail(err, NPA_INVALID_INPUT, "Not an instance of this adapter");
  if ((!method && method_len) || (!input && input_len)) return ls_fail(err, NPA_INVALID_INPUT, "NULL with a length");
  size_t index = g_table.count;
  for (size_t i = 0; method && i < g_table.count; i++) {
    const LsPlugin* pl = &g_table.plugins[i];
    if (pl->method_len == method_len && memcmp(pl->method, method, method_len) == 0) {
      index = i;
      break;
    }
  }
  if (index == g_table.count) {
    LsStr m = {0};
    ls_str_puts(&m, "No LADSPA plugin labelled ");
    ls_json_strn(&m, method ? (const char*)method : "", method_len < 256 ? method_len : 256);
    ls_str_printf(&m, " in %s", g_table.file_name);
    int32_t rc = ls_fail_str(err, NPA_UNKNOWN_METHOD, &m);
    ls_str_free(&m);
    return rc;
  }
  const LsPlugin* pl = &g_table.plugins[index];
  if (pl->broken) return ls_fail(err, NPA_UNSUPPORTED, "LADSPA plugin \"%s\" is unusable: %s", pl->method, pl->broken);
  atomic_store_explicit(&inst->busy, 1, memory_order_release);
  int32_t rc = ls_run(inst, pl, index, input ? input : (const uint8_t*)"", input_len, out, err);
  atomic_store_explicit(&inst->busy, 0, memory_order_release);
  return rc;
}

NPA_EXPORT void npa_buffer_free(uint8_t* ptr, size_t len) {
  (void)len;
  if (!ptr) return;
  free(ptr);
  atomic_fetch_sub(&g_live_buffers, 1);
}

NPA_EXPORT void npa_plugin_shutdown(void) {
  int expected = ST_INIT;
  if (!atomic_compare_exchange_strong(&g_state, &expected, ST_DOWN)) return;
  /* Instances the host never destroyed are freed here; one still inside run (an
   * abandoned call) is left alone, and then the target stays loaded. */
  int busy = 0;
  pthread_mutex_lock(&g_list_lock);
  LsInst* inst = g_list;
  g_list = NULL;
  pthread_mutex_unlock(&g_list_lock);
  while (inst) {
    LsInst* next = inst->next;
    if (atomic_load_explicit(&inst->busy, memory_order_acquire)) busy = 1;
    else inst_free(inst);
    inst = next;
  }
  ls_log(NPA_LOG_DEBUG, "shutdown%s", busy ? ": a call is still running, the LADSPA library stays loaded" : "");
  g_log = NULL;
  g_log_enabled = NULL;
  if (busy) return;
  table_free();
  if (g_lib) dlclose(g_lib);
  g_lib = NULL;
}
