/*
 * npah_fuzz.c — the fuzz child's batch loop and its crash recorder.
 *
 * The TypeScript engine (lib/fuzz/) mutates a batch of inputs into an arena
 * and makes ONE call here per batch; this loop calls the plugin's own entry
 * point for every input (npa_instance_invoke + npa_buffer_free, or a
 * libFuzzer harness's LLVMFuzzerTestOneInput), found with dlopen(RTLD_NOLOAD)
 * + dlsym on the library Deno already loaded. Nothing is allocated and no
 * JavaScript runs per input.
 *
 * The arena, the batch table and a header live in a file-backed MAP_SHARED
 * mapping (the "input file", in the artifacts directory). Before each call
 * the loop writes the input's index and bumps an exec counter there, so the
 * parent, which reads the file with plain reads, always knows the exact input
 * in flight: after the child died (the page cache keeps the child's writes),
 * or while it hangs (the counter stops moving). Nothing is replayed, and
 * nothing is lost even if the parent dies too.
 *
 * A call that did not end cleanly (a status outside the ABI, PANIC, a
 * malformed buffer, an error buffer that is not UTF-8 JSON {"message": ...},
 * output that is not JSON from a json method) stops the batch at that input
 * with its buffers untouched, for the guard (TypeScript) to judge and free.
 *
 * Fatal signals (SEGV, BUS, FPE, ILL, ABRT) are caught on an alternate stack:
 * the handler writes the signal, the faulting address and a short backtrace
 * as (module, offset) pairs into the mapping, then restores the previous
 * handler and lets the signal take its course (re-raised, or the faulting
 * instruction runs again). SIGUSR2 asks the loop thread for its backtrace
 * (the parent sends it to a hung child before killing it).
 *
 * Mapping layout: see npah_fuzz_layout (JS reads it from there).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "../include/npa.h"
#include "npah_internal.h"
#include "npah_json.h"
#include "coverage/npa_cov.h"

#define FZ_MAGIC 0x5a464350u /* "PCFZ" */
#define FZ_VERSION 1u
#define FZ_MAX_BATCH 4096u
#define FZ_FRAMES 48u
#define FZ_MODULES 128u
#define FZ_MODULE_PATH 232u
#define FZ_FEATURES (1u << 16)
#define FZ_METHOD_MAX 1024u
/* Guided mode keeps the features seen per method (index modulo this), and their union for the totals. */
#define FZ_COV_METHODS 64u

/* Byte offsets in the mapping. */
enum {
  OFF_MAGIC = 0,
  OFF_VERSION = 4,
  OFF_EXECS = 8,     /* u64 */
  OFF_STATE = 16,    /* u32: 0 between calls, 1 inside the plugin */
  OFF_INDEX = 20,    /* u32: the input in flight, in the batch table */
  OFF_COUNT = 24,    /* u32: inputs in the batch */
  OFF_METHOD = 28,   /* u32: the method index (JS writes it) */
  OFF_STOP = 32,     /* u32: the parent writes 1 to ask for a stop */
  OFF_TID = 36,      /* u32: the loop thread */
  OFF_BATCH = 40,    /* u32: batch sequence number (JS writes it) */
  OFF_SIGNAL = 48,   /* u32: the fatal signal, 0 before one */
  OFF_SICODE = 52,   /* i32 */
  OFF_ADDR = 56,     /* u64: the faulting address */
  OFF_PC = 64,       /* u64 */
  OFF_CRASH_TID = 72,
  OFF_NFRAMES = 76,  /* u32 */
  OFF_FRAMES = 80,   /* FZ_FRAMES x {u32 module, u32 pad, u64 offset} */
  OFF_HANG_SEQ = 848,
  OFF_HANG_NFRAMES = 852,
  OFF_HANG_FRAMES = 856,
  OFF_NMODULES = 1624,
  OFF_COV = 1632,      /* u32: edges (8-bit counters) ever hit, over all methods (guided mode) */
  OFF_FT = 1636,       /* u32: (edge, hit-count bucket) features seen */
  OFF_COUNTERS = 1640, /* u32: edges instrumented */
  OFF_MODULES = 4096, /* FZ_MODULES x {u64 base, u64 start, u64 end, char path[FZ_MODULE_PATH]} */
  MODULE_SIZE = 256,
  OFF_TABLE = OFF_MODULES + FZ_MODULES * MODULE_SIZE, /* u32 offs[FZ_MAX_BATCH], u32 lens[FZ_MAX_BATCH] */
  OFF_ARENA = OFF_TABLE + FZ_MAX_BATCH * 8,
};

