/*
 * npa_host.c — plugcheck's host-side log sink for npa plugins.
 *
 * Why this exists: a Deno.UnsafeCallback called from a plugin thread blocks
 * that thread until the JS thread runs it, which can deadlock (a sync call
 * waiting on the very thread that is logging) or crash at exit (see
 * ../shared/notes/deno-ffi-facts.md). So the log functions handed to plugins
 * are plain C: they copy the message into a bounded queue and return at
 * once. The host drains the queue with a synchronous call after each plugin
 * call and on an unref'd timer. Nothing here ever enters V8.
 *
 * The queue (npah_log_queue.c) holds no lock: a plugin thread cancelled or
 * jumping out of npah_log mid-message can block nobody.
 *
 * Guarantees:
 *   - npah_log / npah_log_enabled never block and hold no lock (a few
 *     atomics and one memcpy), are callable from any thread, at any time,
 *     forever: the queue is never freed, and a context is reused only once the library it was
 *     given to is verifiably unmapped (npah_ctx_release), so a plugin may log
 *     after shutdown (such messages are counted as after_close and dropped).
 *   - Nothing is dropped silently: every message is counted exactly once, as
 *     accepted, dropped_full (no free slot, or its slot was taken back from a
 *     writer that stalled), filtered (above the level), or after_close. A
 *     writer that dies mid-message counts nothing: it never returns.
 *   - Messages longer than NPAH_MAX_MESSAGE bytes are truncated (counted).
 *   - A message filtered out is still read (up to the same bound): a bad
 *     message pointer crashes at the plugin's call whatever the log level.
 *
 * Filtering: a context holds a default level and per-target levels (RUST_LOG
 * style directives, parsed by the host). A target matches a directive prefix
 * segment-wise, with "::" and "." as equivalent separators; the longest
 * matching prefix wins, whatever order targets first log in. There is no
 * per-target cache to poison: every query scans the (few) directives. The
 * directive set is immutable and swapped atomically; replaced sets are never
 * freed, since a plugin thread may still be reading one.
 *
 * Drained record layout: see npah_log_queue.c.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../include/npa.h"
#include "npah_internal.h"

/* Counter slots, read by npah_ctx_counters in this order. */
enum {
  NPAH_ACCEPTED = 0,
  NPAH_DROPPED_FULL = 1,
  NPAH_FILTERED = 2,
  NPAH_AFTER_CLOSE = 3,
  NPAH_TRUNCATED = 4,
  NPAH_ENABLED_QUERIES = 5,
  NPAH_COUNTERS = 6
};

/* One directive: targets starting with `prefix` (normalized, '.'-separated)
 * keep messages with level <= max_level. An empty prefix matches every
 * target and beats the default. */
typedef struct npah_directive {
  char prefix[NPAH_MAX_TARGET + 1];
  size_t prefix_len;
  int32_t max_level;
} npah_directive;

typedef struct npah_filter {
  int32_t default_level;
  uint32_t count;
  npah_directive items[]; /* count entries */
} npah_filter;

typedef struct npah_ctx {
  npah_queue* q;
  uint32_t plugin_id;
  _Atomic(npah_filter*) filter;
  atomic_int closed;
  atomic_uint_fast64_t counters[NPAH_COUNTERS];
  /* An address inside the plugin (its npa_abi_version): while it maps to a loaded object, the
   * plugin's code may still run and log, so the context is never reused. */
  const void* probe;
  struct npah_ctx* next_free;
} npah_ctx;

static pthread_mutex_t g_ctx_mu = PTHREAD_MUTEX_INITIALIZER;
static npah_ctx* g_ctx_free;
static uint64_t g_ctx_allocated, g_ctx_reused, g_ctx_free_count;

/* Writes the target with "::" folded to "." into buf; returns its length. */
static size_t normalize_target(const uint8_t* t, size_t n, char* buf) {
  size_t o = 0;
  if (t == NULL) return 0;
  for (size_t i = 0; i < n && o < NPAH_MAX_TARGET; i++) {
    if (t[i] == ':' && i + 1 < n && t[i + 1] == ':') {
      buf[o++] = '.';
      i++;
    } else {
      buf[o++] = (char)t[i];
    }
  }
  return o;
}

/* The level the filter allows for a normalized target: longest prefix wins. */
static int32_t level_for(const npah_filter* f, const char* target, size_t n) {
  int32_t level = f->default_level;
  long best = -1;
  for (uint32_t i = 0; i < f->count; i++) {
    const npah_directive* d = &f->items[i];
    size_t p = d->prefix_len;
    int match = p == 0 || (p <= n && memcmp(target, d->prefix, p) == 0 && (p == n || target[p] == '.'));
    if (match && (long)p > best) {
      best = (long)p;
      level = d->max_level;
    }
  }
  return level;
}

