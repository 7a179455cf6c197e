/*
 * npah_fuzz.h — what the fuzz child's native parts share: the layout of the
 * input file's mapping (the header words, the module table, the batch table,
 * the arena) and the per-child context that the batch loop (npah_fuzz.c),
 * coverage guidance (npah_fuzz_cov.c) and the crash recorder
 * (npah_fuzz_crash.c) all work on.
 *
 * JS reads the layout through npah_fuzz_layout (npah_fuzz.c), never from here.
 */
#ifndef NPAH_FUZZ_H
#define NPAH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "../include/npa.h"
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
  /* Blind mode with the coverage runtime preloaded: its state, for its comparison tables only (no counters). */
  npa_cov_state* cmp;
  /* Set by npah_fuzz_share: this context and its coverage maps are in memory shared with forked workers, so maps
   * that grow are copied, never realloc'd. */
  int shared;
} fuzz_ctx;

static inline volatile uint32_t* u32_at(fuzz_ctx* c, uint32_t off) {
  return (volatile uint32_t*)(c->map + off);
}
static inline volatile uint64_t* u64_at(fuzz_ctx* c, uint32_t off) {
  return (volatile uint64_t*)(c->map + off);
}

/* ---- guided mode (npah_fuzz_cov.c), for the batch loop; only while c->cov is set ---- */

/* Before a batch: new modules taken in, the method's map chosen, counters cleared of what ran between batches. */
int npah_fuzz_cov_begin_batch(fuzz_ctx* c);

/* Reads and clears every counter the last input moved; 1 when it reached something new. */
uint8_t npah_fuzz_cov_scan(fuzz_ctx* c);

/* Forgets all coverage seen, per method and in total. */
void npah_fuzz_cov_forget(fuzz_ctx* c);

/* Moves the coverage maps into memory shared with forked workers (npah_fuzz_share). 0 or -1. */
int npah_fuzz_cov_share(fuzz_ctx* c);

#endif
