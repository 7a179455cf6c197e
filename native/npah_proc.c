/*
 * npah_proc.c — what a process holds, read from /proc in C: its memory,
 * threads and descriptors (sampled while a stress run goes on), its threads
 * by id and name, the processes it started (and ending all its descendants,
 * npah_tree.h; its signal dispositions and umask are npah_signals.c). In C
 * because Deno reserves /proc for --allow-all, and because a sample must cost microseconds, not an async
 * file operation on the blocking pool the plugin's calls run on.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "npah_internal.h"
#include "npah_tree.h"

/* Reads a small /proc file into buf (NUL-terminated); returns its length or -errno. */
ssize_t npah_read_small(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = read(fd, buf, cap - 1);
  int e = errno;
  close(fd);
  if (n < 0) return -e;
  buf[n] = '\0';
  return n;
}

/* ---- held descriptors ---------------------------------------------------
 * Readings of this very process use descriptors opened once, when the helper
 * is loaded (before any plugin), and kept at high numbers: a plugin that
 * exhausts the process's descriptors (a leak per call, RLIMIT_NOFILE lowered
 * to 8) must not blind the host that is judging it. Each is checked before
 * use (fstat: still the same file?); one a plugin closed or replaced is
 * reopened if that is possible, else the reading fails with -errno. Used
 * from the JS thread only. */

enum { HELD_STAT = 0, HELD_FD_DIR = 1, HELD_TASK_DIR = 2, HELD_COUNT = 3 };
/* Below 64, the table a process starts with: growing it waits for an RCU grace period (~10 ms, threaded). */
#define HELD_FD_BASE 48

typedef struct held {
  const char* path;
  int flags;
  int fd;
  dev_t dev;
  ino_t ino;
} held;

static held g_held[HELD_COUNT] = {
    {"/proc/self/stat", O_RDONLY | O_CLOEXEC, -1, 0, 0},
    {"/proc/self/fd", O_RDONLY | O_CLOEXEC | O_DIRECTORY, -1, 0, 0},
    {"/proc/self/task", O_RDONLY | O_CLOEXEC | O_DIRECTORY, -1, 0, 0},
};

/* The held descriptor `which`, reopened if it is gone or no longer ours; -errno if it cannot be. */
static int held_fd(int which) {
  held* h = &g_held[which];
  struct stat st;
  if (h->fd >= 0 && fstat(h->fd, &st) == 0 && st.st_dev == h->dev && st.st_ino == h->ino) return h->fd;
  /* Gone, or the number now holds something else (the plugin's now: never closed here). */
  h->fd = -1;
  int fd = open(h->path, h->flags);
  if (fd < 0) return -errno;
  int high = fcntl(fd, F_DUPFD_CLOEXEC, HELD_FD_BASE); /* out of the way of low-numbered dup2s */
  if (high >= 0) {
    close(fd);
    fd = high;
  }
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  h->dev = st.st_dev;
  h->ino = st.st_ino;
  h->fd = fd;
  return fd;
}

static int is_held(long fd) {
  for (int i = 0; i < HELD_COUNT; i++)
    if (g_held[i].fd >= 0 && g_held[i].fd == fd) return 1;
  return 0;
}

__attribute__((constructor)) static void hold_at_load(void) {
  for (int i = 0; i < HELD_COUNT; i++) held_fd(i);
}

struct npah_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/*
 * Calls fn(value, arg) for each numeric entry of a held directory, read
 * afresh (no new descriptor). Returns the count of entries passed, or -errno.
 */
static int32_t each_numeric_held(int which, void (*fn)(long, void*), void* arg) {
  int fd = held_fd(which);
  if (fd < 0) return fd;
  if (lseek(fd, 0, SEEK_SET) < 0) return -errno;
  char buf[8192] __attribute__((aligned(8)));
  int32_t count = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) return -errno;
    if (n == 0) break;
    for (long at = 0; at < n;) {
      struct npah_dirent64* e = (struct npah_dirent64*)(buf + at);
      at += e->d_reclen;
      char* end;
      long v = strtol(e->d_name, &end, 10);
      if (*end != '\0' || e->d_name[0] == '\0') continue;
      if (which == HELD_FD_DIR && is_held(v)) continue;
      if (fn != NULL) fn(v, arg);
      count++;
    }
  }
  return count;
}

typedef struct id_list {
  int32_t* out;
  uint32_t cap;
  uint32_t n;
} id_list;

static void collect_id(long v, void* arg) {
  id_list* l = arg;
  if (l->out != NULL && l->n < l->cap) l->out[l->n] = (int32_t)v;
  l->n++;
}

/* Entries of a /proc directory whose names are numbers; -errno if it cannot be read. */
int32_t npah_list_numeric(const char* path, int32_t* out, uint32_t cap) {
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
  int self = pid == getpid();
  ssize_t n;
  if (self) {
    int fd = held_fd(HELD_STAT);
    n = fd < 0 ? fd : pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0 && fd >= 0) n = -errno;
    if (n >= 0) buf[n] = '\0';
  } else {
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    n = npah_read_small(path, buf, sizeof buf);
  }
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
  int32_t fds;
  if (self) {
    fds = each_numeric_held(HELD_FD_DIR, NULL, NULL); /* the held descriptors left out */
  } else {
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    fds = npah_list_numeric(path, NULL, 0);
  }
  if (fds < 0) return fds;
  out[0] = (double)rss_pages * (double)sysconf(_SC_PAGESIZE);
  out[1] = (double)threads;
  out[2] = (double)fds;
  return 0;
}

