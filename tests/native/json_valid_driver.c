/*
 * json_valid_driver.c — a test driver for native/npah_json.c (included whole,
 * so its hidden functions need no export).
 *
 * Default mode: reads lines `<flags> <hex bytes>` from stdin (the hex may be
 * empty: the empty input) and prints `1` or `0` per line, whether
 * npah_json_valid accepts those bytes with those flags.
 *
 * `--bench`: validates a 1 MiB JSON document (mostly ASCII records) 100
 * times, then one of mostly non-ASCII text, and prints ns/byte for each.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../native/npah_json.c"

#define BENCH_SIZE (1u << 20)
#define BENCH_ROUNDS 100

static int hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int run_lines(void) {
  char* line = NULL;
  size_t cap = 0;
  uint8_t* bytes = NULL;
  size_t bytes_cap = 0;
  ssize_t got;
  unsigned long number = 0;
  while ((got = getline(&line, &cap, stdin)) >= 0) {
    number++;
    size_t len = (size_t)got;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    line[len] = '\0';
    char* rest = NULL;
    unsigned long flags = strtoul(line, &rest, 10);
    if (rest == line || (*rest != ' ' && *rest != '\0')) {
      fprintf(stderr, "line %lu: expected `<flags> <hex>`\n", number);
      return 2;
    }
    if (*rest == ' ') rest++;
    size_t hex_len = strlen(rest);
    if (hex_len % 2 != 0) {
      fprintf(stderr, "line %lu: odd number of hex digits\n", number);
      return 2;
    }
    size_t n = hex_len / 2;
    if (n > bytes_cap) {
      bytes_cap = n * 2;
      bytes = realloc(bytes, bytes_cap);
      if (bytes == NULL) return 3;
    }
    for (size_t k = 0; k < n; k++) {
      int hi = hex_digit(rest[2 * k]), lo = hex_digit(rest[2 * k + 1]);
      if (hi < 0 || lo < 0) {
        fprintf(stderr, "line %lu: bad hex digit\n", number);
        return 2;
      }
      bytes[k] = (uint8_t)(hi << 4 | lo);
    }
    /* Exactly n bytes: a private copy for n > 0, so a read past the end shows under a sanitizer. */
    uint8_t* exact = n > 0 ? malloc(n) : NULL;
    if (n > 0 && exact == NULL) return 3;
    if (n > 0) memcpy(exact, bytes, n);
    putchar(npah_json_valid(exact, n, (unsigned)flags) ? '1' : '0');
    putchar('\n');
    free(exact);
  }
  free(line);
  free(bytes);
  return fflush(stdout) == 0 ? 0 : 1;
}

/* Appends s to buf at *at if it fits below limit. */
static int append(char* buf, size_t* at, size_t limit, const char* s) {
  size_t len = strlen(s);
  if (*at + len > limit) return 0;
  memcpy(buf + *at, s, len);
  *at += len;
  return 1;
}

/* A document of exactly BENCH_SIZE bytes: `[` records `]` padded with trailing newlines. */
static void build_doc(char* buf, int utf8) {
  size_t at = 0;
  char rec[512];
  buf[at++] = '[';
  for (unsigned k = 0;; k++) {
    if (utf8) {
      snprintf(rec, sizeof rec,
               "%s{\"id\":%u,\"text\":\"Grüße aus Zürich – naïve café, 東京の天気は晴れ, Ελληνικά, "
               "русский текст, emoji \xF0\x9F\x98\x80\xF0\x9F\x9A\x80 %u\"}",
               k == 0 ? "" : ",", k, k * 7u);
    } else {
      snprintf(rec, sizeof rec,
               "%s{\"id\":%u,\"name\":\"user-%u\",\"email\":\"user%u@example.com\",\"active\":%s,"
               "\"score\":%u.%02u,\"ratio\":-%ue-%u,\"tags\":[\"alpha\",\"beta\",\"gamma\"],\"parent\":null,"
               "\"bio\":\"A plain ASCII sentence with a \\\"quote\\\" and a \\n newline, plus \\u00e9.\","
               "\"pos\":{\"x\":%u,\"y\":-%u,\"z\":0}}",
               k == 0 ? "" : ",", k, k, k, k % 3 ? "true" : "false", k % 1000, k % 100, k % 9 + 1, k % 30,
               k * 31u, k * 17u);
    }
    if (!append(buf, &at, BENCH_SIZE - 1, rec)) break;
  }
  buf[at++] = ']';
  while (at < BENCH_SIZE) buf[at++] = '\n';
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int bench(void) {
  char* doc = malloc(BENCH_SIZE);
  if (doc == NULL) return 3;
  static const char* const names[2] = {"ascii", "utf8"};
  for (int utf8 = 0; utf8 < 2; utf8++) {
    build_doc(doc, utf8);
    const uint8_t* p = (const uint8_t*)doc;
    if (!npah_json_valid(p, BENCH_SIZE, 0)) {
      fprintf(stderr, "bench: the %s document does not validate\n", names[utf8]);
      return 1;
    }
    volatile int sink = 0;
    double best = 0;
    for (int trial = 0; trial < 3; trial++) { /* best of three runs of BENCH_ROUNDS */
      double t0 = now_ns();
      for (int r = 0; r < BENCH_ROUNDS; r++) sink += npah_json_valid(p, BENCH_SIZE, 0);
      double t = now_ns() - t0;
      if (trial == 0 || t < best) best = t;
    }
    if (sink != 3 * BENCH_ROUNDS) return 1;
    double per_byte = best / ((double)BENCH_SIZE * BENCH_ROUNDS);
    printf("%s: %u bytes x %d: %.3f ns/byte (%.2f GB/s)\n", names[utf8], BENCH_SIZE, BENCH_ROUNDS, per_byte,
           1.0 / per_byte);
  }
  free(doc);
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--bench") == 0) return bench();
  if (argc > 1) {
    fprintf(stderr, "usage: %s [--bench] (default: `<flags> <hex>` lines on stdin)\n", argv[0]);
    return 2;
  }
  return run_lines();
}
