/*
 * npah_call.c — the synchronous call path at native speed. One FFI call with
 * no arguments runs a plugin's npa_instance_invoke, copies a clean output
 * straight into the caller's memory and frees it with the plugin's own
 * npa_buffer_free: no per-call typed arrays, pointers or BigInts in
 * JavaScript. The arguments travel through a per-thread call block that JS
 * writes as plain u32 words; anything but a clean success is left in the
 * block untouched, for the guard (TypeScript) to judge and free.
 *
 * The plugin's entry points are found with dlopen(RTLD_NOLOAD) + dlsym on
 * the library Deno already loaded (npah_bind), so every plugin shares these
 * call sites (the JS side stays monomorphic however many plugins are loaded).
 *
 * Block layout (little-endian; offsets are checked by JS through npah_block_layout):
 *   u32 h[16]  inputs: slot, instance lo/hi, method_len, input_len, input lo/hi
 *              (0 = the staging area), dst lo/hi, dst_off, dst_cap, max_out;
 *              outputs: result, status, len
 *   u64 raw[4] out.ptr, out.len, err.ptr, err.len (left for the guard)
 *   u8 method[NPAH_METHOD_MAX], u8 input[NPAH_STAGE_MAX]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../include/npa.h"
#include "npah_internal.h"

#define NPAH_SLOTS 4096u
#define NPAH_METHOD_MAX 1024u
#define NPAH_STAGE_MAX 65536u

enum {
  H_SLOT, H_INST_LO, H_INST_HI, H_METHOD_LEN, H_INPUT_LEN, H_INPUT_LO, H_INPUT_HI, H_DST_LO, H_DST_HI,
  H_DST_OFF, H_DST_CAP, H_MAX_OUT, H_RESULT, H_STATUS, H_LEN, H_WORDS = 16
};

/* Results of a call. */
enum {
  NPAH_OK = 0,      /* status OK, output copied to dst (h[H_LEN] bytes) and freed */
  NPAH_GUARD = 1,   /* anything else: status, out and err left in raw[] for the guard */
  NPAH_NO_ROOM = 2, /* status OK but the output (h[H_LEN] bytes, raw[0..1]) does not fit dst: kept */
};

typedef int32_t (*invoke_fn)(void*, const uint8_t*, size_t, const uint8_t*, size_t, NpaBuf*, NpaBuf*);
typedef void (*free_fn)(uint8_t*, size_t);

typedef struct call_block {
  uint32_t h[H_WORDS];
  uint64_t raw[4];
  uint8_t method[NPAH_METHOD_MAX];
  uint8_t input[NPAH_STAGE_MAX];
} call_block;

static struct {
  invoke_fn invoke;
  free_fn free;
} g_bound[NPAH_SLOTS];
static pthread_mutex_t g_bind_mu = PTHREAD_MUTEX_INITIALIZER;
/* initial-exec: no __tls_get_addr call on the hot path (one pointer fits glibc's static TLS reserve for dlopen). */
static __thread call_block* t_block __attribute__((tls_model("initial-exec")));

/*
 * Finds npa_instance_invoke and npa_buffer_free in the already loaded library
 * at `path` (never loads it). Returns a slot for the call block, or -1 (bad
 * path), -2 (not loaded), -3 (symbols missing), -4 (no free slot).
 */
NPAH_EXPORT int32_t npah_bind(const uint8_t* path, uint32_t len) {
  if (len >= 4096) return -1;
  void* h = npah_noload(path, len);
  if (h == NULL) return -2;
  invoke_fn inv = (invoke_fn)dlsym(h, "npa_instance_invoke");
  free_fn fr = (free_fn)dlsym(h, "npa_buffer_free");
  dlclose(h); /* drops only the reference NOLOAD took; Deno's handle keeps the library */
  if (inv == NULL || fr == NULL) return -3;
  pthread_mutex_lock(&g_bind_mu);
  for (uint32_t i = 0; i < NPAH_SLOTS; i++) {
    if (g_bound[i].invoke == NULL) {
      g_bound[i].invoke = inv;
      g_bound[i].free = fr;
      pthread_mutex_unlock(&g_bind_mu);
      return (int32_t)i;
    }
  }
  pthread_mutex_unlock(&g_bind_mu);
  return -4;
}

