/*
 * npah_fuzz_server — the fuzz fork server: a small executable, no Deno in
 * it, that runs a fuzz job's target (lib/fuzz/parent/fork_server.ts starts
 * it, under the sandbox launcher):
 *
 *     npah_fuzz_server <input-file> <file-size> <library> <mode> libfuzzer
 *     npah_fuzz_server <input-file> <file-size> <library> <mode> npa <max-output-bytes> <config> [<adapter>]
 *
 * mode: "guided" (coverage counters and comparisons), "compare" (the
 * coverage runtime's comparison tables only), "blind". The native helper
 * (libnpa_host, found through PLUGCHECK_HOST_LIB) holds the batch loop, the
 * coverage scan and the crash recorder (npah_fuzz*.c); this file only loads
 * them and the target, and forks; server_npa.c starts an npa plugin.
 *
 * Once, in the server: the input file mapped, the target loaded (a harness
 * and its LLVMFuzzerInitialize; an npa plugin initialized with its logs off,
 * described, and given one instance), coverage switched on. A target that
 * left threads running cannot be forked (a worker would have none of them):
 * the server says so (HELLO status -9) and the parent fuzzes in a Deno child
 * instead, as it does when an npa plugin fails to start (-8), whose guard
 * then names the error exactly. Then, on each FORK from the
 * parent, a worker is forked from that initialized state (as AFL's fork
 * server does): a crash costs a fork(), not a start. The worker arms the
 * crash recorder and serves RUN requests, each a batch the parent (which
 * mutates, in TypeScript) wrote into the input file's arena; while a worker
 * lives the server relays its replies, each only once it is whole
 * (relay_worker, server_io.c: a worker killed mid-reply must not leave half a
 * message on the parent's pipe), then says how it ended. The context
 * and the coverage maps live in shared memory, so what one worker saw is
 * known to the next: a restart does not make old coverage look new.
 *
 * Pipes: requests on stdin, replies on stdout, each message a header of two
 * little-endian u32 (tag, payload bytes) and its payload. The server moves
 * both pipes to descriptors of its own before it loads the target, and makes
 * stdin /dev/null and stdout a copy of stderr: a plugin that reads stdin or
 * prints to stdout cannot touch the protocol. Before it reports a
 * worker's end, the server writes a marker line to stderr, so that the parent
 * knows the worker's stderr (an AddressSanitizer report) is complete.
 *
 *   server -> parent  HELLO {i32 status, u32 pad, i64 value, u32 cmp slots, u32 cmp slot bytes, u32 mem slots,
 *                            u32 mem slot bytes}
 *                     value: the edges instrumented; status < 0: failed (stderr says why); -4: the harness's
 *                     LLVMFuzzerInitialize failed, value is what it returned. The tables' shape is 0 without them.
 *                     An npa target's HELLO goes on: {u32 has stats, u32 describe bytes, the describe() document}.
 *   parent -> server  FORK {}                                   -> BORN {u32 pid}
 *   parent -> worker  RUN {u32 from, u32 count, u32 flags, u32 method bytes, the method}
 *                                                               -> RAN {i32 r, u32 seq, u8 fresh[count],
 *                                                                        then the comparison tables if any,
 *                                                                        then for an npa call the loop stopped at
 *                                                                        (0 <= r < count): {i32 status, u32 pad,
 *                                                                        out, err}, each buffer {u32 kind, u32 pad,
 *                                                                        u64 length, its bytes when copied}}
 *                     (an npa target's method and flags are set from each RUN; a harness ignores them)
 *   parent -> worker  STATS {}                                  -> STATSD {i32 status, u32 pad, the output buffer
 *                                                                          as in RAN}
 *   parent -> worker  FORGET {}                                 -> DONE {}
 *   parent -> worker  END {}                                    (the worker exits 0)
 *   server -> parent  DIED {u32 pid, u32 wait status}           (after any worker's end)
 *   server -> parent  BORN {u32 pid}                            (right after the DIED of a worker that crashed
 *                                                                or was killed: the next one is forked at once,
 *                                                                without a FORK; after a clean exit, FORK asks)
 *   parent -> server  QUIT {} or EOF                            (the server exits 0)
 *
 * Every request for a worker starts with its pid (u32; not shown above): a
 * request sent to a worker that died before it read it is dropped, by the
 * server or by the next worker (forked at once after the death, it may read
 * it first). The parent hears DIED instead of its reply.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
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
#include "server_io.h"
#include "server_npa.h"

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
  T_STATS = 11,
  T_STATSD = 12,
};

/* The npa target, when the job has one, and its output bound. */
static server_npa g_npa;
static int g_is_npa;
static uint64_t g_max_out;

