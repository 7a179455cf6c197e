/*
 * server_npa.c — the fork server's npa plugin: see server_npa.h.
 */
#define _GNU_SOURCE
#include "server_npa.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef uint32_t (*abi_fn)(void);
typedef int32_t (*init_fn)(const NpaHost*, NpaBuf*);
typedef int32_t (*out_fn)(NpaBuf*);
typedef int32_t (*create_fn)(const uint8_t*, size_t, void**, NpaBuf*);
typedef void (*release_fn)(uint8_t*, size_t);

static release_fn g_free;
static out_fn g_stats;

static int fail(const char* step, const char* why) {
  char line[512];
  int n = snprintf(line, sizeof line, "npah_fuzz_server: cannot start the plugin: %s: %s\n", step, why);
  if (n > 0) (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  return -1;
}

static void release(NpaBuf b) {
  if (b.ptr != NULL) g_free(b.ptr, b.len);
}

/* What init must leave as it found it (a Deno fuzz child's guard checks the same: ProcInfo.restoreProcessState). */
#define STATE_FDS 256
typedef struct process_state {
  struct rlimit nofile;
  int flags[STATE_FDS]; /* F_GETFL of descriptors 0..STATE_FDS-1, -1 when closed */
} process_state;

static void take_state(process_state* st) {
  getrlimit(RLIMIT_NOFILE, &st->nofile);
  for (int fd = 0; fd < STATE_FDS; fd++) st->flags[fd] = fcntl(fd, F_GETFL);
}

/* Whether init lowered the descriptor limit or set O_NONBLOCK on a descriptor that was open and blocking. */
static const char* state_changed(const process_state* before) {
  process_state now;
  take_state(&now);
  if (now.nofile.rlim_cur < before->nofile.rlim_cur || now.nofile.rlim_max < before->nofile.rlim_max) {
    return "it lowered the descriptor limit";
  }
  for (int fd = 0; fd < STATE_FDS; fd++) {
    if (before->flags[fd] >= 0 && !(before->flags[fd] & O_NONBLOCK) && now.flags[fd] >= 0 &&
        (now.flags[fd] & O_NONBLOCK)) {
      return "it set O_NONBLOCK on a descriptor it does not own";
    }
  }
  return NULL;
}

static int failed_call(const char* step, int32_t status, NpaBuf err) {
  release(err);
  char why[64];
  snprintf(why, sizeof why, "status %d", (int)status);
  return fail(step, why);
}

typedef int32_t (*adapter_open_fn)(const uint8_t*, size_t, NpaBuf*);

int server_npa_start(server_npa* p, const char* path, const char* adapter, const NpaHost* host, const uint8_t* config,
                     size_t config_len, uint64_t max_out) {
  memset(p, 0, sizeof *p);
  void* h = dlopen(adapter != NULL ? adapter : path, RTLD_LAZY | RTLD_LOCAL);
  if (h == NULL) return fail("dlopen", dlerror());
  if (adapter != NULL) {
    adapter_open_fn open = (adapter_open_fn)dlsym(h, "npa_adapter_open");
    g_free = (release_fn)dlsym(h, "npa_buffer_free");
    if (open == NULL || g_free == NULL) return fail("adapter", "no npa_adapter_open or npa_buffer_free");
    NpaBuf err = {NULL, 0};
    int32_t s = open((const uint8_t*)path, strlen(path), &err);
    if (s != NPA_OK) return failed_call("npa_adapter_open", s, err);
    release(err);
  }
  abi_fn abi = (abi_fn)dlsym(h, "npa_abi_version");
  init_fn init = (init_fn)dlsym(h, "npa_plugin_init");
  out_fn describe = (out_fn)dlsym(h, "npa_plugin_describe");
  create_fn create = (create_fn)dlsym(h, "npa_instance_create");
  g_free = (release_fn)dlsym(h, "npa_buffer_free");
  g_stats = (out_fn)dlsym(h, "npa_plugin_stats");
  const char* needed[] = {"npa_instance_invoke", "npa_instance_destroy", "npa_plugin_shutdown"};
  for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
    if (dlsym(h, needed[i]) == NULL) return fail("symbols", needed[i]);
  }
  if (abi == NULL || init == NULL || describe == NULL || create == NULL || g_free == NULL) {
    return fail("symbols", "a required npa symbol is missing");
  }
  if ((abi() >> 16) != NPA_ABI_VERSION_MAJOR) return fail("ABI", "another major version");
  NpaBuf err = {NULL, 0}, out = {NULL, 0};
  process_state before;
  take_state(&before);
  int32_t s = init(host, &err);
  if (s != NPA_OK || err.ptr != NULL) return failed_call("npa_plugin_init", s, err);
  const char* changed = state_changed(&before);
  if (changed != NULL) return fail("npa_plugin_init changed the host process", changed);
  s = describe(&out);
  if (s != NPA_OK || out.ptr == NULL || out.len > max_out) {
    release(out);
    return fail("npa_plugin_describe", "no describe() document within the output bound");
  }
  p->describe = malloc(out.len);
  if (p->describe == NULL) return release(out), fail("npa_plugin_describe", "out of memory");
  memcpy(p->describe, out.ptr, out.len);
  p->describe_len = out.len;
  release(out);
  void* inst = NULL;
  s = create(config, config_len, &inst, &err);
  if (s != NPA_OK || err.ptr != NULL || inst == NULL) return failed_call("npa_instance_create", s, err);
  p->instance = inst;
  p->has_stats = g_stats != NULL;
  return 0;
}

taken_buf server_npa_take(uint64_t ptr, uint64_t len, uint64_t max) {
  taken_buf t = {TAKEN_EMPTY, len, NULL};
  uint8_t* at = (uint8_t*)(uintptr_t)ptr;
  if (at == NULL) {
    t.kind = len == 0 ? TAKEN_EMPTY : TAKEN_NULL_WITH_LENGTH;
    return t;
  }
  if (len > max) {
    g_free(at, (size_t)len);
    t.kind = TAKEN_OVERSIZE;
    return t;
  }
  t.kind = TAKEN_BYTES;
  t.bytes = malloc(len > 0 ? (size_t)len : 1);
  if (t.bytes != NULL && len > 0) memcpy(t.bytes, at, (size_t)len);
  g_free(at, (size_t)len);
  if (t.bytes == NULL) t.kind = TAKEN_OVERSIZE; /* no room to copy it: the guard says what it says of a huge one */
  return t;
}

int32_t server_npa_stats(taken_buf* out, uint64_t max) {
  NpaBuf b = {NULL, 0};
  int32_t s = g_stats(&b);
  *out = server_npa_take((uint64_t)(uintptr_t)b.ptr, b.len, max);
  return s;
}

int server_thread_count(void) {
  DIR* d = opendir("/proc/self/task");
  if (d == NULL) return -1;
  int n = 0;
  for (struct dirent* e = readdir(d); e != NULL; e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}
