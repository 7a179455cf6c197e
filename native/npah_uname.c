/*
 * npah_uname.c — the kernel's release (`uname -r`), for the provenance of a
 * report (lib/load/provenance.ts): Deno gives it only with --allow-sys, and
 * reads of /proc only with --allow-all, neither of which plugcheck asks for.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/utsname.h>

#include "npah_internal.h"

/* Writes the release (not terminated) into out, at most cap bytes. Returns its length, 0 when unknown. */
NPAH_EXPORT uint32_t npah_kernel_release(uint8_t* out, uint32_t cap) {
  struct utsname u;
  if (uname(&u) != 0) return 0;
  size_t n = strnlen(u.release, sizeof u.release);
  if (n > cap) n = cap;
  memcpy(out, u.release, n);
  return (uint32_t)n;
}
