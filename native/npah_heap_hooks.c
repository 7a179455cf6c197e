/*
 * npah_heap_hooks.c — the allocation functions a hooked library's own
 * imports are pointed at (npah_heap_hook): each calls the real function and
 * records what it allocated or freed in the heap table (npah_heap.c). The
 * call site is the return address in the library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npah_heap.h"
#include "npah_internal.h"

#define CALLER ((uintptr_t)__builtin_return_address(0))

/* A hook of an allocation function of one size argument: the real one, then the record (at the hook's own caller). */
#define SIZED_HOOK(hook, real)           \
  static void* hook(size_t n) {          \
    void* p = real(n);                   \
    npah_heap_track(p, n, CALLER);       \
    return p;                            \
  }

SIZED_HOOK(h_malloc, malloc)
SIZED_HOOK(h_valloc, valloc)
SIZED_HOOK(h_pvalloc, pvalloc)

/* ---- the hooks ------------------------------------------------------------ */


static void* h_calloc(size_t n, size_t size) {
  void* p = calloc(n, size);
  npah_heap_track(p, n * size, CALLER);
  return p;
}

static void h_free(void* p) {
  npah_heap_untrack(p);
  free(p);
}

static void* h_realloc(void* p, size_t n) {
  npah_heap_entry was = npah_heap_untrack(p);
  void* q = realloc(p, n);
  if (q == NULL && (n != 0 || p == NULL)) {
    npah_heap_retrack(was); /* failed: p is still the plugin's */
    return NULL;
  }
  npah_heap_track(q, n, CALLER);
  return q;
}

static void* h_reallocarray(void* p, size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  npah_heap_entry was = npah_heap_untrack(p);
  void* q = realloc(p, n * size);
  if (q == NULL && (n * size != 0 || p == NULL)) {
    npah_heap_retrack(was);
    return NULL;
  }
  npah_heap_track(q, n * size, CALLER);
  return q;
}

static int h_posix_memalign(void** out, size_t align, size_t n) {
  int rc = posix_memalign(out, align, n);
  if (rc == 0) npah_heap_track(*out, n, CALLER);
  return rc;
}

static void* h_aligned_alloc(size_t align, size_t n) {
  void* p = aligned_alloc(align, n);
  npah_heap_track(p, n, CALLER);
  return p;
}

static void* h_memalign(size_t align, size_t n) {
  void* p = memalign(align, n);
  npah_heap_track(p, n, CALLER);
  return p;
}



static char* h_strdup(const char* s) {
  char* p = strdup(s);
  if (p != NULL) npah_heap_track(p, strlen(p) + 1, CALLER);
  return p;
}

static char* h_strndup(const char* s, size_t n) {
  char* p = strndup(s, n);
  if (p != NULL) npah_heap_track(p, strlen(p) + 1, CALLER);
  return p;
}

/* C++: the library's own operator new and delete, found in its scope at hook time. */
typedef void* (*new_fn)(size_t);
typedef void (*delete_fn)(void*);
typedef void (*sized_delete_fn)(void*, size_t);
static new_fn g_new, g_new_array;
static delete_fn g_delete, g_delete_array;
static sized_delete_fn g_sized_delete, g_sized_delete_array;

SIZED_HOOK(h_new, g_new)
SIZED_HOOK(h_new_array, g_new_array)
static void h_delete(void* p) {
  npah_heap_untrack(p);
  g_delete(p);
}
static void h_delete_array(void* p) {
  npah_heap_untrack(p);
  g_delete_array(p);
}
static void h_sized_delete(void* p, size_t n) {
  npah_heap_untrack(p);
  g_sized_delete(p, n);
}
static void h_sized_delete_array(void* p, size_t n) {
  npah_heap_untrack(p);
  g_sized_delete_array(p, n);
}

/* ---- hooking one library -------------------------------------------------- */

/*
 * Records the heap of the loaded library at `path` from now on (its
 * allocation imports pointed at the hooks above). Returns its id for
 * npah_heap_read (>= 0), or -errno: -ENOENT not loaded, -ENOSPC too many
 * libraries, -ENOSYS not on this architecture. A library that imports no
 * allocation function of its own gets an id too: it holds nothing countable.
 */
NPAH_EXPORT int32_t npah_heap_hook(const uint8_t* path, uint32_t len) {
  void* h = npah_noload(path, len);
  if (h == NULL) return -ENOENT;
  struct link_map* map = NULL;
  if (dlinfo(h, RTLD_DI_LINKMAP, &map) != 0 || map == NULL) {
    dlclose(h);
    return -ENOENT;
  }
  /* The library is counted from now on: registered before its slots point here. */
  int n = npah_heap_add_library(map->l_addr);
  if (n < 0) {
    dlclose(h);
    return n;
  }
  /* Looked up in this library's scope; the hooks call the first ones found. A library without libstdc++ must not
   * clear them: the slots of a C++ library hooked before still point at the hooks. */
  new_fn new_ = (new_fn)dlsym(h, "_Znwm"), new_array = (new_fn)dlsym(h, "_Znam");
  delete_fn delete_ = (delete_fn)dlsym(h, "_ZdlPv"), delete_array = (delete_fn)dlsym(h, "_ZdaPv");
  sized_delete_fn sized_delete = (sized_delete_fn)dlsym(h, "_ZdlPvm");
  sized_delete_fn sized_delete_array = (sized_delete_fn)dlsym(h, "_ZdaPvm");
  if (g_new == NULL) g_new = new_;
  if (g_new_array == NULL) g_new_array = new_array;
  if (g_delete == NULL) g_delete = delete_;
  if (g_delete_array == NULL) g_delete_array = delete_array;
  if (g_sized_delete == NULL) g_sized_delete = sized_delete;
  if (g_sized_delete_array == NULL) g_sized_delete_array = sized_delete_array;
  npah_rebinding list[24];
  size_t k = 0;
#define HOOK(name, fn) list[k++] = (npah_rebinding){name, (void*)(fn)}
  HOOK("malloc", h_malloc);
  HOOK("calloc", h_calloc);
  HOOK("realloc", h_realloc);
  HOOK("reallocarray", h_reallocarray);
  HOOK("free", h_free);
  HOOK("posix_memalign", h_posix_memalign);
  HOOK("aligned_alloc", h_aligned_alloc);
  HOOK("memalign", h_memalign);
  HOOK("valloc", h_valloc);
  HOOK("pvalloc", h_pvalloc);
  HOOK("strdup", h_strdup);
  HOOK("__strdup", h_strdup);
  HOOK("strndup", h_strndup);
  HOOK("__strndup", h_strndup);
  if (new_ != NULL) HOOK("_Znwm", h_new);
  if (new_array != NULL) HOOK("_Znam", h_new_array);
  if (delete_ != NULL) HOOK("_ZdlPv", h_delete);
  if (delete_array != NULL) HOOK("_ZdaPv", h_delete_array);
  if (sized_delete != NULL) HOOK("_ZdlPvm", h_sized_delete);
  if (sized_delete_array != NULL) HOOK("_ZdaPvm", h_sized_delete_array);
#undef HOOK
  int rc = npah_rebind(h, list, k);
  dlclose(h); /* drops only the reference NOLOAD took */
  return rc < 0 ? rc : n;
}

