/*
 * ladspa_adapter.h — the LADSPA adapter's internal declarations.
 *
 * The adapter is an npa plugin (include/npa.h) that loads one LADSPA library
 * (npa_adapter_open) and serves each of its plugins as one npa method named
 * after the plugin's Label. Files:
 *   npa_ladspa.c    npa entry points, the descriptor table, instances, stats
 *   ladspa_run.c    one LADSPA instance per label: instantiate, reset, run, judge
 *   ladspa_ports.c  port classification, ranges, defaults, guarded port buffers
 *   ladspa_modes.c  the runs a text input asks for by word: run_adding (compared
 *                   with run), twin (two instances block by block), cleanup
 *                   without activate
 *   ladspa_config.c the instance config
 *   ladspa_input.c  invoke input mapping (text and binary)
 *   ladspa_json.c   string builder, JSON escaping, describe and summary JSON
 */
#ifndef PLUGCHECK_LADSPA_ADAPTER_H
#define PLUGCHECK_LADSPA_ADAPTER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ladspa_abi.h"
#include "npa.h"

#define LS_MAX_DESCRIPTORS 4096
#define LS_MAX_PORTS 4096
#define LS_DESCRIBE_RATE 48000.0 /* the sample rate describe's default_value assumes */
#define LS_MAX_STRING 65536      /* plugin strings are read up to this many bytes */
#define LS_MAX_METHOD 200        /* bytes of a Label kept in a method name (describe allows 256) */
#define LS_MAX_TEXT 600          /* bytes of a Name or Maker kept in a description (4096 in all) */

/* ---- string builder (ladspa_json.c) ------------------------------------ */
typedef struct LsStr {
  char* ptr;
  size_t len;
  size_t cap;
  int oom; /* set once an allocation failed; every later append is dropped */
} LsStr;

