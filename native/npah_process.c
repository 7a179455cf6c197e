/*
 * npah_process.c — plugcheck's guards against plugins that attack their host
 * process rather than return a status. Each is plain C and never enters
 * JavaScript, because each must work while the JS thread is stuck inside a
 * plugin call or the process is already exiting.
 *
 *   - stdio guard: plugcheck's results (and a sandbox child's protocol) move
 *     to private descriptors; the plugin's fd 1 becomes a pipe whose bytes a
 *     thread counts and copies to stderr, its fd 0 becomes /dev/null. A
 *     plugin's printf can no longer corrupt results or frames, nor can it
 *     read requests meant for plugcheck.
 *   - what the exit guard (npah_exits.c) and the watchdog report with: which
 *     call runs now, the error on stderr (and as JSON on the private stdout
 *     while results are not printed yet), the exit code plugcheck chose.
 *   - watchdog: a thread that ends the process, saying what was running,
 *     when a synchronous plugin call (or dlopen, or unloading, or the exit
 *     handlers when plugcheck exits) outlives its deadline.
 *   - child setup: a sandbox child leads its own process group and dies with
 *     its parent, the sandbox launcher (PR_SET_PDEATHSIG, SIGKILL), which
 *     ends every process the plugin left (launcher/npah_launcher.c).
 * What a process holds (threads, descriptors, children) is read in npah_proc.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "npah_internal.h"

npah_running npah_now;

atomic_int npah_guard_exit_code = -1;
atomic_int npah_guard_json;
atomic_int npah_exiting_code = -1;

static pthread_t g_js_thread;
static atomic_int g_js_thread_known;
static atomic_int g_report_fd = -1; /* private stdout for JSON reports, or -1 */

void npah_remember_js_thread(void) {
  if (!atomic_exchange(&g_js_thread_known, 1)) g_js_thread = pthread_self();
}

int npah_on_js_thread(void) {
  return atomic_load(&g_js_thread_known) && pthread_equal(pthread_self(), g_js_thread);
}

static void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) { /* made O_NONBLOCK under us: wait */
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 1000) >= 0 || errno == EINTR) continue;
      }
      return;
    }
    s += w;
    n -= (size_t)w;
  }
}

/* Appends `in` JSON-escaped (without quotes) to out; returns the new length. */
static size_t json_escape(const char* in, size_t n, char* out, size_t at, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n && at + 7 < cap; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c == '"' || c == '\\') {
      out[at++] = '\\';
      out[at++] = (char)c;
    } else if (c < 0x20) {
      memcpy(out + at, "\\u00", 4);
      out[at + 4] = hex[c >> 4];
      out[at + 5] = hex[c & 15];
      at += 6;
    } else {
      out[at++] = (char)c;
    }
  }
  return at;
}

uint32_t npah_describe_call(int kind, const uint8_t* label, uint32_t len, char* buf, uint32_t cap) {
  if (cap == 0) return 0;
  if (label == NULL) len = 0;
  size_t at = 0;
  if (kind == NPAH_LABEL_INVOKE) {
    at = (size_t)snprintf(buf, cap, "invoke \"");
    at = json_escape((const char*)label, len, buf, at, cap);
    if (at + 2 <= cap) buf[at++] = '"';
  } else {
    at = len < cap - 1 ? len : cap - 1;
    memcpy(buf, label, at);
  }
  buf[at < cap ? at : cap - 1] = '\0';
  return (uint32_t)at;
}

int npah_current_call(char* buf, uint32_t cap) {
  if (npah_on_js_thread() && atomic_load(&npah_now.sync_depth) > 0) {
    npah_describe_call(atomic_load(&npah_now.label_kind), atomic_load(&npah_now.label),
                       atomic_load(&npah_now.label_len), buf, cap);
  } else if (atomic_load(&npah_now.async_inflight) > 0) {
    uint32_t n = atomic_load(&npah_now.async_label_len);
    npah_describe_call(atomic_load(&npah_now.async_label_kind), (const uint8_t*)npah_now.async_label, n, buf, cap);
  } else {
    snprintf(buf, cap, "run the plugin");
    return 0;
  }
  return 1;
}

