/*
 * npah_heap.c — the heap a plugin's own code holds, counted exactly.
 *
 * npah_heap_hook points a loaded library's own import slots of the
 * allocation functions (malloc, calloc, realloc, reallocarray, free,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc, strdup, strndup,
 * and C++'s operator new and delete when it imports them) at the functions
 * below (npah_rebind, npah_hooks.c). Each block it allocates is recorded
 * (address, size, a serial number, a sampled stack) until it frees it, so
 * what it keeps is counted to the byte, whatever the size, without
 * instrumenting or preloading anything. Only that library's own calls are
 * seen: never Deno's allocations, nor what libc or libstdc++ allocate for it
 * inside their own functions (getline, asprintf), nor what its load-time
 * constructors allocated before the hook.
 *
 * Serial numbers mark moments of a run: a reading returns the serial now,
 * and a residue read splits what is still live by those marks, so a host can
 * tell memory kept since the start (a lazily built table) from memory the
 * plugin keeps losing (a leak: live blocks from every part of the run).
 *
 * Stacks (glibc's backtrace(), from the unwind tables: ~1 us each) are taken
 * for each call site's first SAMPLE_ALL allocations and every SAMPLE_EVERY-th
 * after, so a hot allocation stays cheap; a site is the return address in the
 * plugin. A residue read groups the live blocks that carry a stack by stack.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npah_heap.h"
#include "npah_internal.h"

#define LIBS_MAX 32
#define SEGS_MAX 8
#define STACK_DEPTH 12
#define STACKS_MAX 4096
#define SITES_CAP 16384 /* power of two */
#define SAMPLE_ALL 16
#define SAMPLE_EVERY 64
#define NO_STACK (-1)

typedef struct {
  uintptr_t lo, hi;
} seg;

typedef struct {
  seg segs[SEGS_MAX];
  int nsegs;
  int used; /* 0: free (never hooked, or forgotten) */
  atomic_int_fast64_t live, live_bytes, allocs;
} heap_lib;

typedef npah_heap_entry entry;

typedef struct {
  void* pcs[STACK_DEPTH];
  int depth;
  uint64_t hash;
} stack_rec;

typedef struct {
  uintptr_t pc; /* 0: empty */
  uint64_t count;
} site_rec;

static heap_lib g_libs[LIBS_MAX];
static atomic_int g_nlibs;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static entry* g_table; /* open addressing, linear probing; g_cap a power of two */
static size_t g_cap, g_count;
static stack_rec g_stacks[STACKS_MAX];
static int g_nstacks;
static site_rec g_sites[SITES_CAP];
static atomic_uint_fast64_t g_serial;
static atomic_uint g_untracked; /* blocks not recorded: the table could not grow */

static size_t slot_of(uintptr_t p, size_t cap) {
  uint64_t h = (uint64_t)p * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 17) & (cap - 1);
}

/* Grows the table (lock held). 0, or -1 when no memory. */
static int grow(void) {
  size_t cap = g_cap == 0 ? 4096 : g_cap * 2;
  entry* t = calloc(cap, sizeof *t);
  if (t == NULL) return -1;
  for (size_t i = 0; i < g_cap; i++) {
    if (g_table[i].ptr == 0) continue;
    size_t j = slot_of(g_table[i].ptr, cap);
    while (t[j].ptr != 0) j = (j + 1) & (cap - 1);
    t[j] = g_table[i];
  }
  free(g_table);
  g_table = t;
  g_cap = cap;
  return 0;
}

static int lib_of(uintptr_t pc) {
  int n = atomic_load_explicit(&g_nlibs, memory_order_acquire);
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g_libs[i].nsegs; k++)
      if (pc >= g_libs[i].segs[k].lo && pc < g_libs[i].segs[k].hi) return i;
  return -1; /* not a hooked library's code (one forgotten, or a pointer handed on): not recorded */
}

/* Whether to take a stack for this allocation from `pc` (lock held). */
static int sample(uintptr_t pc) {
  size_t j = slot_of(pc, SITES_CAP);
  for (size_t probes = 0; probes < SITES_CAP; probes++, j = (j + 1) & (SITES_CAP - 1)) {
    if (g_sites[j].pc == pc || g_sites[j].pc == 0) {
      g_sites[j].pc = pc;
      uint64_t c = g_sites[j].count++;
      return c < SAMPLE_ALL || c % SAMPLE_EVERY == 0;
    }
  }
  return 0; /* every site slot taken: no more stacks */
}

