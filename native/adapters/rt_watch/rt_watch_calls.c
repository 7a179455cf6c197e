/*
 * rt_watch_calls.c — the watch's wrappers of locks, sleeps, file and stdio
 * functions (rt_watch.c holds the state and the memory functions). Each
 * counts the call (rtw_seen) and hands it on unchanged to the next
 * definition; a variadic one hands its arguments to the va_list twin.
 */
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "rt_watch_internal.h"

/* The next definition of `id` as type T, or: errno = ENOSYS and return `fallback` (a function this libc lacks). */
#define NEXT(T, id, fallback)            \
  __typeof__(T) f = (T)rtw_real(NPA_RT_##id); \
  if (f == NULL) {                       \
    errno = ENOSYS;                      \
    return fallback;                     \
  }

/* ---- locks and waits (they return an error number, not -1 and errno) ---- */

RTW_EXPORT int pthread_mutex_lock(pthread_mutex_t* m) {
  rtw_seen(NPA_RT_MUTEX_LOCK);
  NEXT(int (*)(pthread_mutex_t*), MUTEX_LOCK, ENOSYS);
  return f(m);
}

RTW_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* restrict m, const struct timespec* restrict t) {
  rtw_seen(NPA_RT_MUTEX_TIMEDLOCK);
  NEXT(int (*)(pthread_mutex_t*, const struct timespec*), MUTEX_TIMEDLOCK, ENOSYS);
  return f(m, t);
}

RTW_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t* l) {
  rtw_seen(NPA_RT_RWLOCK_RDLOCK);
  NEXT(int (*)(pthread_rwlock_t*), RWLOCK_RDLOCK, ENOSYS);
  return f(l);
}

RTW_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t* l) {
  rtw_seen(NPA_RT_RWLOCK_WRLOCK);
  NEXT(int (*)(pthread_rwlock_t*), RWLOCK_WRLOCK, ENOSYS);
  return f(l);
}

RTW_EXPORT int pthread_join(pthread_t t, void** out) {
  rtw_seen(NPA_RT_PTHREAD_JOIN);
  NEXT(int (*)(pthread_t, void**), PTHREAD_JOIN, ENOSYS);
  return f(t, out);
}

RTW_EXPORT int sem_wait(sem_t* s) {
  rtw_seen(NPA_RT_SEM_WAIT);
  NEXT(int (*)(sem_t*), SEM_WAIT, -1);
  return f(s);
}

RTW_EXPORT int sem_timedwait(sem_t* restrict s, const struct timespec* restrict t) {
  rtw_seen(NPA_RT_SEM_TIMEDWAIT);
  NEXT(int (*)(sem_t*, const struct timespec*), SEM_TIMEDWAIT, -1);
  return f(s, t);
}

/* ---- sleeps ---------------------------------------------------------------- */

RTW_EXPORT int nanosleep(const struct timespec* t, struct timespec* rem) {
  rtw_seen(NPA_RT_NANOSLEEP);
  NEXT(int (*)(const struct timespec*, struct timespec*), NANOSLEEP, -1);
  return f(t, rem);
}

RTW_EXPORT int clock_nanosleep(clockid_t c, int flags, const struct timespec* t, struct timespec* rem) {
  rtw_seen(NPA_RT_CLOCK_NANOSLEEP);
  NEXT(int (*)(clockid_t, int, const struct timespec*, struct timespec*), CLOCK_NANOSLEEP, ENOSYS);
  return f(c, flags, t, rem);
}

RTW_EXPORT int usleep(useconds_t us) {
  rtw_seen(NPA_RT_USLEEP);
  NEXT(int (*)(useconds_t), USLEEP, -1);
  return f(us);
}

RTW_EXPORT unsigned int sleep(unsigned int s) {
  rtw_seen(NPA_RT_SLEEP);
  NEXT(unsigned int (*)(unsigned int), SLEEP, s);
  return f(s);
}

/* ---- files ----------------------------------------------------------------- */

RTW_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  rtw_seen(NPA_RT_READ);
  NEXT(ssize_t (*)(int, void*, size_t), READ, -1);
  return f(fd, buf, n);
}

RTW_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  rtw_seen(NPA_RT_READ_CHK);
  NEXT(ssize_t (*)(int, void*, size_t, size_t), READ_CHK, -1);
  return f(fd, buf, n, buflen);
}

RTW_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  rtw_seen(NPA_RT_WRITE);
  NEXT(ssize_t (*)(int, const void*, size_t), WRITE, -1);
  return f(fd, buf, n);
}

/* open's third argument exists only when the flags create a file. */
static mode_t mode_of(int flags, va_list ap) {
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

RTW_EXPORT int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_of(flags, ap);
  va_end(ap);
  rtw_seen(NPA_RT_OPEN);
  NEXT(int (*)(const char*, int, ...), OPEN, -1);
  return f(path, flags, mode);
}

RTW_EXPORT int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_of(flags, ap);
  va_end(ap);
  rtw_seen(NPA_RT_OPEN64);
  NEXT(int (*)(const char*, int, ...), OPEN64, -1);
  return f(path, flags, mode);
}

RTW_EXPORT int openat(int dir, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_of(flags, ap);
  va_end(ap);
  rtw_seen(NPA_RT_OPENAT);
  NEXT(int (*)(int, const char*, int, ...), OPENAT, -1);
  return f(dir, path, flags, mode);
}

RTW_EXPORT int poll(struct pollfd* fds, nfds_t n, int timeout) {
  rtw_seen(NPA_RT_POLL);
  NEXT(int (*)(struct pollfd*, nfds_t, int), POLL, -1);
  return f(fds, n, timeout);
}

