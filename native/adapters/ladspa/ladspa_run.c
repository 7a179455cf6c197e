/*
 * ladspa_run.c — one LADSPA instance per (npa instance, label), created on the
 * label's first invoke: instantiated at the config's sample rate, every port
 * connected to a guarded buffer the adapter owns. Each invoke sets the control
 * inputs, then activates a new instance or resets a used one (deactivate +
 * activate, when activate exists; not with the word `keep`; `fresh` makes a
 * new instance instead), so activate sees the run's control values either way
 * (plugins such as caps' read them there); then it fills the audio inputs
 * (`inplace`: audio outputs share the audio inputs' buffers), reconnects every
 * port, calls run once (in blocks of N frames with `block=N`, each port
 * reconnected to its block's part of its buffer before each block, as hosts
 * that hand a plugin their own buffers do; `adding`, `twin`: ladspa_modes.c)
 * and judges the outputs:
 * an audio output sample that is NaN, +/-Inf or of a magnitude above the
 * config's bound, or a control output that is NaN or +/-Inf, is NPA_PANIC.
 * Control outputs are not held to the bound: they are not audio, and plugins
 * report values such as their latency in frames there (Debian's swh
 * pitchScale says 1536, tap_pitch 2100.5, artificialLatency up to 152720).
 *
 * When the process has the real-time watch preloaded (rt_watch.h: only the
 * sandbox child of the ladspa.hard_rt check), a plain run in one block is
 * called inside it, and
 * the answer adds what run called: "rt": {"first": "malloc", "calls":
 * {"malloc": 2, "free": 2}} ("first": null and no calls for a clean run;
 * "unwatched": [...] lists functions another library defines before the
 * watch, whose calls it cannot see).
 */
#include "ladspa_adapter.h"
#include "../rt_watch/rt_watch.h"

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ls_live_free(const LADSPA_Descriptor* d, LsLive* lv) {
  if (!lv) return;
  if (lv->handle) {
    if (lv->activated && d->deactivate) d->deactivate(lv->handle);
    d->cleanup(lv->handle);
    ls_count_ladspa(-1);
  }
  if (lv->bufs) {
    for (unsigned long i = 0; i < lv->nports; i++) ls_guarded_free(lv->bufs[i], lv->lens[i]);
  }
  free(lv->bufs);
  free(lv->conn);
  free(lv->lens);
  free(lv->ports);
  free(lv);
}

int32_t ls_live_new(const LsInst* inst, const LsPlugin* pl, LsLive** out, NpaBuf* err) {
  const LADSPA_Descriptor* d = pl->d;
  unsigned long n = d->PortCount;
  LsLive* lv = calloc(1, sizeof *lv);
  if (!lv) return ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
  lv->nports = n;
  lv->bufs = calloc(n ? n : 1, sizeof(float*));
  lv->conn = calloc(n ? n : 1, sizeof(float*));
  lv->lens = calloc(n ? n : 1, sizeof(size_t));
  lv->ports = calloc(n ? n : 1, sizeof(LsPort));
  if (!lv->bufs || !lv->conn || !lv->lens || !lv->ports) {
    ls_live_free(d, lv);
    return ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
  }
  for (unsigned long i = 0; i < n; i++) {
    ls_port_info(d, i, inst->cfg.sample_rate, &lv->ports[i]);
    /* A control port is one float; audio and invalid ports get a whole block. */
    lv->lens[i] = lv->ports[i].kind == LS_KIND_CONTROL ? 1 : inst->cfg.max_block;
    lv->bufs[i] = ls_guarded_alloc(lv->lens[i]);
    if (!lv->bufs[i]) {
      ls_live_free(d, lv);
      return ls_fail(err, NPA_RESOURCE_LIMIT, "Cannot map a port buffer");
    }
  }
  ls_log(NPA_LOG_DEBUG, "instantiate \"%s\" at %u Hz (max_block %u)", pl->method, inst->cfg.sample_rate,
         inst->cfg.max_block);
  lv->handle = d->instantiate(d, inst->cfg.sample_rate);
  if (!lv->handle) {
    ls_live_free(d, lv);
    return ls_fail(err, NPA_INTERNAL, "LADSPA plugin \"%s\": instantiate returned NULL at sample rate %u", pl->method,
                   inst->cfg.sample_rate);
  }
  ls_count_ladspa(1);
  for (unsigned long i = 0; i < n; i++) d->connect_port(lv->handle, i, lv->conn[i] = lv->bufs[i]);
  lv->fresh = 1; /* activated by its first run, once its ports hold that run's values (ls_prepare) */
  *out = lv;
  return NPA_OK;
}

