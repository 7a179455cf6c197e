/*
 * npah_signals.c — how this process handles the signals a host relies on
 * (SIGINT, SIGTERM, SIGCHLD, SIGPIPE) and its umask, read without changing
 * them, so plugcheck can tell when a plugin changed them
 * (lib/plugin/process_state.ts).
 */
#define _GNU_SOURCE
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "npah_internal.h"

/* ---- signal dispositions and umask --------------------------------------- */

typedef struct {
  uintptr_t addr;
  int inside;
} npah_main_hit;

/* dl_iterate_phdr visits the main program first: is the address in one of its loaded segments? */
static int main_program_hit(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  npah_main_hit* hit = data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && hit->addr >= lo && hit->addr - lo < ph->p_memsz) hit->inside = 1;
  }
  return 1; /* the main program only */
}

/*
 * How this process handles each of `n` signals: out[i] is 0 default, 1
 * ignored, 2 a handler in the main program (the host's own runtime), 3 a
 * handler in a library, -1 unknown. Returns the umask (read from
 * /proc/self/status, so not changed for a moment as umask() would), or -1.
 */
NPAH_EXPORT int32_t npah_signal_state(const int32_t* signals, uint32_t n, int32_t* out) {
  for (uint32_t i = 0; i < n; i++) {
    struct sigaction sa;
    if (sigaction(signals[i], NULL, &sa) != 0) {
      out[i] = -1;
      continue;
    }
    void* h = (sa.sa_flags & SA_SIGINFO) ? (void*)sa.sa_sigaction : (void*)sa.sa_handler;
    if (h == (void*)SIG_DFL) {
      out[i] = 0;
    } else if (h == (void*)SIG_IGN) {
      out[i] = 1;
    } else {
      npah_main_hit hit = {(uintptr_t)h, 0};
      dl_iterate_phdr(main_program_hit, &hit);
      out[i] = hit.inside ? 2 : 3;
    }
  }
  char buf[4096];
  if (npah_read_small("/proc/self/status", buf, sizeof buf) < 0) return -1;
  const char* at = strstr(buf, "\nUmask:");
  if (at == NULL) return -1;
  return (int32_t)strtol(at + 7, NULL, 8);
}