void ls_str_putn(LsStr* s, const char* p, size_t n);
void ls_str_puts(LsStr* s, const char* p);
void ls_str_printf(LsStr* s, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void ls_str_free(LsStr* s);
/* Appends a JSON string literal of the plugin's text p (NULL -> null); invalid
 * UTF-8 becomes U+FFFD, control characters are escaped. */
void ls_json_str(LsStr* s, const char* p);
void ls_json_strn(LsStr* s, const char* p, size_t n);
/* Appends a finite number with %.9g, or null when not finite. */
void ls_json_num(LsStr* s, double v);
/* Appends a plugin string as plain text (bounded; NULL -> fallback). */
void ls_text(LsStr* s, const char* p, const char* fallback);
/* Appends at most max bytes of plugin text p as valid UTF-8: each invalid byte
 * becomes U+FFFD (method names: what the host sends back must match). */
void ls_utf8_clean(LsStr* s, const char* p, size_t max);

/* ---- output buffers (npa_ladspa.c) --------------------------------------- */
/* Moves s into an NpaBuf (counted as a live buffer); NPA_RESOURCE_LIMIT on OOM. */
int32_t ls_give(LsStr* s, NpaBuf* out);
/* Writes {"message": msg} to err and returns status. */
int32_t ls_fail(NpaBuf* err, int32_t status, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same, with an already built message. */
int32_t ls_fail_str(NpaBuf* err, int32_t status, const LsStr* msg);
/* Logs at level through the host's sink, if it wants the message. */
void ls_log(int32_t level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the descriptor table (npa_ladspa.c) --------------------------------- */
typedef struct LsPlugin {
  const LADSPA_Descriptor* d;
  unsigned long index;
  char* method; /* Label, or Label#index for a repeated Label; NUL-terminated */
  size_t method_len;
  const char* broken; /* why the adapter cannot use it, or NULL */
} LsPlugin;

typedef struct LsTable {
  LsPlugin* plugins;
  size_t count;
  char* file_name; /* the library's file name (describe's "name") */
} LsTable;

/* ---- ports (ladspa_ports.c) ---------------------------------------------- */
enum { LS_DIR_INVALID = 0, LS_DIR_INPUT = 1, LS_DIR_OUTPUT = 2 };
enum { LS_KIND_INVALID = 0, LS_KIND_CONTROL = 1, LS_KIND_AUDIO = 2 };

typedef struct LsPort {
  int dir;
  int kind;
  int hint; /* HintDescriptor */
  int has_lower, has_upper;
  double lower, upper; /* multiplied by the sample rate for SAMPLE_RATE ports */
  int has_default;
  double def;            /* the computed default_value */
  const char* def_name;  /* "minimum", ..., "440", or NULL */
} LsPort;

/* Classifies port i of a usable (not broken) descriptor at sample rate sr. */
void ls_port_info(const LADSPA_Descriptor* d, unsigned long i, double sr, LsPort* out);
/* The value a control input gets when nothing names it: default_value, or the
 * lower bound, or 0 (clamped into the range unless out_of_range). */
double ls_port_start(const LsPort* p, int out_of_range);
/* Clamps v into the port's declared bounds. */
double ls_port_clamp(const LsPort* p, double v);
/* Maps a position p in [0, 1] to a value of the port's range (binary input). */
double ls_port_position(const LsPort* p, double pos, int out_of_range);
/* Why the adapter cannot use descriptor d, or NULL. */
const char* ls_broken_reason(const LADSPA_Descriptor* d);

/* A guarded float buffer: PROT_NONE pages on both sides, its end touching the
 * second one. NULL on failure. */
float* ls_guarded_alloc(size_t floats);
void ls_guarded_free(float* buf, size_t floats);

/* ---- instances (ladspa_run.c) -------------------------------------------- */
typedef struct LsConfig {
  uint32_t sample_rate;
  uint32_t max_block;
  int out_of_range;
  double bound;
} LsConfig;

typedef struct LsLive {
  LADSPA_Handle handle;
  int activated;
  int fresh; /* not activated yet: its first run activates it (ls_prepare) */
  unsigned long nports;
  float** bufs;    /* one guarded buffer per port */
  float** conn;    /* what each port was connected to for the last run */
  size_t* lens;    /* its length in floats */
  LsPort* ports;   /* port info at the instance's sample rate */
} LsLive;

typedef struct LsInst {
  uint32_t magic;
  struct LsInst* prev;
  struct LsInst* next;
  atomic_int busy; /* an invoke runs */
  LsConfig cfg;
  LsLive** live; /* one per plugin, created on first use */
} LsInst;

/* The parsed invoke input. */
typedef struct LsInput {
  uint32_t frames;
  int inplace;  /* text word `inplace`: audio output k shares audio input k's buffer */
  int keep;     /* text word `keep`: no reset before the run */
  int fresh;    /* text word `fresh`: a new LADSPA instance for this run */
  int adding;   /* text word `adding`: run_adding (gain=G) compared with run */
  int cleanup;  /* text form `cleanup`: instantiate + cleanup, no run */
  int twin;     /* text word `twin`: two new instances block by block, compared (ladspa_modes.c) */
  uint32_t block; /* text setting `block=N`: run in blocks of N frames (0: one run of all frames) */
  int samples;  /* text word `samples`: the answer carries the audio outputs' samples after a NUL */
  double gain;  /* run_adding's gain (default 1) */
  double* controls; /* one per port (only control inputs are used) */
  float* audio;     /* frames samples per audio input, port after port */
  size_t audio_ports;
} LsInput;

/* Parses an invoke input for plugin pl at instance config cfg. */
int32_t ls_input_parse(const LsPlugin* pl, const LsPort* ports, const LsConfig* cfg, const uint8_t* in, size_t len,
                       LsInput* out, NpaBuf* err);
void ls_input_free(LsInput* in);
/* Parses the instance config (empty or a flat JSON object). */
int32_t ls_config_parse(const uint8_t* cfg, size_t len, LsConfig* out, NpaBuf* err);

/* Runs plugin pl once on instance inst with the given input. */
int32_t ls_run(LsInst* inst, const LsPlugin* pl, size_t plugin_index, const uint8_t* input, size_t input_len,
               NpaBuf* out, NpaBuf* err);
/* A new LADSPA instance of plugin pl (instantiated and connected; its run activates it), and its release
 * (deactivate, cleanup, buffers). */
int32_t ls_live_new(const LsInst* inst, const LsPlugin* pl, LsLive** out, NpaBuf* err);
void ls_live_free(const LADSPA_Descriptor* d, LsLive* lv);
/* The LADSPA instance of plugin `index`, replaced by a new one (instantiated and connected; its run activates it). */
int32_t ls_live_renew(LsInst* inst, const LsPlugin* pl, size_t index, NpaBuf* err);
/* Port i's data for a block of `frames`: a control's float, or the last `frames` floats of an audio buffer. */
float* ls_window(const LsLive* lv, unsigned long i, uint32_t frames);
/* Clears every port buffer, connects every port (audio output k to audio input k's buffer when `inplace`), and
 * copies the input's controls and audio in. */
void ls_connect(const LADSPA_Descriptor* d, LsLive* lv, const LsInput* in, int inplace);
/* After ls_connect: connects every port for the block starting at frame `off` (audio ports `off` floats further into
 * their buffers, controls where they were). */
void ls_connect_block(const LADSPA_Descriptor* d, const LsLive* lv, uint32_t off);
/* After ls_connect: runs `frames` in blocks of `block` (0 or at least frames: one run), reconnecting before each. */
void ls_run_blocks(const LADSPA_Descriptor* d, const LsLive* lv, uint32_t frames, uint32_t block);
/* Before ls_connect: sets the control inputs to the run's values, then activates a new instance, else resets it
 * (deactivate + activate) unless keep. */
void ls_prepare(const LADSPA_Descriptor* d, LsLive* lv, const LsInput* in, int keep);
/* The `adding` run (ladspa_modes.c): run on a fresh instance, then run_adding with the input's gain on another onto
 * prefilled outputs; NPA_PANIC when an audio output is not prefill + gain x run's (float tolerance). */
int32_t ls_run_adding(LsInst* inst, const LsPlugin* pl, size_t index, const LsInput* in, NpaBuf* err);
/* The `twin` run (ladspa_modes.c): this instance, new, and a second new one fed the same input block by block on this
 * thread; NPA_PANIC when their outputs differ (the instances share state). */
int32_t ls_run_twin(LsInst* inst, const LsPlugin* pl, size_t index, const LsInput* in, NpaBuf* err);
/* The `cleanup` probe (ladspa_modes.c): a new LADSPA instance, cleaned up without connect_port or activate. */
int32_t ls_cleanup_probe(const LsInst* inst, const LsPlugin* pl, NpaBuf* out, NpaBuf* err);
/* Deactivates and cleans up every LADSPA instance of inst, frees its buffers. */
void ls_inst_release(LsInst* inst, size_t plugins);

/* Counters (atomics, npa_ladspa.c). */
void ls_count_ladspa(int delta);
/* The descriptor table (read-only between npa_adapter_open and shutdown). */
const LsTable* ls_table(void);

/* ---- describe (ladspa_json.c) ------------------------------------------- */
void ls_describe(const LsTable* t, LsStr* s);

#endif /* PLUGCHECK_LADSPA_ADAPTER_H */
