/*
 * ladspa_input.c — how an invoke input becomes one run of a LADSPA plugin
 * (the instance config: ladspa_config.c).
 *
 * Invoke input (the method is a plugin's Label):
 *
 * Text form: printable ASCII whose first word is silence, impulse, noise, sine,
 * audio or cleanup:
 *     <signal> [frames=N] [seed=S] [freq=F] [<port>=<value>]... [<mode>]...
 *   - a mode is a word: inplace (audio output k connected to audio input k's
 *     buffer, in port order, as many as both have), keep (no reset before the
 *     run), fresh (a new LADSPA instance for the run), adding (with gain=G,
 *     default 1: run_adding compared with run, ladspa_modes.c), twin (a second
 *     new instance beside this one, new too, both fed the input block by block
 *     on one thread and compared, ladspa_modes.c). adding and twin go with
 *     neither keep, inplace nor each other; gain= only with adding.
 *   - block=N: run in blocks of N frames (1..frames; more: one block), every
 *     port reconnected before each block; twin's blocks (default 64). Not with
 *     adding.
 *   - cleanup (instead of a signal): instantiate a new LADSPA instance and
 *     clean it up at once, with no connect_port, activate or run.
 *   - audio (the caller's audio, as plugcheck invoke sends a WAV file): the
 *     text ends with a NUL byte, and float32 LE samples follow, frames per
 *     audio input port, port after port; frames = their count / the audio
 *     inputs (frames=N, when given, must agree; with no audio input, frames=N
 *     and nothing after the NUL). 1..max_block frames.
 *   - samples (a mode word): the answer is the JSON summary, a NUL byte, then
 *     the float32 LE samples of each audio output port, port after port (not
 *     with adding or twin, whose outputs are comparisons).
 *   - <port> is a control input port's name (double-quoted when it holds spaces or
 *     '=': "Gain (dB)"=3) or its index (#2=3). A quoted name is always a port.
 *   - frames: default 256, clamped to 1..max_block. seed: default 1 (noise).
 *     freq: default 440 Hz (sine), at the instance's sample rate.
 *   - silence: zeros; impulse: 1 at frame 0, then zeros; noise: uniform in
 *     [-1, 1] from xorshift64 seeded with seed, one stream continued port after
 *     port; sine: sin(2 pi freq n / sample_rate). Every audio input gets it.
 *   - A control not named gets its default_value (else its lower bound, else 0).
 *     Unless out_of_range, every control value (named or not) is clamped into
 *     the port's declared bounds.
 *   - An unknown setting or port, a port that is not a control input, or a
 *     malformed value is NPA_INVALID_INPUT naming it.
 *
 * Binary form: any other input (what the fuzzer sends). A missing byte reads
 * as 0x00 for a low byte, as 0x00 for frames' high byte and 0x80 for a
 * control's high byte (so a missing control reads 0x8000, the middle).
 *   - bytes 0-1, u16 LE v: frames = 1 + v % max_block;
 *   - then 2 bytes per control INPUT port in port order, u16 LE v: the position
 *     p = v / 65535 in the port's range: linear from lower to upper; geometric
 *     when LOGARITHMIC and both ends > 0; rounded when INTEGER; the lower end
 *     for p < 0.5 and the upper one otherwise when TOGGLED. An end left open is
 *     default_value -/+ 1 (or the other bound -/+ 1); no bounds at all: default
 *     -/+ 1, or [0, 1]. With out_of_range the range [lo, hi] is widened to
 *     [lo - span, hi + span] (span = hi - lo) first;
 *   - the rest: int16 LE samples / 32768, interleaved like a WAV file: for each
 *     frame, one sample per audio input port in port order; repeated cyclically
 *     when fewer, silence when there are none (an odd last byte is ignored).
 * SAMPLE_RATE hints: bounds (and defaults from them) are multiplied by the
 * instance's sample rate.
 */
#include "ladspa_adapter.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LS_TEXT_FRAMES 256
/* ---- invoke input ---------------------------------------------------------- */

enum { SIG_SILENCE, SIG_IMPULSE, SIG_NOISE, SIG_SINE, SIG_CLEANUP, SIG_AUDIO };

