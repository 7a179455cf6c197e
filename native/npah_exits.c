/*
 * npah_exits.c — the exit guard: a plugin that ends plugcheck's process
 * instead of returning a status becomes a reported failure, and a plugin
 * that ends it while plugcheck exits cannot change plugcheck's exit code.
 *
 *   - exit(): glibc's on_exit sees an exit() called during a plugin call (or
 *     from a plugin thread) and turns it into a failure that names the call
 *     and the status, with the exit code plugcheck chose.
 *   - _exit(), _Exit(), quick_exit() skip on_exit. Once a plugin is loaded,
 *     its own slots for them (and for exit) are rebound (npah_hooks.c) to the
 *     hooks below: during a call (or unloading) they report like the exit
 *     guard; while plugcheck exits (an atexit handler or library destructor
 *     of the plugin), they keep plugcheck's exit code and say so on stderr.
 *     Without a guard (a library user's process, a sandbox child) they report
 *     on stderr and let the plugin's exit proceed.
 *   - unloading: while a library is unloaded, a crash (its destructor
 *     aborts) is reported as a failure of unloading.
 * What none of this sees (a raw exit_group system call, _exit reached
 * through dlsym or another library, a constructor's exit inside dlopen) is
 * left to --isolate, where a child that ends in the middle of a call is a
 * crash whatever its status.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npah_internal.h"

static const char EXIT_HINT[] =
    "replace the exit with an error status; --isolate shows what else the plugin does to its process";
static const char UNLOAD_EXIT_HINT[] = "a library destructor or atexit handler must return, never end the process";

static const char* hint_for(const char* op) {
  return strncmp(op, "unload ", 7) == 0 ? UNLOAD_EXIT_HINT : EXIT_HINT;
}

/* "during the call", or what unloading means, for the call now running (op). */
static const char* when(const char* op, int in_call) {
  if (strncmp(op, "unload ", 7) == 0) return "while unloading (in a library destructor or atexit handler)";
  return in_call ? "during the call" : "outside any call (from a thread of its own)";
}

/* ---- exit() ------------------------------------------------------------- */

/* The process the guards were installed in: a process the plugin forked inherits the hooks, and its own end
 * (the middle of a daemon's double fork, a helper it spawned) is not the host's. */
static atomic_int g_host_pid;

static int in_forked_child(void) { return getpid() != atomic_load(&g_host_pid); }

static void exit_hook(int status, void* arg) {
  (void)arg;
  if (in_forked_child()) return;
  /* plugcheck's own exit (or the plugin's exit() within it: the exit hook below deals with that). */
  if (atomic_load(&npah_exiting_code) >= 0) return;
  /* On the JS thread, an exit outside a plugin call is plugcheck's (or the host's) own. No other
   * thread of the runtime calls exit(): from any other thread it is the plugin's. */
  if (npah_on_js_thread() && atomic_load(&npah_now.sync_depth) == 0) return;
  char op[NPAH_LABEL_MAX + 32];
  int in_call = npah_current_call(op, sizeof op);
  char why[256];
  snprintf(why, sizeof why, "the plugin called exit(%d) %s; a plugin must return a status, never end its host process",
           status, when(op, in_call));
  npah_report(op, why, "CRASH", "PluginCrashError", "exit_code", status, hint_for(op));
  int code = atomic_load(&npah_guard_exit_code);
  if (code >= 0) _exit(code);
}

/* Installs the exit guard (once); `exit_code` >= 0 replaces the plugin's status. Call from the JS thread. */
NPAH_EXPORT int32_t npah_exit_guard(int32_t exit_code, int32_t json) {
  static atomic_int installed;
  npah_remember_js_thread();
  atomic_store(&g_host_pid, getpid());
  atomic_store(&npah_guard_exit_code, exit_code);
  atomic_store(&npah_guard_json, json != 0);
  if (!atomic_exchange(&installed, 1) && on_exit(exit_hook, NULL) != 0) return -1;
  return 0;
}

/* ---- the plugin's own _exit, _Exit, quick_exit and exit ------------------ */

