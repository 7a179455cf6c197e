/*
 * npah_fuzz_server — the fuzz fork server: a small executable, no Deno in
 * it, that runs a libFuzzer harness for a fuzz job (lib/fuzz/parent/
 * fork_server.ts starts it, under the sandbox launcher):
 *
 *     npah_fuzz_server <input-file> <file-size> <harness> <mode>
 *
 * mode: "guided" (coverage counters and comparisons), "compare" (the
 * coverage runtime's comparison tables only), "blind". The native helper
 * (libnpa_host, found through PLUGCHECK_HOST_LIB) holds the batch loop, the
 * coverage scan and the crash recorder (npah_fuzz*.c); this file only loads
 * them and the harness, and forks.
 *
 * Once, in the server: the input file mapped, the harness loaded, its
 * LLVMFuzzerInitialize run, coverage switched on. Then, on each FORK from the
 * parent, a worker is forked from that initialized state (as AFL's fork
 * server does): a crash costs a fork(), not a start. The worker arms the
 * crash recorder and serves RUN requests, each a batch the parent (which
 * mutates, in TypeScript) wrote into the input file's arena; while a worker
 * lives the server only waits for it, then says how it ended. The context
 * and the coverage maps live in shared memory, so what one worker saw is
 * known to the next: a restart does not make old coverage look new.
 *
 * Pipes: requests on stdin, replies on stdout, each message a header of two
 * little-endian u32 (tag, payload bytes) and its payload. Before it reports a
 * worker's end, the server writes a marker line to stderr, so that the parent
 * knows the worker's stderr (an AddressSanitizer report) is complete.
 *
 *   server -> parent  HELLO {i32 status, u32 pad, i64 value, u32 cmp slots, u32 cmp slot bytes, u32 mem slots,
 *                            u32 mem slot bytes}
 *                     value: the edges instrumented; status < 0: failed (stderr says why); -4: the harness's
 *                     LLVMFuzzerInitialize failed, value is what it returned. The tables' shape is 0 without them.
 *   parent -> server  FORK {}                                   -> BORN {u32 pid}
 *   parent -> worker  RUN {u32 from, u32 count}                 -> RAN {i32 r, u32 seq, u8 fresh[count],
 *                                                                        then the comparison tables if any}
 *   parent -> worker  FORGET {}                                 -> DONE {}
 *   parent -> worker  END {}                                    (the worker exits 0)
 *   server -> parent  DIED {u32 pid, u32 wait status}           (after any worker's end)
 *   server -> parent  BORN {u32 pid}                            (right after the DIED of a worker that crashed
 *                                                                or was killed: the next one is forked at once,
 *                                                                without a FORK; after a clean exit, FORK asks)
 *   parent -> server  QUIT {} or EOF                            (the server exits 0)
 *
 * A request meant for a worker that reaches the server (sent while the worker
 * died) is dropped: the parent hears DIED instead of its reply.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../coverage/npa_cov.h"
#include "../npah_fuzz.h"

enum {
  T_HELLO = 1,
  T_FORK = 2,
  T_BORN = 3,
  T_RUN = 4,
  T_RAN = 5,
  T_FORGET = 6,
  T_DONE = 7,
  T_END = 8,
  T_DIED = 9,
  T_QUIT = 10,
};

typedef void* (*open_fn)(const uint8_t*, uint32_t, uint64_t);
typedef void* (*share_fn)(void*);
typedef int32_t (*target_fn)(void*, const uint8_t*, uint32_t);
typedef int64_t (*coverage_fn)(void*);
typedef int32_t (*ctx_fn)(void*);
typedef int32_t (*run_fn)(void*, uint32_t, uint32_t);
typedef void (*forget_fn)(void*);
typedef uint32_t (*views_fn)(void*, uint64_t*, uint32_t);
typedef int32_t (*write_fn)(int32_t, const uint8_t*, uint32_t);

static struct {
  open_fn open;
  target_fn target;
  coverage_fn coverage;
  ctx_fn compare, arm, worker_begin;
  share_fn share;
  run_fn run;
  forget_fn forget;
  views_fn fuzz_views, cov_views;
  write_fn write_all; /* npah_write_all: waits out a descriptor a plugin made O_NONBLOCK */
} H;

/* Reads n bytes; -1 at EOF or on an error. A descriptor made O_NONBLOCK (by a plugin, in a worker: the flag is the
 * pipe's, shared with the server) is waited on, as npah_write_all waits to write. */
