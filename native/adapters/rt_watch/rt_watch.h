/*
 * rt_watch.h — what the real-time watch (rt_watch.c, built to
 * build/adapters/libnpa_rt_watch.so) and the LADSPA adapter share.
 *
 * The watch is an interposer preloaded (LD_PRELOAD) only into the sandbox
 * child of the `ladspa.hard_rt` check. Its wrappers of the functions below
 * only count, and only while the calling thread is inside a watched call:
 * the adapter finds npa_rt_watch_begin/end in the process (dlsym of
 * RTLD_DEFAULT; absent when nothing preloaded the watch) and calls them
 * around a plugin's `run`. Everything else passes straight through.
 */
#ifndef PLUGCHECK_RT_WATCH_H
#define PLUGCHECK_RT_WATCH_H

#include <stdint.h>

/* The functions watched, in the order their counts are reported: X(id, "name"). */
#define NPA_RT_WATCHED(X)                                                                                           \
  /* memory */                                                                                                      \
  X(MALLOC, "malloc")                                                                                               \
  X(CALLOC, "calloc")                                                                                               \
  X(REALLOC, "realloc")                                                                                             \
  X(REALLOCARRAY, "reallocarray")                                                                                   \
  X(FREE, "free")                                                                                                   \
  X(POSIX_MEMALIGN, "posix_memalign")                                                                               \
  X(ALIGNED_ALLOC, "aligned_alloc")                                                                                 \
  X(MEMALIGN, "memalign")                                                                                           \
  X(VALLOC, "valloc")                                                                                               \
  X(MMAP, "mmap")                                                                                                   \
  X(MUNMAP, "munmap")                                                                                               \
  /* locks and waits */                                                                                             \
  X(MUTEX_LOCK, "pthread_mutex_lock")                                                                               \
  X(MUTEX_TIMEDLOCK, "pthread_mutex_timedlock")                                                                     \
  X(RWLOCK_RDLOCK, "pthread_rwlock_rdlock")                                                                         \
  X(RWLOCK_WRLOCK, "pthread_rwlock_wrlock")                                                                         \
  X(SEM_WAIT, "sem_wait")                                                                                           \
  X(SEM_TIMEDWAIT, "sem_timedwait")                                                                                 \
  X(PTHREAD_JOIN, "pthread_join")                                                                                   \
  /* sleeps */                                                                                                      \
  X(NANOSLEEP, "nanosleep")                                                                                         \
  X(CLOCK_NANOSLEEP, "clock_nanosleep")                                                                             \
  X(USLEEP, "usleep")                                                                                               \
  X(SLEEP, "sleep")                                                                                                 \
  /* files and I/O */                                                                                               \
  X(READ, "read")                                                                                                   \
  X(READ_CHK, "__read_chk")                                                                                         \
  X(WRITE, "write")                                                                                                 \
  X(OPEN, "open")                                                                                                   \
  X(OPEN64, "open64")                                                                                               \
  X(OPENAT, "openat")                                                                                               \
  X(POLL, "poll")                                                                                                   \
  X(SELECT, "select")                                                                                               \
  X(FOPEN, "fopen")                                                                                                 \
  X(FOPEN64, "fopen64")                                                                                             \
  X(FCLOSE, "fclose")                                                                                               \
  X(FREAD, "fread")                                                                                                 \
  X(FWRITE, "fwrite")                                                                                               \
  X(FFLUSH, "fflush")                                                                                               \
  X(FPUTS, "fputs")                                                                                                 \
  X(PUTS, "puts")                                                                                                   \
  X(PRINTF, "printf")                                                                                               \
  X(FPRINTF, "fprintf")                                                                                             \
  X(VPRINTF, "vprintf")                                                                                             \
  X(VFPRINTF, "vfprintf")                                                                                           \
  X(PRINTF_CHK, "__printf_chk")                                                                                     \
  X(FPRINTF_CHK, "__fprintf_chk")                                                                                   \
  X(VPRINTF_CHK, "__vprintf_chk")                                                                                   \
  X(VFPRINTF_CHK, "__vfprintf_chk")

#define NPA_RT_ENUM(id, name) NPA_RT_##id,
enum { NPA_RT_WATCHED(NPA_RT_ENUM) NPA_RT_COUNT };
#undef NPA_RT_ENUM

/* Starts counting on the calling thread (the counts start at 0). */
typedef void (*NpaRtWatchBegin)(void);
/*
 * Stops counting on the calling thread and copies at most n counts (in the
 * order of NPA_RT_WATCHED) into counts. Returns the index of the first
 * function called since begin, or -1 when none was.
 */
typedef int32_t (*NpaRtWatchEnd)(uint32_t* counts, uint32_t n);

#define NPA_RT_WATCH_BEGIN "npa_rt_watch_begin"
#define NPA_RT_WATCH_END "npa_rt_watch_end"

#endif /* PLUGCHECK_RT_WATCH_H */
