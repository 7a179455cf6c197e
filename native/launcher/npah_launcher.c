/*
 * npah_launcher — the small native process between plugcheck and a sandbox
 * child (lib/sandbox/spawn.ts starts it):
 *
 *     npah_launcher <plugcheck-pid> <report-file> <program> [args...]
 *
 * It runs <program> (the sandbox child's Deno) as its only direct child and
 * stays single-threaded, which buys what a Deno process cannot give itself:
 *
 *   - The plugin cannot signal plugcheck: the sandbox child's parent is this
 *     launcher, so `kill(getppid(), SIGKILL)` ends the launcher, which plugcheck
 *     sees as the child being killed, and plugcheck itself lives on.
 *   - Death with plugcheck that the plugin cannot catch: the launcher watches
 *     plugcheck through a pidfd (polling getppid() where pidfds are missing)
 *     and, when plugcheck is gone, ends the whole tree with SIGKILL; the
 *     sandbox child also has PR_SET_PDEATHSIG = SIGKILL, reliable here because
 *     the thread that forked it is this launcher's only thread.
 *   - Every descendant is found: the launcher is a child subreaper, so a
 *     process the plugin daemonized (double fork + setsid) is reparented to it.
 *     When the sandbox child ends (or plugcheck sends SIGTERM), every
 *     descendant left is frozen, written to <report-file> as "pid<TAB>name"
 *     lines, and ended with SIGKILL (npah_tree.h). A first line
 *     "maxrss_kib<TAB>N" gives the sandbox child's peak resident memory (its
 *     rusage when reaped): exact, however fast the child died.
 *
 * The launcher then ends the way the sandbox child did (same exit code, or
 * the same signal), so plugcheck reads the child's status from it. SIGINT,
 * SIGHUP and SIGQUIT, and SIGTERM from anyone but plugcheck, are ignored:
 * plugcheck decides when its children end; SIGUSR1 and SIGUSR2 are passed on
 * to the child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../npah_tree.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static pid_t g_child = -1;
static const char* g_report;

static void die(const char* what) {
  char buf[256];
  int n = snprintf(buf, sizeof buf, "npah_launcher: %s: %s\n", what, strerror(errno));
  if (n > 0) (void)!write(2, buf, (size_t)n);
  _exit(127);
}

/* The sandbox child's peak resident memory (KiB, from wait4's rusage), once it was reaped; -1 before. */
static long g_child_maxrss_kib = -1;

/* Reaps what has ended; returns 1 (and the status) once the sandbox child was among them. */
static int reap(int* child_status) {
  int found = 0, status;
  pid_t p;
  struct rusage ru;
  while ((p = wait4(-1, &status, WNOHANG, &ru)) > 0) {
    if (p == g_child) {
      *child_status = status;
      g_child_maxrss_kib = ru.ru_maxrss;
      found = 1;
    }
  }
  return found;
}

/* Freezes, reports and ends every descendant left, then reaps them (at most ~2 s for the stubborn). */
static void end_tree(void) {
  static npah_tree_proc left[NPAH_TREE_MAX];
  int n = npah_tree_end(getpid(), NULL, 0, left, NPAH_TREE_MAX);
  int known = g_child_maxrss_kib >= 0;
  /* Nothing to read: no file either (plugcheck may be gone). */
  if (g_report != NULL && n == 0 && !known) unlink(g_report);
  if (g_report != NULL && (n > 0 || known)) {
    int fd = open(g_report, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd >= 0) {
      char line[64];
      /* The child's peak resident memory, exact however fast it died (plugcheck samples it only now and then). */
      int len = known ? snprintf(line, sizeof line, "maxrss_kib\t%ld\n", g_child_maxrss_kib) : 0;
      if (len > 0) (void)!write(fd, line, (size_t)len);
      for (int i = 0; i < n && i < NPAH_TREE_MAX; i++) {
        len = snprintf(line, sizeof line, "%d\t%s\n", (int)left[i].pid, left[i].name);
        if (len > 0) (void)!write(fd, line, (size_t)len);
      }
      close(fd);
    }
  }
  const struct timespec pause = {0, 1000000L};
  for (int i = 0; i < 2000; i++) {
    if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD) break;
    nanosleep(&pause, NULL);
  }
}

