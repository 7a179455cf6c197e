/*
 * npah_log_queue.c — the queue plugin log messages wait in until the host
 * drains them (see npa_host.c for the functions plugins call).
 *
 * It holds no lock: a plugin thread may be cancelled (even asynchronously)
 * or siglongjmp out of the log function at any instruction, and nothing it
 * leaves behind can block anyone. It is a ring of fixed slots, one record
 * each (Vyukov's bounded queue): a writer claims a ticket with one
 * compare-and-swap on `tail`, copies its record into the ticket's slot, and
 * commits it by moving the slot's sequence word from `ticket` to `ticket+1`
 * (another compare-and-swap). The single reader (npah_drain, which never
 * waits: a second concurrent drain returns 0) takes committed slots in ticket
 * order and frees each for the next lap (sequence `ticket+n`). A slot claimed
 * but not committed is stepped over (later records are still delivered);
 * once its claim is NPAH_STUCK_MS old and its thread is gone (cancelled), or
 * NPAH_ALIVE_STUCK_MS old (it jumped out), its writer is taken for dead and
 * the slot is freed for the next lap: a writer that was merely preempted that
 * long finds its commit refused and counts its message as dropped. Until a dead writer's slot is taken back, tickets more
 * than n past it cannot be claimed: a burst of that many messages in those
 * NPAH_STUCK_MS is dropped (and counted). Such a late writer may still be copying into the slot
 * the next lap gave to someone else: that can only garble that one message's
 * bytes (the reader checks every record's lengths against its slot), never
 * memory.
 *
 * Drained record layout (little-endian, packed):
 *   u32 plugin_id | u32 level | u32 flags | u32 target_len | u32 message_len
 *   | target bytes | message bytes
 * flags bit 0: the message was truncated.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "npah_internal.h"

#define NPAH_SLOT_DATA (NPAH_RECORD_HEADER + NPAH_MAX_TARGET + NPAH_MAX_MESSAGE)
/* A claimed slot not committed after this long is taken back from its writer when that thread is gone (cancelled,
 * exited), and after NPAH_ALIVE_STUCK_MS when it still runs (it jumped out of the log function, or a busy machine
 * preempted it between claim and commit: a message must not be lost to load). */
#define NPAH_STUCK_MS 200u
#define NPAH_ALIVE_STUCK_MS 1000u

/* A slot's control words, kept apart from its data: creating a queue then writes a few pages, not one per slot
 * (the data pages are touched only when a record is written to them). */
typedef struct npah_ctl {
  /* ticket: free for the writer of that ticket; ticket+1: its record is committed. */
  atomic_uint_fast64_t seq;
  /* Who claimed the slot last and when (coarse monotonic ms): written right after the claim. */
  atomic_uint_fast64_t claim_ticket;
  atomic_uint_fast64_t claim_ms;
  atomic_int claim_tid; /* the writer's thread id */
} npah_ctl;

typedef struct npah_slot {
  uint32_t len; /* record bytes in data */
  uint8_t data[NPAH_SLOT_DATA];
} npah_slot;

struct npah_queue {
  npah_ctl* ctl;
  npah_slot* slots;
  uint64_t n;                /* slots */
  atomic_uint_fast64_t tail; /* next ticket to claim */
  uint64_t head;             /* oldest ticket not yet taken (the reader's alone) */
  atomic_flag reading;       /* one drain at a time, never waited on */
  /* 1 while records wait: the host reads this word directly (no FFI call) after each plugin call. */
  atomic_uint nonempty;
  /* Slots taken back from writers that never committed. */
  atomic_uint_fast64_t abandoned;
};

/* This thread's id, asked of the kernel once per thread. */
static int writer_tid(void) {
  static __thread int tid;
  if (tid == 0) tid = (int)syscall(SYS_gettid);
  return tid;
}

static uint64_t coarse_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Copies one record (header, then target, then message) into a free slot.
 * Returns 1 when it is queued, 0 when there was no free slot or the slot was
 * taken back before the commit. Never blocks, holds no lock.
 */
