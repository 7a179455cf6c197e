/*
 * ladspa_abi.h — the LADSPA 1.1 plugin ABI as plugcheck's adapter and its
 * LADSPA fixtures use it: the descriptor struct (the plugin's vtable), its
 * property, port and range-hint bits. Written from the LADSPA 1.1
 * specification (docs/ladspa.md); layout-compatible with the `ladspa.h` that
 * Debian's ladspa-sdk installs, so plugins built against either load the same.
 *
 * A library exports one function, `ladspa_descriptor(i)`, called with 0, 1,
 * 2, ... until it returns NULL.
 */
#ifndef PLUGCHECK_LADSPA_ABI_H
#define PLUGCHECK_LADSPA_ABI_H

#ifdef __cplusplus
extern "C" {
#endif

typedef float LADSPA_Data;
typedef int LADSPA_Properties;
typedef int LADSPA_PortDescriptor;
typedef int LADSPA_PortRangeHintDescriptor;
typedef void* LADSPA_Handle;

/* Properties of a plugin. */
#define LADSPA_PROPERTY_REALTIME 0x1
#define LADSPA_PROPERTY_INPLACE_BROKEN 0x2
#define LADSPA_PROPERTY_HARD_RT_CAPABLE 0x4

/* A port is an input xor an output, and a control xor an audio port. */
#define LADSPA_PORT_INPUT 0x1
#define LADSPA_PORT_OUTPUT 0x2
#define LADSPA_PORT_CONTROL 0x4
#define LADSPA_PORT_AUDIO 0x8

/* Range hints of a port. */
#define LADSPA_HINT_BOUNDED_BELOW 0x1
#define LADSPA_HINT_BOUNDED_ABOVE 0x2
#define LADSPA_HINT_TOGGLED 0x4
#define LADSPA_HINT_SAMPLE_RATE 0x8 /* the bounds are multiples of the sample rate */
#define LADSPA_HINT_LOGARITHMIC 0x10
#define LADSPA_HINT_INTEGER 0x20
#define LADSPA_HINT_DEFAULT_MASK 0x3C0
#define LADSPA_HINT_DEFAULT_NONE 0x0
#define LADSPA_HINT_DEFAULT_MINIMUM 0x40
#define LADSPA_HINT_DEFAULT_LOW 0x80 /* 75% lower bound, 25% upper (geometric when LOGARITHMIC) */
#define LADSPA_HINT_DEFAULT_MIDDLE 0xC0
#define LADSPA_HINT_DEFAULT_HIGH 0x100 /* 25% lower bound, 75% upper */
#define LADSPA_HINT_DEFAULT_MAXIMUM 0x140
#define LADSPA_HINT_DEFAULT_0 0x200
#define LADSPA_HINT_DEFAULT_1 0x240
#define LADSPA_HINT_DEFAULT_100 0x280
#define LADSPA_HINT_DEFAULT_440 0x2C0

typedef struct _LADSPA_PortRangeHint {
  LADSPA_PortRangeHintDescriptor HintDescriptor;
  LADSPA_Data LowerBound;
  LADSPA_Data UpperBound;
} LADSPA_PortRangeHint;

typedef struct _LADSPA_Descriptor {
  unsigned long UniqueID;
  const char* Label;
  LADSPA_Properties Properties;
  const char* Name;
  const char* Maker;
  const char* Copyright;
  unsigned long PortCount;
  const LADSPA_PortDescriptor* PortDescriptors;
  const char* const* PortNames;
  const LADSPA_PortRangeHint* PortRangeHints;
  void* ImplementationData;
  LADSPA_Handle (*instantiate)(const struct _LADSPA_Descriptor* Descriptor, unsigned long SampleRate);
  void (*connect_port)(LADSPA_Handle Instance, unsigned long Port, LADSPA_Data* DataLocation);
  void (*activate)(LADSPA_Handle Instance); /* may be NULL */
  void (*run)(LADSPA_Handle Instance, unsigned long SampleCount);
  void (*run_adding)(LADSPA_Handle Instance, unsigned long SampleCount); /* may be NULL */
  void (*set_run_adding_gain)(LADSPA_Handle Instance, LADSPA_Data Gain); /* may be NULL */
  void (*deactivate)(LADSPA_Handle Instance);                            /* may be NULL */
  void (*cleanup)(LADSPA_Handle Instance);
} LADSPA_Descriptor;

/* The one function a LADSPA library exports. */
typedef const LADSPA_Descriptor* (*LADSPA_Descriptor_Function)(unsigned long Index);

#ifdef __cplusplus
}
#endif

#endif /* PLUGCHECK_LADSPA_ABI_H */