/* The stack table's index of `pcs` (lock held), NO_STACK when full. */
static int32_t stack_id(void* const* pcs, int depth) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < depth; i++) h = (h ^ (uint64_t)(uintptr_t)pcs[i]) * 1099511628211ull;
  for (int i = 0; i < g_nstacks; i++)
    if (g_stacks[i].hash == h && g_stacks[i].depth == depth) return i;
  if (g_nstacks >= STACKS_MAX) return NO_STACK;
  stack_rec* s = &g_stacks[g_nstacks];
  memcpy(s->pcs, pcs, (size_t)depth * sizeof pcs[0]);
  s->depth = depth;
  s->hash = h;
  return g_nstacks++;
}

void npah_heap_track(void* p, size_t size, uintptr_t pc) {
  if (p == NULL) return;
  int lib = lib_of(pc);
  if (lib < 0) return;
  /* The stack is taken outside the lock: backtrace() reads the loader's list, whose lock a thread that holds it may
   * keep while it allocates through a hooked library (a constructor run by dlopen). */
  pthread_mutex_lock(&g_lock);
  int want = sample(pc);
  pthread_mutex_unlock(&g_lock);
  void* pcs[STACK_DEPTH + 2];
  int depth = want ? backtrace(pcs, STACK_DEPTH + 2) : 0; /* frames 0-1: this function and the hook */
  pthread_mutex_lock(&g_lock);
  if ((g_count + 1) * 2 > g_cap && grow() != 0) {
    pthread_mutex_unlock(&g_lock);
    atomic_fetch_add(&g_untracked, 1);
    return;
  }
  int32_t stack = depth > 2 ? stack_id(pcs + 2, depth - 2) : NO_STACK;
  size_t j = slot_of((uintptr_t)p, g_cap);
  while (g_table[j].ptr != 0 && g_table[j].ptr != (uintptr_t)p) j = (j + 1) & (g_cap - 1);
  /* Recorded already: the plugin freed it where no hook saw it (through another library), and got it back. */
  entry old = g_table[j];
  if (old.ptr == 0) g_count++;
  uint64_t serial = atomic_fetch_add(&g_serial, 1) + 1;
  g_table[j] = (entry){.ptr = (uintptr_t)p, .size = size, .serial = serial, .lib = lib, .stack = stack};
  pthread_mutex_unlock(&g_lock);
  if (old.ptr != 0) {
    atomic_fetch_sub(&g_libs[old.lib].live, 1);
    atomic_fetch_sub(&g_libs[old.lib].live_bytes, (int_fast64_t)old.size);
  }
  atomic_fetch_add(&g_libs[lib].live, 1);
  atomic_fetch_add(&g_libs[lib].live_bytes, (int_fast64_t)size);
  atomic_fetch_add(&g_libs[lib].allocs, 1);
}

entry npah_heap_untrack(void* p) {
  entry e = {0};
  if (p == NULL || g_cap == 0) return e;
  pthread_mutex_lock(&g_lock);
  size_t j = slot_of((uintptr_t)p, g_cap);
  while (g_table[j].ptr != 0 && g_table[j].ptr != (uintptr_t)p) j = (j + 1) & (g_cap - 1);
  if (g_table[j].ptr != 0) {
    e = g_table[j];
    /* Backward-shift deletion: no tombstones. */
    size_t hole = j;
    for (size_t k = (j + 1) & (g_cap - 1); g_table[k].ptr != 0; k = (k + 1) & (g_cap - 1)) {
      size_t home = slot_of(g_table[k].ptr, g_cap);
      if (((k - home) & (g_cap - 1)) >= ((k - hole) & (g_cap - 1))) {
        g_table[hole] = g_table[k];
        hole = k;
      }
    }
    g_table[hole].ptr = 0;
    g_count--;
  }
  pthread_mutex_unlock(&g_lock);
  if (e.ptr != 0) {
    atomic_fetch_sub(&g_libs[e.lib].live, 1);
    atomic_fetch_sub(&g_libs[e.lib].live_bytes, (int_fast64_t)e.size);
  }
  return e;
}