static int enabled_for(npah_ctx* c, int32_t level, const uint8_t* target, size_t target_len) {
  char buf[NPAH_MAX_TARGET];
  size_t n = normalize_target(target, target_len, buf);
  const npah_filter* f = atomic_load_explicit(&c->filter, memory_order_acquire);
  return level >= 1 && level <= level_for(f, buf, n);
}

static void count(npah_ctx* c, int slot) {
  atomic_fetch_add_explicit(&c->counters[slot], 1, memory_order_relaxed);
}

/* The NpaLogFn given to plugins. */
static void npah_log(void* ctx, int32_t level, const uint8_t* target,
                     size_t target_len, const uint8_t* message,
                     size_t message_len) {
  npah_ctx* c = (npah_ctx*)ctx;
  if (c == NULL) return;
  if (atomic_load_explicit(&c->closed, memory_order_acquire)) {
    count(c, NPAH_AFTER_CLOSE);
    return;
  }
  if (!enabled_for(c, level, target, target_len)) {
    npah_touch(message, message_len < NPAH_MAX_MESSAGE ? message_len : NPAH_MAX_MESSAGE);
    count(c, NPAH_FILTERED);
    return;
  }
  if (target == NULL) target_len = 0;
  if (message == NULL) message_len = 0;
  uint32_t flags = 0;
  if (target_len > NPAH_MAX_TARGET) target_len = NPAH_MAX_TARGET;
  if (message_len > NPAH_MAX_MESSAGE) {
    message_len = NPAH_MAX_MESSAGE;
    flags |= 1u;
    count(c, NPAH_TRUNCATED);
  }
  uint32_t header[5] = {c->plugin_id, (uint32_t)level, flags,
                        (uint32_t)target_len, (uint32_t)message_len};
  if (npah_queue_push(c->q, header, target, target_len, message, message_len))
    count(c, NPAH_ACCEPTED);
  else
    count(c, NPAH_DROPPED_FULL); /* no free slot, or the slot was taken back from this stalled writer */
}

/* The NpaLogEnabledFn given to plugins. */
static int32_t npah_log_enabled(void* ctx, int32_t level, const uint8_t* target,
                                size_t target_len) {
  npah_ctx* c = (npah_ctx*)ctx;
  if (c == NULL) return 0;
  count(c, NPAH_ENABLED_QUERIES);
  if (atomic_load_explicit(&c->closed, memory_order_acquire)) return 0;
  return enabled_for(c, level, target, target_len);
}

static npah_filter* filter_new(int32_t default_level, uint32_t count) {
  npah_filter* f = calloc(1, sizeof(npah_filter) + (size_t)count * sizeof(npah_directive));
  if (f == NULL) return NULL;
  f->default_level = default_level;
  f->count = count;
  return f;
}

/* A context for one loaded plugin: a released one if there is one, else a new one. Never freed:
 * the plugin may keep it (see npah_ctx_release). */
NPAH_EXPORT void* npah_ctx_new(void* queue, uint32_t plugin_id,
                               int32_t max_level) {
  npah_filter* f = filter_new(max_level, 0);
  if (f == NULL) return NULL;
  pthread_mutex_lock(&g_ctx_mu);
  npah_ctx* c = g_ctx_free;
  if (c != NULL) {
    g_ctx_free = c->next_free;
    g_ctx_free_count--;
    g_ctx_reused++;
  }
  pthread_mutex_unlock(&g_ctx_mu);
  if (c == NULL) {
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
      free(f);
      return NULL;
    }
    pthread_mutex_lock(&g_ctx_mu);
    g_ctx_allocated++;
    pthread_mutex_unlock(&g_ctx_mu);
  }
  c->q = (npah_queue*)queue;
  c->plugin_id = plugin_id;
  c->probe = NULL;
  c->next_free = NULL;
  atomic_init(&c->filter, f);
  atomic_init(&c->closed, 0);
  for (int i = 0; i < NPAH_COUNTERS; i++) atomic_init(&c->counters[i], 0);
  return c;
}

/* Remembers where the plugin at `path` (already loaded; never loads it) lives, for npah_ctx_release.
 * Returns 1 when found, 0 otherwise (the context is then never reused). */
