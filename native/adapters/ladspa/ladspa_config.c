/*
 * ladspa_config.c — the adapter's instance config: empty, or a flat JSON
 * object with the optional keys
 *   sample_rate   integer 1..1536000, default 48000 (instantiate's SampleRate)
 *   max_block     integer 1..65536, default 4096 (frames per port buffer)
 *   out_of_range  boolean, default false (controls may leave their ranges)
 *   bound         number > 0, default 1000 (largest legal output magnitude)
 * Anything else is NPA_INVALID_INPUT naming the key.
 */
#include "ladspa_adapter.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- instance config ------------------------------------------------------ */

static const char* skip_ws(const char* p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* Reads a JSON string with simple escapes into key (bounded); returns the end or NULL. */
static const char* read_key(const char* p, char* key, size_t cap) {
  if (*p != '"') return NULL;
  p++;
  size_t n = 0;
  while (*p && *p != '"') {
    char c = *p++;
    if (c == '\\') {
      if (!*p) return NULL;
      c = *p++;
    }
    if (n + 1 < cap) key[n++] = c;
  }
  if (*p != '"') return NULL;
  key[n] = 0;
  return p + 1;
}

int32_t ls_config_parse(const uint8_t* cfg, size_t len, LsConfig* out, NpaBuf* err) {
  out->sample_rate = 48000;
  out->max_block = 4096;
  out->out_of_range = 0;
  out->bound = 1000;
  if (len == 0) return NPA_OK;
  if (memchr(cfg, 0, len)) return ls_fail(err, NPA_INVALID_INPUT, "Config must be a JSON object (it holds a NUL byte)");
  char* text = malloc(len + 1);
  if (!text) return ls_fail(err, NPA_RESOURCE_LIMIT, "Out of memory");
  memcpy(text, cfg, len);
  text[len] = 0;
  int32_t rc = NPA_OK;
  char key[64] = "";
  const char* p = skip_ws(text);
  if (*p != '{') {
    rc = ls_fail(err, NPA_INVALID_INPUT, "Config must be a JSON object");
    goto done;
  }
  p = skip_ws(p + 1);
  if (*p == '}') {
    p++;
    goto end;
  }
  for (;;) {
    p = read_key(p, key, sizeof key);
    if (!p || *(p = skip_ws(p)) != ':') {
      rc = ls_fail(err, NPA_INVALID_INPUT, "Config must be a JSON object (malformed near a key)");
      goto done;
    }
    p = skip_ws(p + 1);
    int is_bool = -1;
    double num = NAN;
    if (strncmp(p, "true", 4) == 0) is_bool = 1, p += 4;
    else if (strncmp(p, "false", 5) == 0) is_bool = 0, p += 5;
    else if (*p == '-' || isdigit((unsigned char)*p)) {
      char* end;
      num = strtod(p, &end);
      p = end;
    } else {
      rc = ls_fail(err, NPA_INVALID_INPUT, "Config key \"%s\" has a value of the wrong type", key);
      goto done;
    }
    if (strcmp(key, "out_of_range") == 0) {
      if (is_bool < 0) {
        rc = ls_fail(err, NPA_INVALID_INPUT, "Config key \"out_of_range\" must be a boolean");
        goto done;
      }
      out->out_of_range = is_bool;
    } else if (strcmp(key, "sample_rate") == 0 || strcmp(key, "max_block") == 0) {
      int rate = key[0] == 's';
      double max = rate ? 1536000 : 65536;
      if (is_bool >= 0 || !(num >= 1 && num <= max) || num != floor(num)) {
        rc = ls_fail(err, NPA_INVALID_INPUT, "Config key \"%s\" must be an integer from 1 to %.0f", key, max);
        goto done;
      }
      if (rate) out->sample_rate = (uint32_t)num;
      else out->max_block = (uint32_t)num;
    } else if (strcmp(key, "bound") == 0) {
      if (is_bool >= 0 || !(num > 0) || !isfinite(num)) {
        rc = ls_fail(err, NPA_INVALID_INPUT, "Config key \"bound\" must be a number above 0");
        goto done;
      }
      out->bound = num;
    } else {
      rc = ls_fail(err, NPA_INVALID_INPUT,
                   "Unknown config key \"%s\" (known: sample_rate, max_block, out_of_range, bound)", key);
      goto done;
    }
    p = skip_ws(p);
    if (*p == ',') {
      p = skip_ws(p + 1);
      continue;
    }
    if (*p == '}') {
      p++;
      break;
    }
    rc = ls_fail(err, NPA_INVALID_INPUT, "Config must be a JSON object (malformed after key \"%s\")", key);
    goto done;
  }
end:
  if (*skip_ws(p)) rc = ls_fail(err, NPA_INVALID_INPUT, "Config must be a JSON object (text after its end)");
done:
  free(text);
  return rc;
}