void ls_inst_release(LsInst* inst, size_t plugins) {
  const LsTable* t = ls_table();
  if (!inst->live) return;
  for (size_t i = 0; i < plugins; i++) {
    if (inst->live[i]) ls_live_free(t->plugins[i].d, inst->live[i]);
    inst->live[i] = NULL;
  }
}

int32_t ls_live_renew(LsInst* inst, const LsPlugin* pl, size_t index, NpaBuf* err) {
  ls_live_free(pl->d, inst->live[index]);
  inst->live[index] = NULL;
  return ls_live_new(inst, pl, &inst->live[index], err);
}

float* ls_window(const LsLive* lv, unsigned long i, uint32_t frames) {
  return lv->lens[i] > frames ? lv->bufs[i] + (lv->lens[i] - frames) : lv->bufs[i];
}

void ls_prepare(const LADSPA_Descriptor* d, LsLive* lv, const LsInput* in, int keep) {
  /* activate may read the controls (caps' plugins do): the run's values, on a fresh instance as after a reset. */
  for (unsigned long i = 0; i < lv->nports; i++) {
    if (lv->ports[i].dir == LS_DIR_INPUT && lv->ports[i].kind == LS_KIND_CONTROL) lv->bufs[i][0] = (float)in->controls[i];
  }
  if (lv->fresh || !keep) {
    if (!lv->fresh && lv->activated && d->deactivate) d->deactivate(lv->handle);
    if (d->activate) {
      d->activate(lv->handle);
      lv->activated = 1;
    }
  }
  lv->fresh = 0;
}

void ls_connect(const LADSPA_Descriptor* d, LsLive* lv, const LsInput* in, int inplace) {
  size_t a = 0;
  for (unsigned long i = 0; i < lv->nports; i++) {
    const LsPort* p = &lv->ports[i];
    memset(lv->bufs[i], 0, lv->lens[i] * sizeof(float));
    /* Each block ends where the guard page starts: a read or write past this block's frames faults. */
    float* buf = ls_window(lv, i, in->frames);
    lv->conn[i] = buf;
    if (p->dir == LS_DIR_INPUT && p->kind == LS_KIND_CONTROL) buf[0] = (float)in->controls[i];
    else if (p->dir == LS_DIR_INPUT && p->kind == LS_KIND_AUDIO) {
      memcpy(buf, in->audio + a * in->frames, in->frames * sizeof(float));
      a++;
    }
  }
  if (inplace) {
    /* Audio output k shares audio input k's buffer (port order), as many pairs as both have. */
    unsigned long next_in = 0;
    for (unsigned long o = 0; o < lv->nports; o++) {
      if (lv->ports[o].dir != LS_DIR_OUTPUT || lv->ports[o].kind != LS_KIND_AUDIO) continue;
      while (next_in < lv->nports &&
             !(lv->ports[next_in].dir == LS_DIR_INPUT && lv->ports[next_in].kind == LS_KIND_AUDIO)) {
        next_in++;
      }
      if (next_in == lv->nports) break;
      lv->conn[o] = lv->conn[next_in++];
    }
  }
  for (unsigned long i = 0; i < lv->nports; i++) d->connect_port(lv->handle, i, lv->conn[i]);
}