/* Ends this process the way the sandbox child ended. */
static void mirror(int status) {
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none); /* the child dumped core already, if it could */
  signal(sig, SIG_DFL);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
  kill(getpid(), sig);
  _exit(128 + sig);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: npah_launcher <plugcheck-pid> <report-file> <program> [args...]\n");
    return 2;
  }
  pid_t parent = (pid_t)atoi(argv[1]);
  g_report = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
  int parent_fd = (int)syscall(SYS_pidfd_open, parent, 0);
  if (getppid() != parent) return 127; /* plugcheck is gone already */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("cannot become a child subreaper");

  sigset_t mask, old;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGUSR2);
  if (sigprocmask(SIG_BLOCK, &mask, &old) != 0) die("cannot block signals");
  int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sig_fd < 0) die("cannot open a signalfd");
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);

  pid_t self = getpid();
  g_child = fork();
  if (g_child < 0) die("cannot fork");
  if (g_child == 0) {
    /* The sandbox child: its own process group (plugcheck's group signals miss it, as before), death with the
     * launcher, default signal handling. */
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != self) _exit(127);
    /* The child's preloads (a sanitizer runtime, plugcheck's helper) come under another name, so the launcher
     * itself runs without them. */
    const char* preload = getenv("NPAH_CHILD_LD_PRELOAD");
    if (preload != NULL) {
      if (setenv("LD_PRELOAD", preload, 1) != 0) die("cannot set the child's LD_PRELOAD");
      unsetenv("NPAH_CHILD_LD_PRELOAD");
    }
    execv(argv[3], argv + 3);
    die("cannot start the sandbox child");
  }
  setpgid(g_child, g_child); /* both sides, so it holds whichever runs first */

  struct pollfd fds[2] = {{sig_fd, POLLIN, 0}, {parent_fd, POLLIN, 0}};
  int status = 0;
  for (;;) {
    int ready = poll(fds, parent_fd >= 0 ? 2 : 1, parent_fd >= 0 ? -1 : 100);
    if (ready < 0 && errno != EINTR) die("cannot wait");
    if ((parent_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) || getppid() != parent) {
      /* plugcheck is gone: nothing may outlive it, and nobody reads a status or the report. */
      kill(g_child, SIGKILL);
      end_tree();
      if (g_report != NULL) unlink(g_report);
      _exit(0);
    }
    if (!(fds[0].revents & POLLIN)) continue;
    struct signalfd_siginfo info;
    while (read(sig_fd, &info, sizeof info) == (ssize_t)sizeof info) {
      if (info.ssi_signo == SIGTERM && (pid_t)info.ssi_pid == parent) {
        /* plugcheck ends the child: it and everything it left, at once. A SIGTERM from anyone else (a shell or a
         * CI runner signalling plugcheck's process group, the plugin signalling its parent) is ignored, as SIGINT
         * is: plugcheck gets the group's signal too and ends its children itself, so a call the signal cut short
         * is never taken for the plugin's crash; were plugcheck to die of it, the pidfd above ends the tree. */
        kill(g_child, SIGKILL);
        struct rusage ru;
        while (wait4(g_child, &status, 0, &ru) < 0 && errno == EINTR) {
        }
        g_child_maxrss_kib = ru.ru_maxrss;
        end_tree();
        mirror(status);
      }
      if (info.ssi_signo == SIGUSR1 || info.ssi_signo == SIGUSR2) kill(g_child, (int)info.ssi_signo);
    }
    if (reap(&status)) {
      end_tree();
      mirror(status);
    }
  }
}