NPAH_EXPORT int32_t npah_ctx_bind(void* ctx, const uint8_t* path, uint32_t len) {
  void* h = npah_noload(path, len);
  if (h == NULL) return 0;
  ((npah_ctx*)ctx)->probe = dlsym(h, "npa_abi_version");
  dlclose(h); /* drops only the reference NOLOAD took */
  return ((npah_ctx*)ctx)->probe != NULL;
}

/* Called after the library was unloaded: if its code is really gone (no loaded object holds the
 * probe address), the context and its filter can serve a later load. Returns 1 if released. */
NPAH_EXPORT int32_t npah_ctx_release(void* ctx) {
  npah_ctx* c = (npah_ctx*)ctx;
  Dl_info info;
  if (c->probe == NULL || !atomic_load(&c->closed) || dladdr(c->probe, &info) != 0) return 0;
  free(atomic_load(&c->filter));
  atomic_store(&c->filter, NULL);
  pthread_mutex_lock(&g_ctx_mu);
  c->next_free = g_ctx_free;
  g_ctx_free = c;
  g_ctx_free_count++;
  pthread_mutex_unlock(&g_ctx_mu);
  return 1;
}

/* Contexts ever allocated, reuses, and contexts free now. */
NPAH_EXPORT uint32_t npah_ctx_stats(uint64_t* out, uint32_t out_len) {
  pthread_mutex_lock(&g_ctx_mu);
  uint64_t v[3] = {g_ctx_allocated, g_ctx_reused, g_ctx_free_count};
  pthread_mutex_unlock(&g_ctx_mu);
  uint32_t n = out_len < 3 ? out_len : 3;
  memcpy(out, v, n * sizeof(uint64_t));
  return n;
}

/* Writes an NpaHost for `ctx` into `out` (at least out_len bytes). Returns the
 * number of bytes written, or 0 if out_len is too small. */
NPAH_EXPORT uint32_t npah_fill_host(void* ctx, uint8_t* out, uint32_t out_len) {
  if (out_len < sizeof(NpaHost)) return 0;
  NpaHost h;
  memset(&h, 0, sizeof(h));
  h.abi_version = NPA_ABI_VERSION;
  h.struct_size = (uint32_t)sizeof(NpaHost);
  h.ctx = ctx;
  h.log = npah_log;
  h.log_enabled = npah_log_enabled;
  memcpy(out, &h, sizeof(h));
  return (uint32_t)sizeof(h);
}

/* Replaces the context's filter. `spec` holds lines "<level> <prefix>\n"
 * (prefix normalized, may be empty; level 0..5). Returns the number of
 * directives installed, or -1 if the spec is malformed or memory ran out
 * (the old filter stays). */
NPAH_EXPORT int32_t npah_ctx_set_filter(void* ctx, int32_t default_level, const uint8_t* spec,
                                        uint32_t spec_len) {
  uint32_t lines = 0;
  for (uint32_t i = 0; i < spec_len; i++) lines += spec[i] == '\n';
  npah_filter* f = filter_new(default_level, lines);
  if (f == NULL) return -1;
  uint32_t i = 0, k = 0;
  while (i < spec_len && k < lines) {
    if (spec[i] < '0' || spec[i] > '5' || i + 1 >= spec_len || spec[i + 1] != ' ') goto bad;
    npah_directive* d = &f->items[k++];
    d->max_level = spec[i] - '0';
    i += 2;
    uint32_t start = i;
    while (i < spec_len && spec[i] != '\n') i++;
    if (i >= spec_len || i - start > NPAH_MAX_TARGET) goto bad;
    d->prefix_len = normalize_target(spec + start, i - start, d->prefix);
    i++; /* the newline */
  }
  if (k != lines || i != spec_len) goto bad;
  /* The old filter is never freed: a plugin thread may be reading it. */
  atomic_store_explicit(&((npah_ctx*)ctx)->filter, f, memory_order_release);
  return (int32_t)lines;
bad:
  free(f);
  return -1;
}

/* After this, every message for ctx is dropped and counted as after_close. */
NPAH_EXPORT void npah_ctx_close(void* ctx) {
  atomic_store_explicit(&((npah_ctx*)ctx)->closed, 1, memory_order_release);
}

/* Copies the ctx counters into out[0..NPAH_COUNTERS). Returns the count. */
NPAH_EXPORT uint32_t npah_ctx_counters(void* ctx, uint64_t* out,
                                       uint32_t out_len) {
  npah_ctx* c = (npah_ctx*)ctx;
  uint32_t n = out_len < NPAH_COUNTERS ? out_len : NPAH_COUNTERS;
  for (uint32_t i = 0; i < n; i++) out[i] = atomic_load(&c->counters[i]);
  return n;
}

