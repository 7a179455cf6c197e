/*
 * ladspa_modes.c — the runs a text input asks for by word, other than a plain
 * run (ladspa_input.c lists the words):
 *
 * `adding` (gain=G, default 1): LADSPA's run_adding must add G x what run
 * would write to each audio output buffer, whatever it held. The adapter runs
 * the input twice, each time on a new LADSPA instance (so both start from the
 * same state, activate or not): once with run, keeping its audio outputs;
 * then with set_run_adding_gain(G) and run_adding onto audio outputs prefilled
 * with a known signal (seeded noise at half scale). Every audio output sample
 * must be prefill + G x run's, within float rounding (relative 1e-4 of the
 * terms' magnitudes, plus 1e-6); else NPA_PANIC naming the port, the frame
 * and the three values. The answer is the usual summary of the final outputs.
 * A plugin without run_adding or set_run_adding_gain answers NPA_UNSUPPORTED.
 * The comparison holds for a plugin whose output is a function of its input
 * and a fresh instance: one that draws from a shared random generator differs
 * between the two runs. So the plain run is made twice, each on a new
 * instance, first: when the two differ, the plugin's output is no function of
 * its input, run_adding cannot be judged, and the answer is NPA_UNSUPPORTED
 * (ladspa-sdk's noise_white would otherwise be blamed for its own noise).
 *
 * `twin` (block=N, default 64): a host that runs two instances of a plugin on
 * one audio thread calls them block by block, one after the other. The
 * adapter makes this instance new, instantiates a second new one, activates
 * both, feeds both the input and runs them in turn, a block of each at a time
 * (each port reconnected to its block before each). Two new instances fed the
 * same input must give the same outputs, within rounding: 1e-5 of full scale
 * (of the port's peak, when louder; a float's rounding on full-scale audio is
 * 6e-8), so a plugin whose instances sum in another order (an FFT whose plan
 * depends on its buffers' alignment) is not blamed for rounding. Else
 * NPA_PANIC naming the port, the frame and both values: the instances share
 * state (a static or global variable), or their output depends on more than
 * their input (where their memory lies: Debian's swh pitchScale, whose
 * instances agree one after the other, drift apart by 1e-5 to 1e-3 when both
 * live, at another frame each time). Deterministic, where instances run at the same time on
 * two threads overlap only by chance. The answer is the usual summary of
 * this instance's outputs; the second instance is released. Only for a
 * plugin whose output is a function of its input (an audio input and
 * activate, what describe() calls pure): a generator may draw from a random
 * generator its instances share by design (ladspa-sdk's noise_white), and
 * gets NPA_UNSUPPORTED.
 *
 * `cleanup`: LADSPA allows cleanup right after instantiate (a host that never
 * activates an instance); the adapter instantiates a new instance at the
 * instance's sample rate and cleans it up at once, with no connect_port,
 * activate or run. A crash there is the plugin's (its cleanup freed what
 * activate allocates, or touched an unconnected port).
 */
#include "ladspa_adapter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The prefill of audio output k: seeded noise in [-0.5, 0.5], another stream per port. */
static float prefill(size_t k, uint32_t f) {
  uint64_t x = (k + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)f * 0xD1B54A32D192ED03ull);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
}