void* npah_noload(const uint8_t* path, uint32_t len) {
  char name[4096];
  if (len >= sizeof name) return NULL;
  memcpy(name, path, len);
  name[len] = '\0';
  return dlopen(name, RTLD_NOLOAD | RTLD_LAZY);
}

/* 1 when the library at `path` is loaded in this process (by anyone), else 0; never loads it. */
NPAH_EXPORT int32_t npah_is_loaded(const uint8_t* path, uint32_t len) {
  void* h = npah_noload(path, len);
  if (h == NULL) return 0;
  dlclose(h); /* drops only the reference NOLOAD took */
  return 1;
}

/*
 * Loads the library at `path` into the global scope (RTLD_GLOBAL), for good:
 * libraries loaded after it resolve their undefined symbols against it (the
 * coverage runtime, for an instrumented plugin that Deno.dlopen loads
 * privately). Returns 0, or -1 with the loader's message in msg (NUL-ended).
 */
NPAH_EXPORT int32_t npah_load_global(const uint8_t* path, uint32_t len, uint8_t* msg, uint32_t cap) {
  char name[4096];
  if (len >= sizeof name || cap == 0) return -1;
  memcpy(name, path, len);
  name[len] = '\0';
  void* h = dlopen(name, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
  if (h != NULL) return 0; /* the handle is kept: never closed */
  const char* e = dlerror();
  size_t n = e == NULL ? 0 : strlen(e);
  if (n >= cap) n = cap - 1;
  memcpy(msg, e == NULL ? "" : e, n);
  msg[n] = '\0';
  return -1;
}

/*
 * A private copy of the file at `path` in an anonymous memory file: loading
 * /proc/self/fd/<fd> gives a library image of its own (its own globals, its
 * own init), with no file written anywhere. Returns the descriptor, or
 * -errno. Keep it open while the copy is loaded: the loader knows the copy
 * by that path, which a later descriptor with the same number would share.
 */
NPAH_EXPORT int32_t npah_memfd_copy(const uint8_t* path, uint32_t len) {
  char name[4096];
  if (len >= sizeof name) return -ENAMETOOLONG;
  memcpy(name, path, len);
  name[len] = '\0';
  int in = open(name, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -errno;
  int fd = (int)syscall(SYS_memfd_create, "plugcheck-copy", MFD_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    close(in);
    return -e;
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(in);
      close(fd);
      return -e;
    }
    for (ssize_t at = 0; at < n;) {
      ssize_t w = write(fd, buf + at, (size_t)(n - at));
      if (w < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(in);
        close(fd);
        return -e;
      }
      at += w;
    }
  }
  close(in);
  return fd;
}

/* Closes a descriptor the helper made (a copy from npah_memfd_copy). */
NPAH_EXPORT void npah_close_fd(int32_t fd) {
  if (fd >= 0) close(fd);
}

/* Frees a slot; call before the library is unloaded. */
NPAH_EXPORT void npah_unbind(int32_t slot) {
  if (slot < 0 || (uint32_t)slot >= NPAH_SLOTS) return;
  pthread_mutex_lock(&g_bind_mu);
  g_bound[slot].invoke = NULL;
  g_bound[slot].free = NULL;
  pthread_mutex_unlock(&g_bind_mu);
}

/* This thread's call block (allocated on first use, kept for the thread's life), or NULL. */
NPAH_EXPORT uint8_t* npah_block(void) {
  if (t_block == NULL) t_block = calloc(1, sizeof *t_block);
  return (uint8_t*)t_block;
}

/* The block's layout: header words, raw offset, method offset and size, input offset and size. */
NPAH_EXPORT uint32_t npah_block_layout(uint32_t* out, uint32_t cap) {
  const uint32_t v[] = {H_WORDS, (uint32_t)offsetof(call_block, raw), (uint32_t)offsetof(call_block, method),
                        NPAH_METHOD_MAX, (uint32_t)offsetof(call_block, input), NPAH_STAGE_MAX};
  uint32_t n = cap < 6 ? cap : 6;
  memcpy(out, v, n * sizeof(uint32_t));
  return n;
}

static inline void* join(uint32_t lo, uint32_t hi) {
  return (void*)(uintptr_t)(((uint64_t)hi << 32) | lo);
}

/*
 * Judges what a call returned: a clean output that fits is copied to dst and
 * freed (NPAH_OK); an output that does not fit is kept (NPAH_NO_ROOM, in
 * raw[0..1]); anything else is left whole for the guard (NPAH_GUARD).
 * h[] holds the status and length words at `at` (status) and `at + 1` (len).
 */
static inline __attribute__((always_inline)) int32_t settle(int32_t status, NpaBuf out, NpaBuf err, uint32_t max_out,
                                                            uint32_t dst_cap, uint8_t* dst, free_fn release,
                                                            uint32_t* words, uint64_t* raw) {
  words[0] = (uint32_t)status;
  if (status != NPA_OK || err.ptr != NULL || (out.ptr == NULL && out.len != 0) || out.len > max_out) {
    raw[0] = (uint64_t)(uintptr_t)out.ptr;
    raw[1] = out.len;
    raw[2] = (uint64_t)(uintptr_t)err.ptr;
    raw[3] = err.len;
    return NPAH_GUARD;
  }
  words[1] = (uint32_t)out.len;
  if (out.len > dst_cap) {
    raw[0] = (uint64_t)(uintptr_t)out.ptr;
    raw[1] = out.len;
    raw[2] = raw[3] = 0;
    return NPAH_NO_ROOM;
  }
  if (out.len > 0) memcpy(dst, out.ptr, out.len);
  if (out.ptr != NULL) release(out.ptr, out.len);
  return NPAH_OK;
}

static inline __attribute__((always_inline)) int32_t run(call_block* b, const uint8_t* input, uint8_t* dst) {
  uint32_t slot = b->h[H_SLOT];
  NpaBuf out = {NULL, 0}, err = {NULL, 0};
  npah_sync_enter(NPAH_LABEL_INVOKE, b->method, b->h[H_METHOD_LEN]);
  npah_blame_enter(b->method, b->h[H_METHOD_LEN], input, b->h[H_INPUT_LEN]);
  int32_t status = g_bound[slot].invoke(join(b->h[H_INST_LO], b->h[H_INST_HI]), b->method, b->h[H_METHOD_LEN], input,
                                        b->h[H_INPUT_LEN], &out, &err);
  npah_blame_leave();
  npah_sync_leave();
  int32_t r = settle(status, out, err, b->h[H_MAX_OUT], b->h[H_DST_CAP], dst, g_bound[slot].free, &b->h[H_STATUS],
                     b->raw);
  return (int32_t)(b->h[H_RESULT] = (uint32_t)r);
}

static inline const uint8_t* block_input(call_block* b) {
  const uint8_t* p = join(b->h[H_INPUT_LO], b->h[H_INPUT_HI]);
  return p != NULL ? p : b->input;
}

/* One call, everything from this thread's block. */
NPAH_EXPORT int32_t npah_call(void) {
  call_block* b = t_block;
  return run(b, block_input(b), (uint8_t*)join(b->h[H_DST_LO], b->h[H_DST_HI]) + b->h[H_DST_OFF]);
}

/* One call with the input and/or destination given as arguments (NULL: from the block). */
NPAH_EXPORT int32_t npah_call_with(const uint8_t* input, uint8_t* dst) {
  call_block* b = t_block;
  if (input == NULL) input = block_input(b);
  if (dst == NULL) dst = (uint8_t*)join(b->h[H_DST_LO], b->h[H_DST_HI]) + b->h[H_DST_OFF];
  return run(b, input, dst);
}

/* After NPAH_NO_ROOM: copies the kept output into dst (room for raw[1] bytes) and frees it. */
NPAH_EXPORT void npah_take(uint8_t* dst) {
  call_block* b = t_block;
  uint8_t* p = (uint8_t*)(uintptr_t)b->raw[0];
  size_t n = (size_t)b->raw[1];
  if (n > 0 && dst != NULL) memcpy(dst, p, n);
  if (p != NULL) g_bound[b->h[H_SLOT]].free(p, n);
  b->raw[0] = b->raw[1] = 0;
}

/* After NPAH_NO_ROOM: frees the kept output unread. */
NPAH_EXPORT void npah_discard(void) {
  npah_take(NULL);
}

/* ---- the nonblocking path ------------------------------------------------
 *
 * One block per call in flight, in memory JS owns and reuses (so calls on
 * many pool threads at once each have their own). Deno runs npah_call_nb on
 * its blocking pool; it marks the call for the exit guard, runs the plugin's
 * npa_instance_invoke, and settles the result like the synchronous path: a
 * clean output lands in the destination (a reserved stretch of a JS slab)
 * and is freed by the plugin's own npa_buffer_free on that same thread.
 *
 * Block layout (u32 words, then u64 raw[4]):
 *   slot, instance lo/hi, method_len, input_len, dst lo/hi, dst_cap, max_out;
 *   outputs: result, status, len
 */
enum { NB_SLOT, NB_INST_LO, NB_INST_HI, NB_METHOD_LEN, NB_INPUT_LEN, NB_DST_LO, NB_DST_HI, NB_DST_CAP, NB_MAX_OUT,
       NB_RESULT, NB_STATUS, NB_LEN, NB_WORDS = 12 };

typedef struct nb_block {
  uint32_t h[NB_WORDS];
  uint64_t raw[4];
} nb_block;

/* The nonblocking block's layout: header words, raw offset, whole size. */
NPAH_EXPORT uint32_t npah_nb_layout(uint32_t* out, uint32_t cap) {
  const uint32_t v[] = {NB_WORDS, (uint32_t)offsetof(nb_block, raw), (uint32_t)sizeof(nb_block)};
  uint32_t n = cap < 3 ? cap : 3;
  memcpy(out, v, n * sizeof(uint32_t));
  return n;
}

/* One call from a nonblocking block (run on Deno's blocking pool). */
NPAH_EXPORT int32_t npah_call_nb(uint8_t* block, const uint8_t* method, const uint8_t* input) {
  nb_block* b = (nb_block*)block;
  uint32_t slot = b->h[NB_SLOT];
  NpaBuf out = {NULL, 0}, err = {NULL, 0};
  npah_async_enter(NPAH_LABEL_INVOKE, method, b->h[NB_METHOD_LEN]);
  npah_blame_enter(method, b->h[NB_METHOD_LEN], input, b->h[NB_INPUT_LEN]);
  int32_t status = g_bound[slot].invoke(join(b->h[NB_INST_LO], b->h[NB_INST_HI]), method, b->h[NB_METHOD_LEN], input,
                                        b->h[NB_INPUT_LEN], &out, &err);
  npah_blame_leave();
  npah_async_leave();
  int32_t r = settle(status, out, err, b->h[NB_MAX_OUT], b->h[NB_DST_CAP], join(b->h[NB_DST_LO], b->h[NB_DST_HI]),
                     g_bound[slot].free, &b->h[NB_STATUS], b->raw);
  return (int32_t)(b->h[NB_RESULT] = (uint32_t)r);
}

/* After NPAH_NO_ROOM on a nonblocking block: copies the kept output into dst (NULL: none) and frees it. */
NPAH_EXPORT void npah_take_nb(uint8_t* block, uint8_t* dst) {
  nb_block* b = (nb_block*)block;
  uint8_t* p = (uint8_t*)(uintptr_t)b->raw[0];
  size_t n = (size_t)b->raw[1];
  if (n > 0 && dst != NULL) memcpy(dst, p, n);
  if (p != NULL) g_bound[b->h[NB_SLOT]].free(p, n);
  b->raw[0] = b->raw[1] = 0;
}

/* ---- the no-op target: the dispatch floor ------------------------------- */

static int32_t noop_invoke(void* inst, const uint8_t* method, size_t method_len, const uint8_t* input,
                           size_t input_len, NpaBuf* out, NpaBuf* err) {
  (void)inst, (void)method, (void)method_len, (void)input, (void)input_len, (void)out, (void)err;
  return NPA_OK;
}

static void noop_free(uint8_t* ptr, size_t len) {
  (void)ptr, (void)len;
}

/*
 * A slot whose "plugin" does nothing and returns OK with no output: the same
 * call path with the plugin taken out, so a host can measure what a call
 * costs it (the dispatch floor). Bound once; returns the slot or -4.
 */
NPAH_EXPORT int32_t npah_bind_noop(void) {
  static int32_t slot = -1;
  pthread_mutex_lock(&g_bind_mu);
  if (slot < 0) {
    for (uint32_t i = 0; i < NPAH_SLOTS; i++) {
      if (g_bound[i].invoke == NULL) {
        g_bound[i].invoke = noop_invoke;
        g_bound[i].free = noop_free;
        slot = (int32_t)i;
        break;
      }
    }
  }
  pthread_mutex_unlock(&g_bind_mu);
  return slot < 0 ? -4 : slot;
}
