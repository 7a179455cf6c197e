/*
 * npah_fuzz_cov.c — coverage guidance for the fuzz batch loop (npah_fuzz.c):
 * the SanitizerCoverage 8-bit counters of the instrumented target, read and
 * cleared after every input, and where JS finds the comparison operands the
 * coverage runtime records (native/coverage/npa_cov.c, libnpa_cov.so).
 *
 * An input is fresh when it reaches an (edge, hit-count bucket) not seen
 * before for its method; the union over all methods gives the totals in the
 * mapping's header (OFF_COV, OFF_FT, OFF_COUNTERS). Counter regions of
 * instrumented libraries loaded later are taken in before each batch.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "npah_fuzz.h"
#include "npah_internal.h"
#include "coverage/npa_cov.h"

/* libFuzzer's hit-count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128-255, one bit each. */
static uint8_t bucket_of(uint8_t v) {
  return v >= 128 ? 128 : v >= 32 ? 64 : v >= 16 ? 32 : v >= 8 ? 16 : v >= 4 ? 8 : v == 3 ? 4 : v;
}
static uint8_t BUCKET[256];

/* Takes in modules registered since the last call (a plugin may load another instrumented library). 0 or -1. */
static int cov_sync(fuzz_ctx* c) {
  uint32_t n = c->cov->nmodules;
  if (n > NPA_COV_MODULES) n = NPA_COV_MODULES;
  if (n == c->cov_modules) return 0;
  size_t total = 0;
  for (uint32_t m = 0; m < n; m++) {
    const npa_cov_module* mod = &c->cov->modules[m];
    total += (size_t)(mod->counters_end - mod->counters);
    memset(mod->counters, 0, (size_t)(mod->counters_end - mod->counters));
  }
  uint8_t** maps[FZ_COV_METHODS + 1];
  for (uint32_t k = 0; k < FZ_COV_METHODS; k++) maps[k] = &c->cov_seen[k];
  maps[FZ_COV_METHODS] = &c->cov_union;
  for (uint32_t k = 0; k <= FZ_COV_METHODS; k++) {
    if (*maps[k] == NULL && k < FZ_COV_METHODS) continue; /* allocated when its method first runs */
    uint8_t* grown;
    if (c->shared) { /* a shared map is the fork server's: copied into this worker's own memory, never realloc'd */
      grown = malloc(total);
      if (grown != NULL && *maps[k] != NULL) memcpy(grown, *maps[k], c->counters);
    } else {
      grown = realloc(*maps[k], total);
    }
    if (grown == NULL) return -1;
    memset(grown + c->counters, 0, total - c->counters);
    *maps[k] = grown;
  }
  c->counters = total;
  c->cov_modules = n;
  *u32_at(c, OFF_COUNTERS) = (uint32_t)(total > UINT32_MAX ? UINT32_MAX : total);
  return 0;
}

/*
 * Switches the loop to coverage guidance: an input is fresh when it reaches
 * an (edge, hit-count bucket) not seen before for its method. Needs the
 * coverage runtime (libnpa_cov.so) in the global scope and the target
 * loaded. Returns the number of edges instrumented (0: the target is not
 * instrumented), or -1 (no runtime) or -2 (out of memory).
 */
/* The coverage runtime's state, when the runtime (of this version) is in the process; else NULL. */
static npa_cov_state* runtime_state(void) {
  npa_cov_state_fn get = (npa_cov_state_fn)dlsym(RTLD_DEFAULT, "npa_cov_state_get");
  npa_cov_state* st = get == NULL ? NULL : get();
  return st != NULL && st->version == NPA_COV_VERSION ? st : NULL;
}

NPAH_EXPORT int64_t npah_fuzz_coverage(void* ctx) {
  fuzz_ctx* c = ctx;
  npa_cov_state* st = runtime_state();
  if (st == NULL) return -1;
  for (int v = 0; v < 256; v++) BUCKET[v] = bucket_of((uint8_t)v);
  c->cov = st;
  c->cov_union = calloc(1, 1);
  if (c->cov_union == NULL || cov_sync(c) != 0) return -2;
  return (int64_t)c->counters;
}

/*
 * Blind mode: takes the coverage runtime's comparison tables without its counters, so the comparisons its
 * interposed memcmp, strcmp, ... record during plugin calls feed the mutator of a plugin built without
 * instrumentation. 0, or -1 when the runtime is not in the process.
 */
NPAH_EXPORT int32_t npah_fuzz_compare(void* ctx) {
  fuzz_ctx* c = ctx;
  c->cmp = runtime_state();
  return c->cmp == NULL ? -1 : 0;
}

