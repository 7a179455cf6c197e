/*
 * npah_internal.h — what the native helper's parts share: which plugin call
 * is running right now, so the exit guard and the watchdog (npah_process.c)
 * can name it, and the fast call path (npah_call.c) can mark its calls
 * without entering JavaScript.
 *
 * Only the thread that installed the guards (the JS thread) marks synchronous
 * calls; any thread marks the nonblocking ones it runs.
 */
#ifndef NPAH_INTERNAL_H
#define NPAH_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <time.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NPAH_EXPORT __attribute__((visibility("default")))
#define NPAH_LABEL_MAX 512u

/* How the current call is named in a message. */
enum { NPAH_LABEL_TEXT = 0, NPAH_LABEL_INVOKE = 1 };

typedef struct npah_running {
  /* > 0 while a synchronous plugin call runs on the JS thread. */
  atomic_uint sync_depth;
  /* Bumped at every synchronous call: the watchdog sees progress. */
  atomic_uint_fast64_t sync_gen;
  /* NPAH_LABEL_TEXT: `label` is the whole operation; NPAH_LABEL_INVOKE: it is a method name. */
  atomic_int label_kind;
  const uint8_t* _Atomic label;
  atomic_uint label_len;
  /* Nonblocking calls running on other threads, and the last one's name (kind as for `label`). */
  atomic_uint async_inflight;
  char async_label[NPAH_LABEL_MAX];
  atomic_uint async_label_len;
  atomic_int async_label_kind;
  /* When a nonblocking call last returned (CLOCK_MONOTONIC, ms): a stop noticed just after it was its stop. */
  atomic_uint_fast64_t async_left_ms;
} npah_running;

extern npah_running npah_now;

/*
 * Marks a synchronous call on the JS thread (kind + label stay valid until
 * npah_sync_leave). Only the JS thread writes these, so plain stores do (no
 * locked instruction on the hot path); other threads only read them.
 */
static inline void npah_sync_enter(int kind, const uint8_t* label, uint32_t len) {
  atomic_store_explicit(&npah_now.label_kind, kind, memory_order_relaxed);
  atomic_store_explicit(&npah_now.label, label, memory_order_relaxed);
  atomic_store_explicit(&npah_now.label_len, len, memory_order_relaxed);
  uint_fast64_t gen = atomic_load_explicit(&npah_now.sync_gen, memory_order_relaxed);
  atomic_store_explicit(&npah_now.sync_gen, gen + 1, memory_order_relaxed);
  atomic_store_explicit(&npah_now.sync_depth, 1, memory_order_release);
}

static inline void npah_sync_leave(void) {
  atomic_store_explicit(&npah_now.sync_depth, 0, memory_order_release);
}

/*
 * Marks a nonblocking call starting on this (pool) thread. Concurrent calls
 * race for the one name slot: the exit guard names the last one to start.
 */
static inline void npah_async_enter(int kind, const uint8_t* label, uint32_t len) {
  if (len > NPAH_LABEL_MAX) len = NPAH_LABEL_MAX;
  for (uint32_t i = 0; i < len; i++) npah_now.async_label[i] = (char)label[i];
  atomic_store_explicit(&npah_now.async_label_kind, kind, memory_order_relaxed);
  atomic_store_explicit(&npah_now.async_label_len, len, memory_order_relaxed);
  atomic_fetch_add_explicit(&npah_now.async_inflight, 1, memory_order_release);
}

static inline void npah_async_leave(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  atomic_store_explicit(&npah_now.async_left_ms, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u,
                        memory_order_relaxed);
  atomic_fetch_sub_explicit(&npah_now.async_inflight, 1, memory_order_release);
}

/* The call this thread runs through the helper, for the fatal-signal note (npah_blame.c). */
typedef struct npah_blame_call {
  const uint8_t* method;
  const uint8_t* input;
  uint32_t method_len;
  uint32_t input_len;
} npah_blame_call;
extern __thread npah_blame_call npah_blame_now __attribute__((tls_model("initial-exec")));