static int read_all(int fd, void* p, size_t n) {
  uint8_t* b = p;
  while (n > 0) {
    ssize_t r = read(fd, b, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd w = {fd, POLLIN, 0};
      if (poll(&w, 1, -1) < 0 && errno != EINTR) return -1;
      continue;
    }
    if (r <= 0) return -1;
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

static int send_msg(uint32_t tag, const void* payload, uint32_t len) {
  uint32_t head[2] = {tag, len};
  if (H.write_all(1, (const uint8_t*)head, sizeof head) != 0) return -1;
  return len == 0 ? 0 : H.write_all(1, payload, len);
}

/* Reads one request: its tag, and up to `cap` payload bytes into `payload` (the rest is an error). -1 at EOF. */
static int read_msg(uint32_t* tag, void* payload, uint32_t cap) {
  uint32_t head[2];
  if (read_all(0, head, sizeof head) != 0) return -1;
  if (head[1] > cap) return -1;
  *tag = head[0];
  return head[1] == 0 ? 0 : read_all(0, payload, head[1]);
}

static void say(const char* what) {
  (void)!write(2, "npah_fuzz_server: ", 18);
  (void)!write(2, what, strlen(what));
  (void)!write(2, "\n", 1);
}

static int hello(int32_t status, int64_t value, void* ctx) {
  uint8_t p[32] = {0};
  memcpy(p, &status, 4);
  memcpy(p + 8, &value, 8);
  uint64_t v[7];
  if (ctx != NULL && status == 0 && H.cov_views(ctx, v, 7) == 7) {
    uint32_t shape[4] = {(uint32_t)v[1], (uint32_t)v[2], (uint32_t)v[4], (uint32_t)v[5]};
    memcpy(p + 16, shape, sizeof shape);
  }
  return send_msg(T_HELLO, p, sizeof p);
}

#define BIND(field, name)                        \
  do {                                           \
    *(void**)&H.field = dlsym(helper, name);     \
    if (H.field == NULL) return say("helper lacks " name), 1; \
  } while (0)

/*
 * The worker: serves batches until END or EOF. Never returns. It takes over
 * the input file's header (clears the last worker's exec counter and crash
 * record) and arms the recorder at its first request, not at its birth: a
 * worker forked at once after a death must leave that death's record for
 * the parent to read until the parent asks it for something.
 */
static void serve(void* ctx, uint8_t* reply, size_t reply_cap) {
  int begun = 0;
  uint64_t v[7];
  npa_cov_state* tables = NULL;
  size_t cmp_bytes = 0, mem_bytes = 0;
  if (H.cov_views(ctx, v, 7) == 7) {
    tables = (npa_cov_state*)(uintptr_t)(v[6] - offsetof(npa_cov_state, seq));
    cmp_bytes = (size_t)(v[1] * v[2]);
    mem_bytes = (size_t)(v[4] * v[5]);
  }
  uint64_t fv[5];
  H.fuzz_views(ctx, fv, 5);
  const uint8_t* fresh = (const uint8_t*)(uintptr_t)fv[3];
  for (;;) {
    uint32_t tag, req[2];
    if (read_msg(&tag, req, sizeof req) != 0 || tag == T_END || tag == T_QUIT) _exit(0);
    if (!begun && (H.worker_begin(ctx) != 0 || H.arm(ctx) != 0)) {
      say("cannot arm the crash recorder in a worker");
      _exit(70);
    }
    begun = 1;
    if (tag == T_FORGET) {
      H.forget(ctx);
      if (send_msg(T_DONE, NULL, 0) != 0) _exit(0);
      continue;
    }
    if (tag != T_RUN || req[1] > FZ_MAX_BATCH) _exit(71);
    int32_t r = H.run(ctx, req[0], req[1]);
    uint32_t count = req[1];
    size_t n = 8 + count;
    memcpy(reply, &r, 4);
    uint32_t seq = tables != NULL ? tables->seq : 0;
    memcpy(reply + 4, &seq, 4);
    memcpy(reply + 8, fresh, count);
    if (tables != NULL && n + cmp_bytes + mem_bytes <= reply_cap) {
      memcpy(reply + n, tables->cmps, cmp_bytes);
      memcpy(reply + n + cmp_bytes, tables->mems, mem_bytes);
      n += cmp_bytes + mem_bytes;
    }
    if (send_msg(T_RAN, reply, (uint32_t)n) != 0) _exit(0);
  }
}

int main(int argc, char** argv) {
  if (argc != 5) {
    say("usage: npah_fuzz_server <input-file> <file-size> <harness> <guided|compare|blind>");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  const char* host = getenv("PLUGCHECK_HOST_LIB");
  void* helper = host != NULL ? dlopen(host, RTLD_NOW | RTLD_GLOBAL) : NULL;
  if (helper == NULL) return say(host == NULL ? "PLUGCHECK_HOST_LIB is not set" : dlerror()), 1;
  BIND(write_all, "npah_write_all");
  BIND(open, "npah_fuzz_open");
  BIND(target, "npah_fuzz_target_libfuzzer");
  BIND(coverage, "npah_fuzz_coverage");
  BIND(compare, "npah_fuzz_compare");
  BIND(arm, "npah_fuzz_arm");
  BIND(share, "npah_fuzz_share");
  BIND(worker_begin, "npah_fuzz_worker_begin");
  BIND(run, "npah_fuzz_run");
  BIND(forget, "npah_fuzz_forget");
  BIND(fuzz_views, "npah_fuzz_views");
  BIND(cov_views, "npah_fuzz_cov_views");
  const char* path = argv[1];
  void* ctx = H.open((const uint8_t*)path, (uint32_t)strlen(path), strtoull(argv[2], NULL, 10));
  if (ctx == NULL) return say("cannot map the input file"), hello(-2, 0, NULL), 1;
  const char* harness = argv[3];
  if (dlopen(harness, RTLD_NOW | RTLD_LOCAL) == NULL) return say(dlerror()), hello(-3, 0, NULL), 1;
  int32_t t = H.target(ctx, (const uint8_t*)harness, (uint32_t)strlen(harness));
  if (t == -4) { /* LLVMFuzzerInitialize failed: what it returned is the context's raw[0] */
    uint64_t fv[5];
    H.fuzz_views(ctx, fv, 5);
    return hello(-4, *(const int64_t*)(uintptr_t)fv[4], NULL), 1;
  }
  if (t != 0) return hello(-3, 0, NULL), 1;
  int64_t edges = 0;
  if (strcmp(argv[4], "guided") == 0) {
    edges = H.coverage(ctx);
    if (edges <= 0) return hello(edges == 0 ? -5 : -6, 0, NULL), 1;
  } else if (strcmp(argv[4], "compare") == 0 && H.compare(ctx) != 0) {
    return hello(-6, 0, NULL), 1;
  }
  ctx = H.share(ctx);
  if (ctx == NULL) return say("cannot share the fuzz context with workers"), hello(-7, 0, NULL), 1;
  size_t reply_cap = 8 + FZ_MAX_BATCH + sizeof(npa_cov_cmp) * NPA_COV_CMP_SLOTS + sizeof(npa_cov_mem) * NPA_COV_MEM_SLOTS;
  uint8_t* reply = malloc(reply_cap);
  if (reply == NULL || hello(0, edges, ctx) != 0) return 1;
  /* Armed here once, so that each worker's arming finds the unwinder loaded and the alternate stack mapped. */
  if (H.arm(ctx) != 0) return say("cannot arm the crash recorder"), 1;
  int eager = 0; /* the last worker crashed or was killed: fork the next at once */
  for (;;) {
    if (!eager) {
      uint32_t tag;
      uint8_t ignored[8];
      if (read_msg(&tag, ignored, sizeof ignored) != 0 || tag == T_QUIT) return 0;
      if (tag == T_RUN || tag == T_FORGET || tag == T_END) continue; /* for a worker that died meanwhile */
      if (tag != T_FORK) return say("unexpected request"), 1;
    }
    pid_t pid = fork();
    if (pid < 0) return say("fork failed"), 1;
    if (pid == 0) serve(ctx, reply, reply_cap);
    uint32_t born = (uint32_t)pid;
    if (send_msg(T_BORN, &born, 4) != 0) return 0;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    char mark[64];
    int m = snprintf(mark, sizeof mark, "\n\x1b[plugcheck worker %d ended]\n", (int)pid);
    (void)!write(2, mark, (size_t)m);
    uint32_t died[2] = {born, (uint32_t)status};
    if (send_msg(T_DIED, died, sizeof died) != 0) return 0;
    eager = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}