void npah_report(const char* op, const char* why, const char* code, const char* name, const char* key,
                   long long value, const char* hint) {
  char text[4096];
  int n = snprintf(text, sizeof text, "plugcheck: error: Cannot %s: %s\n  hint: %s\n", op, why, hint);
  if (n > 0) write_all(2, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
  int fd = atomic_load(&g_report_fd);
  if (!atomic_load(&npah_guard_json) || fd < 0) return;
  char msg[2048];
  snprintf(msg, sizeof msg, "Cannot %s: %s", op, why);
  char json[8192];
  size_t at = (size_t)snprintf(json, sizeof json, "{\"ok\":false,\"error\":{\"code\":\"%s\",\"name\":\"%s\",\"message\":\"",
                               code, name);
  at = json_escape(msg, strlen(msg), json, at, sizeof json);
  at += (size_t)snprintf(json + at, sizeof json - at, "\",\"operation\":\"");
  at = json_escape(op, strlen(op), json, at, sizeof json);
  at += (size_t)snprintf(json + at, sizeof json - at, "\",\"%s\":%lld}}\n", key, value);
  write_all(fd, json, at < sizeof json ? at : sizeof json);
}

/* ---- naming the calls in flight ----------------------------------------- */

static char g_sync_label[NPAH_LABEL_MAX];

/* JS marks a synchronous call it makes itself (dlopen, stats): the watchdog and exit guard name it. */
NPAH_EXPORT void npah_sync_begin(const uint8_t* label, uint32_t len) {
  npah_remember_js_thread();
  if (len > NPAH_LABEL_MAX) len = NPAH_LABEL_MAX;
  memcpy(g_sync_label, label, len);
  npah_sync_enter(NPAH_LABEL_TEXT, (const uint8_t*)g_sync_label, len);
}

NPAH_EXPORT void npah_sync_end(void) {
  npah_sync_leave();
}

/* JS marks a nonblocking call it starts (it runs on another thread). */
NPAH_EXPORT void npah_async_begin(const uint8_t* label, uint32_t len) {
  npah_async_enter(NPAH_LABEL_TEXT, label, len);
}

NPAH_EXPORT void npah_async_end(void) {
  npah_async_leave();
}

/* ---- watchdog ----------------------------------------------------------- */

static atomic_uint g_watchdog_ms;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* npah_stop.c: a stopped process is noticed once it continues, and its stop is not the call's time. */
void npah_stop_watch(void);
int npah_stop_notice(uint64_t* last_tick);

static void* watchdog(void* arg) {
  (void)arg;
  uint64_t seen = UINT64_MAX, since = 0, last_tick = 0;
  const struct timespec tick = {0, 10 * 1000000L};
  npah_stop_watch();
  for (;;) {
    nanosleep(&tick, NULL);
    if (npah_stop_notice(&last_tick)) {
      seen = UINT64_MAX; /* the deadline of the call running starts again */
      continue;
    }
    unsigned limit = atomic_load(&g_watchdog_ms);
    if (limit == 0 || atomic_load(&npah_now.sync_depth) == 0) {
      seen = UINT64_MAX;
      continue;
    }
    uint64_t gen = atomic_load(&npah_now.sync_gen), t = now_ms();
    if (gen != seen) {
      seen = gen;
      since = t;
      continue;
    }
    if (t - since < limit) continue;
    char op[NPAH_LABEL_MAX + 32];
    npah_describe_call(atomic_load(&npah_now.label_kind), atomic_load(&npah_now.label),
                       atomic_load(&npah_now.label_len), op, sizeof op);
    char why[256];
    snprintf(why, sizeof why,
             "no return within %u ms; a synchronous call cannot be abandoned, so plugcheck ended itself", limit);
    int unloading = strncmp(op, "unload ", 7) == 0, exiting = atomic_load(&npah_exiting_code);
    npah_report(op, why, "TIMEOUT", "PluginTimeoutError", "timeout_ms", limit,
                exiting >= 0 ? "an atexit handler or library destructor of the plugin hangs while plugcheck exits"
                : unloading  ? "a library destructor or atexit handler of the plugin hangs; with --isolate the sandbox "
                               "child is killed instead"
                             : "a load-time constructor or a synchronous call hangs; with --isolate a hang kills a "
                               "sandbox child instead");
    int code = exiting > 0 ? exiting : atomic_load(&npah_guard_exit_code);
    _exit(code > 0 ? code : 1);
  }
  return NULL;
}

/* Starts (once) the watchdog; a synchronous call marked longer than `limit_ms` ends the process. 0 disarms. */
NPAH_EXPORT int32_t npah_watchdog(uint32_t limit_ms) {
  static atomic_int started;
  npah_remember_js_thread();
  atomic_store(&g_watchdog_ms, limit_ms);
  if (atomic_exchange(&started, 1)) return 0;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&t, &attr, watchdog, NULL);
  pthread_attr_destroy(&attr);
  return rc == 0 ? 0 : -1;
}

