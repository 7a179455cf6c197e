/*
 * npah_fuzz_crash.c — the fuzz child's crash recorder: where a crash
 * happened, and where a hung plugin call is stuck.
 *
 * Fatal signals (SEGV, BUS, FPE, ILL, ABRT) are caught on an alternate stack:
 * the handler writes the signal, the faulting address and a short backtrace
 * as (module, offset) pairs into the mapping, then restores the previous
 * handler and lets the signal take its course (re-raised, or the faulting
 * instruction runs again). SIGUSR2 asks the loop thread for its backtrace
 * (the parent sends it to a hung child before killing it). The module table
 * the frames refer to is written into the mapping when the recorder is armed.
 *
 * Mapping layout: npah_fuzz.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "npah_fuzz.h"
#include "npah_internal.h"

typedef struct module_entry {
  uint64_t base, start, end;
  char path[FZ_MODULE_PATH];
} module_entry;

static fuzz_ctx* g_armed;
static atomic_int g_in_handler;
static uint32_t g_loop_tid;
static struct sigaction g_previous[NSIG];
static const int FATAL_SIGNALS[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

static int note_module(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  fuzz_ctx* c = data;
  volatile uint32_t* count = u32_at(c, OFF_NMODULES);
  if (*count >= FZ_MODULES) return 1;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uint64_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
    if (s < lo) lo = s;
    if (e > hi) hi = e;
  }
  if (hi == 0) return 0;
  module_entry* m = (module_entry*)(c->map + OFF_MODULES + *count * MODULE_SIZE);
  m->base = info->dlpi_addr;
  m->start = lo;
  m->end = hi;
  const char* name = info->dlpi_name;
  char exe[FZ_MODULE_PATH];
  if (name == NULL || name[0] == '\0') {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    name = exe;
  }
  size_t n = strlen(name);
  if (n >= FZ_MODULE_PATH) n = FZ_MODULE_PATH - 1;
  memcpy(m->path, name, n);
  m->path[n] = '\0';
  *count = *count + 1;
  return 0;
}

/* The module holding `pc` (index in the table) and the offset from its load base; module 0xffffffff if none. */
static void locate(fuzz_ctx* c, uint64_t pc, volatile uint32_t* module, volatile uint64_t* offset) {
  uint32_t n = *u32_at(c, OFF_NMODULES);
  for (uint32_t i = 0; i < n && i < FZ_MODULES; i++) {
    const module_entry* m = (const module_entry*)(c->map + OFF_MODULES + i * MODULE_SIZE);
    if (pc >= m->start && pc < m->end) {
      *module = i;
      *offset = pc - m->base;
      return;
    }
  }
  *module = UINT32_MAX;
  *offset = pc;
}

static uint64_t context_pc(void* uc) {
  ucontext_t* u = uc;
#if defined(__x86_64__)
  return (uint64_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uint64_t)u->uc_mcontext.pc;
#else
  (void)u;
  return 0;
#endif
}

/* Writes the interrupted thread's backtrace (starting at `pc`) as (module, offset) frames at `at`; returns the count. */
static uint32_t record_frames(fuzz_ctx* c, uint64_t pc, uint32_t at) {
  void* trace[FZ_FRAMES + 16];
  int got = backtrace(trace, (int)(sizeof trace / sizeof trace[0]));
  int from = -1;
  for (int i = 0; i < got; i++) {
    if ((uint64_t)(uintptr_t)trace[i] == pc) {
      from = i + 1;
      break;
    }
  }
  uint32_t n = 0;
  volatile uint8_t* frames = c->map + at;
  locate(c, pc, (volatile uint32_t*)(frames), (volatile uint64_t*)(frames + 8));
  n = 1;
  for (int i = from; from > 0 && i < got && n < FZ_FRAMES; i++, n++) {
    locate(c, (uint64_t)(uintptr_t)trace[i], (volatile uint32_t*)(frames + n * 16),
           (volatile uint64_t*)(frames + n * 16 + 8));
  }
  return n;
}

static void on_fatal(int sig, siginfo_t* si, void* uc) {
  fuzz_ctx* c = g_armed;
  if (c != NULL && !atomic_exchange(&g_in_handler, 1)) {
    /* The signal first: if the backtrace below hangs (a crash inside the loader), the parent still knows. */
    *u32_at(c, OFF_SICODE) = (uint32_t)si->si_code;
    *u64_at(c, OFF_ADDR) = (uint64_t)(uintptr_t)si->si_addr;
    uint64_t pc = context_pc(uc);
    *u64_at(c, OFF_PC) = pc;
    *u32_at(c, OFF_CRASH_TID) = (uint32_t)syscall(SYS_gettid);
    *u32_at(c, OFF_SIGNAL) = (uint32_t)sig;
    *u32_at(c, OFF_NFRAMES) = record_frames(c, pc, OFF_FRAMES);
  }
  /* Let the signal take its course: the previous handler (or the default) for the same signal; the default for a
   * stack that ran out (see npah_stack_overflow). */
  if (npah_stack_overflow(sig, si, uc)) signal(sig, SIG_DFL);
  else sigaction(sig, &g_previous[sig], NULL);
  if (si->si_code <= 0 || sig == SIGABRT) raise(sig); /* sent, not a fault: a return would not repeat it */
}

static void on_dump(int sig, siginfo_t* si, void* uc) {
  (void)sig, (void)si;
  fuzz_ctx* c = g_armed;
  if (c == NULL) return;
  if ((uint32_t)syscall(SYS_gettid) != g_loop_tid) {
    syscall(SYS_tgkill, getpid(), (pid_t)g_loop_tid, SIGUSR2); /* to the thread that runs the plugin */
    return;
  }
  *u32_at(c, OFF_HANG_NFRAMES) = record_frames(c, context_pc(uc), OFF_HANG_FRAMES);
  *u32_at(c, OFF_HANG_SEQ) = *u32_at(c, OFF_HANG_SEQ) + 1;
}

/*
 * Arms the crash recorder for this context, on the calling (loop) thread:
 * notes the loaded modules (call it once the target is loaded), an
 * alternate signal stack, handlers for the fatal signals and SIGUSR2. It may
 * be called again (a fork server arms itself, then each worker it forks).
 * Returns 0 or -errno.
 */
NPAH_EXPORT int32_t npah_fuzz_arm(void* ctx) {
  fuzz_ctx* c = ctx;
  *u32_at(c, OFF_NMODULES) = 0;
  dl_iterate_phdr(note_module, c);
  void* warm[2];
  backtrace(warm, 2); /* loads the unwinder now, not inside a signal handler */
  static uint8_t* alt;
  const size_t alt_size = 256 * 1024;
  if (alt == NULL) {
    alt = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (alt == MAP_FAILED) {
      alt = NULL;
      return -errno;
    }
  }
  stack_t ss = {.ss_sp = alt, .ss_size = alt_size, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) return -errno;
  g_loop_tid = (uint32_t)syscall(SYS_gettid);
  g_armed = c;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof FATAL_SIGNALS / sizeof FATAL_SIGNALS[0]; i++) {
    int s = FATAL_SIGNALS[i];
    struct sigaction before;
    if (sigaction(s, &sa, &before) != 0) return -errno;
    /* Armed again (a fork server's worker, armed after the server): the handler to chain to stays the first one. */
    if (!((before.sa_flags & SA_SIGINFO) && before.sa_sigaction == on_fatal)) g_previous[s] = before;
  }
  sa.sa_sigaction = on_dump;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  if (sigaction(SIGUSR2, &sa, NULL) != 0) return -errno;
  return 0;
}
