/*
 * ladspa_json.c — the adapter's string builder, JSON escaping of plugin text
 * (every string copied from a LADSPA descriptor is plugin data: it may hold
 * quotes, control characters or invalid UTF-8, which becomes U+FFFD), and the
 * describe document.
 */
#include "ladspa_adapter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int str_reserve(LsStr* s, size_t extra) {
  if (s->oom) return 0;
  if (s->len + extra + 1 <= s->cap) return 1;
  size_t cap = s->cap ? s->cap : 256;
  while (cap < s->len + extra + 1) cap *= 2;
  char* p = realloc(s->ptr, cap);
  if (!p) {
    s->oom = 1;
    return 0;
  }
  s->ptr = p;
  s->cap = cap;
  return 1;
}

void ls_str_putn(LsStr* s, const char* p, size_t n) {
  if (!str_reserve(s, n)) return;
  memcpy(s->ptr + s->len, p, n);
  s->len += n;
  s->ptr[s->len] = 0;
}

void ls_str_puts(LsStr* s, const char* p) { ls_str_putn(s, p, strlen(p)); }

void ls_str_printf(LsStr* s, const char* fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    ls_str_putn(s, small, (size_t)n);
    return;
  }
  if (!str_reserve(s, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(s->ptr + s->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  s->len += (size_t)n;
}

void ls_str_free(LsStr* s) {
  free(s->ptr);
  s->ptr = NULL;
  s->len = s->cap = 0;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return len;
}

void ls_json_strn(LsStr* s, const char* text, size_t n) {
  const unsigned char* p = (const unsigned char*)text;
  ls_str_putn(s, "\"", 1);
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      ls_str_putn(s, esc, 2);
      i++;
    } else if (c < 0x20 || c == 0x7F) {
      ls_str_printf(s, "\\u%04x", c);
      i++;
    } else {
      size_t len = utf8_seq(p + i, n - i);
      if (len == 0) {
        ls_str_puts(s, "\xEF\xBF\xBD"); /* U+FFFD for one invalid byte */
        i++;
      } else {
        ls_str_putn(s, text + i, len);
        i += len;
      }
    }
  }
  ls_str_putn(s, "\"", 1);
}

void ls_json_str(LsStr* s, const char* p) {
  if (!p) {
    ls_str_puts(s, "null");
    return;
  }
  ls_json_strn(s, p, strnlen(p, LS_MAX_STRING));
}

void ls_json_num(LsStr* s, double v) {
  if (!isfinite(v)) {
    ls_str_puts(s, "null");
    return;
  }
  if (v == 0) v = 0; /* no "-0" */
  ls_str_printf(s, "%.9g", v);
}

void ls_text(LsStr* s, const char* p, const char* fallback) {
  if (!p) p = fallback;
  ls_str_putn(s, p, strnlen(p, LS_MAX_STRING));
}

void ls_utf8_clean(LsStr* s, const char* text, size_t max) {
  const unsigned char* p = (const unsigned char*)text;
  size_t n = strnlen(text, LS_MAX_STRING), i = 0, out = 0;
  while (i < n) {
    size_t len = utf8_seq(p + i, n - i);
    size_t add = len ? len : 3;
    if (out + add > max) break;
    if (len) ls_str_putn(s, text + i, len);
    else ls_str_puts(s, "\xEF\xBF\xBD");
    i += len ? len : 1;
    out += add;
  }
}

static const char* dir_name(int dir) {
  return dir == LS_DIR_INPUT ? "input" : dir == LS_DIR_OUTPUT ? "output" : "invalid";
}
static const char* kind_name(int kind) {
  return kind == LS_KIND_CONTROL ? "control" : kind == LS_KIND_AUDIO ? "audio" : "invalid";
}