/* Results of npah_fuzz_run per input, and what JS reads after an anomaly. */
enum { KIND_NONE = 0, KIND_NPA = 1, KIND_LIBFUZZER = 2 };
enum { FLAG_JSON_OUTPUT = 1u };

typedef int32_t (*invoke_fn)(void*, const uint8_t*, size_t, const uint8_t*, size_t, NpaBuf*, NpaBuf*);
typedef void (*free_fn)(uint8_t*, size_t);
typedef int (*test_one_fn)(const uint8_t*, size_t);
typedef int (*initialize_fn)(int*, char***);

typedef struct fuzz_ctx {
  uint8_t* map;
  size_t map_size;
  uint32_t arena_size;
  int kind;
  invoke_fn invoke;
  free_fn release;
  void* inst;
  test_one_fn test_one;
  uint32_t flags;
  uint32_t max_out;
  uint32_t method_len;
  uint8_t method[FZ_METHOD_MAX];
  /* Per input of the last batch: the status (or the harness's return value) and whether it answered in a new way. */
  int32_t status[FZ_MAX_BATCH];
  uint8_t fresh[FZ_MAX_BATCH];
  /* After an anomaly: status, out.ptr, out.len, err.ptr, err.len (JS judges and frees them). */
  int64_t raw[5];
  /* Answers seen so far (status x output length class x error length class), one byte each. */
  uint8_t seen[FZ_FEATURES];
  /* Guided mode: the coverage runtime's state, the counter regions known, and per counter a bit per
   * hit-count bucket seen (per method, and all methods together). */
  npa_cov_state* cov;
  uint32_t cov_modules;
  size_t counters;
  uint8_t* cov_seen[FZ_COV_METHODS];
  uint8_t* cov_union;
  uint8_t* seen_now;
} fuzz_ctx;

static inline volatile uint32_t* u32_at(fuzz_ctx* c, uint32_t off) {
  return (volatile uint32_t*)(c->map + off);
}
static inline volatile uint64_t* u64_at(fuzz_ctx* c, uint32_t off) {
  return (volatile uint64_t*)(c->map + off);
}

/* The mapping's layout for JS: table offset, arena offset, max batch, frames, modules, module entry size,
 * and the header offsets in enum order from OFF_EXECS. */
NPAH_EXPORT uint32_t npah_fuzz_layout(uint32_t* out, uint32_t cap) {
  const uint32_t v[] = {OFF_TABLE,      OFF_ARENA,  FZ_MAX_BATCH,  FZ_FRAMES,     FZ_MODULES,  MODULE_SIZE,
                        OFF_EXECS,      OFF_STATE,  OFF_INDEX,     OFF_COUNT,     OFF_METHOD,  OFF_STOP,
                        OFF_TID,        OFF_BATCH,  OFF_SIGNAL,    OFF_SICODE,    OFF_ADDR,    OFF_PC,
                        OFF_CRASH_TID,  OFF_NFRAMES, OFF_FRAMES,   OFF_HANG_SEQ,  OFF_HANG_NFRAMES,
                        OFF_HANG_FRAMES, OFF_NMODULES, OFF_MODULES, FZ_MAGIC,     FZ_VERSION,
                        OFF_COV,        OFF_FT,     OFF_COUNTERS};
  uint32_t n = (uint32_t)(sizeof v / sizeof v[0]);
  if (cap < n) n = cap;
  memcpy(out, v, n * sizeof(uint32_t));
  return n;
}

/*
 * Maps the input file at `path` (created by the parent, `size` bytes: the
 * header, the table and the arena) and clears its header. Returns the
 * context, or NULL (errno set).
 */
NPAH_EXPORT void* npah_fuzz_open(const uint8_t* path, uint32_t len, uint64_t size) {
  char name[4096];
  if (len >= sizeof name || size <= OFF_ARENA || size > ((uint64_t)1 << 32)) {
    errno = EINVAL;
    return NULL;
  }
  memcpy(name, path, len);
  name[len] = '\0';
  int fd = open(name, O_RDWR | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < size) {
    close(fd);
    errno = EINVAL;
    return NULL;
  }
  uint8_t* map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return NULL;
  fuzz_ctx* c = calloc(1, sizeof *c);
  if (c == NULL) {
    munmap(map, (size_t)size);
    return NULL;
  }
  c->map = map;
  c->map_size = (size_t)size;
  c->arena_size = (uint32_t)(size - OFF_ARENA);
  memset(map, 0, OFF_TABLE);
  *u32_at(c, OFF_VERSION) = FZ_VERSION;
  *u32_at(c, OFF_TID) = (uint32_t)syscall(SYS_gettid);
  *u32_at(c, OFF_MAGIC) = FZ_MAGIC;
  return c;
}

