/*
 * npah_shared.c — a small file that two processes map MAP_SHARED: a sandbox
 * parent creates it, its child maps it too, and what the child writes there is
 * in the parent's mapping at once, and stays there after the child died (the
 * pages belong to the file, not to the process). The sandbox's call board
 * (lib/sandbox/call_board.ts) lives in one: the child marks each call of a
 * batch as it starts and returns, so the parent can name the call a crash or
 * a hang interrupted. Plain open/mmap, so Deno's permissions play no part.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npah_internal.h"

static int path_of(const uint8_t* path, uint32_t len, char* out, size_t cap) {
  if (len == 0 || len >= cap) {
    errno = EINVAL;
    return -1;
  }
  memcpy(out, path, len);
  out[len] = '\0';
  return 0;
}

static void* map_fd(int fd, uint32_t size) {
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int saved = errno;
  close(fd);
  errno = saved;
  return p == MAP_FAILED ? NULL : p;
}

/* Creates the file at `path` (it must not exist; mode 0600) with `size` zero bytes and maps it. NULL: errno set. */
NPAH_EXPORT void* npah_shared_create(const uint8_t* path, uint32_t len, uint32_t size) {
  char name[4096];
  if (path_of(path, len, name, sizeof name) != 0 || size == 0) return NULL;
  int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return NULL;
  if (ftruncate(fd, size) != 0) {
    int saved = errno;
    close(fd);
    unlink(name);
    errno = saved;
    return NULL;
  }
  void* p = map_fd(fd, size);
  if (p == NULL) {
    int saved = errno;
    unlink(name);
    errno = saved;
  }
  return p;
}

/* Maps the existing file at `path`, which must hold at least `size` bytes. NULL: errno set. */
NPAH_EXPORT void* npah_shared_open(const uint8_t* path, uint32_t len, uint32_t size) {
  char name[4096];
  if (path_of(path, len, name, sizeof name) != 0 || size == 0) return NULL;
  int fd = open(name, O_RDWR | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)size) {
    close(fd);
    errno = EINVAL;
    return NULL;
  }
  return map_fd(fd, size);
}

/* Removes the file at `path` (the mappings stay). Returns 0 or -errno. */
NPAH_EXPORT int32_t npah_shared_remove(const uint8_t* path, uint32_t len) {
  char name[4096];
  if (path_of(path, len, name, sizeof name) != 0) return -errno;
  return unlink(name) == 0 ? 0 : -errno;
}

/* Unmaps what npah_shared_create or npah_shared_open mapped. Returns 0 or -errno. */
NPAH_EXPORT int32_t npah_shared_unmap(void* p, uint32_t size) {
  return munmap(p, size) == 0 ? 0 : -errno;
}