static void describe_ports(const LADSPA_Descriptor* d, LsStr* s) {
  ls_str_puts(s, "[");
  for (unsigned long i = 0; i < d->PortCount; i++) {
    LsPort p;
    ls_port_info(d, i, LS_DESCRIBE_RATE, &p);
    int h = p.hint;
    const LADSPA_PortRangeHint* rh = &d->PortRangeHints[i];
    ls_str_printf(s, "%s{\"index\":%lu,\"name\":", i ? "," : "", i);
    ls_json_str(s, d->PortNames[i]);
    ls_str_printf(s, ",\"descriptor\":%d,\"direction\":\"%s\",\"kind\":\"%s\"", d->PortDescriptors[i],
                  dir_name(p.dir), kind_name(p.kind));
    ls_str_printf(s,
                  ",\"hints\":{\"bits\":%d,\"bounded_below\":%s,\"bounded_above\":%s,\"toggled\":%s,"
                  "\"sample_rate\":%s,\"logarithmic\":%s,\"integer\":%s,\"lower\":",
                  h, (h & LADSPA_HINT_BOUNDED_BELOW) ? "true" : "false",
                  (h & LADSPA_HINT_BOUNDED_ABOVE) ? "true" : "false", (h & LADSPA_HINT_TOGGLED) ? "true" : "false",
                  (h & LADSPA_HINT_SAMPLE_RATE) ? "true" : "false", (h & LADSPA_HINT_LOGARITHMIC) ? "true" : "false",
                  (h & LADSPA_HINT_INTEGER) ? "true" : "false");
    /* The declared bounds, as the plugin wrote them (not multiplied by a rate). */
    if (h & LADSPA_HINT_BOUNDED_BELOW) ls_json_num(s, rh->LowerBound);
    else ls_str_puts(s, "null");
    ls_str_puts(s, ",\"upper\":");
    if (h & LADSPA_HINT_BOUNDED_ABOVE) ls_json_num(s, rh->UpperBound);
    else ls_str_puts(s, "null");
    ls_str_puts(s, ",\"default\":");
    ls_json_str(s, p.def_name);
    ls_str_puts(s, "},\"default_value\":");
    if (p.has_default) ls_json_num(s, p.def);
    else ls_str_puts(s, "null");
    ls_str_puts(s, "}");
  }
  ls_str_puts(s, "]");
}

static void describe_method(const LsPlugin* pl, LsStr* s) {
  const LADSPA_Descriptor* d = pl->d;
  ls_str_puts(s, "{\"name\":");
  ls_json_strn(s, pl->method, pl->method_len);
  LsStr text = {0};
  if (d->Name) ls_utf8_clean(&text, d->Name, LS_MAX_TEXT);
  else ls_str_puts(&text, "(no name)");
  ls_str_puts(&text, " by ");
  if (d->Maker) ls_utf8_clean(&text, d->Maker, LS_MAX_TEXT);
  else ls_str_puts(&text, "(no maker)");
  ls_str_printf(&text, " (unique ID %lu)", d->UniqueID);
  unsigned long n[4] = {0, 0, 0, 0}; /* audio in, audio out, control in, control out */
  if (pl->broken) {
    ls_str_printf(&text, ": unusable: %s", pl->broken);
  } else {
    for (unsigned long i = 0; i < d->PortCount; i++) {
      LsPort p;
      ls_port_info(d, i, LS_DESCRIBE_RATE, &p);
      if (p.dir == LS_DIR_INVALID || p.kind == LS_KIND_INVALID) continue;
      n[(p.kind == LS_KIND_CONTROL ? 2 : 0) + (p.dir == LS_DIR_OUTPUT ? 1 : 0)]++;
    }
    ls_str_printf(&text, ": %lu audio in, %lu audio out, %lu control in, %lu control out", n[0], n[1], n[2], n[3]);
  }
  ls_str_puts(s, ",\"description\":");
  ls_json_strn(s, text.ptr ? text.ptr : "", text.len);
  ls_str_free(&text);
  /* Pure (its output a function of its input and controls) only when the adapter can reset it before each run
   * (it has activate) and it has an audio input. LADSPA does not ask a plugin for the same output twice: one without
   * activate keeps its state from run to run (swh's bodeShifter), and a generator may keep state of its own, such
   * as a random generator activate does not reseed (ladspa-sdk's noise_white). */
  int pure = n[0] > 0 && d->activate != NULL;
  ls_str_puts(s, pure ? ",\"input\":\"bytes\",\"pure\":true" : ",\"input\":\"bytes\",\"pure\":false");
  if (pl->broken) {
    ls_str_puts(s, ",\"fuzz\":false}");
  } else {
    ls_str_puts(s, ",\"fuzz\":true,\"examples\":[{\"input\":\"silence\"},{\"input\":\"impulse\"},"
                   "{\"input\":\"noise seed=1\"},{\"input\":\"sine freq=440\"}]}");
  }
}