int32_t ls_run_adding(LsInst* inst, const LsPlugin* pl, size_t index, const LsInput* in, NpaBuf* err) {
  const LADSPA_Descriptor* d = pl->d;
  if (!d->run_adding || !d->set_run_adding_gain) {
    return ls_fail(err, NPA_UNSUPPORTED, "LADSPA plugin \"%s\" has no %s: \"adding\" needs run_adding and "
                   "set_run_adding_gain", pl->method, d->run_adding ? "set_run_adding_gain" : "run_adding");
  }
  int32_t rc;
  LsLive* lv = inst->live[index];
  if (!lv->fresh) {
    rc = ls_live_renew(inst, pl, index, err);
    if (rc != NPA_OK) return rc;
    lv = inst->live[index];
  }
  /* 1: run on a fresh instance, twice (a new one each time); keep its audio outputs, which must agree. */
  size_t outs = 0;
  for (unsigned long i = 0; i < lv->nports; i++) {
    outs += lv->ports[i].dir == LS_DIR_OUTPUT && lv->ports[i].kind == LS_KIND_AUDIO;
  }
  size_t samples = (outs ? outs : 1) * in->frames;
  float* ran = malloc(2 * samples * sizeof(float));
  if (!ran) return ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
  size_t k = 0;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && (rc = ls_live_renew(inst, pl, index, err)) != NPA_OK) {
      free(ran);
      return rc;
    }
    lv = inst->live[index];
    ls_prepare(d, lv, in, 0);
    ls_connect(d, lv, in, 0);
    d->run(lv->handle, in->frames);
    k = 0;
    for (unsigned long i = 0; i < lv->nports; i++) {
      if (lv->ports[i].dir != LS_DIR_OUTPUT || lv->ports[i].kind != LS_KIND_AUDIO) continue;
      memcpy(ran + pass * samples + k++ * in->frames, lv->conn[i], in->frames * sizeof(float));
    }
  }
  if (memcmp(ran, ran + samples, outs * in->frames * sizeof(float)) != 0) {
    free(ran);
    return ls_fail(err, NPA_UNSUPPORTED,
                   "LADSPA plugin \"%s\": two new instances run on the same input gave other outputs, so its output is "
                   "no function of its input and \"adding\" cannot judge run_adding against run",
                   pl->method);
  }
  /* 2: run_adding with the gain on another fresh instance, onto prefilled outputs. */
  rc = ls_live_renew(inst, pl, index, err);
  if (rc != NPA_OK) {
    free(ran);
    return rc;
  }
  lv = inst->live[index];
  ls_prepare(d, lv, in, 0);
  ls_connect(d, lv, in, 0);
  k = 0;
  for (unsigned long i = 0; i < lv->nports; i++) {
    if (lv->ports[i].dir != LS_DIR_OUTPUT || lv->ports[i].kind != LS_KIND_AUDIO) continue;
    for (uint32_t f = 0; f < in->frames; f++) lv->conn[i][f] = prefill(k, f);
    k++;
  }
  d->set_run_adding_gain(lv->handle, (LADSPA_Data)in->gain);
  d->run_adding(lv->handle, in->frames);
  /* 3: every audio output sample is prefill + gain x run's (non-finite values are the judge's). */
  k = 0;
  for (unsigned long i = 0; i < lv->nports && rc == NPA_OK; i++) {
    if (lv->ports[i].dir != LS_DIR_OUTPUT || lv->ports[i].kind != LS_KIND_AUDIO) continue;
    const float* r = ran + k * in->frames;
    for (uint32_t f = 0; f < in->frames; f++) {
      double pre = prefill(k, f), want = pre + (double)(float)in->gain * r[f], got = lv->conn[i][f];
      double tol = 1e-4 * (fabs(pre) + fabs((double)(float)in->gain * r[f])) + 1e-6;
      if (!isfinite(want) || !isfinite(got) || fabs(got - want) <= tol) continue;
      rc = ls_fail(err, NPA_PANIC,
                   "LADSPA plugin \"%s\": run_adding with gain %.9g wrote %.9g to output port \"%s\" at frame %u of "
                   "%u, where the buffer held %.9g and run wrote %.9g: it must add gain x run's output (%.9g)",
                   pl->method, in->gain, got, d->PortNames[i] ? d->PortNames[i] : "?", f, in->frames, pre, r[f],
                   want);
      break;
    }
    k++;
  }
  free(ran);
  return rc;
}

#define LS_TWIN_BLOCK 64
#define LS_TWIN_TOLERANCE 1e-5 /* of full scale (-100 dBFS), or of the port's peak when louder */

