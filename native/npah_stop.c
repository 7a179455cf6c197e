/*
 * npah_stop.c — noticing that the process was stopped. A plugin that calls
 * raise(SIGSTOP) (or kill(0, SIGTSTP)) stops every thread of its host, the
 * watchdog included: nothing inside a stopped process can act, so the stop
 * is noticed once the process continues. A SIGCONT handler records whether
 * a plugin call was running then (and which); the watchdog (npah_process.c)
 * asks npah_stop_notice() at every tick, says so on stderr (or plugcheck
 * does as it exits, if that comes first: npah_exiting), and restarts
 * the deadline of the call that was stopped (the time stopped is not the
 * call's). A tick that comes far too late (the process stopped, its SIGCONT
 * not handled yet, or the watchdog starved) restarts the deadline too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "npah_internal.h"

uint32_t npah_describe_call(int kind, const uint8_t* label, uint32_t len, char* buf, uint32_t cap);

/* A nonblocking call that returned this recently (ms) when SIGCONT is handled is the call that was stopped. */
#define JUST_RETURNED_MS 500u

/* A watchdog tick this late (ms) does not count against a call: the process may have been stopped. */
#define LATE_TICK_MS 250u

static atomic_uint g_conts;            /* SIGCONTs handled */
static atomic_uint_fast64_t g_cont_ms; /* when the last one came */
static atomic_int g_cont_in_call;      /* a plugin call ran then */
static atomic_int g_cont_kind;
static atomic_uint g_cont_len;
static char g_cont_label[NPAH_LABEL_MAX];

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Async-signal-safe: atomics, clock_gettime and memcpy of the running call's name. */
static void on_cont(int sig) {
  (void)sig;
  int saved = errno;
  const uint8_t* label = NULL;
  uint32_t len = 0;
  int kind = NPAH_LABEL_TEXT;
  if (atomic_load(&npah_now.sync_depth) > 0) {
    kind = atomic_load(&npah_now.label_kind);
    label = atomic_load(&npah_now.label);
    len = atomic_load(&npah_now.label_len);
  } else if (atomic_load(&npah_now.async_inflight) > 0 ||
             mono_ms() - atomic_load(&npah_now.async_left_ms) <= JUST_RETURNED_MS) {
    /* Running, or it returned just now: the thread it ran on may have gone on before this handler ran. */
    kind = atomic_load(&npah_now.async_label_kind);
    label = (const uint8_t*)npah_now.async_label;
    len = atomic_load(&npah_now.async_label_len);
  }
  if (len > NPAH_LABEL_MAX) len = NPAH_LABEL_MAX;
  if (label != NULL) memcpy(g_cont_label, label, len);
  atomic_store(&g_cont_kind, kind);
  atomic_store(&g_cont_len, label != NULL ? len : 0);
  atomic_store(&g_cont_in_call, label != NULL);
  atomic_store(&g_cont_ms, mono_ms());
  atomic_fetch_add(&g_conts, 1);
  errno = saved;
}

/* Installs the SIGCONT handler (once; the watchdog thread calls it first). */
void npah_stop_watch(void) {
  static atomic_int installed;
  if (atomic_exchange(&installed, 1)) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_cont;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCONT, &sa, NULL);
}

static atomic_uint g_said;               /* SIGCONTs already told (or found outside a call) */
static atomic_uint_fast64_t g_last_tick; /* the watchdog's last tick before the newest one */

/*
 * Says on stderr that a plugin call was stopped, once per SIGCONT, whoever
 * asks first: the watchdog at its next tick, or plugcheck as it exits (it may
 * exit before the next tick). 1 when there was a SIGCONT not told yet.
 */
int npah_stop_say(void) {
  unsigned conts = atomic_load(&g_conts), said = atomic_load(&g_said);
  do {
    if (conts == said) return 0;
  } while (!atomic_compare_exchange_weak(&g_said, &said, conts));
  if (!atomic_load(&g_cont_in_call)) return 1; /* stopped between calls (Ctrl-Z, then fg): not the plugin's doing */
  char op[NPAH_LABEL_MAX + 32];
  npah_describe_call(atomic_load(&g_cont_kind), (const uint8_t*)g_cont_label, atomic_load(&g_cont_len), op, sizeof op);
  uint64_t at = atomic_load(&g_cont_ms), before = atomic_load(&g_last_tick);
  char text[NPAH_LABEL_MAX + 512];
  int n = snprintf(text, sizeof text,
                   "plugcheck: warning: the process was stopped (SIGSTOP or SIGTSTP) during %s and continued %llu ms "
                   "later; a plugin must never stop its host process\n"
                   "  hint: run it with --isolate: a stopped sandbox child misses the call's deadline and is killed\n",
                   op, (unsigned long long)(before != 0 && at > before ? at - before : 0));
  if (n > 0) {
    size_t left = (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    const char* p = text;
    while (left > 0) {
      ssize_t w = write(2, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      p += w;
      left -= (size_t)w;
    }
  }
  return 1;
}

/*
 * For the watchdog, at every tick: 1 when the process was stopped since the
 * last tick (said on stderr when a plugin call was running, see
 * npah_stop_say) or the tick came late; then the running call's deadline
 * starts again. `last_tick` is the previous tick's time (0 at first).
 */
int npah_stop_notice(uint64_t* last_tick) {
  uint64_t t = mono_ms(), before = *last_tick;
  *last_tick = t;
  atomic_store(&g_last_tick, before);
  if (npah_stop_say()) return 1;
  return before != 0 && t - before > LATE_TICK_MS;
}
