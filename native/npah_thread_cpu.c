/*
 * npah_thread_cpu.c — how much CPU one thread of a process has had, and
 * whether it is runnable: what a fuzz job's watch judges a stuck call by
 * (lib/fuzz/parent/watchdog.ts), so that a loaded machine, where a runnable
 * thread waits for a CPU, does not make a slow call a hang.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npah_internal.h"

/*
 * A thread's CPU time (user + system, in ms; 10 ms resolution) and its
 * state letter (R running or runnable, S sleeping, D in the disk, ...) in
 * out[1] as a number. Returns 0, or -errno when it is gone.
 */
NPAH_EXPORT int32_t npah_thread_cpu(int32_t pid, int32_t tid, double* out) {
  char path[80], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tid);
  ssize_t n = npah_read_small(path, buf, sizeof buf);
  if (n < 0) return (int32_t)n;
  char* paren = strrchr(buf, ')');
  if (paren == NULL || paren[1] == '\0') return -EINVAL;
  char state = paren[2];
  unsigned long long ticks = 0;
  int field = 3;
  for (char* p = paren + 2; *p != '\0' && field <= 15; field++) {
    if (field == 14 || field == 15) ticks += strtoull(p, NULL, 10);
    while (*p != '\0' && *p != ' ') p++;
    while (*p == ' ') p++;
  }
  out[0] = (double)ticks * 1000.0 / (double)sysconf(_SC_CLK_TCK);
  out[1] = (double)(unsigned char)state;
  return 0;
}
