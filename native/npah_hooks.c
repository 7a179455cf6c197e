/*
 * npah_hooks.c — rebinding one loaded library's calls into other libraries.
 *
 * A shared library reaches a function of another library (libc's _exit, say)
 * through a slot of its global offset table: the PLT jump slot a call goes
 * through (R_X86_64_JUMP_SLOT), the GOT entry a -fno-plt call or a function
 * pointer is read from (R_X86_64_GLOB_DAT), or a pointer stored in its data
 * (R_X86_64_64). npah_rebind() finds those slots of one library (through
 * dl_iterate_phdr and its dynamic section) and points them at a replacement;
 * a slot in the RELRO segment is made writable for the store and read-only
 * again after it. Only that library's calls change: every other caller of the
 * function (plugcheck, Deno, other libraries) still reaches the original.
 *
 * What it cannot see: calls the library makes through dlsym(), calls from
 * the libraries it depends on, raw system calls, and anything the library
 * does before the rebinding (its constructors run inside dlopen).
 *
 * x86-64 only: on other architectures npah_rebind hooks nothing and returns
 * -ENOSYS, which callers report as "not hooked on this architecture".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "npah_internal.h"

#if defined(__x86_64__)

typedef struct {
  ElfW(Addr) base;
  ElfW(Addr) relro_start, relro_end;
  int found;
} object_info;

static int find_object(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  object_info* o = (object_info*)data;
  if (info->dlpi_addr != o->base) return 0;
  o->found = 1;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_GNU_RELRO) continue;
    o->relro_start = info->dlpi_addr + ph->p_vaddr;
    o->relro_end = o->relro_start + ph->p_memsz;
  }
  return 1;
}

/* Stores `value` into `slot`, lifting RELRO's write protection around the store. 0 or -errno. */
static int write_slot(const object_info* o, ElfW(Addr)* slot, void* value) {
  ElfW(Addr) at = (ElfW(Addr))slot;
  int relro = at >= o->relro_start && at < o->relro_end;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  void* start = (void*)(at & ~(page - 1));
  if (relro && mprotect(start, page, PROT_READ | PROT_WRITE) != 0) return -errno;
  __atomic_store_n(slot, (ElfW(Addr))value, __ATOMIC_SEQ_CST);
  if (relro) mprotect(start, page, PROT_READ);
  return 0;
}

/* Glibc relocates most pointers of a writable dynamic section in place; a read-only one keeps offsets. */
static ElfW(Addr) dyn_ptr(ElfW(Addr) v, ElfW(Addr) base) {
  return v < base ? v + base : v;
}

typedef struct {
  const ElfW(Sym)* symtab;
  const char* strtab;
  size_t strsz;
} symbols;

static int rebind_table(const object_info* o, const symbols* s, const ElfW(Rela)* rela, size_t count,
                        const npah_rebinding* list, size_t n) {
  int done = 0;
  for (size_t i = 0; i < count; i++) {
    uint32_t type = ELF64_R_TYPE(rela[i].r_info);
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT && !(type == R_X86_64_64 && rela[i].r_addend == 0))
      continue;
    uint32_t sym = ELF64_R_SYM(rela[i].r_info);
    if (sym == 0) continue;
    ElfW(Word) name_at = s->symtab[sym].st_name;
    if (name_at >= s->strsz) continue;
    const char* name = s->strtab + name_at;
    for (size_t k = 0; k < n; k++) {
      if (strcmp(name, list[k].name) != 0) continue;
      int rc = write_slot(o, (ElfW(Addr)*)(o->base + rela[i].r_offset), list[k].replacement);
      if (rc != 0) return rc;
      done++;
      break;
    }
  }
  return done;
}

int npah_rebind(void* handle, const npah_rebinding* list, size_t n) {
  struct link_map* map = NULL;
  if (handle == NULL || dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == NULL) return -ENOENT;
  object_info o = {.base = map->l_addr};
  dl_iterate_phdr(find_object, &o);
  if (!o.found || o.base == 0) return -ENOENT;
  symbols s = {0};
  const ElfW(Rela)*rela = NULL, *jmprel = NULL;
  size_t relasz = 0, pltrelsz = 0;
  ElfW(Sxword) pltrel = DT_RELA;
  for (const ElfW(Dyn)* d = map->l_ld; d->d_tag != DT_NULL; d++) {
    switch (d->d_tag) {
      case DT_SYMTAB: s.symtab = (const ElfW(Sym)*)dyn_ptr(d->d_un.d_ptr, o.base); break;
      case DT_STRTAB: s.strtab = (const char*)dyn_ptr(d->d_un.d_ptr, o.base); break;
      case DT_STRSZ: s.strsz = d->d_un.d_val; break;
      case DT_RELA: rela = (const ElfW(Rela)*)dyn_ptr(d->d_un.d_ptr, o.base); break;
      case DT_RELASZ: relasz = d->d_un.d_val; break;
      case DT_JMPREL: jmprel = (const ElfW(Rela)*)dyn_ptr(d->d_un.d_ptr, o.base); break;
      case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
      case DT_PLTREL: pltrel = (ElfW(Sxword))d->d_un.d_val; break;
      default: break;
    }
  }
  if (s.symtab == NULL || s.strtab == NULL) return -ENOEXEC;
  int total = 0, rc;
  if (rela != NULL) {
    rc = rebind_table(&o, &s, rela, relasz / sizeof *rela, list, n);
    if (rc < 0) return rc;
    total += rc;
  }
  if (jmprel != NULL && pltrel == DT_RELA) {
    rc = rebind_table(&o, &s, jmprel, pltrelsz / sizeof *jmprel, list, n);
    if (rc < 0) return rc;
    total += rc;
  }
  return total;
}

#else

int npah_rebind(void* handle, const npah_rebinding* list, size_t n) {
  (void)handle;
  (void)list;
  (void)n;
  return -ENOSYS;
}

#endif