/* How long ago a process started, in ms (10 ms resolution), or -errno when it is gone. */
NPAH_EXPORT double npah_proc_age_ms(int32_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  ssize_t n = npah_read_small(path, buf, sizeof buf);
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
  if (npah_read_small("/proc/uptime", up, sizeof up) < 0) return -EINVAL;
  double uptime = strtod(up, NULL);
  return (uptime - (double)start_ticks / (double)sysconf(_SC_CLK_TCK)) * 1000.0;
}

/* The thread ids of a process (up to cap written); returns how many it has, or -errno. */
NPAH_EXPORT int32_t npah_list_threads(int32_t pid, int32_t* out, uint32_t cap) {
  if (pid == getpid()) {
    id_list l = {out, cap, 0};
    int32_t rc = each_numeric_held(HELD_TASK_DIR, collect_id, &l);
    return rc < 0 ? rc : (int32_t)l.n;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  return npah_list_numeric(path, out, cap);
}

/* A thread's name (/proc/<pid>/task/<tid>/comm) into out; returns its length (0 if unknown). */
NPAH_EXPORT uint32_t npah_thread_name(int32_t pid, int32_t tid, uint8_t* out, uint32_t cap) {
  char path[96], buf[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/comm", pid, tid);
  ssize_t n = npah_read_small(path, buf, sizeof buf);
  if (n <= 0) return 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) n--;
  uint32_t len = (uint32_t)n < cap ? (uint32_t)n : cap;
  memcpy(out, buf, len);
  return len;
}

/* The system call a thread is blocked in (/proc/<pid>/task/<tid>/syscall), -1 when running or unknown. */
NPAH_EXPORT int32_t npah_thread_syscall(int32_t pid, int32_t tid) {
  char path[96], buf[32];
  snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, tid);
  ssize_t n = npah_read_small(path, buf, sizeof buf); /* NUL-terminated */
  if (n <= 0 || buf[0] < '0' || buf[0] > '9') return -1;
  return (int32_t)strtol(buf, NULL, 10);
}

/*
 * The open descriptors of a process with what each points to, as lines
 * "fd<TAB>target<LF>" in out (cut at cap, whole lines only). Returns the bytes
 * written, or -errno.
 */
typedef struct fd_lines {
  int32_t pid;
  uint8_t* out;
  uint32_t cap;
  uint32_t at;
  int full;
} fd_lines;

static void add_fd_line(long fd, void* arg) {
  fd_lines* l = arg;
  if (l->full) return;
  char link[128], target[512];
  snprintf(link, sizeof link, "/proc/%d/fd/%ld", l->pid, fd);
  ssize_t n = readlink(link, target, sizeof target - 1); /* needs no descriptor */
  if (n < 0) return;
  target[n] = '\0';
  char line[640];
  int len = snprintf(line, sizeof line, "%ld\t%s\n", fd, target);
  if (len <= 0 || l->at + (uint32_t)len > l->cap) {
    l->full = 1;
    return;
  }
  memcpy(l->out + l->at, line, (size_t)len);
  l->at += (uint32_t)len;
}

/*
 * The open descriptors of a process with what each points to, as lines
 * "fd<TAB>target<LF>" in out (cut at cap, whole lines only). Returns the bytes
 * written, or -errno. For this process, without opening a descriptor (the
 * held ones left out).
 */
NPAH_EXPORT int32_t npah_fd_targets(int32_t pid, uint8_t* out, uint32_t cap) {
  fd_lines l = {pid, out, cap, 0, 0};
  if (pid == getpid()) {
    int32_t rc = each_numeric_held(HELD_FD_DIR, add_fd_line, &l);
    return rc < 0 ? rc : (int32_t)l.at;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  DIR* d = opendir(path);
  if (d == NULL) return -errno;
  struct dirent* e;
  while ((e = readdir(d)) != NULL && !l.full) {
    char* end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end != '\0' || e->d_name[0] == '\0') continue;
    add_fd_line(fd, &l);
  }
  closedir(d);
  return (int32_t)l.at;
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


/* ---- descendants -------------------------------------------------------- */

/*
 * Makes this process a child subreaper: a process its descendants orphan
 * (the middle of a daemon's double fork) is reparented here instead of to
 * init, so npah_end_descendants still finds it. Returns 0 or -errno.
 */
NPAH_EXPORT int32_t npah_subreaper(void) {
  return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 ? 0 : -errno;
}

/*
 * Freezes, lists and ends (SIGKILL) every live descendant of this process but the n_spare pids of spare. Writes
 * "pid<TAB>name<LF>" lines into out (whole lines, cut at cap), returns the bytes written; *count: how many ended.
 */
NPAH_EXPORT int32_t npah_end_descendants(uint8_t* out, uint32_t cap, int32_t* count, const int32_t* spare,
                                         uint32_t n_spare) {
  static npah_tree_proc left[NPAH_TREE_MAX];
  int n = npah_tree_end(getpid(), (const pid_t*)spare, (int)n_spare, left, NPAH_TREE_MAX);
  *count = n;
  uint32_t at = 0;
  for (int i = 0; i < n && i < NPAH_TREE_MAX; i++) {
    char line[64];
    int len = snprintf(line, sizeof line, "%d\t%s\n", (int)left[i].pid, left[i].name);
    if (len <= 0 || at + (uint32_t)len > cap) break;
    memcpy(out + at, line, (size_t)len);
    at += (uint32_t)len;
  }
  return (int32_t)at;
}