void ls_connect_block(const LADSPA_Descriptor* d, const LsLive* lv, uint32_t off) {
  for (unsigned long i = 0; i < lv->nports; i++) {
    d->connect_port(lv->handle, i, lv->ports[i].kind == LS_KIND_CONTROL ? lv->conn[i] : lv->conn[i] + off);
  }
}

void ls_run_blocks(const LADSPA_Descriptor* d, const LsLive* lv, uint32_t frames, uint32_t block) {
  if (block == 0 || block >= frames) {
    d->run(lv->handle, frames);
    return;
  }
  for (uint32_t off = 0; off < frames; off += block) {
    if (off > 0) ls_connect_block(d, lv, off); /* the first block is where ls_connect connected the ports */
    d->run(lv->handle, frames - off < block ? frames - off : block);
  }
}

/* A 64-bit hash of n samples' bits: FNV-1a's step over 64-bit words in four lanes (word i to lane i % 4), folded at
 * the end; the lanes' multiplies overlap (byte-wise FNV-1a was most of a fuzz run's time). */
static uint64_t samples_hash(const float* p, uint32_t n) {
  const uint64_t prime = 0x100000001b3ull;
  uint64_t lane[4] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 0xcbf29ce4ull, 0x84222325ull};
  size_t words = n / 2, i = 0;
  for (; i + 4 <= words; i += 4) {
    uint64_t w[4];
    memcpy(w, p + 2 * i, sizeof w);
    for (int k = 0; k < 4; k++) lane[k] = (lane[k] ^ w[k]) * prime;
  }
  for (; i < words; i++) {
    uint64_t w;
    memcpy(&w, p + 2 * i, sizeof w);
    lane[i % 4] = (lane[i % 4] ^ w) * prime;
  }
  uint64_t h = (uint64_t)n * prime;
  if (n % 2) {
    uint32_t last;
    memcpy(&last, p + n - 1, sizeof last);
    h = (h ^ last) * prime;
  }
  for (int k = 0; k < 4; k++) h = (h ^ lane[k] ^ (lane[k] >> 29)) * prime;
  return h;
}

static void value_text(LsStr* s, double v) {
  if (isnan(v)) ls_str_puts(s, "NaN");
  else if (isinf(v)) ls_str_puts(s, v > 0 ? "+Inf" : "-Inf");
  else ls_str_printf(s, "%.9g", v);
}

/* The PANIC message for a bad output value v of port i (at frame f, or a control). */
static int32_t judge_fail(const LsInst* inst, const LsPlugin* pl, const LsLive* lv, const LsInput* in,
                          unsigned long i, uint32_t f, double v, NpaBuf* err) {
  const LADSPA_Descriptor* d = pl->d;
  LsStr m = {0};
  ls_str_puts(&m, "LADSPA plugin \"");
  ls_text(&m, d->Label, "");
  ls_str_puts(&m, "\" wrote ");
  value_text(&m, v);
  ls_str_puts(&m, lv->ports[i].kind == LS_KIND_CONTROL ? " to control output port \"" : " to output port \"");
  ls_text(&m, d->PortNames[i], "?");
  if (lv->ports[i].kind == LS_KIND_CONTROL) ls_str_printf(&m, "\" after a block of %u frames", in->frames);
  else ls_str_printf(&m, "\" at frame %u of %u", f, in->frames);
  ls_str_printf(&m, " (sample rate %u; controls:", inst->cfg.sample_rate);
  int first = 1;
  for (unsigned long c = 0; c < d->PortCount; c++) {
    if (lv->ports[c].dir != LS_DIR_INPUT || lv->ports[c].kind != LS_KIND_CONTROL) continue;
    ls_str_puts(&m, first ? " " : ", ");
    ls_text(&m, d->PortNames[c], "?");
    ls_str_printf(&m, "=%.9g", in->controls[c]);
    first = 0;
  }
  ls_str_puts(&m, first ? " none)" : ")");
  int32_t rc = ls_fail_str(err, NPA_PANIC, &m);
  ls_str_free(&m);
  return rc;
}

static int bad(double v, double bound) { return !isfinite(v) || fabs(v) > bound; }

