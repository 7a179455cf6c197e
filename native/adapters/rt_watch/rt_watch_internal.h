/*
 * rt_watch_internal.h — what the watch's two files share: the per-thread
 * state (initial-exec TLS: a preloaded library has static TLS, and reading it
 * calls nothing) and the next definitions of the watched functions.
 *   rt_watch.c        state, begin/end, resolution, memory functions, constructor
 *   rt_watch_calls.c  locks, sleeps, files and stdio
 */
#ifndef PLUGCHECK_RT_WATCH_INTERNAL_H
#define PLUGCHECK_RT_WATCH_INTERNAL_H

#include "rt_watch.h"

#define RTW_EXPORT __attribute__((visibility("default")))
#define RTW_TLS __thread __attribute__((tls_model("initial-exec")))

extern RTW_TLS int rtw_on;        /* inside a watched call */
extern RTW_TLS int rtw_resolving; /* inside dlsym: allocations come from the arena */
extern RTW_TLS int32_t rtw_first; /* the first function called since begin, or -1 */
extern RTW_TLS uint32_t rtw_counts[NPA_RT_COUNT];

/* Counts a call of function `what` when this thread is inside a watched call. */
static inline void rtw_seen(int what) {
  if (__builtin_expect(rtw_on, 0)) {
    if (rtw_first < 0) rtw_first = what;
    if (rtw_counts[what] < UINT32_MAX) rtw_counts[what]++;
  }
}

/* The next definition of function `id` (RTLD_NEXT), or NULL while this thread resolves or when libc lacks it. */
void* rtw_real(int id);

#endif /* PLUGCHECK_RT_WATCH_INTERNAL_H */
