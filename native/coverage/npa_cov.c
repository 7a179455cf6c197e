/*
 * npa_cov.c — plugcheck's SanitizerCoverage runtime (build/libnpa_cov.so).
 *
 * A plugin compiled with clang's
 *   -fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp
 * calls these hooks: at load time, to register its counters and PC table;
 * at every comparison, with the operands. This runtime keeps the counter
 * regions and a bounded table of recent operands in plain memory
 * (npa_cov.h) that the fuzz loop (native/npah_fuzz_cov.c) scans after every
 * input; it calls back into nothing and allocates nothing.
 *
 * Deno.dlopen loads a plugin privately (RTLD_LOCAL), so an instrumented
 * plugin finds these symbols only in the global scope: the fuzz child has
 * this library preloaded (LD_PRELOAD), other commands load it RTLD_GLOBAL
 * before the plugin (without it the plugin's first counter registration
 * would end the process with "undefined symbol").
 *
 * Preloaded, it also interposes memcmp, bcmp, strcmp, strncmp, strcasecmp,
 * strncasecmp, strstr and memmem (as libFuzzer does without a sanitizer),
 * so that comparisons the compiler left as calls reach the weak hooks; with
 * AddressSanitizer, ASan's own interceptors call the same hooks.
 * Comparisons are recorded only while the fuzz loop is inside a plugin call
 * (`active`) and on its thread (`owner`), so the host's own memcmp calls leave no trace.
 *
 * Also defines what -fsanitize=fuzzer-no-link builds need besides
 * (__sancov_lowest_stack, the indirect-call and pc-guard hooks) as no-ops,
 * so such plugins load too.
 */
#define _GNU_SOURCE
#include "npa_cov.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

static npa_cov_state S = {.version = NPA_COV_VERSION};

EXPORT npa_cov_state* npa_cov_state_get(void) {
  return &S;
}

/* ---- registration ----------------------------------------------------- */

EXPORT void __sanitizer_cov_8bit_counters_init(uint8_t* start, uint8_t* end) {
  if (start == NULL || end <= start) return;
  uint32_t n = S.nmodules;
  for (uint32_t i = 0; i < n; i++)
    if (S.modules[i].counters == start) return; /* the same module, registered again */
  if (n >= NPA_COV_MODULES) return;
  S.modules[n].counters = start;
  S.modules[n].counters_end = end;
  S.nmodules = n + 1;
}

EXPORT void __sanitizer_cov_pcs_init(const uintptr_t* beg, const uintptr_t* end) {
  /* Called right after the same module's counters_init. */
  uint32_t n = S.nmodules;
  if (n == 0 || S.modules[n - 1].pcs != NULL) return;
  S.modules[n - 1].pcs = beg;
  S.modules[n - 1].pcs_end = end;
}

/* ---- comparison operands ---------------------------------------------- */

/* A call site as the slot hash sees it: its offset in its page. Libraries load at addresses ASLR moves by whole
 * pages, so the full pc would put the same comparison in another slot (and so evict others) run to run, and a
 * seeded run would not replay. */
#define SITE(pc) ((uint64_t)(pc) & 0xfffu)

static inline uint32_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (uint32_t)x;
}

/* True inside a plugin call, on the fuzz loop's thread (see npa_cov.h: `owner`). */
static inline int recording(void) {
  return S.active && S.owner == (uintptr_t)pthread_self();
}

static inline void record_cmp(uintptr_t pc, uint64_t a, uint64_t b, uint32_t width) {
  if (a == b || !recording()) return;
  npa_cov_cmp* e = &S.cmps[mix(SITE(pc) * 31 + a * 0x9e3779b97f4a7c15ull) & (NPA_COV_CMP_SLOTS - 1)];
  e->a = a;
  e->b = b;
  e->width = width;
  e->seq = ++S.seq;
}

#define PC ((uintptr_t)__builtin_return_address(0))

