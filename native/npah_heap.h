/*
 * npah_heap.h — the heap table (npah_heap.c) as the allocation hooks
 * (npah_heap_hooks.c) use it.
 */
#ifndef NPAH_HEAP_H
#define NPAH_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* One live block a hooked library allocated. */
typedef struct {
  uintptr_t ptr; /* 0: empty */
  uint64_t size;
  uint64_t serial;
  int32_t lib;
  int32_t stack;
} npah_heap_entry;

/* Records `p` (NULL: nothing), allocated from `pc` in a hooked library. */
void npah_heap_track(void* p, size_t size, uintptr_t pc);
/* Forgets `p`; returns its record (ptr 0 when it was not recorded). */
npah_heap_entry npah_heap_untrack(void* p);
/* Puts back a record a failed realloc had taken out. */
void npah_heap_retrack(npah_heap_entry e);
/* Registers the library mapped at `base` (its executable segments tell its call sites): its id, or -ENOSPC. */
int npah_heap_add_library(uintptr_t base);

#endif