void npah_heap_retrack(entry e) {
  if (e.ptr == 0) return;
  pthread_mutex_lock(&g_lock);
  if ((g_count + 1) * 2 > g_cap && grow() != 0) {
    pthread_mutex_unlock(&g_lock);
    return;
  }
  size_t j = slot_of(e.ptr, g_cap);
  while (g_table[j].ptr != 0) j = (j + 1) & (g_cap - 1);
  g_table[j] = e;
  g_count++;
  pthread_mutex_unlock(&g_lock);
  atomic_fetch_add(&g_libs[e.lib].live, 1);
  atomic_fetch_add(&g_libs[e.lib].live_bytes, (int_fast64_t)e.size);
}

typedef struct {
  uintptr_t base;
  heap_lib* lib;
} seg_search;

static int find_segments(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  seg_search* s = (seg_search*)data;
  if (info->dlpi_addr != s->base) return 0;
  for (int i = 0; i < info->dlpi_phnum && s->lib->nsegs < SEGS_MAX; i++) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    s->lib->segs[s->lib->nsegs++] = (seg){lo, lo + ph->p_memsz};
  }
  return 1;
}

int npah_heap_add_library(uintptr_t base) {
  static pthread_mutex_t adding = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&adding);
  int count = atomic_load(&g_nlibs), n = 0;
  while (n < count && g_libs[n].used) n++; /* the first free slot: a forgotten library's, or a new one */
  if (n >= LIBS_MAX) {
    pthread_mutex_unlock(&adding);
    return -ENOSPC;
  }
  heap_lib* lib = &g_libs[n];
  lib->nsegs = 0;
  lib->used = 1;
  seg_search s = {.base = base, .lib = lib};
  dl_iterate_phdr(find_segments, &s);
  /* Warm backtrace() up here: its first call loads the unwinder, which must not happen inside a hook. */
  void* warm[2];
  backtrace(warm, 2);
  if (n == count) atomic_store_explicit(&g_nlibs, n + 1, memory_order_release);
  pthread_mutex_unlock(&adding);
  return n;
}

/*
 * Forgets library `id` (it was unloaded): its records go, and its slot can
 * serve the next library hooked. With no library left, the site and stack
 * tables start afresh too. 0, or -EINVAL.
 */
NPAH_EXPORT int32_t npah_heap_forget(int32_t id) {
  if (id < 0 || id >= atomic_load(&g_nlibs) || !g_libs[id].used) return -EINVAL;
  pthread_mutex_lock(&g_lock);
  g_libs[id].nsegs = 0; /* its code no longer counts */
  size_t kept = 0;
  for (size_t i = 0; i < g_cap; i++) {
    if (g_table[i].ptr == 0 || g_table[i].lib == id) continue;
    g_table[kept++] = g_table[i]; /* the survivors, packed at the front, then put back in place */
  }
  memset(g_table + kept, 0, (g_cap - kept) * sizeof *g_table);
  g_count = 0;
  for (size_t i = 0; i < kept; i++) {
    entry e = g_table[i];
    g_table[i].ptr = 0;
    size_t j = slot_of(e.ptr, g_cap);
    while (g_table[j].ptr != 0) j = (j + 1) & (g_cap - 1);
    g_table[j] = e;
    g_count++;
  }
  atomic_store(&g_libs[id].live, 0);
  atomic_store(&g_libs[id].live_bytes, 0);
  atomic_store(&g_libs[id].allocs, 0);
  g_libs[id].used = 0;
  int any = 0;
  for (int i = 0; i < atomic_load(&g_nlibs); i++) any |= g_libs[i].used;
  if (!any) {
    memset(g_sites, 0, sizeof g_sites);
    g_nstacks = 0;
  }
  pthread_mutex_unlock(&g_lock);
  return 0;
}

/*
 * What library `id` holds now: out[0] live blocks, out[1] their bytes,
 * out[2] blocks it ever allocated (hooked), out[3] the serial now (all
 * libraries), out[4] blocks not recorded (the table could not grow).
 * Returns 0, or -EINVAL for an unknown id.
 */
