/*
 * npah_pool.c — filling Deno's blocking thread pool to its maximum on
 * purpose (ProcInfo.fillBlockingPool in lib/ffi/proc_info.ts), so the pool's
 * own threads are started before a baseline of the process's threads is
 * taken, and never blamed on a plugin.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "npah_internal.h"

static atomic_uint g_fill_gen, g_fill_count, g_fill_reached;
static _Atomic long long g_fill_last_ms;

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
}

/* Starts a fill: returns its generation for npah_pool_hold. */
NPAH_EXPORT uint32_t npah_pool_fill_begin(void) {
  atomic_store(&g_fill_count, 0);
  atomic_store(&g_fill_last_ms, mono_ms());
  return atomic_fetch_add(&g_fill_gen, 1) + 1;
}

/*
 * Holds a blocking-pool thread until `n` holds of generation `gen` run at
 * once, or no further hold has started for `quiet_ms` (the pool is full:
 * the others wait for a thread), then returns. Submitted n times at once, it
 * leaves the pool as large as it can grow, however slowly its threads
 * start. Returns 1 when the n were reached, 0 when the pool filled first.
 */
NPAH_EXPORT int32_t npah_pool_hold(uint32_t gen, uint32_t n, uint32_t quiet_ms) {
  if (atomic_fetch_add(&g_fill_count, 1) + 1 >= n) atomic_store(&g_fill_reached, gen);
  atomic_store(&g_fill_last_ms, mono_ms());
  const struct timespec pause = {0, 100000L};
  while (atomic_load(&g_fill_reached) != gen) {
    if (mono_ms() - atomic_load(&g_fill_last_ms) >= (long long)quiet_ms) return 0;
    nanosleep(&pause, NULL);
  }
  return 1;
}
