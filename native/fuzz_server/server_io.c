/*
 * server_io.c — the fork server's pipes: see server_io.h.
 */
#define _GNU_SOURCE
#include "server_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int g_in = 0, g_out = 1;
static write_fn g_write;

void server_io_init(write_fn write_all) {
  g_write = write_all;
}

/* One read() of at most n bytes (>0), or -1 at EOF or on an error. A descriptor made O_NONBLOCK (by a plugin, in a
 * worker: the flag is the pipe's, shared with the server) is waited on, as npah_write_all waits to write. */
static ssize_t read_some(int fd, void* p, size_t n) {
  for (;;) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd w = {fd, POLLIN, 0};
      if (poll(&w, 1, -1) < 0 && errno != EINTR) return -1;
      continue;
    }
    return r <= 0 ? -1 : r;
  }
}

/* Reads n bytes; -1 at EOF or on an error. */
int read_all(int fd, void* p, size_t n) {
  uint8_t* b = p;
  while (n > 0) {
    ssize_t r = read_some(fd, b, n);
    if (r < 0) return -1;
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

/*
 * A worker's next request, whole. The parent writes each request in one
 * write() of less than PIPE_BUF bytes, so a read() takes whole requests: a
 * worker killed while it reads takes whole requests with it, never half of
 * one that the next worker would then misread. What one read() took past the
 * request waits here (this process's own: a worker starts with none).
 */
static uint8_t g_pending[4 * sizeof(uint32_t) * (2 + REQUEST_WORDS)];
static size_t g_have;
int next_request(uint32_t* tag, uint32_t* payload, uint32_t* len, uint32_t cap) {
  for (;;) {
    uint32_t head[2];
    if (g_have >= sizeof head) {
      memcpy(head, g_pending, sizeof head);
      if (head[1] > cap) return -1;
      if (g_have >= sizeof head + head[1]) {
        *tag = head[0];
        *len = head[1];
        memcpy(payload, g_pending + sizeof head, head[1]);
        g_have -= sizeof head + head[1];
        memmove(g_pending, g_pending + sizeof head + head[1], g_have);
        return 0;
      }
    }
    ssize_t r = read_some(g_in, g_pending + g_have, sizeof g_pending - g_have);
    if (r < 0) return -1;
    g_have += (size_t)r;
  }
}

int send_msg(uint32_t tag, const void* payload, uint32_t len) {
  uint32_t head[2] = {tag, len};
  if (g_write(g_out, (const uint8_t*)head, sizeof head) != 0) return -1;
  return len == 0 ? 0 : g_write(g_out, payload, len);
}

/* The rest of a message whose header went already. */
int send_more(const void* p, uint64_t len) {
  return len == 0 ? 0 : g_write(g_out, p, (uint32_t)len);
}

/* A taken buffer's bytes on the wire ({u32 kind, u32 pad, u64 length} and its bytes when copied); frees the copy. */
static uint64_t taken_size(const taken_buf* t) {
  return 16 + (t->kind == TAKEN_BYTES ? t->len : 0);
}
static int send_taken(taken_buf* t) {
  uint32_t head[4] = {t->kind, 0, (uint32_t)t->len, (uint32_t)(t->len >> 32)};
  int rc = send_more(head, sizeof head);
  if (rc == 0 && t->kind == TAKEN_BYTES) rc = send_more(t->bytes, t->len);
  free(t->bytes);
  t->bytes = NULL;
  return rc;
}

/* Reads one request: its tag, and up to `cap` payload bytes into `payload` (the rest is an error). -1 at EOF. */
int read_msg(uint32_t* tag, void* payload, uint32_t cap) {
  uint32_t head[2];
  if (read_all(g_in, head, sizeof head) != 0) return -1;
  if (head[1] > cap) return -1;
  *tag = head[0];
  return head[1] == 0 ? 0 : read_all(g_in, payload, head[1]);
}

/* Moves the protocol off stdin and stdout (see the header): 0, or -1. */
int move_pipes(void) {
  g_in = fcntl(0, F_DUPFD_CLOEXEC, 10);
  g_out = fcntl(1, F_DUPFD_CLOEXEC, 10);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (g_in < 0 || g_out < 0 || null < 0 || dup2(null, 0) < 0 || dup2(2, 1) < 0) return -1;
  close(null);
  return 0;
}



int send_taken_reply(uint32_t tag, const uint8_t* before, uint32_t before_len, int32_t status, taken_buf* bufs, int n) {
  int32_t words[2] = {status, 0};
  uint64_t len = before_len + sizeof words;
  for (int i = 0; i < n; i++) len += taken_size(&bufs[i]);
  uint32_t head[2] = {tag, (uint32_t)len};
  int rc = len > UINT32_MAX ? -1 : 0;
  if (rc == 0) rc = send_more(head, sizeof head);
  if (rc == 0) rc = send_more(before, before_len);
  if (rc == 0) rc = send_more(words, sizeof words);
  for (int i = 0; i < n; i++) {
    if (rc == 0) rc = send_taken(&bufs[i]);
    else free(bufs[i].bytes);
  }
  return rc;
}

/* Forwards the whole messages at the start of buf[0, *have) to the parent; keeps the rest. 0, or -1 (pipe broke). */
static int forward_whole(uint8_t* buf, size_t* have) {
  size_t at = 0;
  while (*have - at >= 8) {
    uint32_t head[2];
    memcpy(head, buf + at, sizeof head);
    if (*have - at - 8 < head[1]) break;
    if (g_write(g_out, buf + at, 8 + head[1]) != 0) return -1;
    at += 8 + (size_t)head[1];
  }
  memmove(buf, buf + at, *have - at);
  *have -= at;
  return 0;
}

int relay_worker(int from, int32_t pid) {
  int done = syscall(SYS_pidfd_open, pid, 0); /* readable once the worker has ended */
  size_t cap = 64 * 1024, have = 0;
  uint8_t* buf = malloc(cap);
  int rc = buf == NULL ? -1 : 0, ended = 0;
  while (rc == 0) {
    if (have >= 8) { /* room for the whole message being read (a stopped call's buffers may be large) */
      uint32_t head[2];
      memcpy(head, buf, sizeof head);
      if (head[1] > RELAY_MAX_MESSAGE) break; /* no message of a worker's: drop the rest (the parent hears DIED) */
      size_t need = 8 + (size_t)head[1];
      if (need > cap) {
        uint8_t* bigger = realloc(buf, need);
        if (bigger == NULL) break;
        buf = bigger;
        cap = need;
      }
    }
    struct pollfd w[2] = {{from, POLLIN, 0}, {done, POLLIN, 0}};
    if (!ended && poll(w, done >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (!ended && done >= 0 && (w[1].revents & POLLIN)) {
      /* It ended: what it wrote is all in the pipe now; take it without waiting (a process it left may still hold
       * the pipe open), then stop. */
      ended = 1;
      fcntl(from, F_SETFL, fcntl(from, F_GETFL) | O_NONBLOCK);
    }
    ssize_t r = read(from, buf + have, cap - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break; /* end of file, or nothing left after the end */
    have += (size_t)r;
    rc = forward_whole(buf, &have);
  }
  /* A message cut short by the worker's death is dropped here, never half-sent to the parent. */
  free(buf);
  if (done >= 0) close(done);
  return rc;
}

void reply_to(int fd) {
  g_out = fd;
}