/* Where JS finds things: the mapping, the status and fresh arrays, raw[], the context's control words. */
NPAH_EXPORT uint32_t npah_fuzz_views(void* ctx, uint64_t* out, uint32_t cap) {
  fuzz_ctx* c = ctx;
  const uint64_t v[] = {(uint64_t)(uintptr_t)c->map, (uint64_t)c->map_size, (uint64_t)(uintptr_t)c->status,
                        (uint64_t)(uintptr_t)c->fresh, (uint64_t)(uintptr_t)c->raw};
  uint32_t n = (uint32_t)(sizeof v / sizeof v[0]);
  if (cap < n) n = cap;
  memcpy(out, v, n * sizeof(uint64_t));
  return n;
}

/*
 * Targets an instance of the loaded npa library at `path` with `method`
 * (flags: FLAG_JSON_OUTPUT). Returns 0, -2 (not loaded), -3 (symbols
 * missing), -1 (bad arguments).
 */
NPAH_EXPORT int32_t npah_fuzz_target_npa(void* ctx, const uint8_t* path, uint32_t len, void* inst, uint32_t max_out) {
  fuzz_ctx* c = ctx;
  if (inst == NULL) return -1;
  void* h = npah_noload(path, len);
  if (h == NULL) return -2;
  invoke_fn inv = (invoke_fn)dlsym(h, "npa_instance_invoke");
  free_fn fr = (free_fn)dlsym(h, "npa_buffer_free");
  dlclose(h); /* drops only the reference NOLOAD took */
  if (inv == NULL || fr == NULL) return -3;
  c->invoke = inv;
  c->release = fr;
  c->inst = inst;
  c->max_out = max_out;
  c->kind = KIND_NPA;
  return 0;
}

/* Sets the method of the next batches (npa targets). Returns 0 or -1 (too long). */
NPAH_EXPORT int32_t npah_fuzz_method(void* ctx, const uint8_t* method, uint32_t len, uint32_t flags) {
  fuzz_ctx* c = ctx;
  if (len > FZ_METHOD_MAX) return -1;
  memcpy(c->method, method, len);
  c->method_len = len;
  c->flags = flags;
  return 0;
}

/*
 * Targets the libFuzzer harness in the loaded library at `path`: its
 * LLVMFuzzerTestOneInput, after LLVMFuzzerInitialize when it has one (run
 * here, once per child, with argv {"plugcheck"}). Returns 0, -2 (not
 * loaded), -3 (no LLVMFuzzerTestOneInput), or -4 (LLVMFuzzerInitialize
 * returned non-zero; its value is in raw[0]).
 */
NPAH_EXPORT int32_t npah_fuzz_target_libfuzzer(void* ctx, const uint8_t* path, uint32_t len) {
  fuzz_ctx* c = ctx;
  void* h = npah_noload(path, len);
  if (h == NULL) return -2;
  test_one_fn one = (test_one_fn)dlsym(h, "LLVMFuzzerTestOneInput");
  initialize_fn init = (initialize_fn)dlsym(h, "LLVMFuzzerInitialize");
  dlclose(h);
  if (one == NULL) return -3;
  c->test_one = one;
  c->kind = KIND_LIBFUZZER;
  if (init != NULL) {
    static char arg0[] = "plugcheck";
    static char* argv_store[] = {arg0, NULL};
    int argc = 1;
    char** argv = argv_store;
    int rc = init(&argc, &argv);
    if (rc != 0) {
      c->raw[0] = rc;
      return -4;
    }
  }
  return 0;
}

/* Length classes: exact below 64, then one class per power of two. */
static inline uint32_t length_class(size_t n) {
  if (n < 64) return (uint32_t)n;
  uint32_t k = 64;
  while (n > 1) {
    n >>= 1;
    k++;
  }
  return k;
}