static void describe_plugin(const LsPlugin* pl, LsStr* s) {
  const LADSPA_Descriptor* d = pl->d;
  ls_str_printf(s, "{\"index\":%lu,\"method\":", pl->index);
  ls_json_strn(s, pl->method, pl->method_len);
  ls_str_puts(s, ",\"label\":");
  ls_json_str(s, d->Label);
  ls_str_printf(s, ",\"unique_id\":%lu,\"name\":", d->UniqueID);
  ls_json_str(s, d->Name);
  ls_str_puts(s, ",\"maker\":");
  ls_json_str(s, d->Maker);
  ls_str_puts(s, ",\"copyright\":");
  ls_json_str(s, d->Copyright);
  ls_str_puts(s, ",\"properties\":[");
  static const char* const props[] = {"REALTIME", "INPLACE_BROKEN", "HARD_RT_CAPABLE"};
  int first = 1;
  for (int b = 0; b < 3; b++) {
    if (!(d->Properties & (1 << b))) continue;
    ls_str_printf(s, "%s\"%s\"", first ? "" : ",", props[b]);
    first = 0;
  }
  ls_str_printf(s, "],\"property_bits\":%d,\"port_count\":%lu", d->Properties, d->PortCount);
  ls_str_printf(s, ",\"has_activate\":%s,\"has_deactivate\":%s,\"has_run_adding\":%s,\"has_set_run_adding_gain\":%s",
                d->activate ? "true" : "false", d->deactivate ? "true" : "false", d->run_adding ? "true" : "false",
                d->set_run_adding_gain ? "true" : "false");
  if (pl->broken) {
    ls_str_puts(s, ",\"broken\":");
    ls_json_str(s, pl->broken);
  }
  /* A broken descriptor's port arrays may be unusable: list its ports only when they are safe to read. */
  ls_str_puts(s, ",\"ports\":");
  if (d->PortCount == 0 || (d->PortCount <= LS_MAX_PORTS && d->PortDescriptors && d->PortNames && d->PortRangeHints)) {
    describe_ports(d, s);
  } else {
    ls_str_puts(s, "[]");
  }
  ls_str_puts(s, "}");
}

void ls_describe(const LsTable* t, LsStr* s) {
  ls_str_puts(s, "{\"name\":");
  ls_json_str(s, t->file_name);
  ls_str_puts(s, ",\"version\":\"LADSPA 1.1\",\"thread_safe_instances\":false,\"methods\":[");
  for (size_t i = 0; i < t->count; i++) {
    if (i) ls_str_puts(s, ",");
    describe_method(&t->plugins[i], s);
  }
  /* control_words: the text input takes <port>=<value> words (plugcheck invoke --control appends them);
   * out_of_range: the instance config takes "out_of_range": true (plugcheck fuzz --out-of-range sets it). */
  ls_str_puts(s, "],\"adapter\":{\"abi\":\"ladspa\",\"control_words\":true,\"out_of_range\":true,\"audio_io\":true,\"plugins\":[");
  for (size_t i = 0; i < t->count; i++) {
    if (i) ls_str_puts(s, ",");
    describe_plugin(&t->plugins[i], s);
  }
  ls_str_puts(s, "]}}");
}