/* ---- stdio guard -------------------------------------------------------- */

static int g_capture_fd = -1;
static atomic_uint_fast64_t g_stdout_bytes;

static void* pump(void* arg) {
  (void)arg;
  char buf[16384];
  for (;;) {
    ssize_t n = read(g_capture_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    atomic_fetch_add(&g_stdout_bytes, (uint64_t)n);
    write_all(2, buf, (size_t)n);
  }
  return NULL;
}

static void grow_pipe(int fd) {
  fcntl(fd, F_SETPIPE_SZ, 1 << 20); /* best effort: fewer wakeups for big frames; not a pipe is fine */
}

/*
 * Moves fd 0 and fd 1 to private descriptors (close-on-exec, written to
 * fds[0] and fds[1]; -1 where the original was closed), points fd 1 at a
 * counted pipe into stderr and fd 0 at /dev/null. Idempotent. Returns 0 or -errno.
 */
NPAH_EXPORT int32_t npah_stdio_guard(int32_t* fds) {
  static int done, in_fd = -1, out_fd = -1;
  if (!done) {
    in_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    out_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (out_fd < 0) return -errno;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -errno;
    fflush(stdout);
    if (dup2(p[1], 1) < 0) return -errno;
    close(p[1]);
    g_capture_fd = p[0];
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nul >= 0) {
      dup2(nul, 0);
      close(nul);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (in_fd >= 0) grow_pipe(in_fd);
    grow_pipe(out_fd);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, pump, NULL);
    pthread_attr_destroy(&attr);
    atomic_store(&g_report_fd, out_fd);
    done = 1;
  }
  fds[0] = in_fd;
  fds[1] = out_fd;
  return 0;
}

/* Bytes the plugin wrote to fd 1 (or through stdio) so far, once what is in flight has been counted. */
NPAH_EXPORT double npah_stdout_bytes(void) {
  if (g_capture_fd < 0) return -1;
  fflush(stdout);
  const struct timespec pause = {0, 1000000L};
  for (int i = 0; i < 200; i++) {
    int pending = 0;
    if (ioctl(g_capture_fd, FIONREAD, &pending) != 0 || pending == 0) break;
    nanosleep(&pause, NULL);
  }
  nanosleep(&pause, NULL); /* the pump may hold bytes it read but has not counted yet */
  return (double)atomic_load(&g_stdout_bytes);
}

/* ---- sandbox child ------------------------------------------------------ */

static void end_group(int sig) {
  (void)sig;
  kill(0, SIGKILL); /* async-signal-safe: the child and every process the plugin started */
}

/*
 * Run first in a sandbox child: leads its own process group (the launcher
 * made it one already), ends its whole group on SIGTERM, and dies with its
 * parent, the sandbox launcher (PR_SET_PDEATHSIG with SIGKILL, which no
 * plugin can catch or ignore; reliable because the launcher is
 * single-threaded), at once if it is already gone. `expected_parent` 0 skips
 * that last test. Returns 0 or -errno.
 */
NPAH_EXPORT int32_t npah_child_setup(int32_t expected_parent) {
  if (getpgid(0) != getpid() && setpgid(0, 0) != 0) return -errno;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = end_group;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGTERM, &sa, NULL) != 0) return -errno;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -errno;
  if (expected_parent != 0 && getppid() != expected_parent) kill(0, SIGKILL);
  return 0;
}

/*
 * Writes all of buf to fd (a private descriptor Deno has no handle for).
 * Returns 0 or -errno. A descriptor someone made O_NONBLOCK (a plugin may set
 * it on every descriptor of the process) is waited on with poll, not failed.
 */
NPAH_EXPORT int32_t npah_write_all(int32_t fd, const uint8_t* buf, uint32_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) return -errno;
        continue;
      }
      return -errno;
    }
    buf += w;
    len -= (uint32_t)w;
  }
  return 0;
}
