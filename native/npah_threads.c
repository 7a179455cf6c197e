/*
 * npah_threads.c — which threads a plugin started, told apart from the
 * runtime's own. Every thread created through npah_thread_create gets a
 * record: the module of its start routine (dladdr), the module that called
 * pthread_create, its id once it runs, and when it started; the record ends
 * when the thread does (a thread-specific key's destructor, which runs on
 * return and on pthread_exit). A reading lists the threads still running
 * with the CPU each burned (/proc/self/task/<tid>/schedstat).
 *
 * Threads get there two ways:
 * - preloaded (LD_PRELOAD, the sandbox child): `pthread_create` below is an
 *   alias of npah_thread_create and interposes every thread of the process,
 *   Deno's included; a thread whose start routine and caller both live in the
 *   main executable (or in this helper) is the host's, any other the plugin's.
 * - hooked (in process): npah_threads_hook points a loaded library's own
 *   `pthread_create` import slot (GOT) at npah_thread_create, so only the
 *   threads that library starts itself are recorded. Threads its load-time
 *   constructors start (before the hook) are not seen this way.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "npah_internal.h"
#include "npah_leave_preload.h"

#define REC_MAX 4096
#define NAME_MAX_LEN 200
#define SYM_MAX_LEN 80

enum { REC_FREE = 0, REC_CLAIMED = 1, REC_STARTING = 2, REC_RUNNING = 3, REC_ENDED = 4 };

typedef struct {
  atomic_int state;
  int32_t tid;
  int32_t host;
  int64_t started_ms;
  void* (*fn)(void*);
  void* arg;
  char module[NAME_MAX_LEN];
  char symbol[SYM_MAX_LEN];
  char caller[NAME_MAX_LEN];
} thread_rec;

typedef int (*create_fn)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);

static thread_rec g_recs[REC_MAX];
/* One past the highest record ever claimed: a listing reads no further (the rest were never used). */
static atomic_int g_used;
static atomic_uint g_untracked;
static atomic_int g_hooked;
static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static create_fn _Atomic g_next;

int npah_thread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*), void* arg);

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rec_end(void* p) {
  atomic_store(&((thread_rec*)p)->state, REC_ENDED);
}

static void make_key(void) {
  pthread_key_create(&g_key, rec_end);
}

/*
 * The pthread_create this one forwards to: the next one after this helper in
 * the lookup order (libc's, when the helper is preloaded last), else the
 * first that is not this one. Never the one before it: a sanitizer's
 * interceptor preloaded first forwards to this one, so forwarding back to it
 * would recurse.
 */
static create_fn next_create(void) {
  create_fn f = atomic_load(&g_next);
  if (f != NULL) return f;
  f = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
  if (f == NULL || f == npah_thread_create) f = (create_fn)dlsym(RTLD_DEFAULT, "pthread_create");
  if (f == NULL || f == npah_thread_create) {
    void* libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
    if (libc != NULL) f = (create_fn)dlsym(libc, "pthread_create");
  }
  atomic_store(&g_next, f);
  return f;
}

/* The module `addr` lives in: its name into out, and 1 when it is the main executable or this helper. */
static int module_of(const void* addr, char* out, char* sym, size_t sym_cap) {
  Dl_info info;
  struct link_map* lm = NULL;
  out[0] = '\0';
  if (sym != NULL) sym[0] = '\0';
  if (addr == NULL || dladdr1(addr, &info, (void**)&lm, RTLD_DL_LINKMAP) == 0 || lm == NULL) return 0;
  snprintf(out, NAME_MAX_LEN, "%s", lm->l_name[0] != '\0' ? lm->l_name : "(main executable)");
  if (sym != NULL && info.dli_sname != NULL) snprintf(sym, sym_cap, "%s", info.dli_sname);
  if (lm->l_name[0] == '\0') return 1;
  Dl_info self;
  return dladdr((const void*)module_of, &self) != 0 && self.dli_fbase == info.dli_fbase;
}

static void* trampoline(void* p) {
  thread_rec* r = p;
  r->tid = (int32_t)syscall(SYS_gettid);
  atomic_store(&r->state, REC_RUNNING);
  pthread_setspecific(g_key, r);
  return r->fn(r->arg);
}

