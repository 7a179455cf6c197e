/*
 * npah_leave_preload.h — a preloaded library takes itself out of LD_PRELOAD.
 *
 * Shared by the native helper (npah_threads.c) and the real-time watch
 * (adapters/rt_watch/rt_watch.c): each is preloaded into a sandbox child and
 * must not be inherited by the programs the plugin runs, while the other
 * entries (a sanitizer runtime, each other) stay. Call it from a constructor,
 * before any other thread exists (setenv is not thread-safe). `self` is any
 * address inside the calling library.
 */
#ifndef NPAH_LEAVE_PRELOAD_H
#define NPAH_LEAVE_PRELOAD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static inline void npah_leave_ld_preload(const void* self) {
  const char* list = getenv("LD_PRELOAD");
  Dl_info info;
  if (list == NULL || dladdr(self, &info) == 0 || info.dli_fname == NULL) return;
  char kept[4096];
  size_t at = 0;
  const char* p = list;
  while (*p != '\0') {
    size_t len = strcspn(p, ": ");
    if (len > 0 && !(strlen(info.dli_fname) == len && strncmp(p, info.dli_fname, len) == 0)) {
      if (at + len + 2 > sizeof kept) return; /* too long to rewrite: leave it as it is */
      if (at > 0) kept[at++] = ':';
      memcpy(kept + at, p, len);
      at += len;
    }
    p += len;
    while (*p == ':' || *p == ' ') p++;
  }
  kept[at] = '\0';
  if (at == 0) unsetenv("LD_PRELOAD");
  else setenv("LD_PRELOAD", kept, 1);
}

#endif