EXPORT void __sanitizer_cov_trace_cmp1(uint8_t a, uint8_t b) { record_cmp(PC, b, a, 1); }
EXPORT void __sanitizer_cov_trace_cmp2(uint16_t a, uint16_t b) { record_cmp(PC, b, a, 2); }
EXPORT void __sanitizer_cov_trace_cmp4(uint32_t a, uint32_t b) { record_cmp(PC, b, a, 4); }
EXPORT void __sanitizer_cov_trace_cmp8(uint64_t a, uint64_t b) { record_cmp(PC, b, a, 8); }
/* The constant is the first operand; it goes in `a` (the slot is chosen by site and constant). */
EXPORT void __sanitizer_cov_trace_const_cmp1(uint8_t c, uint8_t v) { record_cmp(PC, c, v, 1); }
EXPORT void __sanitizer_cov_trace_const_cmp2(uint16_t c, uint16_t v) { record_cmp(PC, c, v, 2); }
EXPORT void __sanitizer_cov_trace_const_cmp4(uint32_t c, uint32_t v) { record_cmp(PC, c, v, 4); }
EXPORT void __sanitizer_cov_trace_const_cmp8(uint64_t c, uint64_t v) { record_cmp(PC, c, v, 8); }

/* cases[0]: how many, cases[1]: the value's width in bits, then the case values. Two cases a call, in turn. */
EXPORT void __sanitizer_cov_trace_switch(uint64_t value, uint64_t* cases) {
  if (cases == NULL || cases[0] == 0 || !recording()) return;
  uint64_t n = cases[0];
  uint32_t width = (uint32_t)(cases[1] / 8);
  if (width == 0 || width > 8) width = 8;
  uintptr_t pc = PC;
  for (uint64_t k = 0, at = S.seq % n; k < 2 && k < n; k++, at = (at + 1) % n) {
    record_cmp(pc + k, cases[2 + at], value, width);
  }
}

/* What no guidance needs, defined so that builds with more instrumentation load. */
EXPORT void __sanitizer_cov_trace_div4(uint32_t v) { (void)v; }
EXPORT void __sanitizer_cov_trace_div8(uint64_t v) { (void)v; }
EXPORT void __sanitizer_cov_trace_gep(uintptr_t v) { (void)v; }
EXPORT void __sanitizer_cov_trace_pc_indir(uintptr_t callee) { (void)callee; }
EXPORT void __sanitizer_cov_trace_pc_guard(uint32_t* guard) { (void)guard; }
EXPORT void __sanitizer_cov_trace_pc_guard_init(uint32_t* start, uint32_t* stop) { (void)start, (void)stop; }
EXPORT __thread uintptr_t __sancov_lowest_stack;

static size_t bounded_strlen(const char* s, size_t most) {
  size_t n = 0;
  while (n < most && s[n] != '\0') n++;
  return n;
}

static void record_mem(uintptr_t pc, const void* a, size_t alen, const void* b, size_t blen) {
  if (a == NULL || b == NULL || (alen == 0 && blen == 0) || !recording()) return;
  if (alen > NPA_COV_MEM_BYTES) alen = NPA_COV_MEM_BYTES;
  if (blen > NPA_COV_MEM_BYTES) blen = NPA_COV_MEM_BYTES;
  const uint8_t* pa = a;
  const uint8_t* pb = b;
  uint64_t key = 0;
  for (size_t i = 0; i < blen && i < 8; i++) key = key << 8 | pb[i];
  npa_cov_mem* e = &S.mems[mix(SITE(pc) * 31 + key) & (NPA_COV_MEM_SLOTS - 1)];
  for (size_t i = 0; i < alen; i++) e->a[i] = pa[i];
  for (size_t i = 0; i < blen; i++) e->b[i] = pb[i];
  e->alen = (uint16_t)alen;
  e->blen = (uint16_t)blen;
  e->seq = ++S.seq;
}

/* Set while one of the interposers below runs, so a sanitizer's interceptor under it does not record twice. */
static __thread int t_inside;

