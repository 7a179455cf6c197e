/*
 * npah_proc.c — what a process holds, read from /proc in C: its memory,
 * threads and descriptors (sampled while a stress run goes on), its threads
 * by id and name, the processes it started. In C because Deno reserves /proc
 * for --allow-all, and because a sample must cost microseconds, not an async
 * file operation on the blocking pool the plugin's calls run on.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "npah_internal.h"

/* Reads a small /proc file into buf (NUL-terminated); returns its length or -errno. */
static ssize_t read_small(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = read(fd, buf, cap - 1);
  int e = errno;
  close(fd);
  if (n < 0) return -e;
  buf[n] = '\0';
  return n;
}

/* Entries of a /proc directory whose names are numbers; -errno if it cannot be read. */
static int32_t count_numeric(const char* path, int32_t* out, uint32_t cap) {
  DIR* d = opendir(path);
  if (d == NULL) return -errno;
  int32_t count = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char* end;
    long v = strtol(e->d_name, &end, 10);
    if (*end != '\0' || e->d_name[0] == '\0') continue;
    if (out != NULL && (uint32_t)count < cap) out[count] = (int32_t)v;
    count++;
  }
  closedir(d);
  return count;
}

/*
 * One sample of a process: out[0] resident bytes, out[1] threads, out[2]
 * open descriptors (not counting the one this reading opens in its own
 * process). Returns 0, or -errno when the process is gone.
 */
NPAH_EXPORT int32_t npah_proc_sample(int32_t pid, double* out) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  ssize_t n = read_small(path, buf, sizeof buf);
  if (n < 0) return (int32_t)n;
  char* paren = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  if (paren == NULL) return -EINVAL;
  /* After ") ": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
   * cutime cstime priority nice num_threads(20) itrealvalue starttime vsize rss(24). */
  long threads = 0, rss_pages = 0;
  int field = 3;
  for (char* p = paren + 2; *p != '\0' && field <= 24; field++) {
    if (field == 20) threads = strtol(p, NULL, 10);
    if (field == 24) rss_pages = strtol(p, NULL, 10);
    while (*p != '\0' && *p != ' ') p++;
    while (*p == ' ') p++;
  }
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  int32_t fds = count_numeric(path, NULL, 0);
  if (fds < 0) return fds;
  if (pid == getpid()) fds--; /* the directory this reading opened */
  out[0] = (double)rss_pages * (double)sysconf(_SC_PAGESIZE);
  out[1] = (double)threads;
  out[2] = (double)fds;
  return 0;
}

/* How long ago a process started, in ms (10 ms resolution), or -errno when it is gone. */
NPAH_EXPORT double npah_proc_age_ms(int32_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  ssize_t n = read_small(path, buf, sizeof buf);
  if (n < 0) return (double)n;
  char* paren = strrchr(buf, ')');
  if (paren == NULL) return -EINVAL;
  unsigned long long start_ticks = 0;
  int field = 3;
  for (char* p = paren + 2; *p != '\0' && field <= 22; field++) {
    if (field == 22) start_ticks = strtoull(p, NULL, 10);
    while (*p != '\0' && *p != ' ') p++;
    while (*p == ' ') p++;
  }
  char up[128];
  if (read_small("/proc/uptime", up, sizeof up) < 0) return -EINVAL;
  double uptime = strtod(up, NULL);
  return (uptime - (double)start_ticks / (double)sysconf(_SC_CLK_TCK)) * 1000.0;
}

/* The thread ids of a process (up to cap written); returns how many it has, or -errno. */
NPAH_EXPORT int32_t npah_list_threads(int32_t pid, int32_t* out, uint32_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  return count_numeric(path, out, cap);
}

/* A thread's name (/proc/<pid>/task/<tid>/comm) into out; returns its length (0 if unknown). */
NPAH_EXPORT uint32_t npah_thread_name(int32_t pid, int32_t tid, uint8_t* out, uint32_t cap) {
  char path[96], buf[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/comm", pid, tid);
  ssize_t n = read_small(path, buf, sizeof buf);
  if (n <= 0) return 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) n--;
  uint32_t len = (uint32_t)n < cap ? (uint32_t)n : cap;
  memcpy(out, buf, len);
  return len;
}

