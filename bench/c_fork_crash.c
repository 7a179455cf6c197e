/*
 * c_fork_crash — the floor under a fuzz fork server's known crash: a C
 * process that loads a libFuzzer harness once, then N times forks a child
 * that runs one crashing input (under the AddressSanitizer runtime the
 * caller preloads: the report, the abort, the process's end) and waits for
 * it. Prints the milliseconds a crash costs. bench/fuzz_vs_libfuzzer.ts runs
 * it beside plugcheck's crash storm, with the environment plugcheck's fork
 * server gets; the children's stderr goes where this process's goes. Like
 * the fork server, it has the sanitizer list the loaded modules once before
 * it forks, so that no child's report builds that list again.
 *
 *     c_fork_crash <harness.so> <input byte> <N>
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef int (*test_one_fn)(const uint8_t*, size_t);

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: c_fork_crash <harness.so> <input byte> <N>\n");
    return 2;
  }
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  test_one_fn one = h != NULL ? (test_one_fn)dlsym(h, "LLVMFuzzerTestOneInput") : NULL;
  if (one == NULL) {
    fprintf(stderr, "c_fork_crash: %s\n", h == NULL ? dlerror() : "no LLVMFuzzerTestOneInput");
    return 1;
  }
  int (*module_of)(void*, char*, size_t, void**);
  *(void**)&module_of = dlsym(RTLD_DEFAULT, "__sanitizer_get_module_and_offset_for_pc");
  if (module_of != NULL) { /* as the fork server does (native/fuzz_server/npah_fuzz_server.c) */
    char name[256];
    void* offset;
    (void)module_of((void*)(uintptr_t)one, name, sizeof name, &offset);
  }
  uint8_t input[1] = {(uint8_t)atoi(argv[2])};
  int n = atoi(argv[3]), crashed = 0;
  double t0 = now_ms();
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      one(input, sizeof input);
      _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) return 1;
    crashed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  printf("%.3f ms a crash (%d of %d crashed)\n", (now_ms() - t0) / n, crashed, n);
  return crashed == n ? 0 : 1;
}
