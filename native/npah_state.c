/*
 * npah_state.c — the process-wide state a plugin can change under its host:
 * the descriptor limit (RLIMIT_NOFILE) and the flags of descriptors it does
 * not own (O_NONBLOCK). plugcheck reads both before npa_plugin_init and
 * after, puts back what it can, and reports the rest as the plugin's doing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "npah_internal.h"

/* RLIMIT_NOFILE: out[0] soft, out[1] hard (-1: unlimited). Returns 0 or -errno. */
NPAH_EXPORT int32_t npah_nofile_limit(double* out) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return -errno;
  out[0] = r.rlim_cur == RLIM_INFINITY ? -1.0 : (double)r.rlim_cur;
  out[1] = r.rlim_max == RLIM_INFINITY ? -1.0 : (double)r.rlim_max;
  return 0;
}

/* Raises the soft RLIMIT_NOFILE back to `soft` (at most the hard limit now). Returns the new soft limit or -errno. */
NPAH_EXPORT double npah_nofile_raise(double soft) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return -errno;
  rlim_t want = soft < 0 ? RLIM_INFINITY : (rlim_t)soft;
  if (r.rlim_max != RLIM_INFINITY && (want == RLIM_INFINITY || want > r.rlim_max)) want = r.rlim_max;
  if (want > r.rlim_cur) {
    r.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) return -errno;
  }
  return r.rlim_cur == RLIM_INFINITY ? -1.0 : (double)r.rlim_cur;
}

/*
 * What descriptor `fd` is: out[0] device, out[1] inode, out[2] 1 when
 * O_NONBLOCK is set. `clear_nonblock` 1 first clears O_NONBLOCK. Returns 0 or
 * -errno (-EBADF: not open).
 */
NPAH_EXPORT int32_t npah_fd_state(int32_t fd, int32_t clear_nonblock, double* out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  if (clear_nonblock && (fl & O_NONBLOCK)) {
    if (fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) return -errno;
    fl &= ~O_NONBLOCK;
  }
  out[0] = (double)st.st_dev;
  out[1] = (double)st.st_ino;
  out[2] = (fl & O_NONBLOCK) ? 1.0 : 0.0;
  return 0;
}