static thread_rec* claim(void) {
  for (int i = 0; i < REC_MAX; i++) {
    int s = atomic_load(&g_recs[i].state);
    if ((s == REC_FREE || s == REC_ENDED) && atomic_compare_exchange_strong(&g_recs[i].state, &s, REC_CLAIMED)) {
      int used = atomic_load(&g_used); /* raised before the record can be STARTING, so a listing sees it */
      while (used < i + 1 && !atomic_compare_exchange_weak(&g_used, &used, i + 1)) {
      }
      return &g_recs[i];
    }
  }
  return NULL;
}

/* pthread_create, recording the thread (see the top of this file). */
NPAH_EXPORT int npah_thread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  create_fn next = next_create();
  if (next == NULL) return EAGAIN;
  pthread_once(&g_once, make_key);
  const void* from = __builtin_return_address(0);
  thread_rec* r = claim();
  if (r == NULL) {
    atomic_fetch_add(&g_untracked, 1);
    return next(thread, attr, fn, arg);
  }
  r->tid = 0;
  r->fn = fn;
  r->arg = arg;
  r->started_ms = now_ms();
  int host_start = module_of((const void*)fn, r->module, r->symbol, sizeof r->symbol);
  int host_caller = module_of(from, r->caller, NULL, 0);
  r->host = host_start && host_caller;
  atomic_store(&r->state, REC_STARTING);
  int rc = next(thread, attr, trampoline, r);
  if (rc != 0) atomic_store(&r->state, REC_FREE);
  return rc;
}

/* Preloaded, this interposes every pthread_create of the process. */
NPAH_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*), void* arg)
    __attribute__((alias("npah_thread_create")));

/* 2: interposing every thread (preloaded); 1: some library hooked; 0: nothing is recorded. */
NPAH_EXPORT int32_t npah_threads_mode(void) {
  if ((void*)dlsym(RTLD_DEFAULT, "pthread_create") == (void*)npah_thread_create) return 2;
  return atomic_load(&g_hooked) > 0 ? 1 : 0;
}

static uint64_t cpu_ns(int32_t tid) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return strtoull(buf, NULL, 10);
}

/*
 * The recorded threads still running (with `host` 0 only the plugin's), as
 * lines "tid\thost\tcpu_ns\tage_ms\tmodule\tsymbol\tcaller\n" (tid 0: not
 * started yet). Writes whole lines up to cap; returns the bytes written.
 */
NPAH_EXPORT int32_t npah_threads_list(int32_t host, uint8_t* out, uint32_t cap) {
  uint32_t at = 0;
  int64_t now = now_ms();
  int used = atomic_load(&g_used);
  for (int i = 0; i < used; i++) {
    thread_rec* r = &g_recs[i];
    int s = atomic_load(&r->state);
    if (s != REC_STARTING && s != REC_RUNNING) continue;
    if (r->host && !host) continue;
    char line[NAME_MAX_LEN * 2 + SYM_MAX_LEN + 96];
    int len = snprintf(line, sizeof line, "%d\t%d\t%llu\t%lld\t%s\t%s\t%s\n", r->tid, r->host,
                       (unsigned long long)(r->tid > 0 ? cpu_ns(r->tid) : 0), (long long)(now - r->started_ms),
                       r->module, r->symbol, r->caller);
    if (len <= 0 || at + (uint32_t)len > cap) break;
    memcpy(out + at, line, (size_t)len);
    at += (uint32_t)len;
  }
  return (int32_t)at;
}

/* ---- hooking one library's own pthread_create import --------------------- */

/*
 * Points the `pthread_create` import slots of the loaded library at `path`
 * at npah_thread_create (npah_rebind, npah_hooks.c). Returns the slots
 * patched (0: it imports no pthread_create of its own), or -errno (-ENOENT:
 * not loaded; -ENOSYS: not on this architecture).
 */
NPAH_EXPORT int32_t npah_threads_hook(const uint8_t* path, uint32_t len) {
  static const npah_rebinding create[] = {{"pthread_create", (void*)npah_thread_create}};
  void* h = npah_noload(path, len);
  if (h == NULL) return -ENOENT;
  int patched = npah_rebind(h, create, 1);
  dlclose(h); /* drops only the reference NOLOAD took */
  if (patched > 0) atomic_fetch_add(&g_hooked, 1);
  return patched;
}

/*
 * Preloaded into a sandbox child, the helper takes itself out of LD_PRELOAD
 * at once, so programs the plugin runs do not inherit it (a sanitizer
 * runtime listed with it stays). Runs before any other thread exists.
 */
__attribute__((constructor)) static void leave_ld_preload(void) {
  npah_leave_ld_preload((const void*)leave_ld_preload);
}
