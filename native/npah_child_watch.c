/*
 * npah_child_watch.c — what the parent reads of a sandbox child while it
 * runs and after it died: the most resident memory it reached, whether the
 * kernel's OOM killer ended it, and how long its threads waited for a CPU
 * (so deadlines can wait out a loaded machine). From /proc, in C for the
 * same reasons as npah_proc.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "npah_internal.h"

/*
 * The kernel's count of OOM kills since boot (`oom_kill` in /proc/vmstat,
 * every OOM kill on the machine, a cgroup's included), or -errno. Read before
 * and after a child died of SIGKILL, it tells an OOM kill from another kill.
 */
NPAH_EXPORT double npah_oom_kills(void) {
  static char buf[16384];
  ssize_t n = npah_read_small("/proc/vmstat", buf, sizeof buf);
  if (n < 0) return (double)n;
  const char* at = strstr(buf, "\noom_kill ");
  if (at == NULL) return -ENOENT;
  return (double)strtoull(at + 10, NULL, 10);
}

/* The most resident memory a process has had (VmHWM in /proc/<pid>/status), in bytes, or -errno. */
NPAH_EXPORT double npah_proc_peak_rss(int32_t pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  ssize_t n = npah_read_small(path, buf, sizeof buf);
  if (n < 0) return (double)n;
  const char* at = strstr(buf, "\nVmHWM:");
  if (at == NULL) return -ENOENT;
  return (double)strtoull(at + 7, NULL, 10) * 1024.0;
}

/*
 * How long each thread of a process has waited for a CPU while it was ready
 * to run (run_delay, the second field of /proc/<pid>/task/<tid>/schedstat):
 * pairs (tid, ns) into out, up to cap pairs. Returns how many threads it
 * has, or -errno. A deadline that subtracts this waits out a loaded machine.
 */
NPAH_EXPORT int32_t npah_run_delays(int32_t pid, int64_t* out, uint32_t cap) {
  enum { MAX_TIDS = 4096 };
  int32_t tids[MAX_TIDS];
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  int32_t n = npah_list_numeric(path, tids, MAX_TIDS);
  if (n < 0) return n;
  int32_t count = 0;
  for (int32_t i = 0; i < n && i < MAX_TIDS; i++) {
    char file[96], buf[128];
    snprintf(file, sizeof file, "/proc/%d/task/%d/schedstat", pid, (int)tids[i]);
    if (npah_read_small(file, buf, sizeof buf) <= 0) continue;
    char* p = buf;
    strtoull(p, &p, 10);
    unsigned long long delay = strtoull(p, NULL, 10);
    if ((uint32_t)count < cap) {
      out[2 * count] = tids[i];
      out[2 * count + 1] = (int64_t)delay;
    }
    count++;
  }
  return count;
}