EXPORT void __sanitizer_weak_hook_memcmp(void* pc, const void* s1, const void* s2, size_t n, int result) {
  if (result != 0 && !t_inside) record_mem((uintptr_t)pc, s1, n, s2, n);
}
EXPORT void __sanitizer_weak_hook_strncmp(void* pc, const char* s1, const char* s2, size_t n, int result) {
  if (result == 0 || t_inside) return;
  size_t most = n < NPA_COV_MEM_BYTES ? n : NPA_COV_MEM_BYTES;
  record_mem((uintptr_t)pc, s1, bounded_strlen(s1, most), s2, bounded_strlen(s2, most));
}
EXPORT void __sanitizer_weak_hook_strcmp(void* pc, const char* s1, const char* s2, int result) {
  if (result == 0 || t_inside) return;
  record_mem((uintptr_t)pc, s1, bounded_strlen(s1, NPA_COV_MEM_BYTES), s2, bounded_strlen(s2, NPA_COV_MEM_BYTES));
}
EXPORT void __sanitizer_weak_hook_strncasecmp(void* pc, const char* s1, const char* s2, size_t n, int result) {
  __sanitizer_weak_hook_strncmp(pc, s1, s2, n, result);
}
EXPORT void __sanitizer_weak_hook_strcasecmp(void* pc, const char* s1, const char* s2, int result) {
  __sanitizer_weak_hook_strcmp(pc, s1, s2, result);
}
EXPORT void __sanitizer_weak_hook_strstr(void* pc, const char* s1, const char* s2, char* result) {
  (void)s1;
  if (result != NULL || t_inside) return;
  size_t n = bounded_strlen(s2, NPA_COV_MEM_BYTES);
  record_mem((uintptr_t)pc, s2, n, s2, n); /* the needle is what the input lacks */
}
EXPORT void __sanitizer_weak_hook_strcasestr(void* pc, const char* s1, const char* s2, char* result) {
  __sanitizer_weak_hook_strstr(pc, s1, s2, result);
}
EXPORT void __sanitizer_weak_hook_memmem(void* pc, const void* s1, size_t len1, const void* s2, size_t len2,
                                          void* result) {
  (void)s1, (void)len1;
  if (result == NULL && !t_inside) record_mem((uintptr_t)pc, s2, len2, s2, len2);
}

/* ---- interposers (effective when preloaded) ---------------------------- */

typedef int (*memcmp_fn)(const void*, const void*, size_t);
typedef int (*strcmp_fn)(const char*, const char*);
typedef int (*strncmp_fn)(const char*, const char*, size_t);
typedef char* (*strstr_fn)(const char*, const char*);
typedef void* (*memmem_fn)(const void*, size_t, const void*, size_t);

static memcmp_fn real_memcmp, real_bcmp;
static strcmp_fn real_strcmp, real_strcasecmp;
static strncmp_fn real_strncmp, real_strncasecmp;
static strstr_fn real_strstr;
static memmem_fn real_memmem;