/* Whether in[0..len) is the text form: *text_len is the text's length (up to the NUL before `audio`'s samples). */
static int text_form(const uint8_t* in, size_t len, int* signal, size_t* text_len) {
  const uint8_t* nul = memchr(in, 0, len);
  size_t tlen = nul ? (size_t)(nul - in) : len;
  for (size_t i = 0; i < tlen; i++) {
    if (!((in[i] >= 0x20 && in[i] < 0x7F) || in[i] == '\t' || in[i] == '\n' || in[i] == '\r')) return 0;
  }
  static const char* const words[] = {"silence", "impulse", "noise", "sine", "cleanup", "audio"};
  size_t n = 0;
  while (n < tlen && !isspace(in[n])) n++;
  for (int w = 0; w < 6; w++) {
    if (n == strlen(words[w]) && memcmp(in, words[w], n) == 0) {
      if (nul && w != SIG_AUDIO) return 0; /* only audio's text is followed by bytes */
      *signal = w;
      *text_len = tlen;
      return 1;
    }
  }
  return 0;
}

static int parse_double(const char* s, double* v) {
  char* end;
  if (!*s) return 0;
  *v = strtod(s, &end);
  return *end == 0 && isfinite(*v);
}

static int parse_u64(const char* s, uint64_t* v) {
  if (!*s) return 0;
  for (const char* c = s; *c; c++) {
    if (!isdigit((unsigned char)*c)) return 0;
  }
  *v = strtoull(s, NULL, 10);
  return 1;
}

/* The control input port named key, or -1; *why says what was wrong. */
static long find_port(const LsPlugin* pl, const LsPort* ports, const char* key, int quoted, const char** why) {
  const LADSPA_Descriptor* d = pl->d;
  long found = -1;
  *why = "no port of that name";
  if (!quoted && key[0] == '#') {
    uint64_t i;
    if (!parse_u64(key + 1, &i) || i >= d->PortCount) {
      *why = "no port of that index";
      return -1;
    }
    found = (long)i;
  } else {
    for (unsigned long i = 0; i < d->PortCount; i++) {
      const char* name = d->PortNames[i];
      if (name && strncmp(name, key, LS_MAX_STRING) == 0) {
        found = (long)i;
        if (ports[i].dir == LS_DIR_INPUT && ports[i].kind == LS_KIND_CONTROL) break;
      }
    }
    if (found < 0) return -1;
  }
  if (ports[found].dir != LS_DIR_INPUT || ports[found].kind != LS_KIND_CONTROL) {
    *why = "not a control input port";
    return -1;
  }
  return found;
}

/* Sets the mode a word names (see the header); 0 when it names none. */
static int mode_word(const char* w, LsInput* out) {
  if (strcmp(w, "inplace") == 0) out->inplace = 1;
  else if (strcmp(w, "keep") == 0) out->keep = 1;
  else if (strcmp(w, "fresh") == 0) out->fresh = 1;
  else if (strcmp(w, "adding") == 0) out->adding = 1;
  else if (strcmp(w, "twin") == 0) out->twin = 1;
  else if (strcmp(w, "samples") == 0) out->samples = 1;
  else return 0;
  return 1;
}

