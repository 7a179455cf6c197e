/*
 * rt_watch.c — the real-time watch: an interposer, preloaded (LD_PRELOAD)
 * only into the sandbox child of the `ladspa.hard_rt` check, that counts
 * the calls a thread makes to allocation, locking, sleeping and I/O
 * functions (the list is NPA_RT_WATCHED in rt_watch.h) while it is inside a
 * watched call: the LADSPA adapter calls npa_rt_watch_begin() just before a
 * plugin's `run` and npa_rt_watch_end() just after it.
 *
 * The rules it keeps, because it sits under every malloc of a Deno process:
 * - It only counts; every call goes on to the next definition (RTLD_NEXT),
 *   with the same arguments, and returns what that returned.
 * - A wrapper reads and writes only thread-local state (initial-exec TLS,
 *   so no call to __tls_get_addr, which may allocate): no lock, no
 *   allocation, safe in a signal handler.
 * - The real functions are resolved by dlsym(RTLD_NEXT) in the constructor
 *   (or at the first call, when one comes first). dlsym may allocate (calloc
 *   for its error state): while this thread resolves, the allocation wrappers
 *   serve from a static arena, whose blocks free() ignores and realloc()
 *   moves to the real heap.
 *
 * Not seen: calls made on other threads, system calls made without a libc
 * wrapper (syscall(), inline assembly), calls inside libc that do not go
 * through its PLT (stdio's own write(), rand()'s internal lock), page faults.
 */
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rt_watch_internal.h"
#include "../../npah_leave_preload.h"

/* ---- per-thread state --------------------------------------------------- */

RTW_TLS int rtw_on;
RTW_TLS int rtw_resolving;
RTW_TLS int32_t rtw_first;
RTW_TLS uint32_t rtw_counts[NPA_RT_COUNT];

