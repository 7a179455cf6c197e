/*
 * c_ladspa_loop.c — the least a fuzzer of a LADSPA plugin does, in C: dlopen
 * the library, instantiate its first plugin at 48 kHz with its ports (a
 * control, an audio input, an audio output: ladspa-sdk's amp_mono) connected
 * to 64-frame buffers, then for each of N runs draw a block size (1..64), a
 * control value and the samples from a xorshift generator and call `run`.
 * bench/ladspa_fuzz_speed.ts times it against `plugcheck fuzz`.
 *
 * Usage: c_ladspa_loop LIBRARY RUNS
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ladspa_abi.h"

static uint64_t next(uint64_t* x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: c_ladspa_loop LIBRARY RUNS\n");
    return 2;
  }
  void* h = dlopen(argv[1], RTLD_NOW);
  if (h == NULL) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  LADSPA_Descriptor_Function f = (LADSPA_Descriptor_Function)dlsym(h, "ladspa_descriptor");
  const LADSPA_Descriptor* d = f != NULL ? f(0) : NULL;
  if (d == NULL || d->PortCount != 3) {
    fprintf(stderr, "%s: not a one-control, one-in, one-out LADSPA plugin\n", argv[1]);
    return 1;
  }
  long runs = atol(argv[2]);
  LADSPA_Handle inst = d->instantiate(d, 48000);
  float control = 1, in[64], out[64];
  d->connect_port(inst, 0, &control);
  d->connect_port(inst, 1, in);
  d->connect_port(inst, 2, out);
  if (d->activate) d->activate(inst);
  uint64_t x = 88172645463325252ull;
  double sink = 0;
  for (long r = 0; r < runs; r++) {
    unsigned frames = 1 + (unsigned)(next(&x) % 64);
    control = (float)(next(&x) % 1000) / 100.0f;
    for (unsigned i = 0; i < frames; i++) in[i] = (float)(int16_t)next(&x) / 32768.0f;
    d->run(inst, frames);
    sink += out[0];
  }
  if (d->deactivate) d->deactivate(inst);
  d->cleanup(inst);
  printf("%ld runs (%g)\n", runs, sink);
  return 0;
}
