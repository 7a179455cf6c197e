/*
 * ladspa_ports.c — what the adapter knows about a LADSPA port: its direction
 * and kind, its range (bounds multiplied by the sample rate for SAMPLE_RATE
 * hints), its default value by the LADSPA 1.1 rules, the value a binary fuzz
 * input's position selects in the range, and the guarded buffers ports are
 * connected to.
 */
#include "ladspa_adapter.h"

#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

const char* ls_broken_reason(const LADSPA_Descriptor* d) {
  if (!d->Label) return "the descriptor has no Label";
  if (!d->instantiate) return "the descriptor has no instantiate function";
  if (!d->connect_port) return "the descriptor has no connect_port function";
  if (!d->run) return "the descriptor has no run function";
  if (!d->cleanup) return "the descriptor has no cleanup function";
  if (d->PortCount > LS_MAX_PORTS) return "the descriptor declares more than 4096 ports";
  if (d->PortCount > 0 && !d->PortDescriptors) return "PortDescriptors is NULL";
  if (d->PortCount > 0 && !d->PortNames) return "PortNames is NULL";
  if (d->PortCount > 0 && !d->PortRangeHints) return "PortRangeHints is NULL";
  return NULL;
}

/* LOW/MIDDLE/HIGH: the bounds weighted w (lower) and 1 - w (upper), geometrically for
 * LOGARITHMIC ranges whose bounds are both positive. */
static double weigh(const LsPort* p, double w) {
  if ((p->hint & LADSPA_HINT_LOGARITHMIC) && p->lower > 0 && p->upper > 0) {
    return exp(log(p->lower) * w + log(p->upper) * (1 - w));
  }
  return p->lower * w + p->upper * (1 - w);
}

void ls_port_info(const LADSPA_Descriptor* d, unsigned long i, double sr, LsPort* out) {
  int pd = d->PortDescriptors[i];
  int in = (pd & LADSPA_PORT_INPUT) != 0, outp = (pd & LADSPA_PORT_OUTPUT) != 0;
  int ctl = (pd & LADSPA_PORT_CONTROL) != 0, aud = (pd & LADSPA_PORT_AUDIO) != 0;
  out->dir = in == outp ? LS_DIR_INVALID : in ? LS_DIR_INPUT : LS_DIR_OUTPUT;
  out->kind = ctl == aud ? LS_KIND_INVALID : ctl ? LS_KIND_CONTROL : LS_KIND_AUDIO;
  const LADSPA_PortRangeHint* rh = &d->PortRangeHints[i];
  int h = rh->HintDescriptor;
  out->hint = h;
  double scale = (h & LADSPA_HINT_SAMPLE_RATE) ? sr : 1.0;
  out->has_lower = (h & LADSPA_HINT_BOUNDED_BELOW) != 0;
  out->has_upper = (h & LADSPA_HINT_BOUNDED_ABOVE) != 0;
  out->lower = out->has_lower ? (double)rh->LowerBound * scale : 0;
  out->upper = out->has_upper ? (double)rh->UpperBound * scale : 0;
  out->has_default = 0;
  out->def = 0;
  out->def_name = NULL;
  int both = out->has_lower && out->has_upper;
  switch (h & LADSPA_HINT_DEFAULT_MASK) {
    case LADSPA_HINT_DEFAULT_MINIMUM:
      out->def_name = "minimum";
      out->has_default = out->has_lower;
      out->def = out->lower;
      break;
    case LADSPA_HINT_DEFAULT_LOW:
      out->def_name = "low";
      out->has_default = both;
      if (both) out->def = weigh(out, 0.75);
      break;
    case LADSPA_HINT_DEFAULT_MIDDLE:
      out->def_name = "middle";
      out->has_default = both;
      if (both) out->def = weigh(out, 0.5);
      break;
    case LADSPA_HINT_DEFAULT_HIGH:
      out->def_name = "high";
      out->has_default = both;
      if (both) out->def = weigh(out, 0.25);
      break;
    case LADSPA_HINT_DEFAULT_MAXIMUM:
      out->def_name = "maximum";
      out->has_default = out->has_upper;
      out->def = out->upper;
      break;
    case LADSPA_HINT_DEFAULT_0: out->def_name = "0", out->has_default = 1, out->def = 0; break;
    case LADSPA_HINT_DEFAULT_1: out->def_name = "1", out->has_default = 1, out->def = 1; break;
    case LADSPA_HINT_DEFAULT_100: out->def_name = "100", out->has_default = 1, out->def = 100; break;
    case LADSPA_HINT_DEFAULT_440: out->def_name = "440", out->has_default = 1, out->def = 440; break;
    default: break; /* none, or an undefined value (the checks judge it) */
  }
  if (out->has_default && (h & LADSPA_HINT_INTEGER)) out->def = round(out->def);
  if (out->has_default && !isfinite(out->def)) out->has_default = 0;
}