/* plugcheck is exiting: the plugin's exit must not replace its code. A warning: the results are out. */
static _Noreturn void keep_exit_code(const char* fn, int status, int code) {
  char text[512];
  int n = snprintf(text, sizeof text,
                   "plugcheck: warning: the plugin called %s(%d) from an atexit handler or library destructor while "
                   "plugcheck exited with code %d; plugcheck keeps its exit code\n"
                   "  hint: a plugin's exit handlers and destructors must not end the process\n",
                   fn, status, code);
  if (n > 0) {
    ssize_t w = write(2, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    (void)w;
  }
  _exit(code);
}

static _Noreturn void plugin_exit(const char* fn, int status, void (*proceed)(int)) {
  if (in_forked_child()) {
    proceed(status);
    __builtin_unreachable();
  }
  int exiting = atomic_load(&npah_exiting_code);
  if (exiting >= 0) keep_exit_code(fn, status, exiting);
  char op[NPAH_LABEL_MAX + 32];
  int in_call = npah_current_call(op, sizeof op);
  char why[320];
  snprintf(why, sizeof why, "the plugin called %s(%d) %s; a plugin must return a status, never end its host process",
           fn, status, when(op, in_call));
  npah_report(op, why, "CRASH", "PluginCrashError", "exit_code", status, hint_for(op));
  int code = atomic_load(&npah_guard_exit_code);
  if (code >= 0) _exit(code);
  proceed(status);
  __builtin_unreachable();
}

static void pass__exit(int status) { _exit(status); }
static void pass__Exit(int status) { _Exit(status); }
static void pass_quick_exit(int status) { quick_exit(status); }
static _Noreturn void hooked__exit(int status) { plugin_exit("_exit", status, pass__exit); }
static _Noreturn void hooked__Exit(int status) { plugin_exit("_Exit", status, pass__Exit); }
static _Noreturn void hooked_quick_exit(int status) { plugin_exit("quick_exit", status, pass_quick_exit); }

/* exit() during a call is the on_exit guard's (which also runs the exit handlers, as exit must); only an
 * exit() while plugcheck exits already needs this hook. */
static _Noreturn void hooked_exit(int status) {
  if (in_forked_child()) exit(status);
  int exiting = atomic_load(&npah_exiting_code);
  if (exiting >= 0) keep_exit_code("exit", status, exiting);
  exit(status);
}

/*
 * Rebinds the exit functions of the loaded library at `path` (its own GOT
 * slots) to the hooks above. Returns the number of slots rebound (0: it calls
 * none of them directly), -ENOSYS on an architecture without rebinding, or
 * another -errno.
 */
NPAH_EXPORT int32_t npah_hook_exits(const uint8_t* path, uint32_t len) {
  static const npah_rebinding exits[] = {
      {"_exit", (void*)hooked__exit},
      {"_Exit", (void*)hooked__Exit},
      {"quick_exit", (void*)hooked_quick_exit},
      {"exit", (void*)hooked_exit},
  };
  npah_remember_js_thread();
  atomic_store(&g_host_pid, getpid());
  void* h = npah_noload(path, len);
  if (h == NULL) return -ENOENT;
  int rc = npah_rebind(h, exits, sizeof exits / sizeof exits[0]);
  dlclose(h); /* drops only the reference NOLOAD took */
  return rc;
}

/*
 * plugcheck is about to exit with `code` (its results are out). From now on
 * a plugin's exit keeps that code, and the exit handlers and destructors that
 * run now are marked as a synchronous call, so the watchdog bounds them.
 */
NPAH_EXPORT void npah_exiting(int32_t code) {
  static const char label[] = "exit plugcheck (the plugin's atexit handlers and library destructors run)";
  npah_remember_js_thread();
  npah_stop_say(); /* a stop the watchdog has not told yet */
  atomic_store(&npah_guard_json, 0);
  atomic_store(&npah_exiting_code, code < 0 ? 1 : code);
  npah_sync_enter(NPAH_LABEL_TEXT, (const uint8_t*)label, sizeof label - 1);
}

/* ---- crashes while unloading --------------------------------------------- */

static const int CRASH_SIGNALS[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
#define CRASH_COUNT (sizeof CRASH_SIGNALS / sizeof CRASH_SIGNALS[0])
static struct sigaction g_saved[CRASH_COUNT];

static const char* signal_name(int sig) {
  switch (sig) {
    case SIGABRT: return "SIGABRT";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    default: return "SIGFPE";
  }
}

static void unload_crash(int sig) {
  char op[NPAH_LABEL_MAX + 32];
  npah_current_call(op, sizeof op);
  char why[256];
  snprintf(why, sizeof why, "the plugin crashed (%s) while unloading, in a library destructor or atexit handler",
           signal_name(sig));
  npah_report(op, why, "CRASH", "PluginCrashError", "signal_number", sig,
              "a library destructor must not crash; --isolate keeps the crash in a sandbox child");
  int code = atomic_load(&npah_guard_exit_code);
  if (code >= 0) _exit(code);
  /* No guard: die of the signal, as without this note (a fault repeats, a raised signal is raised again). */
  signal(sig, SIG_DFL);
  raise(sig);
}

/* While `on`, a crash is reported as a crash of unloading (call around dlclose, from the JS thread). */
NPAH_EXPORT void npah_crash_note(int32_t on) {
  static int active;
  if (on && !active) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = unload_crash;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < CRASH_COUNT; i++) sigaction(CRASH_SIGNALS[i], &sa, &g_saved[i]);
    active = 1;
  } else if (!on && active) {
    for (size_t i = 0; i < CRASH_COUNT; i++) sigaction(CRASH_SIGNALS[i], &g_saved[i], NULL);
    active = 0;
  }
}