NPAH_EXPORT int32_t npah_heap_read(int32_t id, double* out) {
  if (id < 0 || id >= atomic_load(&g_nlibs) || !g_libs[id].used) return -EINVAL;
  out[0] = (double)atomic_load(&g_libs[id].live);
  out[1] = (double)atomic_load(&g_libs[id].live_bytes);
  out[2] = (double)atomic_load(&g_libs[id].allocs);
  out[3] = (double)atomic_load(&g_serial);
  out[4] = (double)atomic_load(&g_untracked);
  return 0;
}

/*
 * The live blocks of library `id` split by serial marks: out[0] allocated
 * before `from`, out[1] from `from` to before `mid`, out[2] from `mid` on;
 * out[3] the bytes of the last two. Then, as text into `text` (at most
 * `cap` bytes), one line per stack of the blocks from `from` on that carry
 * one, most blocks first: "blocks\tbytes\tmodule+0xoffset;module+0xoffset...\n"
 * (frames in the helper itself left out). Returns the text's length, or
 * -EINVAL.
 */
NPAH_EXPORT int32_t npah_heap_residue(int32_t id, double from, double mid, double* out, uint8_t* text,
                                      uint32_t cap) {
  if (id < 0 || id >= atomic_load(&g_nlibs) || !g_libs[id].used) return -EINVAL;
  uint64_t f = (uint64_t)from, m = (uint64_t)mid;
  uint64_t before = 0, first = 0, second = 0, bytes = 0;
  static pthread_mutex_t reading = PTHREAD_MUTEX_INITIALIZER; /* one residue read at a time: the tallies below */
  static uint64_t counts[STACKS_MAX], sizes[STACKS_MAX];
  pthread_mutex_lock(&reading);
  pthread_mutex_lock(&g_lock);
  int nstacks = g_nstacks;
  memset(counts, 0, sizeof counts);
  memset(sizes, 0, sizeof sizes);
  for (size_t i = 0; i < g_cap; i++) {
    const entry* e = &g_table[i];
    if (e->ptr == 0 || e->lib != id) continue;
    if (e->serial < f) {
      before++;
      continue;
    }
    if (e->serial < m) first++;
    else second++;
    bytes += e->size;
    if (e->stack != NO_STACK) {
      counts[e->stack]++;
      sizes[e->stack] += e->size;
    }
  }
  pthread_mutex_unlock(&g_lock);
  out[0] = (double)before;
  out[1] = (double)first;
  out[2] = (double)second;
  out[3] = (double)bytes;
  Dl_info self;
  int have_self = dladdr((void*)npah_heap_read, &self) != 0;
  uint32_t at = 0;
  for (int lines = 0; lines < 8; lines++) {
    int best = -1;
    for (int i = 0; i < nstacks; i++)
      if (counts[i] > 0 && (best < 0 || counts[i] > counts[best])) best = i;
    if (best < 0) break;
    char line[4096];
    int len = snprintf(line, sizeof line, "%llu\t%llu\t", (unsigned long long)counts[best],
                       (unsigned long long)sizes[best]);
    counts[best] = 0;
    const stack_rec* s = &g_stacks[best];
    int shown = 0;
    for (int k = 0; k < s->depth && len > 0 && (size_t)len < sizeof line - 300; k++) {
      Dl_info info;
      if (dladdr(s->pcs[k], &info) == 0 || info.dli_fname == NULL) continue;
      if (have_self && info.dli_fbase == self.dli_fbase) continue;
      /* A return address: the call is the instruction before it. */
      uintptr_t off = (uintptr_t)s->pcs[k] - (uintptr_t)info.dli_fbase - 1;
      len += snprintf(line + len, sizeof line - (size_t)len, "%s%s+0x%llx", shown++ == 0 ? "" : ";", info.dli_fname,
                      (unsigned long long)off);
    }
    if (len <= 0 || (size_t)len >= sizeof line - 1) continue;
    line[len++] = '\n';
    if (at + (uint32_t)len > cap) break;
    memcpy(text + at, line, (size_t)len);
    at += (uint32_t)len;
  }
  pthread_mutex_unlock(&reading);
  return (int32_t)at;
}
