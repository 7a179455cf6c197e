/*
 * npah_blame.c — which call a fatal signal hit. Every plugin call made
 * through the helper (npah_call, npah_call_nb) marks its thread with the
 * call's method and input while it runs (a thread-local pointer pair: two
 * stores). A sandbox child arms this with a "blame area" in its call board
 * (npah_shared.c): the first fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT, SIGTRAP, SIGSYS) copies the faulting thread's call, or that no
 * invoke ran on that thread (a create or destroy, which Deno calls directly,
 * or a thread of the plugin's own), into the area, where the parent
 * reads it after the child died. So a crash with calls in flight on several
 * lanes names the call whose thread faulted, not the one started last.
 *
 * The handler is async-signal-safe (plain stores, a compare-and-swap, no
 * allocation, no locks) and chained: afterwards whatever handler was there
 * before (the sanitizer's, Deno's, Rust's) runs, or the default action.
 * A handler the plugin installs later replaces this one: then nothing is
 * noted and the parent says it does not know the culprit.
 *
 * Area layout (u32 words, then bytes): state (0 nothing, 1 writing, 2 a call
 * faulted, 3 a thread outside any call faulted), signal, method length,
 * input length (whole), input bytes kept, then the method's bytes (at most
 * NPAH_BLAME_METHOD_MAX), then the input's (as many as fit).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>

#include "npah_internal.h"

__thread npah_blame_call npah_blame_now __attribute__((tls_model("initial-exec")));

enum { B_STATE, B_SIGNAL, B_METHOD_LEN, B_INPUT_LEN, B_INPUT_KEPT, B_WORDS };
#define NPAH_BLAME_METHOD_MAX 1024u

static const int k_fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
#define K_FATAL (sizeof k_fatal / sizeof k_fatal[0])

static uint32_t* g_area;
static uint32_t g_area_bytes;
static struct sigaction g_old[K_FATAL];
static atomic_int g_armed;

static void note(int sig) {
  uint32_t* w = g_area;
  if (w == NULL || g_area_bytes < B_WORDS * 4 + NPAH_BLAME_METHOD_MAX) return;
  _Atomic uint32_t* state = (_Atomic uint32_t*)&w[B_STATE];
  uint32_t idle = 0;
  if (!atomic_compare_exchange_strong(state, &idle, 1)) return; /* the first fault is the one noted */
  const npah_blame_call* c = &npah_blame_now;
  w[B_SIGNAL] = (uint32_t)sig;
  uint32_t done = 3;
  if (c->method != NULL) {
    uint8_t* bytes = (uint8_t*)&w[B_WORDS];
    uint32_t mlen = c->method_len < NPAH_BLAME_METHOD_MAX ? c->method_len : NPAH_BLAME_METHOD_MAX;
    uint32_t room = g_area_bytes - B_WORDS * 4 - NPAH_BLAME_METHOD_MAX;
    uint32_t ilen = c->input_len < room ? c->input_len : room;
    memcpy(bytes, c->method, mlen);
    if (ilen > 0 && c->input != NULL) memcpy(bytes + NPAH_BLAME_METHOD_MAX, c->input, ilen);
    w[B_METHOD_LEN] = mlen;
    w[B_INPUT_LEN] = c->input_len;
    w[B_INPUT_KEPT] = c->input == NULL ? 0 : ilen;
    done = 2;
  }
  atomic_store_explicit(state, done, memory_order_release);
}

/*
 * A SIGSEGV within 64 KiB of the interrupted thread's stack pointer: its stack ran out (a large array on the stack, a
 * deep recursion). Then no handler may chain to Rust's (Deno's threads have one): on a stack that overflowed in
 * foreign code it loops for ever ("a thread received SIGSEGV while modifying its stack overflow information"), and a
 * sandbox child hangs until its deadline, a crash reported as a hang. The default action ends the process instead.
 */
int npah_stack_overflow(int sig, const void* si, const void* uc) {
  const siginfo_t* info = si;
  if (sig != SIGSEGV || info == NULL || uc == NULL || info->si_code <= 0) return 0;
#if defined(__x86_64__) || defined(__aarch64__)
#if defined(__x86_64__)
  uintptr_t sp = (uintptr_t)((const ucontext_t*)uc)->uc_mcontext.gregs[REG_RSP];
#else
  uintptr_t sp = (uintptr_t)((const ucontext_t*)uc)->uc_mcontext.sp;
#endif
  uintptr_t addr = (uintptr_t)info->si_addr;
  return addr + 65536u > sp && addr < sp + 65536u;
#else
  return 0; /* no stack pointer to compare with: the handlers chain as before */
#endif
}

static void on_fatal(int sig, siginfo_t* info, void* uctx) {
  note(sig);
  if (npah_stack_overflow(sig, info, uctx)) {
    signal(sig, SIG_DFL); /* the fault repeats on return, and now ends the process */
    return;
  }
  for (unsigned i = 0; i < K_FATAL; i++) {
    if (k_fatal[i] != sig) continue;
    const struct sigaction* old = &g_old[i];
    if (old->sa_flags & SA_SIGINFO) {
      if (old->sa_sigaction != NULL) {
        old->sa_sigaction(sig, info, uctx);
        return;
      }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
      old->sa_handler(sig);
      return;
    }
  }
  /* The default action: a fault re-runs the instruction and now kills; a sent signal is sent again. */
  signal(sig, SIG_DFL);
  if (info == NULL || info->si_code <= 0) raise(sig);
}

/*
 * Arms the note of fatal signals into `area` (`bytes` long, shared with the
 * parent): installs the chained handler once. Returns 0, or -errno.
 */
NPAH_EXPORT int32_t npah_blame_arm(uint8_t* area, uint32_t bytes) {
  if (area == NULL || bytes < B_WORDS * 4 + NPAH_BLAME_METHOD_MAX) return -22;
  g_area_bytes = bytes;
  g_area = (uint32_t*)area;
  if (atomic_exchange(&g_armed, 1)) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (unsigned i = 0; i < K_FATAL; i++) {
    if (sigaction(k_fatal[i], &sa, &g_old[i]) != 0) return -1;
  }
  return 0;
}