/* ---- the real-time watch ------------------------------------------------- */

#define RT_NAME(id, name) name,
static const char* const rt_names[NPA_RT_COUNT] = {NPA_RT_WATCHED(RT_NAME)};
#undef RT_NAME

static NpaRtWatchBegin g_rt_begin;
static NpaRtWatchEnd g_rt_end;
static unsigned char g_rt_shadowed[NPA_RT_COUNT]; /* another library's definition comes first (a sanitizer's) */
static atomic_int g_rt_state;                     /* 0: not looked for yet, 1: found, 2: absent */

/*
 * Looks for the watch in the process once (a race only looks twice); 1 when
 * it is there. Notes each watched function whose first definition is not the
 * watch's (an ASan runtime preloaded before it defines malloc): calls of
 * those never reach the watch.
 */
static int rt_watched(void) {
  int state = atomic_load(&g_rt_state);
  if (state != 0) return state == 1;
  NpaRtWatchBegin begin = (NpaRtWatchBegin)dlsym(RTLD_DEFAULT, NPA_RT_WATCH_BEGIN);
  NpaRtWatchEnd end = (NpaRtWatchEnd)dlsym(RTLD_DEFAULT, NPA_RT_WATCH_END);
  Dl_info self, info;
  if (begin && end && dladdr((void*)begin, &self) != 0) {
    for (int i = 0; i < NPA_RT_COUNT; i++) {
      void* f = dlsym(RTLD_DEFAULT, rt_names[i]);
      g_rt_shadowed[i] = f == NULL || dladdr(f, &info) == 0 || info.dli_fbase != self.dli_fbase;
    }
    g_rt_begin = begin;
    g_rt_end = end;
    state = 1;
  } else {
    state = 2;
  }
  atomic_store(&g_rt_state, state);
  return state == 1;
}

/* Appends ,"rt":{...} for the counts of one watched run (and the functions the watch cannot see, if any). */
static void rt_json(LsStr* s, int32_t first, const uint32_t* counts) {
  ls_str_puts(s, ",\"rt\":{\"first\":");
  if (first >= 0 && first < NPA_RT_COUNT) ls_json_str(s, rt_names[first]);
  else ls_str_puts(s, "null");
  ls_str_puts(s, ",\"calls\":{");
  int any = 0;
  for (int i = 0; i < NPA_RT_COUNT; i++) {
    if (counts[i] == 0) continue;
    ls_str_printf(s, "%s\"%s\":%u", any ? "," : "", rt_names[i], counts[i]);
    any = 1;
  }
  ls_str_puts(s, "}");
  any = 0;
  for (int i = 0; i < NPA_RT_COUNT; i++) {
    if (!g_rt_shadowed[i]) continue;
    ls_str_printf(s, "%s\"%s\"", any ? "," : ",\"unwatched\":[", rt_names[i]);
    any = 1;
  }
  ls_str_puts(s, any ? "]}" : "}");
}