static inline void npah_blame_enter(const uint8_t* method, uint32_t method_len, const uint8_t* input,
                                    uint32_t input_len) {
  npah_blame_call* c = &npah_blame_now;
  c->method_len = method_len;
  c->input = input;
  c->input_len = input_len;
  __atomic_store_n(&c->method, method, __ATOMIC_RELAXED);
  __asm__ volatile("" ::: "memory"); /* marked before the call, in program order (a signal is same-thread) */
}

static inline void npah_blame_leave(void) {
  __asm__ volatile("" ::: "memory");
  __atomic_store_n(&npah_blame_now.method, (const uint8_t*)0, __ATOMIC_RELAXED);
}

/* Reads `n` bytes at `p` and drops them. The log function reads a message it filters out as it would copy a
 * kept one, so a plugin's bad message pointer crashes at its call whatever the log level (stress, fuzz and
 * check keep logs off; invoke shows them): the crash is the plugin's, in the call that logged. */
static inline void npah_touch(const uint8_t* p, size_t n) {
  uint8_t sink = 0;
  for (size_t i = 0; p != NULL && i < n; i++) sink ^= p[i];
  __asm__ volatile("" : : "r"(sink) : "memory"); /* keeps the reads */
}

/* A handle of the library at `path` if it is loaded already (never loads it), or NULL; dlclose it after use. */
void* npah_noload(const uint8_t* path, uint32_t len);

/* What the exit guard, the watchdog and the hooks share (npah_process.c). */
extern atomic_int npah_guard_exit_code; /* exit code after a guard fires, or -1 to let the plugin's exit proceed */
extern atomic_int npah_guard_json;      /* 1: a report also goes to the private stdout as a JSON document */
extern atomic_int npah_exiting_code;    /* plugcheck's own exit code once it is exiting, else -1 */
void npah_remember_js_thread(void);
int npah_on_js_thread(void);
/* What is running now, as "invoke \"m\"" or the label JS gave, into buf; 0 when no plugin call runs. */
int npah_current_call(char* buf, uint32_t cap);
/* The error on stderr as plugcheck prints it ("Cannot <op>: <why>" and the hint), and as JSON when asked. */
void npah_report(const char* op, const char* why, const char* code, const char* name, const char* key,
                 long long value, const char* hint);

/* One function a library's GOT slots are pointed away from (npah_hooks.c). */
typedef struct npah_rebinding {
  const char* name;
  void* replacement;
} npah_rebinding;
/* Points the slots of the library `handle` for each named function at its replacement; the number of
 * slots rewritten, or -errno (-ENOSYS: not on this architecture). */
int npah_rebind(void* handle, const npah_rebinding* list, size_t n);

/* Writes "invoke \"<method>\"" or the text label into buf; returns its length. */
uint32_t npah_describe_call(int kind, const uint8_t* label, uint32_t len, char* buf, uint32_t cap);

/* npah_stop.c: says once on stderr that a plugin call was stopped (SIGSTOP), if not said yet; 1 if there
 * was a SIGCONT to tell. */
int npah_stop_say(void);

/* The log queue (npah_log_queue.c): lock-free, one record per slot. */
#define NPAH_MAX_TARGET 256u
#define NPAH_MAX_MESSAGE 8192u
#define NPAH_RECORD_HEADER 20u
typedef struct npah_queue npah_queue;
/* Queues one record (header, target, message); 1 when queued, 0 when dropped. Never blocks. */
int npah_queue_push(npah_queue* q, const uint32_t header[5], const uint8_t* target, size_t target_len,
                    const uint8_t* message, size_t message_len);

/* Reads a small /proc file into buf (NUL-terminated); returns its length or -errno (npah_proc.c). */
ssize_t npah_read_small(const char* path, char* buf, size_t cap);

/* The entries of a /proc directory whose names are numbers (up to cap of them into out, which may be NULL);
 * returns how many there are, or -errno (npah_proc.c). */
int32_t npah_list_numeric(const char* path, int32_t* out, uint32_t cap);

/* A SIGSEGV whose fault lies within 64 KiB of the interrupted stack pointer: a stack that ran out (npah_blame.c). */
int npah_stack_overflow(int sig, const void* si, const void* uc);

#endif