/* Marks an answer seen; 1 when it had not been seen before. */
static inline uint8_t mark_seen(fuzz_ctx* c, uint32_t status, size_t out_len, size_t err_len) {
  uint32_t f = (status & 0xffu) * 0x9e3779b1u ^ length_class(out_len) * 0x85ebca77u ^ length_class(err_len) * 0xc2b2ae3du;
  f = (f ^ (f >> 16)) & (FZ_FEATURES - 1);
  if (c->seen[f]) return 0;
  c->seen[f] = 1;
  return 1;
}

/* ---- guided mode: SanitizerCoverage counters ----------------------------- */

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
    uint8_t* grown = realloc(*maps[k], total);
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
NPAH_EXPORT int64_t npah_fuzz_coverage(void* ctx) {
  fuzz_ctx* c = ctx;
  npa_cov_state_fn get = (npa_cov_state_fn)dlsym(RTLD_DEFAULT, "npa_cov_state_get");
  if (get == NULL) return -1;
  npa_cov_state* st = get();
  if (st == NULL || st->version != NPA_COV_VERSION) return -1;
  for (int v = 0; v < 256; v++) BUCKET[v] = bucket_of((uint8_t)v);
  c->cov = st;
  c->cov_union = calloc(1, 1);
  if (c->cov_union == NULL || cov_sync(c) != 0) return -2;
  return (int64_t)c->counters;
}

