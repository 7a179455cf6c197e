/*
 * c_host.c — the reference for plugcheck's synchronous call path: a C host
 * doing what invokeSync/invokeInto must do, with no host overhead at all.
 * It loads a plugin, creates one instance, and times `iterations` calls of
 * npa_instance_invoke(method, input of `size` bytes) + memcpy of the output
 * into a reused buffer + npa_buffer_free. Prints one JSON line:
 *   {"size":64,"iterations":N,"ns_per_call":X}
 *
 * Usage: c_host <plugin.so> <method> <size> <iterations>
 * Built by `deno task build` into build/bench/c_host; run by bench/sync_path_bench.ts.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npa.h"

typedef uint32_t (*abi_fn)(void);
typedef int32_t (*init_fn)(const NpaHost*, NpaBuf*);
typedef int32_t (*create_fn)(const uint8_t*, size_t, void**, NpaBuf*);
typedef int32_t (*invoke_fn)(void*, const uint8_t*, size_t, const uint8_t*, size_t, NpaBuf*, NpaBuf*);
typedef void (*free_fn)(uint8_t*, size_t);
typedef void (*destroy_fn)(void*);
typedef void (*shutdown_fn)(void);

static void nolog(void* ctx, int32_t level, const uint8_t* t, size_t tl, const uint8_t* m, size_t ml) {
  (void)ctx, (void)level, (void)t, (void)tl, (void)m, (void)ml;
}
static int32_t noenabled(void* ctx, int32_t level, const uint8_t* t, size_t tl) {
  (void)ctx, (void)level, (void)t, (void)tl;
  return 0;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: c_host <plugin.so> <method> <size> <iterations>\n");
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "c_host: %s\n", dlerror());
    return 1;
  }
  init_fn init = (init_fn)dlsym(lib, "npa_plugin_init");
  create_fn create = (create_fn)dlsym(lib, "npa_instance_create");
  invoke_fn invoke = (invoke_fn)dlsym(lib, "npa_instance_invoke");
  free_fn release = (free_fn)dlsym(lib, "npa_buffer_free");
  destroy_fn destroy = (destroy_fn)dlsym(lib, "npa_instance_destroy");
  shutdown_fn shutdown = (shutdown_fn)dlsym(lib, "npa_plugin_shutdown");
  NpaHost host = {NPA_ABI_VERSION, (uint32_t)sizeof(NpaHost), NULL, nolog, noenabled};
  NpaBuf err = {NULL, 0};
  void* inst = NULL;
  if (init(&host, &err) != NPA_OK || create(NULL, 0, &inst, &err) != NPA_OK) {
    fprintf(stderr, "c_host: init or create failed\n");
    return 1;
  }
  const char* method = argv[2];
  size_t mlen = strlen(method), size = (size_t)atol(argv[3]);
  long iterations = atol(argv[4]);
  uint8_t* input = malloc(size > 0 ? size : 1);
  uint8_t* dst = malloc(size + 64);
  memset(input, 7, size);
  for (int round = 0; round < 2; round++) { /* round 0 warms up */
    double t0 = now_ns();
    for (long i = 0; i < iterations; i++) {
      NpaBuf out = {NULL, 0};
      err.ptr = NULL, err.len = 0;
      if (invoke(inst, (const uint8_t*)method, mlen, input, size, &out, &err) != NPA_OK) return 1;
      memcpy(dst, out.ptr, out.len);
      release(out.ptr, out.len);
    }
    double ns = (now_ns() - t0) / (double)iterations;
    if (round == 1) printf("{\"size\":%zu,\"iterations\":%ld,\"ns_per_call\":%.2f}\n", size, iterations, ns);
  }
  destroy(inst);
  shutdown();
  free(input);
  free(dst);
  return 0;
}