RTW_EXPORT void npa_rt_watch_begin(void) {
  for (int i = 0; i < NPA_RT_COUNT; i++) rtw_counts[i] = 0;
  rtw_first = -1;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  rtw_on = 1;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

RTW_EXPORT int32_t npa_rt_watch_end(uint32_t* counts, uint32_t n) {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  rtw_on = 0;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  for (uint32_t i = 0; i < n; i++) counts[i] = i < NPA_RT_COUNT ? rtw_counts[i] : 0;
  return rtw_first;
}

/* ---- the real functions --------------------------------------------------- */

#define RTW_NAME(id, name) name,
static const char* const g_names[NPA_RT_COUNT] = {NPA_RT_WATCHED(RTW_NAME)};
#undef RTW_NAME
static void* g_real[NPA_RT_COUNT];
static int g_resolved; /* every name was looked up (a NULL left is a function this libc lacks) */

static void resolve_all(void) {
  rtw_resolving = 1;
  for (int i = 0; i < NPA_RT_COUNT; i++) {
    if (__atomic_load_n(&g_real[i], __ATOMIC_ACQUIRE) == NULL) {
      __atomic_store_n(&g_real[i], dlsym(RTLD_NEXT, g_names[i]), __ATOMIC_RELEASE);
    }
  }
  __atomic_store_n(&g_resolved, 1, __ATOMIC_RELEASE);
  rtw_resolving = 0;
}

/* The next definition of function `id`, or NULL (while this thread resolves, or when libc lacks it). */
void* rtw_real(int id) {
  void* f = __atomic_load_n(&g_real[id], __ATOMIC_ACQUIRE);
  if (__builtin_expect(f == NULL, 0) && !rtw_resolving && !__atomic_load_n(&g_resolved, __ATOMIC_ACQUIRE)) {
    resolve_all();
    f = __atomic_load_n(&g_real[id], __ATOMIC_ACQUIRE);
  }
  return f;
}

/* ---- the bootstrap arena (allocations made while dlsym resolves) ----------- */

#define ARENA_BYTES 65536
#define ARENA_ALIGN 16
static _Alignas(ARENA_ALIGN) unsigned char g_arena[ARENA_BYTES];
static size_t g_arena_used;

static int in_arena(const void* p) {
  return (const unsigned char*)p >= g_arena && (const unsigned char*)p < g_arena + ARENA_BYTES;
}

/* A zeroed block of n bytes (the arena is never reused), its size in the 16 bytes before it; NULL when full. */
static void* arena_alloc(size_t n) {
  if (n > ARENA_BYTES) return NULL;
  size_t need = ARENA_ALIGN + ((n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1));
  size_t at = __atomic_fetch_add(&g_arena_used, need, __ATOMIC_RELAXED);
  if (at + need > ARENA_BYTES) return NULL;
  memcpy(g_arena + at, &n, sizeof n);
  return g_arena + at + ARENA_ALIGN;
}

static size_t arena_size(const void* p) {
  size_t n;
  memcpy(&n, (const unsigned char*)p - ARENA_ALIGN, sizeof n);
  return n;
}

/* ---- memory ----------------------------------------------------------------- */

typedef void* (*MallocFn)(size_t);
typedef void* (*CallocFn)(size_t, size_t);
typedef void* (*ReallocFn)(void*, size_t);
typedef void* (*ReallocarrayFn)(void*, size_t, size_t);
typedef void (*FreeFn)(void*);
typedef int (*PosixMemalignFn)(void**, size_t, size_t);
typedef void* (*AlignFn)(size_t, size_t);

RTW_EXPORT void* malloc(size_t n) {
  if (__builtin_expect(rtw_resolving, 0)) return arena_alloc(n);
  rtw_seen(NPA_RT_MALLOC);
  MallocFn f = (MallocFn)rtw_real(NPA_RT_MALLOC);
  return f ? f(n) : NULL;
}

RTW_EXPORT void* calloc(size_t k, size_t n) {
  if (__builtin_expect(rtw_resolving, 0)) return n != 0 && k > ARENA_BYTES / n ? NULL : arena_alloc(k * n);
  rtw_seen(NPA_RT_CALLOC);
  CallocFn f = (CallocFn)rtw_real(NPA_RT_CALLOC);
  return f ? f(k, n) : NULL;
}

RTW_EXPORT void* realloc(void* p, size_t n) {
  if (p != NULL && in_arena(p)) { /* an arena block moves to the heap (or to a new arena block) */
    void* q = malloc(n);
    if (q != NULL) {
      size_t old = arena_size(p);
      memcpy(q, p, old < n ? old : n);
    }
    return q;
  }
  if (__builtin_expect(rtw_resolving, 0) && p == NULL) return arena_alloc(n);
  rtw_seen(NPA_RT_REALLOC);
  ReallocFn f = (ReallocFn)rtw_real(NPA_RT_REALLOC);
  return f ? f(p, n) : NULL;
}

RTW_EXPORT void* reallocarray(void* p, size_t k, size_t n) {
  rtw_seen(NPA_RT_REALLOCARRAY);
  ReallocarrayFn f = (ReallocarrayFn)rtw_real(NPA_RT_REALLOCARRAY);
  if (f == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  return f(p, k, n);
}

RTW_EXPORT void free(void* p) {
  if (p == NULL || in_arena(p)) return; /* free(NULL) does nothing, so it is not counted */
  rtw_seen(NPA_RT_FREE);
  FreeFn f = (FreeFn)rtw_real(NPA_RT_FREE);
  if (f) f(p); /* NULL only while this thread resolves: a block of the real heap is left alone then */
}

RTW_EXPORT int posix_memalign(void** out, size_t align, size_t n) {
  rtw_seen(NPA_RT_POSIX_MEMALIGN);
  PosixMemalignFn f = (PosixMemalignFn)rtw_real(NPA_RT_POSIX_MEMALIGN);
  return f ? f(out, align, n) : ENOMEM;
}

RTW_EXPORT void* aligned_alloc(size_t align, size_t n) {
  rtw_seen(NPA_RT_ALIGNED_ALLOC);
  AlignFn f = (AlignFn)rtw_real(NPA_RT_ALIGNED_ALLOC);
  return f ? f(align, n) : NULL;
}

RTW_EXPORT void* memalign(size_t align, size_t n) {
  rtw_seen(NPA_RT_MEMALIGN);
  AlignFn f = (AlignFn)rtw_real(NPA_RT_MEMALIGN);
  return f ? f(align, n) : NULL;
}

RTW_EXPORT void* valloc(size_t n) {
  rtw_seen(NPA_RT_VALLOC);
  MallocFn f = (MallocFn)rtw_real(NPA_RT_VALLOC);
  return f ? f(n) : NULL;
}

RTW_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  rtw_seen(NPA_RT_MMAP);
  void* (*f)(void*, size_t, int, int, int, off_t) = (void* (*)(void*, size_t, int, int, int, off_t))rtw_real(NPA_RT_MMAP);
  if (f == NULL) {
    errno = ENOSYS;
    return MAP_FAILED;
  }
  return f(addr, len, prot, flags, fd, off);
}

RTW_EXPORT int munmap(void* addr, size_t len) {
  rtw_seen(NPA_RT_MUNMAP);
  int (*f)(void*, size_t) = (int (*)(void*, size_t))rtw_real(NPA_RT_MUNMAP);
  if (f == NULL) {
    errno = ENOSYS;
    return -1;
  }
  return f(addr, len);
}

/* ---- out of LD_PRELOAD ----------------------------------------------------- */

/*
 * Resolves every real function at once, then takes this library out of
 * LD_PRELOAD, so programs the plugin runs do not inherit it (the same code
 * as the native helper's: npah_leave_preload.h). Runs before any other thread exists.
 */
__attribute__((constructor)) static void rt_watch_start(void) {
  resolve_all();
  npah_leave_ld_preload((const void*)rt_watch_start);
}