int32_t ls_run_twin(LsInst* inst, const LsPlugin* pl, size_t index, const LsInput* in, NpaBuf* err) {
  const LADSPA_Descriptor* d = pl->d;
  LsLive* a = inst->live[index]; /* new: `twin` implies `fresh` (ladspa_input.c), so ls_run renewed it */
  int audio_in = 0;
  for (unsigned long i = 0; i < a->nports; i++) {
    audio_in |= a->ports[i].dir == LS_DIR_INPUT && a->ports[i].kind == LS_KIND_AUDIO;
  }
  if (!audio_in || !d->activate) {
    return ls_fail(err, NPA_UNSUPPORTED,
                   "LADSPA plugin \"%s\": \"twin\" compares two instances of a plugin whose output is a function of its "
                   "input (an audio input and activate); this one has %s",
                   pl->method, !audio_in ? "no audio input" : "no activate");
  }
  LsLive* b = NULL;
  int32_t rc = ls_live_new(inst, pl, &b, err);
  if (rc != NPA_OK) return rc;
  /* Both activated before either runs, as a host does when it adds the second. */
  ls_prepare(d, a, in, 0);
  ls_prepare(d, b, in, 0);
  ls_connect(d, a, in, 0);
  ls_connect(d, b, in, 0);
  uint32_t block = in->block ? in->block : LS_TWIN_BLOCK;
  for (uint32_t off = 0; off < in->frames; off += block) {
    uint32_t n = in->frames - off < block ? in->frames - off : block;
    ls_connect_block(d, a, off);
    d->run(a->handle, n);
    ls_connect_block(d, b, off);
    d->run(b->handle, n);
  }
  for (unsigned long i = 0; i < a->nports && rc == NPA_OK; i++) {
    const LsPort* p = &a->ports[i];
    if (p->dir != LS_DIR_OUTPUT || p->kind == LS_KIND_INVALID) continue;
    uint32_t len = p->kind == LS_KIND_CONTROL ? 1 : in->frames;
    double peak = 1;
    for (uint32_t f = 0; f < len; f++) {
      if (fabs(a->conn[i][f]) > peak) peak = fabs(a->conn[i][f]);
    }
    for (uint32_t f = 0; f < len; f++) {
      double x = a->conn[i][f], y = b->conn[i][f];
      /* Equal bits (NaN included: the judge reports it), or equal within rounding. */
      if (memcmp(&a->conn[i][f], &b->conn[i][f], sizeof(float)) == 0 || fabs(x - y) <= LS_TWIN_TOLERANCE * peak) {
        continue;
      }
      rc = ls_fail(err, NPA_PANIC,
                   "LADSPA plugin \"%s\": two new instances fed the same input block by block on one thread (blocks "
                   "of %u frames, this one first) differ at output port \"%s\", frame %u: the second wrote %.9g where "
                   "this one wrote %.9g. They share state (a static or global variable), or their output depends on "
                   "more than their input, as a host running two of them on one audio thread would hear",
                   pl->method, block < in->frames ? block : in->frames, d->PortNames[i] ? d->PortNames[i] : "?", f,
                   b->conn[i][f], a->conn[i][f]);
      break;
    }
  }
  ls_live_free(d, b);
  return rc;
}

int32_t ls_cleanup_probe(const LsInst* inst, const LsPlugin* pl, NpaBuf* out, NpaBuf* err) {
  const LADSPA_Descriptor* d = pl->d;
  ls_log(NPA_LOG_DEBUG, "instantiate \"%s\" at %u Hz, then cleanup without activate", pl->method,
         inst->cfg.sample_rate);
  LADSPA_Handle h = d->instantiate(d, inst->cfg.sample_rate);
  if (!h) {
    return ls_fail(err, NPA_INTERNAL, "LADSPA plugin \"%s\": instantiate returned NULL at sample rate %u", pl->method,
                   inst->cfg.sample_rate);
  }
  ls_count_ladspa(1);
  d->cleanup(h);
  ls_count_ladspa(-1);
  LsStr s = {0};
  ls_str_puts(&s, "{\"frames\":0,\"outputs\":[],\"lifecycle\":\"instantiate, cleanup\"}");
  return ls_give(&s, out);
}
