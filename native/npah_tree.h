/*
 * npah_tree.h — ending every descendant of a process, however it got away:
 * a process the plugin forked, its forks, and the ones that left the process
 * group with setsid() (a daemon's double fork). Shared by the native helper
 * (plugcheck in process, npah_proc.c) and the sandbox launcher
 * (launcher/npah_launcher.c), each of which is a child subreaper
 * (PR_SET_CHILD_SUBREAPER), so an orphaned descendant is reparented to it and
 * stays in its tree instead of going to init.
 *
 * Header-only (static functions): the launcher is a separate executable.
 */
#ifndef NPAH_TREE_H
#define NPAH_TREE_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* At most this many descendants are frozen, listed and ended per sweep. */
#define NPAH_TREE_MAX 4096

typedef struct npah_tree_proc {
  pid_t pid;
  char name[32];
} npah_tree_proc;

/* Reads pid's parent and state from /proc; 0, or -1 when it is gone. */
static int npah_tree_stat(pid_t pid, pid_t* ppid, char* state) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char* paren = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  int pp;
  if (paren == NULL || sscanf(paren + 1, " %c %d", state, &pp) != 2) return -1;
  *ppid = (pid_t)pp;
  return 0;
}

/* Live (not zombie) descendants of `root` into out (up to cap); returns how many were written. */
static int npah_tree_list(pid_t root, pid_t* out, int cap) {
  static pid_t pids[65536], ppids[65536];
  static char states[65536];
  int total = 0;
  DIR* d = opendir("/proc");
  if (d == NULL) return 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL && total < 65536) {
    char* end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (npah_tree_stat((pid_t)pid, &ppids[total], &states[total]) != 0) continue;
    pids[total++] = (pid_t)pid;
  }
  closedir(d);
  /* Breadth first from root (a zombie's children are walked, the zombie is not kept). */
  static pid_t queue[65536];
  int head = 0, tail = 0, n = 0;
  queue[tail++] = root;
  while (head < tail) {
    pid_t parent = queue[head++];
    for (int i = 0; i < total && tail < 65536; i++) {
      if (ppids[i] != parent || pids[i] == root) continue;
      queue[tail++] = pids[i];
      if (states[i] == 'Z') continue;
      if (n < cap) out[n++] = pids[i];
    }
  }
  return n;
}

/* A process's command name into name (empty when it is gone). */
static void npah_tree_name(pid_t pid, char* name, size_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
  name[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, name, cap - 1);
  close(fd);
  if (n < 0) n = 0;
  while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == '\0')) n--;
  name[n] = '\0';
}

/*
 * Freezes every live descendant of `root` (SIGSTOP, again until a
 * listing finds none it has not stopped, so a process that forks as fast as
 * it can cannot stay ahead), records its pid and name in out (up to cap), then
 * ends them all with SIGKILL. The `n_spare` processes of `spare` are left
 * alone (the host's own children; what they started is not). Returns how many
 * were found (more than cap when some were not recorded).
 */
static int npah_tree_end(pid_t root, const pid_t* spare, int n_spare, npah_tree_proc* out, int cap) {
  static pid_t found[NPAH_TREE_MAX], now[NPAH_TREE_MAX];
  int count = 0;
  for (int round = 0; round < 64; round++) {
    int n = npah_tree_list(root, now, NPAH_TREE_MAX);
    int added = 0;
    for (int i = 0; i < n; i++) {
      int known = 0;
      for (int j = 0; j < count && !known; j++) known = found[j] == now[i];
      for (int j = 0; j < n_spare && !known; j++) known = spare[j] == now[i];
      if (known || count >= NPAH_TREE_MAX) continue;
      kill(now[i], SIGSTOP);
      found[count++] = now[i];
      added++;
    }
    if (added == 0) break;
  }
  for (int i = 0; i < count; i++) {
    if (i < cap) {
      out[i].pid = found[i];
      npah_tree_name(found[i], out[i].name, sizeof out[i].name);
    }
    kill(found[i], SIGKILL);
  }
  return count;
}

#endif