/* Where JS reads the comparison tables: cmps, cmp slots, cmp slot size, mems, mem slots, mem slot size, seq. */
NPAH_EXPORT uint32_t npah_fuzz_cov_views(void* ctx, uint64_t* out, uint32_t cap) {
  fuzz_ctx* c = ctx;
  npa_cov_state* st = c->cov != NULL ? c->cov : c->cmp;
  if (st == NULL) return 0;
  const uint64_t v[] = {(uint64_t)(uintptr_t)st->cmps,  NPA_COV_CMP_SLOTS, sizeof(npa_cov_cmp),
                        (uint64_t)(uintptr_t)st->mems,  NPA_COV_MEM_SLOTS, sizeof(npa_cov_mem),
                        (uint64_t)(uintptr_t)&st->seq};
  uint32_t n = (uint32_t)(sizeof v / sizeof v[0]);
  if (cap < n) n = cap;
  memcpy(out, v, n * sizeof(uint64_t));
  return n;
}

/* Notes counter i's value v; 1 when its bucket is new for the method. */
static inline uint8_t visit(fuzz_ctx* c, size_t i, uint8_t v) {
  uint8_t b = BUCKET[v];
  uint8_t* seen = c->seen_now;
  if (seen[i] & b) return 0;
  seen[i] |= b;
  uint8_t u = c->cov_union[i];
  if ((u & b) == 0) {
    if (u == 0) *u32_at(c, OFF_COV) = *u32_at(c, OFF_COV) + 1;
    *u32_at(c, OFF_FT) = *u32_at(c, OFF_FT) + 1;
    c->cov_union[i] = u | b;
  }
  return 1;
}

typedef uint64_t __attribute__((may_alias)) word_t;

/*
 * Reads and clears every counter the last input moved; 1 when it reached
 * something new. Empty 64-byte chunks cost one OR of eight words, and only
 * non-zero words are taken apart, so a large, mostly idle map is cheap.
 */
uint8_t npah_fuzz_cov_scan(fuzz_ctx* c) {
  uint8_t fresh = 0;
  size_t base = 0;
  for (uint32_t m = 0; m < c->cov_modules; m++) {
    uint8_t* p = c->cov->modules[m].counters;
    size_t n = (size_t)(c->cov->modules[m].counters_end - p), i = 0;
    for (; i < n && ((uintptr_t)(p + i) & 7u) != 0; i++) {
      if (p[i] != 0) fresh |= visit(c, base + i, p[i]), p[i] = 0;
    }
    for (; i + 64 <= n; i += 64) {
      word_t* w = (word_t*)(p + i);
      if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) == 0) continue;
      for (size_t k = 0; k < 8; k++) {
        uint64_t v = w[k];
        if (v == 0) continue;
        w[k] = 0;
        for (size_t b = 0; v != 0; b++, v >>= 8) {
          if (v & 0xffu) fresh |= visit(c, base + i + k * 8 + b, (uint8_t)v);
        }
      }
    }
    for (; i < n; i++) {
      if (p[i] != 0) fresh |= visit(c, base + i, p[i]), p[i] = 0;
    }
    base += n;
  }
  return fresh;
}

/* Before a batch: new modules taken in, the method's map chosen, counters cleared of what ran between batches. */
int npah_fuzz_cov_begin_batch(fuzz_ctx* c) {
  if (cov_sync(c) != 0) return -1;
  uint32_t k = *u32_at(c, OFF_METHOD) % FZ_COV_METHODS;
  if (c->cov_seen[k] == NULL) {
    c->cov_seen[k] = calloc(c->counters > 0 ? c->counters : 1, 1);
    if (c->cov_seen[k] == NULL) return -1;
  }
  c->seen_now = c->cov_seen[k];
  for (uint32_t m = 0; m < c->cov_modules; m++) {
    const npa_cov_module* mod = &c->cov->modules[m];
    memset(mod->counters, 0, (size_t)(mod->counters_end - mod->counters));
  }
  return 0;
}

/* Memory shared with the processes this one forks later, holding a copy of `n` bytes at `p`; NULL on failure. */
static void* shared_copy(const void* p, size_t n) {
  void* s = mmap(NULL, n > 0 ? n : 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) return NULL;
  if (p != NULL && n > 0) memcpy(s, p, n);
  return s;
}

int npah_fuzz_cov_share(fuzz_ctx* c) {
  if (c->cov == NULL) return 0;
  size_t n = c->counters > 0 ? c->counters : 1;
  /* Method 0's map (a harness has no other) and the union; another method's map is allocated in the worker that
   * first runs it, and lives as long as that worker. */
  uint8_t* seen0 = shared_copy(c->cov_seen[0], c->cov_seen[0] != NULL ? n : 0);
  uint8_t* all = shared_copy(c->cov_union, n);
  if (seen0 == NULL || all == NULL) return -1;
  free(c->cov_seen[0]);
  free(c->cov_union);
  c->cov_seen[0] = seen0;
  c->cov_union = all;
  return 0;
}

/* Forgets all coverage seen, per method and in total (npah_fuzz_forget). */
void npah_fuzz_cov_forget(fuzz_ctx* c) {
  for (uint32_t k = 0; k < FZ_COV_METHODS; k++)
    if (c->cov_seen[k] != NULL) memset(c->cov_seen[k], 0, c->counters);
  memset(c->cov_union, 0, c->counters);
  *u32_at(c, OFF_COV) = 0;
  *u32_at(c, OFF_FT) = 0;
}