int32_t ls_run(LsInst* inst, const LsPlugin* pl, size_t index, const uint8_t* input, size_t input_len, NpaBuf* out,
               NpaBuf* err) {
  const LADSPA_Descriptor* d = pl->d;
  int32_t rc;
  if (!inst->live[index]) {
    rc = ls_live_new(inst, pl, &inst->live[index], err);
    if (rc != NPA_OK) return rc;
  }
  LsInput in;
  rc = ls_input_parse(pl, inst->live[index]->ports, &inst->cfg, input, input_len, &in, err);
  if (rc != NPA_OK) return rc;
  if (in.cleanup) {
    rc = ls_cleanup_probe(inst, pl, out, err);
    ls_input_free(&in);
    return rc;
  }
  if (in.fresh && !inst->live[index]->fresh) {
    rc = ls_live_renew(inst, pl, index, err);
    if (rc != NPA_OK) {
      ls_input_free(&in);
      return rc;
    }
  }
  LsLive* lv = inst->live[index];
  int watched = 0; /* the real-time watch sees a plain run (not the adding mode's two runs) */
  uint32_t rt_counts[NPA_RT_COUNT];
  int32_t rt_first = -1;
  if (in.twin || in.adding) {
    rc = in.twin ? ls_run_twin(inst, pl, index, &in, err) : ls_run_adding(inst, pl, index, &in, err);
    if (rc != NPA_OK) {
      ls_input_free(&in);
      return rc;
    }
    lv = inst->live[index];
  } else {
    /* Reset: equal inputs must give equal outputs (unless `keep`). */
    ls_prepare(d, lv, &in, in.keep);
    ls_connect(d, lv, &in, in.inplace);
    watched = (in.block == 0 || in.block >= in.frames) && rt_watched();
    if (watched) g_rt_begin(); /* nothing but run between begin and end */
    ls_run_blocks(d, lv, in.frames, in.block);
    if (watched) rt_first = g_rt_end(rt_counts, NPA_RT_COUNT);
  }
  /* Judge, then summarise. */
  LsStr s = {0};
  ls_str_printf(&s, "{\"frames\":%u,", in.frames);
  if (in.samples) ls_str_printf(&s, "\"sample_rate\":%u,", inst->cfg.sample_rate); /* for the caller's WAV file */
  ls_str_puts(&s, "\"outputs\":[");
  int first = 1;
  for (unsigned long i = 0; i < lv->nports; i++) {
    const LsPort* p = &lv->ports[i];
    if (p->dir != LS_DIR_OUTPUT || p->kind == LS_KIND_INVALID) continue;
    const float* buf = lv->conn[i];
    ls_str_puts(&s, first ? "{\"port\":" : ",{\"port\":");
    first = 0;
    if (d->PortNames[i]) ls_json_str(&s, d->PortNames[i]);
    else ls_str_printf(&s, "\"#%lu\"", i);
    if (p->kind == LS_KIND_CONTROL) {
      if (!isfinite(buf[0])) goto fail_control; /* finite only: see the header comment */
      ls_str_puts(&s, ",\"kind\":\"control\",\"value\":");
      ls_json_num(&s, buf[0]);
      ls_str_puts(&s, "}");
      continue;
    }
    double peak = 0, sum = 0;
    unsigned long denormals = 0;
    for (uint32_t f = 0; f < in.frames; f++) {
      double v = buf[f];
      if (bad(v, inst->cfg.bound)) {
        rc = judge_fail(inst, pl, lv, &in, i, f, v, err);
        goto done;
      }
      if (fpclassify(buf[f]) == FP_SUBNORMAL) denormals++;
      if (fabs(v) > peak) peak = fabs(v);
      sum += v * v;
    }
    ls_str_puts(&s, ",\"kind\":\"audio\",\"peak\":");
    ls_json_num(&s, peak);
    ls_str_puts(&s, ",\"rms\":");
    ls_json_num(&s, sqrt(sum / in.frames));
    ls_str_printf(&s, ",\"denormals\":%lu,\"hash\":\"%016llx\"}", denormals,
                  (unsigned long long)samples_hash(buf, in.frames));
    continue;
  fail_control:
    rc = judge_fail(inst, pl, lv, &in, i, 0, buf[0], err);
    goto done;
  }
  ls_str_puts(&s, "]");
  if (watched) rt_json(&s, rt_first, rt_counts);
  ls_str_puts(&s, "}");
  if (in.samples) {
    /* After a NUL: each audio output's samples, port after port (float32, this machine's order: little-endian). */
    ls_str_putn(&s, "", 1);
    for (unsigned long i = 0; i < lv->nports; i++) {
      if (lv->ports[i].dir == LS_DIR_OUTPUT && lv->ports[i].kind == LS_KIND_AUDIO) {
        ls_str_putn(&s, (const char*)lv->conn[i], in.frames * sizeof(float));
      }
    }
  }
  rc = ls_give(&s, out);
done:
  ls_str_free(&s);
  ls_input_free(&in);
  return rc;
}