double ls_port_clamp(const LsPort* p, double v) {
  if (p->has_lower && p->has_upper && p->lower > p->upper) return v; /* inconsistent: leave it */
  if (p->has_lower && v < p->lower) v = p->lower;
  if (p->has_upper && v > p->upper) v = p->upper;
  return v;
}

double ls_port_start(const LsPort* p, int out_of_range) {
  double v = p->has_default ? p->def : p->has_lower ? p->lower : 0;
  return out_of_range ? v : ls_port_clamp(p, v);
}

/* The range a position maps into: the declared bounds; an end left open is the
 * default (or the other bound) -/+ 1; no bound at all: default -/+ 1, or [0, 1]. */
static void position_range(const LsPort* p, double* lo, double* hi) {
  if (p->has_lower && p->has_upper) {
    *lo = p->lower, *hi = p->upper;
  } else if (p->has_lower) {
    double base = p->has_default && p->def > p->lower ? p->def : p->lower;
    *lo = p->lower, *hi = base + 1;
  } else if (p->has_upper) {
    double base = p->has_default && p->def < p->upper ? p->def : p->upper;
    *lo = base - 1, *hi = p->upper;
  } else if (p->has_default) {
    *lo = p->def - 1, *hi = p->def + 1;
  } else {
    *lo = 0, *hi = 1;
  }
}

double ls_port_position(const LsPort* p, double pos, int out_of_range) {
  double lo, hi;
  position_range(p, &lo, &hi);
  if (out_of_range) {
    double span = fabs(hi - lo);
    if (span == 0) span = 1;
    if (lo <= hi) lo -= span, hi += span;
    else lo += span, hi -= span;
  }
  if (p->hint & LADSPA_HINT_TOGGLED) return pos < 0.5 ? lo : hi;
  double v;
  if ((p->hint & LADSPA_HINT_LOGARITHMIC) && lo > 0 && hi > 0) v = lo * pow(hi / lo, pos);
  else v = lo + (hi - lo) * pos;
  if (p->hint & LADSPA_HINT_INTEGER) v = round(v);
  return v;
}

static size_t page_size(void) {
  long n = sysconf(_SC_PAGESIZE);
  return n > 0 ? (size_t)n : 4096;
}

/* [guard page][data pages: the buffer at their end][guard page] */
static size_t data_bytes(size_t floats) {
  size_t page = page_size(), bytes = floats * sizeof(float);
  return (bytes + page - 1) / page * page;
}

float* ls_guarded_alloc(size_t floats) {
  size_t page = page_size(), data = data_bytes(floats);
  uint8_t* base = mmap(NULL, data + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return NULL;
  if (mprotect(base + page, data, PROT_READ | PROT_WRITE) != 0) {
    munmap(base, data + 2 * page);
    return NULL;
  }
  return (float*)(base + page + data - floats * sizeof(float));
}

void ls_guarded_free(float* buf, size_t floats) {
  if (!buf) return;
  size_t page = page_size(), data = data_bytes(floats);
  uint8_t* base = (uint8_t*)buf + floats * sizeof(float) - data - page;
  munmap(base, data + 2 * page);
}