/*
 * The open descriptors of a process with what each points to, as lines
 * "fd<TAB>target<LF>" in out (cut at cap, whole lines only). Returns the bytes
 * written, or -errno.
 */
NPAH_EXPORT int32_t npah_fd_targets(int32_t pid, uint8_t* out, uint32_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  DIR* d = opendir(path);
  if (d == NULL) return -errno;
  int own = pid == getpid() ? dirfd(d) : -1;
  uint32_t at = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char* end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end != '\0' || e->d_name[0] == '\0' || fd == own) continue;
    char link[128], target[512];
    snprintf(link, sizeof link, "/proc/%d/fd/%ld", pid, fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) continue;
    target[n] = '\0';
    char line[640];
    int len = snprintf(line, sizeof line, "%ld\t%s\n", fd, target);
    if (len <= 0 || at + (uint32_t)len > cap) break;
    memcpy(out + at, line, (size_t)len);
    at += (uint32_t)len;
  }
  closedir(d);
  return (int32_t)at;
}

/* ---- filling the blocking pool ------------------------------------------ */

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

/*
 * Live (not zombie) processes whose parent (mode 0) or process group (mode 1)
 * is `id`, except the caller. Writes up to `cap` pids; returns how many match.
 */
NPAH_EXPORT int32_t npah_list_procs(int32_t mode, int32_t id, int32_t* out, uint32_t cap) {
  DIR* d = opendir("/proc");
  if (d == NULL) return -errno;
  int32_t count = 0;
  pid_t self = getpid();
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char* end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == self) continue;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    char* paren = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    char state;
    int ppid, pgrp;
    if (paren == NULL || sscanf(paren + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 || state == 'Z') continue;
    if ((mode == 0 ? ppid : pgrp) != id) continue;
    if ((uint32_t)count < cap) out[count] = (int32_t)pid;
    count++;
  }
  closedir(d);
  return count;
}

/* The command name of a process (/proc/<pid>/comm) into out; returns its length (0 if unknown). */
NPAH_EXPORT uint32_t npah_proc_name(int32_t pid, uint8_t* out, uint32_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/comm", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, out, cap);
  close(fd);
  if (n <= 0) return 0;
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\0')) n--;
  return (uint32_t)n;
}


/*
 * The kernel's count of OOM kills since boot (`oom_kill` in /proc/vmstat,
 * every OOM kill on the machine, a cgroup's included), or -errno. Read before
 * and after a child died of SIGKILL, it tells an OOM kill from another kill.
 */
NPAH_EXPORT double npah_oom_kills(void) {
  static char buf[16384];
  ssize_t n = read_small("/proc/vmstat", buf, sizeof buf);
  if (n < 0) return (double)n;
  const char* at = strstr(buf, "\noom_kill ");
  if (at == NULL) return -ENOENT;
  return (double)strtoull(at + 10, NULL, 10);
}

/* The most resident memory a process has had (VmHWM in /proc/<pid>/status), in bytes, or -errno. */
NPAH_EXPORT double npah_proc_peak_rss(int32_t pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  ssize_t n = read_small(path, buf, sizeof buf);
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
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR* d = opendir(path);
  if (d == NULL) return -errno;
  int32_t count = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char* end;
    long tid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || e->d_name[0] == '\0') continue;
    char file[96], buf[128];
    snprintf(file, sizeof file, "/proc/%d/task/%ld/schedstat", pid, tid);
    if (read_small(file, buf, sizeof buf) <= 0) continue;
    char* p = buf;
    strtoull(p, &p, 10);
    unsigned long long delay = strtoull(p, NULL, 10);
    if ((uint32_t)count < cap) {
      out[2 * count] = tid;
      out[2 * count + 1] = (int64_t)delay;
    }
    count++;
  }
  closedir(d);
  return count;
}
