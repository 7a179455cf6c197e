/*
 * npa_cov.h — what plugcheck's SanitizerCoverage runtime (npa_cov.c, built
 * into build/libnpa_cov.so) keeps in plain memory for the fuzz loop
 * (npah_fuzz_cov.c) to read: the 8-bit counter regions of every instrumented
 * module, and bounded tables of the latest comparison operands.
 *
 * The fuzz loop finds the state with dlsym(RTLD_DEFAULT, "npa_cov_state"):
 * the runtime is preloaded (LD_PRELOAD) or loaded RTLD_GLOBAL before the
 * plugin, so it is in the global scope.
 */
#ifndef NPA_COV_H
#define NPA_COV_H

#include <stdint.h>

#define NPA_COV_VERSION 2u
#define NPA_COV_MODULES 64u
/* Integer comparisons (cmp1..8, switch), one slot per (site, constant) hash. Power of two. */
#define NPA_COV_CMP_SLOTS 512u
/* memcmp / strcmp / strncmp / ... operands, the first NPA_COV_MEM_BYTES bytes of each. Power of two. */
#define NPA_COV_MEM_SLOTS 128u
#define NPA_COV_MEM_BYTES 32u

typedef struct npa_cov_module {
  uint8_t* counters; /* [counters, counters_end): one 8-bit counter per edge */
  uint8_t* counters_end;
  const uintptr_t* pcs; /* [pcs, pcs_end): {pc, flags} per counter, when built with pc-table */
  const uintptr_t* pcs_end;
} npa_cov_module;

/* One integer comparison: its operands (little-endian in memory), width in bytes, when written. */
typedef struct npa_cov_cmp {
  uint64_t a, b;
  uint32_t width;
  uint32_t seq;
} npa_cov_cmp;

/* One memory or string comparison: the first `alen` / `blen` bytes of both sides, when written. */
typedef struct npa_cov_mem {
  uint16_t alen, blen;
  uint32_t seq;
  uint8_t a[NPA_COV_MEM_BYTES];
  uint8_t b[NPA_COV_MEM_BYTES];
} npa_cov_mem;

typedef struct npa_cov_state {
  uint32_t version;
  /* Non-zero while the fuzz loop is inside a plugin call: comparisons are recorded only then, and only on the
   * loop's own thread (`owner`, its pthread_self()): the host's other threads (Deno's, whose memcmp calls reach the
   * hooks through AddressSanitizer's interceptors) would make what is recorded, and so a seeded run, depend on
   * timing. */
  volatile uint32_t active;
  volatile uint32_t nmodules;
  /* Bumped at every record; a slot's seq says how recent it is. */
  volatile uint32_t seq;
  uint32_t pad;
  volatile uintptr_t owner;
  npa_cov_module modules[NPA_COV_MODULES];
  npa_cov_cmp cmps[NPA_COV_CMP_SLOTS];
  npa_cov_mem mems[NPA_COV_MEM_SLOTS];
} npa_cov_state;

/* The runtime's one state (exported by libnpa_cov.so). */
typedef npa_cov_state* (*npa_cov_state_fn)(void);

#endif
