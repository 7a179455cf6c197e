/*
 * server_npa.h — the fork server's npa plugin (server_npa.c): started once in
 * the server (open, ABI check, init with logs off, describe, create), and the
 * buffers of a call the batch loop stopped at taken over as the host's guard
 * takes them (lib/ffi/memory.ts, takeBuffer): copied when at most the output
 * bound, then freed with the plugin's own npa_buffer_free, exactly once.
 */
#ifndef SERVER_NPA_H
#define SERVER_NPA_H

#include <stddef.h>
#include <stdint.h>

#include "../../include/npa.h"

/* What became of a plugin buffer (TakenBuffer's kinds, in lib/fuzz/parent/remote_loop.ts's order). */
enum { TAKEN_EMPTY = 0, TAKEN_BYTES = 1, TAKEN_NULL_WITH_LENGTH = 2, TAKEN_OVERSIZE = 3 };

/* A buffer taken over: its kind, the length the plugin claimed, and for TAKEN_BYTES a malloc'd copy. */
typedef struct taken_buf {
  uint32_t kind;
  uint64_t len;
  uint8_t* bytes;
} taken_buf;

/* The started plugin. */
typedef struct server_npa {
  void* instance;
  int has_stats;
  /* The describe() document (malloc'd) and its length. */
  uint8_t* describe;
  size_t describe_len;
} server_npa;

/*
 * Starts the npa plugin at `path` (dlopen'ed RTLD_LAZY | RTLD_LOCAL, as Deno
 * opens a plugin), or with `adapter` (not NULL) the adapter that serves the
 * library at `path` (npa_adapter_open, as `openAdapterTarget` does): required symbols, the ABI major, init with `host` (the
 * native helper's log functions, every level off, as a Deno fuzz child's: they
 * still read what a plugin passes, so a bad pointer crashes in the plugin's
 * call either way), describe (at most max_out bytes), create with `config`.
 * An init that lowered the descriptor limit or set O_NONBLOCK on a descriptor
 * it does not own fails here too (the Deno child's guard names it).
 * Returns 0, or -1 after saying on stderr which step failed and why (the
 * parent then starts the job in a Deno fuzz child, whose guard names the
 * error exactly).
 */
int server_npa_start(server_npa* p, const char* path, const char* adapter, const NpaHost* host, const uint8_t* config,
                     size_t config_len, uint64_t max_out);

/* Takes over a buffer the batch loop left (ptr, len) with the bound max. */
taken_buf server_npa_take(uint64_t ptr, uint64_t len, uint64_t max);

/* npa_plugin_stats, its output taken with the bound max. The status. */
int32_t server_npa_stats(taken_buf* out, uint64_t max);

/* Threads in this process (1 unless the target started some: then no worker can be forked from it), or -1. */
int server_thread_count(void);

#endif
