/*
 * npah_fuzz.c — the fuzz child's batch loop: the input file mapped, the
 * target chosen, and one call per batch that runs every input of it.
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
 * An input is fresh when it answered in a new way (status and length
 * classes), or, in guided mode, when it reached new coverage
 * (npah_fuzz_cov.c). Fatal signals are recorded by npah_fuzz_crash.c.
 *
 * Mapping layout: npah_fuzz.h, and npah_fuzz_layout for JS.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../include/npa.h"
#include "npah_fuzz.h"
#include "npah_internal.h"
#include "npah_json.h"

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
  if (cov != NULL && npah_fuzz_cov_begin_batch(c) != 0) return -1;
  /* Whose comparisons are recorded during calls: guided mode's runtime, or blind mode's (tables only). */
  npa_cov_state* act = cov != NULL ? cov : c->cmp;
  if (act != NULL) act->owner = (uintptr_t)pthread_self();
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
      if (act != NULL) act->active = 1;
      int r = c->test_one(input, len);
      if (act != NULL) act->active = 0;
      *state = 0;
      c->status[i] = r;
      c->fresh[i] = cov != NULL ? npah_fuzz_cov_scan(c) : mark_seen(c, (uint32_t)r, 0, 0);
      continue;
    }
    NpaBuf out = {NULL, 0}, err = {NULL, 0};
    *state = 1;
    npah_sync_enter(NPAH_LABEL_INVOKE, c->method, c->method_len);
    if (act != NULL) act->active = 1;
    int32_t status = c->invoke(c->inst, c->method, c->method_len, input, len, &out, &err);
    if (act != NULL) act->active = 0;
    npah_sync_leave();
    *state = 0;
    c->status[i] = status;
    uint8_t reached = cov != NULL ? npah_fuzz_cov_scan(c) : 0;
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

/*
 * For a fork server: moves the context (answers seen, statuses, the batch's
 * fresh flags) and the coverage maps into memory shared with the workers it
 * forks, so that what one worker saw, the next knows. Returns the context to
 * use from now on (the one passed is freed), or NULL (errno set).
 */
NPAH_EXPORT void* npah_fuzz_share(void* ctx) {
  fuzz_ctx* c = ctx;
  c->shared = 1;
  if (npah_fuzz_cov_share(c) != 0) return NULL;
  fuzz_ctx* s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) return NULL;
  memcpy(s, c, sizeof *s);
  free(c);
  return s;
}

/*
 * In a worker just forked by a fork server: clears the header words of the
 * previous worker's life (its exec counter, the input in flight, its crash
 * record) and names this process's thread as the loop's. Arm the crash
 * recorder after it. Always 0.
 */
NPAH_EXPORT int32_t npah_fuzz_worker_begin(void* ctx) {
  fuzz_ctx* c = ctx;
  *u64_at(c, OFF_EXECS) = 0;
  const uint32_t words[] = {OFF_STATE, OFF_INDEX,     OFF_COUNT,      OFF_SIGNAL, OFF_SICODE,
                            OFF_CRASH_TID, OFF_NFRAMES, OFF_HANG_NFRAMES};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) *u32_at(c, words[i]) = 0;
  *u64_at(c, OFF_ADDR) = 0;
  *u64_at(c, OFF_PC) = 0;
  *u32_at(c, OFF_TID) = (uint32_t)syscall(SYS_gettid);
  return 0;
}

/* Forgets every answer seen and all coverage (a new method's batches, a merge, start from nothing). */
NPAH_EXPORT void npah_fuzz_forget(void* ctx) {
  fuzz_ctx* c = ctx;
  memset(c->seen, 0, sizeof c->seen);
  if (c->cov != NULL) npah_fuzz_cov_forget(c);
}