typedef void* (*open_fn)(const uint8_t*, uint32_t, uint64_t);
typedef void* (*share_fn)(void*);
typedef int32_t (*target_fn)(void*, const uint8_t*, uint32_t);
typedef int32_t (*target_npa_fn)(void*, const uint8_t*, uint32_t, void*, uint32_t);
typedef int32_t (*method_fn)(void*, const uint8_t*, uint32_t, uint32_t);
typedef void* (*queue_new_fn)(uint32_t);
typedef void* (*ctx_new_fn)(void*, uint32_t, int32_t);
typedef uint32_t (*fill_host_fn)(void*, uint8_t*, uint32_t);
typedef int64_t (*coverage_fn)(void*);
typedef int32_t (*ctx_fn)(void*);
typedef int32_t (*run_fn)(void*, uint32_t, uint32_t);
typedef void (*forget_fn)(void*);
typedef uint32_t (*views_fn)(void*, uint64_t*, uint32_t);

static struct {
  open_fn open;
  target_fn target;
  target_npa_fn target_npa;
  method_fn method;
  queue_new_fn queue_new;
  ctx_new_fn log_ctx_new;
  fill_host_fn fill_host;
  coverage_fn coverage;
  ctx_fn compare, arm, worker_begin;
  share_fn share;
  run_fn run;
  forget_fn forget;
  views_fn fuzz_views, cov_views;
} H;

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
  if (!g_is_npa || status != 0) return send_msg(T_HELLO, p, sizeof p);
  uint32_t more[2] = {(uint32_t)g_npa.has_stats, (uint32_t)g_npa.describe_len};
  uint32_t head[2] = {T_HELLO, (uint32_t)(sizeof p + sizeof more + g_npa.describe_len)};
  if (send_more(head, sizeof head) != 0 || send_more(p, sizeof p) != 0 || send_more(more, sizeof more) != 0) return -1;
  return send_more(g_npa.describe, g_npa.describe_len);
}

/* An npa call the loop stopped at, as RAN's tail: the status and both buffers, taken over (freed here). */
static int send_stopped(const int64_t* raw, uint32_t tag, const uint8_t* before, uint32_t before_len) {
  taken_buf bufs[2] = {server_npa_take((uint64_t)raw[1], (uint64_t)raw[2], g_max_out),
                       server_npa_take((uint64_t)raw[3], (uint64_t)raw[4], g_max_out)};
  return send_taken_reply(tag, before, before_len, (int32_t)raw[0], bufs, 2);
}

/*
 * Under a sanitizer runtime, has it list the loaded modules here, once, after
 * the last dlopen: its report names each frame by module and offset, and
 * lists them at its first report. Done in every worker, that took ~270 page
 * faults and about half of a known crash's cost (1.2 of 2.5 ms in a bare
 * fork-and-crash loop); done here, workers inherit the list. It refreshes the
 * list by itself for an address outside it (a library a worker opens later).
 */
static void list_modules_once(void) {
  int (*module_of)(void*, char*, size_t, void**);
  *(void**)&module_of = dlsym(RTLD_DEFAULT, "__sanitizer_get_module_and_offset_for_pc");
  if (module_of == NULL) return; /* no sanitizer runtime */
  char name[256];
  void* offset;
  (void)module_of((void*)(uintptr_t)&list_modules_once, name, sizeof name, &offset);
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
  const uint32_t self = (uint32_t)getpid();
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
  const int64_t* raw = (const int64_t*)(uintptr_t)fv[4];
  for (;;) {
    uint32_t tag, len, all[REQUEST_WORDS];
    if (next_request(&tag, all, &len, sizeof all) != 0 || tag == T_QUIT) _exit(0);
    if (len < 4 || all[0] != self) continue; /* for the worker before this one, which died before it read it */
    if (tag == T_END) _exit(0);
    const uint32_t* req = all + 1;
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
    if (tag == T_STATS && g_is_npa && g_npa.has_stats) {
      taken_buf out;
      int32_t status = server_npa_stats(&out, g_max_out);
      if (send_taken_reply(T_STATSD, NULL, 0, status, &out, 1) != 0) _exit(0);
      continue;
    }
    if (tag != T_RUN || len < 20 || req[1] > FZ_MAX_BATCH || req[3] > len - 20) _exit(71);
    if (g_is_npa && H.method(ctx, (const uint8_t*)&req[4], req[3], req[2]) != 0) _exit(71);
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
    int rc = g_is_npa && r >= 0 && (uint32_t)r < count ? send_stopped(raw, T_RAN, reply, (uint32_t)n)
                                                       : send_msg(T_RAN, reply, (uint32_t)n);
    if (rc != 0) _exit(0);
  }
}