RTW_EXPORT int select(int n, fd_set* restrict r, fd_set* restrict w, fd_set* restrict e, struct timeval* restrict t) {
  rtw_seen(NPA_RT_SELECT);
  NEXT(int (*)(int, fd_set*, fd_set*, fd_set*, struct timeval*), SELECT, -1);
  return f(n, r, w, e, t);
}

/* ---- stdio ----------------------------------------------------------------- */

RTW_EXPORT FILE* fopen(const char* restrict path, const char* restrict mode) {
  rtw_seen(NPA_RT_FOPEN);
  NEXT(FILE * (*)(const char*, const char*), FOPEN, NULL);
  return f(path, mode);
}

RTW_EXPORT FILE* fopen64(const char* restrict path, const char* restrict mode) {
  rtw_seen(NPA_RT_FOPEN64);
  NEXT(FILE * (*)(const char*, const char*), FOPEN64, NULL);
  return f(path, mode);
}

RTW_EXPORT int fclose(FILE* s) {
  rtw_seen(NPA_RT_FCLOSE);
  NEXT(int (*)(FILE*), FCLOSE, EOF);
  return f(s);
}

RTW_EXPORT size_t fread(void* restrict p, size_t size, size_t n, FILE* restrict s) {
  rtw_seen(NPA_RT_FREAD);
  NEXT(size_t (*)(void*, size_t, size_t, FILE*), FREAD, 0);
  return f(p, size, n, s);
}

RTW_EXPORT size_t fwrite(const void* restrict p, size_t size, size_t n, FILE* restrict s) {
  rtw_seen(NPA_RT_FWRITE);
  NEXT(size_t (*)(const void*, size_t, size_t, FILE*), FWRITE, 0);
  return f(p, size, n, s);
}

RTW_EXPORT int fflush(FILE* s) {
  rtw_seen(NPA_RT_FFLUSH);
  NEXT(int (*)(FILE*), FFLUSH, EOF);
  return f(s);
}

RTW_EXPORT int fputs(const char* restrict text, FILE* restrict s) {
  rtw_seen(NPA_RT_FPUTS);
  NEXT(int (*)(const char*, FILE*), FPUTS, EOF);
  return f(text, s);
}

RTW_EXPORT int puts(const char* text) {
  rtw_seen(NPA_RT_PUTS);
  NEXT(int (*)(const char*), PUTS, EOF);
  return f(text);
}

/* The printf family: each variadic wrapper calls the next va_list twin (counted as itself only). */
typedef int (*VprintfFn)(const char*, va_list);
typedef int (*VfprintfFn)(FILE*, const char*, va_list);
typedef int (*VprintfChkFn)(int, const char*, va_list);
typedef int (*VfprintfChkFn)(FILE*, int, const char*, va_list);
int __printf_chk(int flag, const char* fmt, ...);
int __fprintf_chk(FILE* s, int flag, const char* fmt, ...);
int __vprintf_chk(int flag, const char* fmt, va_list ap);
int __vfprintf_chk(FILE* s, int flag, const char* fmt, va_list ap);

RTW_EXPORT int vprintf(const char* restrict fmt, va_list ap) {
  rtw_seen(NPA_RT_VPRINTF);
  NEXT(VprintfFn, VPRINTF, -1);
  return f(fmt, ap);
}

RTW_EXPORT int vfprintf(FILE* restrict s, const char* restrict fmt, va_list ap) {
  rtw_seen(NPA_RT_VFPRINTF);
  NEXT(VfprintfFn, VFPRINTF, -1);
  return f(s, fmt, ap);
}

RTW_EXPORT int printf(const char* restrict fmt, ...) {
  rtw_seen(NPA_RT_PRINTF);
  NEXT(VprintfFn, VPRINTF, -1);
  va_list ap;
  va_start(ap, fmt);
  int r = f(fmt, ap);
  va_end(ap);
  return r;
}

RTW_EXPORT int fprintf(FILE* restrict s, const char* restrict fmt, ...) {
  rtw_seen(NPA_RT_FPRINTF);
  NEXT(VfprintfFn, VFPRINTF, -1);
  va_list ap;
  va_start(ap, fmt);
  int r = f(s, fmt, ap);
  va_end(ap);
  return r;
}

RTW_EXPORT int __vprintf_chk(int flag, const char* fmt, va_list ap) {
  rtw_seen(NPA_RT_VPRINTF_CHK);
  NEXT(VprintfChkFn, VPRINTF_CHK, -1);
  return f(flag, fmt, ap);
}

RTW_EXPORT int __vfprintf_chk(FILE* s, int flag, const char* fmt, va_list ap) {
  rtw_seen(NPA_RT_VFPRINTF_CHK);
  NEXT(VfprintfChkFn, VFPRINTF_CHK, -1);
  return f(s, flag, fmt, ap);
}

RTW_EXPORT int __printf_chk(int flag, const char* fmt, ...) {
  rtw_seen(NPA_RT_PRINTF_CHK);
  NEXT(VprintfChkFn, VPRINTF_CHK, -1);
  va_list ap;
  va_start(ap, fmt);
  int r = f(flag, fmt, ap);
  va_end(ap);
  return r;
}

RTW_EXPORT int __fprintf_chk(FILE* s, int flag, const char* fmt, ...) {
  rtw_seen(NPA_RT_FPRINTF_CHK);
  NEXT(VfprintfChkFn, VFPRINTF_CHK, -1);
  va_list ap;
  va_start(ap, fmt);
  int r = f(s, flag, fmt, ap);
  va_end(ap);
  return r;
}
