/*
 * c_invoke_file.c — the least a native host does for `plugcheck invoke <lib>
 * <method> --input-file F`: read F into one buffer, dlopen the plugin, init,
 * create one instance, invoke the method once, write the output to stdout,
 * free it with the plugin's own free. No checks beyond statuses, no logs.
 * bench/invoke_big.ts builds it (gcc -O2) and times it as a whole process
 * beside plugcheck: a floor that includes the plugin's own work.
 *
 * Usage: c_invoke_file <plugin.so> <method> <input file>
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npa.h"

typedef int32_t (*init_fn)(const NpaHost*, NpaBuf*);
typedef int32_t (*create_fn)(const uint8_t*, size_t, void**, NpaBuf*);
typedef int32_t (*invoke_fn)(void*, const uint8_t*, size_t, const uint8_t*, size_t, NpaBuf*, NpaBuf*);
typedef void (*free_fn)(uint8_t*, size_t);

static void nolog(void* ctx, int32_t level, const uint8_t* t, size_t tl, const uint8_t* m, size_t ml) {
  (void)ctx, (void)level, (void)t, (void)tl, (void)m, (void)ml;
}
static int32_t noenabled(void* ctx, int32_t level, const uint8_t* t, size_t tl) {
  (void)ctx, (void)level, (void)t, (void)tl;
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: c_invoke_file <plugin.so> <method> <input file>\n");
    return 2;
  }
  FILE* f = fopen(argv[3], "rb");
  struct stat st;
  if (f == NULL || fstat(fileno(f), &st) != 0) return 1;
  size_t size = (size_t)st.st_size;
  uint8_t* input = malloc(size > 0 ? size : 1);
  if (input == NULL || fread(input, 1, size, f) != size) return 1;
  fclose(f);
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return 1;
  init_fn init = (init_fn)dlsym(lib, "npa_plugin_init");
  create_fn create = (create_fn)dlsym(lib, "npa_instance_create");
  invoke_fn invoke = (invoke_fn)dlsym(lib, "npa_instance_invoke");
  free_fn release = (free_fn)dlsym(lib, "npa_buffer_free");
  NpaHost host = {NPA_ABI_VERSION, (uint32_t)sizeof(NpaHost), NULL, nolog, noenabled};
  NpaBuf err = {NULL, 0}, out = {NULL, 0};
  void* inst = NULL;
  if (init(&host, &err) != NPA_OK || create(NULL, 0, &inst, &err) != NPA_OK) return 1;
  if (invoke(inst, (const uint8_t*)argv[2], strlen(argv[2]), input, size, &out, &err) != NPA_OK) return 1;
  for (size_t at = 0; at < out.len;) {
    ssize_t n = write(1, out.ptr + at, out.len - at);
    if (n <= 0) return 1;
    at += (size_t)n;
  }
  release(out.ptr, out.len);
  return 0;
}