int main(int argc, char** argv) {
  g_is_npa = (argc == 8 || argc == 9) && strcmp(argv[5], "npa") == 0;
  if (!(argc == 6 && strcmp(argv[5], "libfuzzer") == 0) && !g_is_npa) {
    say("usage: npah_fuzz_server <input-file> <file-size> <library> <guided|compare|blind> "
        "libfuzzer|npa <max-output-bytes> <config> [<adapter>]");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (move_pipes() != 0) return say("cannot move the protocol's pipes"), 1;
  const char* host = getenv("PLUGCHECK_HOST_LIB");
  void* helper = host != NULL ? dlopen(host, RTLD_NOW | RTLD_GLOBAL) : NULL;
  if (helper == NULL) return say(host == NULL ? "PLUGCHECK_HOST_LIB is not set" : dlerror()), 1;
  void* write_all = dlsym(helper, "npah_write_all");
  if (write_all == NULL) return say("helper lacks npah_write_all"), 1;
  server_io_init((write_fn)write_all);
  BIND(open, "npah_fuzz_open");
  BIND(target, "npah_fuzz_target_libfuzzer");
  BIND(target_npa, "npah_fuzz_target_npa");
  BIND(method, "npah_fuzz_method");
  BIND(queue_new, "npah_queue_new");
  BIND(log_ctx_new, "npah_ctx_new");
  BIND(fill_host, "npah_fill_host");
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
  const char* library = argv[3];
  if (g_is_npa) {
    g_max_out = strtoull(argv[6], NULL, 10);
    const char* config = argv[7];
    /* The helper's log functions, every level off (a Deno fuzz child's plugin gets the same). */
    NpaHost host;
    void* log = H.log_ctx_new(H.queue_new(64 * 1024), 1, 0);
    if (log == NULL || H.fill_host(log, (uint8_t*)&host, sizeof host) != sizeof host) {
      return say("cannot make the plugin's log context"), hello(-8, 0, NULL), 1;
    }
    const char* adapter = argc == 9 ? argv[8] : NULL;
    if (server_npa_start(&g_npa, library, adapter, &host, (const uint8_t*)config, strlen(config), g_max_out) != 0) {
      return hello(-8, 0, NULL), 1;
    }
    const char* entry = adapter != NULL ? adapter : library; /* where the npa entry points are */
    if (H.target_npa(ctx, (const uint8_t*)entry, (uint32_t)strlen(entry), g_npa.instance, (uint32_t)g_max_out) != 0) {
      return say("the batch loop cannot target the plugin"), hello(-8, 0, NULL), 1;
    }
  } else {
    if (dlopen(library, RTLD_NOW | RTLD_LOCAL) == NULL) return say(dlerror()), hello(-3, 0, NULL), 1;
    int32_t t = H.target(ctx, (const uint8_t*)library, (uint32_t)strlen(library));
    if (t == -4) { /* LLVMFuzzerInitialize failed: what it returned is the context's raw[0] */
      uint64_t fv[5];
      H.fuzz_views(ctx, fv, 5);
      return hello(-4, *(const int64_t*)(uintptr_t)fv[4], NULL), 1;
    }
    if (t != 0) return hello(-3, 0, NULL), 1;
  }
  if (server_thread_count() != 1) {
    return say("the target left threads running: a worker forked would lack them"), hello(-9, 0, NULL), 1;
  }
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
  list_modules_once();
  int eager = 0; /* the last worker crashed or was killed: fork the next at once */
  for (;;) {
    if (!eager) {
      uint32_t tag;
      uint32_t ignored[REQUEST_WORDS];
      if (read_msg(&tag, ignored, sizeof ignored) != 0 || tag == T_QUIT) return 0;
      if (tag == T_RUN || tag == T_FORGET || tag == T_END || tag == T_STATS) continue; /* for a worker that died */
      if (tag != T_FORK) return say("unexpected request"), 1;
    }
    int replies[2];
    if (pipe(replies) != 0) return say("cannot make a worker's reply pipe"), 1;
    pid_t pid = fork();
    if (pid < 0) return say("fork failed"), 1;
    if (pid == 0) {
      close(replies[0]);
      reply_to(replies[1]);
      serve(ctx, reply, reply_cap);
    }
    close(replies[1]);
    uint32_t born = (uint32_t)pid;
    int relayed = send_msg(T_BORN, &born, 4) == 0 ? relay_worker(replies[0], pid) : -1;
    close(replies[0]);
    if (relayed != 0) return 0;
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