static uint64_t xorshift(uint64_t* s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static int32_t parse_text(const LsPlugin* pl, const LsPort* ports, const LsConfig* cfg, const char* text,
                          int* signal, uint64_t* seed, double* freq, NpaBuf* err, LsInput* out) {
  const char* p = text;
  while (*p && !isspace((unsigned char)*p)) p++; /* the signal word, already known */
  size_t cap = strlen(text) + 1;
  char* key = malloc(cap);
  char* val = malloc(cap);
  int32_t rc = NPA_OK;
  if (!key || !val) {
    rc = ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
    goto done;
  }
  (void)signal;
  int gain_set = 0;
  for (;;) {
    while (isspace((unsigned char)*p)) p++;
    if (!*p) break;
    int quoted = *p == '"';
    size_t n = 0;
    const char* start = p;
    if (quoted) {
      p++;
      while (*p && *p != '"') key[n++] = *p++;
      if (*p == '"') p++;
      else p = start + strlen(start);
    } else {
      while (*p && *p != '=' && !isspace((unsigned char)*p)) key[n++] = *p++;
    }
    key[n] = 0;
    if (!quoted && *p != '=' && mode_word(key, out)) continue;
    if (*p != '=' || n == 0) {
      size_t tok = 0;
      while (start[tok] && !isspace((unsigned char)start[tok])) tok++;
      rc = ls_fail(err, NPA_INVALID_INPUT, "Malformed argument \"%.*s\": expected <name>=<value>", (int)tok, start);
      goto done;
    }
    p++;
    n = 0;
    while (*p && !isspace((unsigned char)*p)) val[n++] = *p++;
    val[n] = 0;
    uint64_t u;
    double v;
    if (!quoted && strcmp(key, "frames") == 0) {
      if (!parse_u64(val, &u)) goto bad_value;
      out->frames = u < 1 ? 1 : u > cfg->max_block ? cfg->max_block : (uint32_t)u;
    } else if (!quoted && strcmp(key, "seed") == 0) {
      if (!parse_u64(val, seed)) goto bad_value;
    } else if (!quoted && strcmp(key, "freq") == 0) {
      if (!parse_double(val, freq)) goto bad_value;
    } else if (!quoted && strcmp(key, "block") == 0) {
      if (!parse_u64(val, &u) || u < 1) goto bad_value;
      out->block = u > UINT32_MAX ? UINT32_MAX : (uint32_t)u;
    } else if (!quoted && strcmp(key, "gain") == 0) {
      if (!parse_double(val, &out->gain)) goto bad_value;
      gain_set = 1;
    } else {
      const char* why;
      long port = find_port(pl, ports, key, quoted, &why);
      if (port < 0) {
        rc = ls_fail(err, NPA_INVALID_INPUT, "Unknown control \"%s\" of plugin \"%s\": %s", key, pl->method, why);
        goto done;
      }
      if (!parse_double(val, &v)) goto bad_value;
      out->controls[port] = cfg->out_of_range ? v : ls_port_clamp(&ports[port], v);
    }
    continue;
  bad_value:
    rc = ls_fail(err, NPA_INVALID_INPUT, "Malformed value \"%s\" for \"%s\"", val, key);
    goto done;
  }
  if ((out->adding || out->twin) && (out->keep || out->inplace || (out->adding && out->twin))) {
    rc = ls_fail(err, NPA_INVALID_INPUT, "\"%s\" goes with neither \"keep\", \"inplace\" nor \"%s\"",
                 out->adding ? "adding" : "twin", out->adding ? "twin" : "adding");
  } else if (out->samples && (out->adding || out->twin)) {
    rc = ls_fail(err, NPA_INVALID_INPUT, "\"samples\" goes with neither \"adding\" nor \"twin\": their outputs are "
                 "comparisons");
  } else if (out->adding && out->block != 0) {
    rc = ls_fail(err, NPA_INVALID_INPUT, "\"block=\" does not go with \"adding\": run_adding is compared in one block");
  } else if (gain_set && !out->adding) {
    rc = ls_fail(err, NPA_INVALID_INPUT, "\"gain=\" is run_adding's gain: it needs the word \"adding\"");
  }
  if (out->twin) out->fresh = 1; /* both of twin's instances are new */
done:
  free(key);
  free(val);
  return rc;
}

static void fill_text(LsInput* out, const LsConfig* cfg, int signal, uint64_t seed, double freq) {
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  if (state == 0) state = 1;
  for (size_t a = 0; a < out->audio_ports; a++) {
    float* buf = out->audio + a * out->frames;
    for (uint32_t f = 0; f < out->frames; f++) {
      double s = 0;
      if (signal == SIG_IMPULSE) s = f == 0 ? 1 : 0;
      else if (signal == SIG_NOISE) s = (double)(xorshift(&state) >> 11) / 9007199254740992.0 * 2 - 1;
      else if (signal == SIG_SINE) s = sin(2 * M_PI * freq * (double)f / (double)cfg->sample_rate);
      buf[f] = (float)s;
    }
  }
}

static void parse_binary(const LsPlugin* pl, const LsPort* ports, const LsConfig* cfg, const uint8_t* in, size_t len,
                         LsInput* out) {
  unsigned v = (len > 0 ? in[0] : 0) | (unsigned)(len > 1 ? in[1] : 0) << 8;
  out->frames = 1 + v % cfg->max_block;
  size_t pos = 2;
  for (unsigned long i = 0; i < pl->d->PortCount; i++) {
    if (ports[i].dir != LS_DIR_INPUT || ports[i].kind != LS_KIND_CONTROL) continue;
    v = (pos < len ? in[pos] : 0x00) | (unsigned)(pos + 1 < len ? in[pos + 1] : 0x80) << 8;
    out->controls[i] = ls_port_position(&ports[i], v / 65535.0, cfg->out_of_range);
    pos += 2;
  }
  const uint8_t* rest = pos < len ? in + pos : NULL;
  size_t nsamples = pos < len ? (len - pos) / 2 : 0;
  size_t k = 0; /* the next sample, wrapping round the input's samples (no division per sample) */
  for (uint32_t f = 0; f < out->frames; f++) {
    for (size_t a = 0; a < out->audio_ports; a++) {
      float s = 0;
      if (nsamples) {
        s = (float)(int16_t)(uint16_t)(rest[2 * k] | rest[2 * k + 1] << 8) / 32768.0f;
        if (++k == nsamples) k = 0;
      }
      out->audio[a * out->frames + f] = s;
    }
  }
}

/* The samples after `audio`'s text (rest: from its NUL on): frames per audio input, port after port. */
static int32_t take_audio(LsInput* out, const LsConfig* cfg, const uint8_t* rest, size_t rest_len, NpaBuf* err) {
  size_t bytes = rest_len > 0 ? rest_len - 1 : 0; /* after the NUL */
  size_t per_frame = out->audio_ports * sizeof(float);
  if (per_frame == 0) {
    if (bytes != 0) return ls_fail(err, NPA_INVALID_INPUT, "\"audio\": the plugin has no audio input, so no samples");
    if (out->frames == 0) return ls_fail(err, NPA_INVALID_INPUT, "\"audio\" with no audio input needs frames=N");
    return NPA_OK;
  }
  if (bytes == 0 || bytes % per_frame != 0) {
    return ls_fail(err, NPA_INVALID_INPUT, "\"audio\": %zu bytes after the text are not whole frames of %zu audio "
                   "input(s) of float32 samples", bytes, out->audio_ports);
  }
  size_t frames = bytes / per_frame;
  if (frames > cfg->max_block) {
    return ls_fail(err, NPA_INVALID_INPUT, "\"audio\": %zu frames, more than the instance's max_block (%u)", frames,
                   cfg->max_block);
  }
  if (out->frames != 0 && out->frames != frames) {
    return ls_fail(err, NPA_INVALID_INPUT, "\"audio\": frames=%u, but %zu frames follow", out->frames, frames);
  }
  out->frames = (uint32_t)frames;
  memcpy(out->audio, rest + 1, bytes); /* port after port, as the buffer is laid out */
  return NPA_OK;
}

int32_t ls_input_parse(const LsPlugin* pl, const LsPort* ports, const LsConfig* cfg, const uint8_t* in, size_t len,
                       LsInput* out, NpaBuf* err) {
  const LADSPA_Descriptor* d = pl->d;
  memset(out, 0, sizeof *out);
  out->gain = 1;
  out->controls = calloc(d->PortCount ? d->PortCount : 1, sizeof(double));
  for (unsigned long i = 0; i < d->PortCount; i++) {
    if (ports[i].dir == LS_DIR_INPUT && ports[i].kind == LS_KIND_AUDIO) out->audio_ports++;
  }
  out->audio = malloc(((out->audio_ports ? out->audio_ports : 1) * cfg->max_block) * sizeof(float));
  if (!out->controls || !out->audio) {
    ls_input_free(out);
    return ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
  }
  for (unsigned long i = 0; i < d->PortCount; i++) out->controls[i] = ls_port_start(&ports[i], cfg->out_of_range);
  int signal;
  size_t tlen;
  if (!text_form(in, len, &signal, &tlen)) {
    parse_binary(pl, ports, cfg, in, len, out);
    return NPA_OK;
  }
  char* text = malloc(tlen + 1);
  if (!text) {
    ls_input_free(out);
    return ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
  }
  memcpy(text, in, tlen);
  text[tlen] = 0;
  uint64_t seed = 1;
  double freq = 440;
  out->frames = 0; /* 0 until frames=N: the default depends on the signal */
  int32_t rc = parse_text(pl, ports, cfg, text, &signal, &seed, &freq, err, out);
  free(text);
  if (rc == NPA_OK && signal == SIG_AUDIO) rc = take_audio(out, cfg, in + tlen, len - tlen, err);
  if (rc != NPA_OK) {
    ls_input_free(out);
    return rc;
  }
  if (out->frames == 0) out->frames = LS_TEXT_FRAMES < cfg->max_block ? LS_TEXT_FRAMES : cfg->max_block;
  out->cleanup = signal == SIG_CLEANUP;
  if (signal != SIG_AUDIO) fill_text(out, cfg, signal, seed, freq);
  return NPA_OK;
}

void ls_input_free(LsInput* in) {
  free(in->controls);
  free(in->audio);
  in->controls = NULL;
  in->audio = NULL;
}