int npah_queue_push(npah_queue* q, const uint32_t header[5], const uint8_t* target, size_t target_len,
                    const uint8_t* message, size_t message_len) {
  /* Claim a ticket whose slot is free in this lap; none: the queue is full. */
  uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  npah_ctl* c;
  for (;;) {
    c = &q->ctl[t % q->n];
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    if (seq == t) {
      if (atomic_compare_exchange_weak_explicit(&q->tail, &t, t + 1, memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    } else if (seq < t) {
      return 0; /* full: the slot still holds the last lap's record */
    } else {
      t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    }
  }
  atomic_store_explicit(&c->claim_ms, coarse_ms(), memory_order_relaxed);
  atomic_store_explicit(&c->claim_tid, writer_tid(), memory_order_relaxed);
  atomic_store_explicit(&c->claim_ticket, t, memory_order_release);
  npah_slot* s = &q->slots[t % q->n];
  memcpy(s->data, header, NPAH_RECORD_HEADER);
  if (target_len > 0) memcpy(s->data + NPAH_RECORD_HEADER, target, target_len);
  if (message_len > 0) memcpy(s->data + NPAH_RECORD_HEADER + target_len, message, message_len);
  s->len = (uint32_t)(NPAH_RECORD_HEADER + target_len + message_len);
  uint64_t expected = t;
  if (!atomic_compare_exchange_strong_explicit(&c->seq, &expected, t + 1, memory_order_release,
                                               memory_order_relaxed)) {
    return 0; /* too slow: the reader took the slot back */
  }
  atomic_store_explicit(&q->nonempty, 1, memory_order_release);
  return 1;
}

/* A queue of about `capacity` bytes (one slot per record, at least 64 slots). Never freed. */
NPAH_EXPORT void* npah_queue_new(uint32_t capacity) {
  uint64_t n = capacity / sizeof(npah_slot);
  if (n < 64) n = 64;
  npah_queue* q = calloc(1, sizeof(*q));
  if (q == NULL) return NULL;
  q->ctl = calloc(n, sizeof(npah_ctl));
  q->slots = calloc(n, sizeof(npah_slot)); /* big: fresh zero pages, touched as records are written */
  if (q->ctl == NULL || q->slots == NULL) {
    free(q->ctl);
    free(q->slots);
    free(q);
    return NULL;
  }
  q->n = n;
  for (uint64_t i = 0; i < n; i++) {
    atomic_init(&q->ctl[i].seq, i);
    atomic_init(&q->ctl[i].claim_ticket, UINT64_MAX);
  }
  atomic_flag_clear(&q->reading);
  return q;
}

/* Whether the writer of claimed `ticket` (slot control s) is past hope: its claim is NPAH_STUCK_MS old. */
static int claim_is_dead(npah_ctl* s, uint64_t ticket) {
  uint64_t now = coarse_ms();
  if (atomic_load_explicit(&s->claim_ticket, memory_order_acquire) != ticket) {
    /* The writer died between its claim and its time stamp (or is just there): the reader stamps it. */
    atomic_store_explicit(&s->claim_ms, now, memory_order_relaxed);
    atomic_store_explicit(&s->claim_ticket, ticket, memory_order_release);
    return 0;
  }
  uint64_t since = atomic_load_explicit(&s->claim_ms, memory_order_relaxed);
  if (now < since || now - since < NPAH_STUCK_MS) return 0;
  if (now - since >= NPAH_ALIVE_STUCK_MS) return 1;
  /* Its thread still runs (it may only be preempted): wait longer. Gone (ESRCH): it will never commit. */
  int tid = atomic_load_explicit(&s->claim_tid, memory_order_relaxed);
  return tid <= 0 || (syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH);
}

/* Whether a slot's record is whole: its header's lengths add up to what was stored. */
static int record_ok(const npah_slot* s) {
  uint32_t h[5];
  if (s->len < NPAH_RECORD_HEADER || s->len > NPAH_SLOT_DATA) return 0;
  memcpy(h, s->data, sizeof(h));
  return (uint64_t)NPAH_RECORD_HEADER + h[3] + h[4] == s->len;
}

/*
 * Moves whole committed records into buf (at most cap bytes), oldest ticket
 * first, stepping over records still being written. Returns bytes written; 0
 * as well when another drain is running (it never waits). cap must be >=
 * header + max target + max message.
 */
NPAH_EXPORT uint32_t npah_drain(void* queue, uint8_t* buf, uint32_t cap) {
  npah_queue* q = (npah_queue*)queue;
  if (atomic_flag_test_and_set_explicit(&q->reading, memory_order_acquire)) return 0;
  uint32_t written = 0;
  uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
  uint64_t t = q->head, first_open = UINT64_MAX;
  for (; t < tail; t++) {
    npah_ctl* c = &q->ctl[t % q->n];
    npah_slot* s = &q->slots[t % q->n];
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    if (seq >= t + q->n) continue; /* taken earlier, past a record then in flight */
    if (seq == t) {                /* claimed, not committed */
      uint64_t expected = t;
      if (claim_is_dead(c, t) &&
          atomic_compare_exchange_strong_explicit(&c->seq, &expected, t + q->n, memory_order_acq_rel,
                                                  memory_order_acquire)) {
        atomic_fetch_add_explicit(&q->abandoned, 1, memory_order_relaxed);
        continue;
      }
      if (expected != t + 1) { /* still in flight (or just committed: taken next time) */
        if (first_open == UINT64_MAX) first_open = t;
        continue;
      }
    } else if (seq != t + 1) { /* no other value is possible for a claimed ticket: left alone */
      if (first_open == UINT64_MAX) first_open = t;
      continue;
    }
    /* Committed (seq == t + 1). */
    if (s->len > cap - written) {
      if (first_open == UINT64_MAX) first_open = t;
      break;
    }
    if (record_ok(s)) {
      memcpy(buf + written, s->data, s->len);
      written += s->len;
    } else {
      atomic_fetch_add_explicit(&q->abandoned, 1, memory_order_relaxed);
    }
    atomic_store_explicit(&c->seq, t + q->n, memory_order_release);
  }
  q->head = first_open != UINT64_MAX ? first_open : t;
  atomic_store_explicit(&q->nonempty, 0, memory_order_seq_cst);
  if (atomic_load_explicit(&q->tail, memory_order_seq_cst) != q->head)
    atomic_store_explicit(&q->nonempty, 1, memory_order_relaxed);
  atomic_flag_clear_explicit(&q->reading, memory_order_release);
  return written;
}

/* Records taken back from writers that never committed them (cancelled, jumped out, stalled). */
NPAH_EXPORT double npah_queue_abandoned(void* queue) {
  return (double)atomic_load(&((npah_queue*)queue)->abandoned);
}

/* The queue's "records waiting" word (u32, 0 or 1), for the host to read directly. */
NPAH_EXPORT uint32_t* npah_queue_flag(void* queue) {
  return (uint32_t*)&((npah_queue*)queue)->nonempty;
}