/* Where JS reads the comparison tables: cmps, cmp slots, cmp slot size, mems, mem slots, mem slot size, seq. */
NPAH_EXPORT uint32_t npah_fuzz_cov_views(void* ctx, uint64_t* out, uint32_t cap) {
  fuzz_ctx* c = ctx;
  if (c->cov == NULL) return 0;
  const uint64_t v[] = {(uint64_t)(uintptr_t)c->cov->cmps,  NPA_COV_CMP_SLOTS, sizeof(npa_cov_cmp),
                        (uint64_t)(uintptr_t)c->cov->mems,  NPA_COV_MEM_SLOTS, sizeof(npa_cov_mem),
                        (uint64_t)(uintptr_t)&c->cov->seq};
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
static uint8_t scan_counters(fuzz_ctx* c) {
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
static int cov_begin_batch(fuzz_ctx* c) {
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

/* True when a call's result needs the guard: anything but a clean answer within the ABI. */
static inline int anomalous(fuzz_ctx* c, int32_t status, NpaBuf out, NpaBuf err) {
  if (status < NPA_OK || status > NPA_STATE || status == NPA_PANIC) return 1;
  if ((out.ptr == NULL && out.len != 0) || (err.ptr == NULL && err.len != 0)) return 1;
  if (out.len > c->max_out || err.len > c->max_out) return 1;
  if (status == NPA_OK) {
    if (err.ptr != NULL) return 1;
    return (c->flags & FLAG_JSON_OUTPUT) && !npah_json_valid(out.ptr, out.len, 0);
  }
  if (out.ptr != NULL || err.ptr == NULL) return 1;
  return !npah_json_valid(err.ptr, err.len, NPAH_JSON_ERROR_OBJECT);
}

/*
 * Runs inputs [from, count) of the batch table. Returns `count` when every
 * one ran cleanly, or the index of the first one that needs the guard (its
 * status and buffers in raw[], not freed), or -2 - i when the parent asked
 * for a stop before input i ran. -1: no target, or a bad table.
 */
NPAH_EXPORT int32_t npah_fuzz_run(void* ctx, uint32_t from, uint32_t count) {
  fuzz_ctx* c = ctx;
  if (count > FZ_MAX_BATCH || c->kind == KIND_NONE) return -1;
  const uint32_t* offs = (const uint32_t*)(c->map + OFF_TABLE);
  const uint32_t* lens = offs + FZ_MAX_BATCH;
  const uint8_t* arena = c->map + OFF_ARENA;
  volatile uint32_t* state = u32_at(c, OFF_STATE);
  volatile uint32_t* index = u32_at(c, OFF_INDEX);
  volatile uint64_t* execs = u64_at(c, OFF_EXECS);
  volatile uint32_t* stop = u32_at(c, OFF_STOP);
  *u32_at(c, OFF_COUNT) = count;
  npa_cov_state* cov = c->cov;
  if (cov != NULL && cov_begin_batch(c) != 0) return -1;
  uint64_t n = *execs;
  for (uint32_t i = from; i < count; i++) {
    uint32_t off = offs[i], len = lens[i];
    if (off > c->arena_size || len > c->arena_size - off) return -1;
    const uint8_t* input = arena + off;
    if (*stop) return -2 - (int32_t)i;
    *index = i;
    *execs = ++n;
    if (c->kind == KIND_LIBFUZZER) {
      *state = 1;
      if (cov != NULL) cov->active = 1;
      int r = c->test_one(input, len);
      if (cov != NULL) cov->active = 0;
      *state = 0;
      c->status[i] = r;
      c->fresh[i] = cov != NULL ? scan_counters(c) : mark_seen(c, (uint32_t)r, 0, 0);
      continue;
    }
    NpaBuf out = {NULL, 0}, err = {NULL, 0};
    *state = 1;
    npah_sync_enter(NPAH_LABEL_INVOKE, c->method, c->method_len);
    if (cov != NULL) cov->active = 1;
    int32_t status = c->invoke(c->inst, c->method, c->method_len, input, len, &out, &err);
    if (cov != NULL) cov->active = 0;
    npah_sync_leave();
    *state = 0;
    c->status[i] = status;
    uint8_t reached = cov != NULL ? scan_counters(c) : 0;
    if (anomalous(c, status, out, err)) {
      c->raw[0] = status;
      c->raw[1] = (int64_t)(uintptr_t)out.ptr;
      c->raw[2] = (int64_t)out.len;
      c->raw[3] = (int64_t)(uintptr_t)err.ptr;
      c->raw[4] = (int64_t)err.len;
      c->fresh[i] = 0;
      return (int32_t)i;
    }
    c->fresh[i] = cov != NULL ? reached : mark_seen(c, (uint32_t)status, out.len, err.len);
    if (out.ptr != NULL) c->release(out.ptr, out.len);
    if (err.ptr != NULL) c->release(err.ptr, err.len);
  }
  return (int32_t)count;
}

/* Forgets every answer seen and all coverage (a new method's batches, a merge, start from nothing). */
NPAH_EXPORT void npah_fuzz_forget(void* ctx) {
  fuzz_ctx* c = ctx;
  memset(c->seen, 0, sizeof c->seen);
  if (c->cov == NULL) return;
  for (uint32_t k = 0; k < FZ_COV_METHODS; k++)
    if (c->cov_seen[k] != NULL) memset(c->cov_seen[k], 0, c->counters);
  memset(c->cov_union, 0, c->counters);
  *u32_at(c, OFF_COV) = 0;
  *u32_at(c, OFF_FT) = 0;
}

/* ---- where a crash happened -------------------------------------------- */

typedef struct module_entry {
  uint64_t base, start, end;
  char path[FZ_MODULE_PATH];
} module_entry;

static fuzz_ctx* g_armed;
static atomic_int g_in_handler;
static uint32_t g_loop_tid;
static struct sigaction g_previous[NSIG];
static const int FATAL_SIGNALS[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

static int note_module(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  fuzz_ctx* c = data;
  volatile uint32_t* count = u32_at(c, OFF_NMODULES);
  if (*count >= FZ_MODULES) return 1;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uint64_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
    if (s < lo) lo = s;
    if (e > hi) hi = e;
  }
  if (hi == 0) return 0;
  module_entry* m = (module_entry*)(c->map + OFF_MODULES + *count * MODULE_SIZE);
  m->base = info->dlpi_addr;
  m->start = lo;
  m->end = hi;
  const char* name = info->dlpi_name;
  char exe[FZ_MODULE_PATH];
  if (name == NULL || name[0] == '\0') {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    name = exe;
  }
  size_t n = strlen(name);
  if (n >= FZ_MODULE_PATH) n = FZ_MODULE_PATH - 1;
  memcpy(m->path, name, n);
  m->path[n] = '\0';
  *count = *count + 1;
  return 0;
}

/* The module holding `pc` (index in the table) and the offset from its load base; module 0xffffffff if none. */
static void locate(fuzz_ctx* c, uint64_t pc, volatile uint32_t* module, volatile uint64_t* offset) {
  uint32_t n = *u32_at(c, OFF_NMODULES);
  for (uint32_t i = 0; i < n && i < FZ_MODULES; i++) {
    const module_entry* m = (const module_entry*)(c->map + OFF_MODULES + i * MODULE_SIZE);
    if (pc >= m->start && pc < m->end) {
      *module = i;
      *offset = pc - m->base;
      return;
    }
  }
  *module = UINT32_MAX;
  *offset = pc;
}

static uint64_t context_pc(void* uc) {
  ucontext_t* u = uc;
#if defined(__x86_64__)
  return (uint64_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uint64_t)u->uc_mcontext.pc;
#else
  (void)u;
  return 0;
#endif
}

/* Writes the interrupted thread's backtrace (starting at `pc`) as (module, offset) frames at `at`; returns the count. */
static uint32_t record_frames(fuzz_ctx* c, uint64_t pc, uint32_t at) {
  void* trace[FZ_FRAMES + 16];
  int got = backtrace(trace, (int)(sizeof trace / sizeof trace[0]));
  int from = -1;
  for (int i = 0; i < got; i++) {
    if ((uint64_t)(uintptr_t)trace[i] == pc) {
      from = i + 1;
      break;
    }
  }
  uint32_t n = 0;
  volatile uint8_t* frames = c->map + at;
  locate(c, pc, (volatile uint32_t*)(frames), (volatile uint64_t*)(frames + 8));
  n = 1;
  for (int i = from; from > 0 && i < got && n < FZ_FRAMES; i++, n++) {
    locate(c, (uint64_t)(uintptr_t)trace[i], (volatile uint32_t*)(frames + n * 16),
           (volatile uint64_t*)(frames + n * 16 + 8));
  }
  return n;
}

static void on_fatal(int sig, siginfo_t* si, void* uc) {
  fuzz_ctx* c = g_armed;
  if (c != NULL && !atomic_exchange(&g_in_handler, 1)) {
    /* The signal first: if the backtrace below hangs (a crash inside the loader), the parent still knows. */
    *u32_at(c, OFF_SICODE) = (uint32_t)si->si_code;
    *u64_at(c, OFF_ADDR) = (uint64_t)(uintptr_t)si->si_addr;
    uint64_t pc = context_pc(uc);
    *u64_at(c, OFF_PC) = pc;
    *u32_at(c, OFF_CRASH_TID) = (uint32_t)syscall(SYS_gettid);
    *u32_at(c, OFF_SIGNAL) = (uint32_t)sig;
    *u32_at(c, OFF_NFRAMES) = record_frames(c, pc, OFF_FRAMES);
  }
  /* Let the signal take its course: the previous handler (or the default) for the same signal. */
  sigaction(sig, &g_previous[sig], NULL);
  if (si->si_code <= 0 || sig == SIGABRT) raise(sig); /* sent, not a fault: a return would not repeat it */
}

static void on_dump(int sig, siginfo_t* si, void* uc) {
  (void)sig, (void)si;
  fuzz_ctx* c = g_armed;
  if (c == NULL) return;
  if ((uint32_t)syscall(SYS_gettid) != g_loop_tid) {
    syscall(SYS_tgkill, getpid(), (pid_t)g_loop_tid, SIGUSR2); /* to the thread that runs the plugin */
    return;
  }
  *u32_at(c, OFF_HANG_NFRAMES) = record_frames(c, context_pc(uc), OFF_HANG_FRAMES);
  *u32_at(c, OFF_HANG_SEQ) = *u32_at(c, OFF_HANG_SEQ) + 1;
}

/*
 * Arms the crash recorder for this context, on the calling (loop) thread:
 * notes the loaded modules (call it once the target is loaded), an
 * alternate signal stack, handlers for the fatal signals and SIGUSR2.
 * Returns 0 or -errno.
 */
NPAH_EXPORT int32_t npah_fuzz_arm(void* ctx) {
  fuzz_ctx* c = ctx;
  *u32_at(c, OFF_NMODULES) = 0;
  dl_iterate_phdr(note_module, c);
  void* warm[2];
  backtrace(warm, 2); /* loads the unwinder now, not inside a signal handler */
  static uint8_t* alt;
  const size_t alt_size = 256 * 1024;
  if (alt == NULL) {
    alt = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (alt == MAP_FAILED) {
      alt = NULL;
      return -errno;
    }
  }
  stack_t ss = {.ss_sp = alt, .ss_size = alt_size, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) return -errno;
  g_loop_tid = (uint32_t)syscall(SYS_gettid);
  g_armed = c;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof FATAL_SIGNALS / sizeof FATAL_SIGNALS[0]; i++) {
    int s = FATAL_SIGNALS[i];
    if (sigaction(s, &sa, &g_previous[s]) != 0) return -errno;
  }
  sa.sa_sigaction = on_dump;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  if (sigaction(SIGUSR2, &sa, NULL) != 0) return -errno;
  return 0;
}
