/*
 * server_io.h — the fork server's pipes (server_io.c): requests from the
 * parent on one, replies on the other, each message two little-endian u32
 * (tag, payload bytes) and its payload (the protocol: npah_fuzz_server.c).
 * The pipes are moved off stdin and stdout before the target loads, so a
 * plugin that reads stdin or prints to stdout cannot touch them.
 */
#ifndef SERVER_IO_H
#define SERVER_IO_H

#include <stddef.h>
#include <stdint.h>

#include "../npah_fuzz.h"
#include "server_npa.h"

/* The largest request: the worker's pid, RUN's four words and a method name. */
#define REQUEST_WORDS (5 + FZ_METHOD_MAX / 4)

/* The native helper's npah_write_all: writes everything, waiting out a descriptor a plugin made O_NONBLOCK. */
typedef int32_t (*write_fn)(int32_t, const uint8_t*, uint32_t);

/* The protocol's descriptors (stdin and stdout until move_pipes). */
extern int g_in, g_out;

/* Sets the writer every reply goes through. */
void server_io_init(write_fn write_all);

/* Moves the protocol off stdin and stdout, makes stdin /dev/null and stdout a copy of stderr: 0, or -1. */
int move_pipes(void);

/* Reads n bytes; -1 at EOF or on an error. */
int read_all(int fd, void* p, size_t n);

/* The server's next request: its tag, and up to `cap` payload bytes (more is an error). -1 at EOF. */
int read_msg(uint32_t* tag, void* payload, uint32_t cap);

/* A worker's next request, whole (see server_io.c): its tag, payload and length. -1 at EOF or when too long. */
int next_request(uint32_t* tag, uint32_t* payload, uint32_t* len, uint32_t cap);

/* A whole message; or a header, then the rest with send_more. 0, or -1 when the pipe broke. */
int send_msg(uint32_t tag, const void* payload, uint32_t len);
int send_more(const void* p, uint64_t len);

/* A reply: `before`, {i32 status, u32 pad}, then `n` taken buffers, each {u32 kind, u32 pad, u64 length} and its bytes
 * when copied (every copy freed, sent or not). 0, or -1 when the
 * pipe broke or the reply is too long for a message. */
int send_taken_reply(uint32_t tag, const uint8_t* before, uint32_t before_len, int32_t status, taken_buf* bufs, int n);

/* The largest message a worker sends: a batch's flags, the comparison tables, a stopped call's two buffers. */
#define RELAY_MAX_MESSAGE (160u * 1024 * 1024)

/*
 * In the server, while worker `pid` lives: reads its replies from `from` (a
 * pipe of its own) and forwards each one to the parent only once it is whole,
 * until the worker has ended. A worker killed while it wrote a reply (the
 * watch's RSS kill can land anywhere) leaves part of a message, which a
 * shared pipe would have passed on: the parent would then have taken the
 * server's DIED and BORN for the rest of it, and waited for ever. 0, or -1
 * when the parent's pipe broke.
 */
int relay_worker(int from, int32_t pid);

/* In a worker: its replies go to `fd` (its pipe to the server's relay). */
void reply_to(int fd);

#endif