/* Plain versions for calls made before the real ones are found (the loader's own, during dlsym). */
static int plain_memcmp(const void* a, const void* b, size_t n) {
  const volatile uint8_t* x = a;
  const volatile uint8_t* y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
static int fold(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}
static int plain_strncmp(const char* a, const char* b, size_t n, int caseless) {
  for (size_t i = 0; i < n; i++) {
    int x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (caseless) x = fold(x), y = fold(y);
    if (x != y) return x < y ? -1 : 1;
    if (x == 0) return 0;
  }
  return 0;
}
static char* plain_strstr(const char* h, const char* n) {
  size_t m = bounded_strlen(n, (size_t)-1);
  for (; *h != '\0'; h++)
    if (plain_strncmp(h, n, m, 0) == 0) return (char*)h;
  return m == 0 ? (char*)h : NULL;
}
static void* plain_memmem(const void* h, size_t hl, const void* n, size_t nl) {
  if (nl == 0) return (void*)h;
  for (size_t i = 0; i + nl <= hl; i++)
    if (plain_memcmp((const uint8_t*)h + i, n, nl) == 0) return (uint8_t*)h + i;
  return NULL;
}

static int resolving;

__attribute__((constructor)) static void find_real_functions(void) {
  resolving = 1;
  real_memcmp = (memcmp_fn)dlsym(RTLD_NEXT, "memcmp");
  real_bcmp = (memcmp_fn)dlsym(RTLD_NEXT, "bcmp");
  real_strcmp = (strcmp_fn)dlsym(RTLD_NEXT, "strcmp");
  real_strcasecmp = (strcmp_fn)dlsym(RTLD_NEXT, "strcasecmp");
  real_strncmp = (strncmp_fn)dlsym(RTLD_NEXT, "strncmp");
  real_strncasecmp = (strncmp_fn)dlsym(RTLD_NEXT, "strncasecmp");
  real_strstr = (strstr_fn)dlsym(RTLD_NEXT, "strstr");
  real_memmem = (memmem_fn)dlsym(RTLD_NEXT, "memmem");
  resolving = 0;
}

#define READY(f) ((f) != NULL && !resolving)

EXPORT int memcmp(const void* a, const void* b, size_t n) {
  if (!READY(real_memcmp)) return plain_memcmp(a, b, n);
  t_inside++;
  int r = real_memcmp(a, b, n);
  t_inside--;
  __sanitizer_weak_hook_memcmp((void*)PC, a, b, n, r);
  return r;
}
EXPORT int bcmp(const void* a, const void* b, size_t n) {
  if (!READY(real_bcmp)) return plain_memcmp(a, b, n);
  t_inside++;
  int r = real_bcmp(a, b, n);
  t_inside--;
  __sanitizer_weak_hook_memcmp((void*)PC, a, b, n, r);
  return r;
}
EXPORT int strcmp(const char* a, const char* b) {
  if (!READY(real_strcmp)) return plain_strncmp(a, b, (size_t)-1, 0);
  t_inside++;
  int r = real_strcmp(a, b);
  t_inside--;
  __sanitizer_weak_hook_strcmp((void*)PC, a, b, r);
  return r;
}
EXPORT int strcasecmp(const char* a, const char* b) {
  if (!READY(real_strcasecmp)) return plain_strncmp(a, b, (size_t)-1, 1);
  t_inside++;
  int r = real_strcasecmp(a, b);
  t_inside--;
  __sanitizer_weak_hook_strcmp((void*)PC, a, b, r);
  return r;
}
EXPORT int strncmp(const char* a, const char* b, size_t n) {
  if (!READY(real_strncmp)) return plain_strncmp(a, b, n, 0);
  t_inside++;
  int r = real_strncmp(a, b, n);
  t_inside--;
  __sanitizer_weak_hook_strncmp((void*)PC, a, b, n, r);
  return r;
}
EXPORT int strncasecmp(const char* a, const char* b, size_t n) {
  if (!READY(real_strncasecmp)) return plain_strncmp(a, b, n, 1);
  t_inside++;
  int r = real_strncasecmp(a, b, n);
  t_inside--;
  __sanitizer_weak_hook_strncmp((void*)PC, a, b, n, r);
  return r;
}
EXPORT char* strstr(const char* h, const char* n) {
  if (!READY(real_strstr)) return plain_strstr(h, n);
  t_inside++;
  char* r = real_strstr(h, n);
  t_inside--;
  __sanitizer_weak_hook_strstr((void*)PC, h, n, r);
  return r;
}
EXPORT void* memmem(const void* h, size_t hl, const void* n, size_t nl) {
  if (!READY(real_memmem)) return plain_memmem(h, hl, n, nl);
  t_inside++;
  void* r = real_memmem(h, hl, n, nl);
  t_inside--;
  __sanitizer_weak_hook_memmem((void*)PC, h, hl, n, nl, r);
  return r;
}
