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
 * between the two runs (callers compare such a plugin's two plain fresh runs
 * first).
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
  /* 1: run on a fresh instance; keep its audio outputs. */
  size_t outs = 0;
  for (unsigned long i = 0; i < lv->nports; i++) {
    outs += lv->ports[i].dir == LS_DIR_OUTPUT && lv->ports[i].kind == LS_KIND_AUDIO;
  }
  float* ran = malloc((outs ? outs : 1) * in->frames * sizeof(float));
  if (!ran) return ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
  ls_prepare(d, lv, in, 0);
  ls_connect(d, lv, in, 0);
  d->run(lv->handle, in->frames);
  size_t k = 0;
  for (unsigned long i = 0; i < lv->nports; i++) {
    if (lv->ports[i].dir != LS_DIR_OUTPUT || lv->ports[i].kind != LS_KIND_AUDIO) continue;
    memcpy(ran + k++ * in->frames, lv->conn[i], in->frames * sizeof(float));
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
