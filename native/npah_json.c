/*
 * npah_json.c — npah_json_valid (see npah_json.h): one pass over the bytes,
 * validating UTF-8 and JSON together. UTF-8 needs checking only inside
 * strings: outside them any byte >= 0x80 is already a JSON error.
 *
 * A state machine with an explicit stack (one byte per level: the bracket
 * that closes it), so nesting costs NPAH_JSON_MAX_DEPTH bytes of C stack and
 * no recursion. Strings, the bulk of most documents, are scanned eight bytes
 * at a time: one word test finds the next quote, backslash, control character
 * or non-ASCII byte, and on little-endian targets the lowest flagged byte is
 * exactly that byte's position.
 *
 * With NPAH_JSON_ERROR_OBJECT, the keys of the top-level object are compared
 * with "message" after decoding their escapes, and the kind of the value of
 * the last such member (string or not) decides.
 */
#include "npah_json.h"

#define NPAH_ONES 0x0101010101010101ull
#define NPAH_HIGHS 0x8080808080808080ull

static inline uint64_t load8(const uint8_t* p) {
  uint64_t w;
  __builtin_memcpy(&w, p, sizeof w); /* one unaligned load; never a libc call */
  return w;
}

/* The high bit of every byte of w that is '"', '\\', < 0x20 or >= 0x80 (exact from the lowest such byte up). */
static inline uint64_t special8(uint64_t w) {
  uint64_t quote = w ^ (NPAH_ONES * '"');
  uint64_t backslash = w ^ (NPAH_ONES * '\\');
  return ((w - NPAH_ONES * 0x20) | (quote - NPAH_ONES) | (backslash - NPAH_ONES) | w) & NPAH_HIGHS;
}

static inline int is_plain(uint8_t c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static inline int is_digit(uint8_t c) {
  return (unsigned)(c - '0') < 10u;
}

static inline int is_ws(uint8_t c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline int is_cont(uint8_t c) {
  return (c & 0xC0) == 0x80;
}

/* The value of a hex digit, or -1. */
static inline int hex_value(uint8_t c) {
  if (is_digit(c)) return c - '0';
  c |= 0x20;
  if ((unsigned)(c - 'a') < 6u) return c - 'a' + 10;
  return -1;
}

static inline size_t skip_ws(const uint8_t* p, size_t n, size_t i) {
  if (i < n && p[i] > ' ') return i; /* the common case: no whitespace at all */
  while (i + 8 <= n && load8(p + i) == NPAH_ONES * ' ') i += 8; /* indentation */
  while (i < n && is_ws(p[i])) i++;
  return i;
}

/*
 * Length of the UTF-8 sequence starting with the byte p[i] >= 0x80 (2 to 4),
 * or 0 when it is not a well-formed one (RFC 3629, table 3-7 of Unicode).
 */
static inline size_t utf8_length(const uint8_t* p, size_t n, size_t i) {
  uint8_t c = p[i];
  size_t room = n - i;
  if (c < 0xC2) return 0; /* stray continuation byte, or an overlong 2-byte lead */
  if (c < 0xE0) return room >= 2 && is_cont(p[i + 1]) ? 2 : 0;
  if (c < 0xF0) {
    if (room < 3) return 0;
    uint8_t lo = c == 0xE0 ? 0xA0 : 0x80; /* E0 80..9F: overlong */
    uint8_t hi = c == 0xED ? 0x9F : 0xBF; /* ED A0..BF: surrogates */
    uint8_t b = p[i + 1];
    return b >= lo && b <= hi && is_cont(p[i + 2]) ? 3 : 0;
  }
  if (c < 0xF5) {
    if (room < 4) return 0;
    uint8_t lo = c == 0xF0 ? 0x90 : 0x80; /* F0 80..8F: overlong */
    uint8_t hi = c == 0xF4 ? 0x8F : 0xBF; /* F4 90..BF: past U+10FFFF */
    uint8_t b = p[i + 1];
    return b >= lo && b <= hi && is_cont(p[i + 2]) && is_cont(p[i + 3]) ? 4 : 0;
  }
  return 0; /* F5..FF: past U+10FFFF, or never UTF-8 */
}

/* From just after an opening quote: the index just after the closing quote, or 0 when the string is invalid. */
static size_t scan_string(const uint8_t* p, size_t n, size_t i) {
  for (;;) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (;;) {
      if (i + 8 > n) {
        while (i < n && is_plain(p[i])) i++;
        break;
      }
      uint64_t s = special8(load8(p + i));
      if (s != 0) {
        i += (size_t)__builtin_ctzll(s) >> 3;
        break;
      }
      i += 8;
    }
#else
    while (i + 8 <= n && special8(load8(p + i)) == 0) i += 8;
    while (i < n && is_plain(p[i])) i++;
#endif
    if (i >= n) return 0; /* unterminated */
    uint8_t c = p[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (n - i < 2) return 0;
      switch (p[i + 1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          i += 2;
          continue;
        case 'u':
          if (n - i < 6) return 0;
          if ((hex_value(p[i + 2]) | hex_value(p[i + 3]) | hex_value(p[i + 4]) | hex_value(p[i + 5])) < 0) return 0;
          i += 6;
          continue;
        default:
          return 0;
      }
    }
    if (c < 0x80) return 0; /* a raw control character */
    do { /* a run of non-ASCII characters (most text that has one has many) */
      size_t len = utf8_length(p, n, i);
      if (len == 0) return 0;
      i += len;
    } while (i < n && p[i] >= 0x80);
  }
}

/* The first index after the number starting at p[i], or 0 when it is not a JSON number. */
static size_t scan_number(const uint8_t* p, size_t n, size_t i) {
  if (p[i] == '-' && ++i >= n) return 0;
  if (p[i] == '0') {
    i++;
  } else if (is_digit(p[i])) {
    do i++;
    while (i < n && is_digit(p[i]));
  } else {
    return 0;
  }
  if (i < n && p[i] == '.') {
    if (++i >= n || !is_digit(p[i])) return 0;
    do i++;
    while (i < n && is_digit(p[i]));
  }
  if (i < n && (p[i] | 0x20) == 'e') {
    if (++i < n && (p[i] == '+' || p[i] == '-')) i++;
    if (i >= n || !is_digit(p[i])) return 0;
    do i++;
    while (i < n && is_digit(p[i]));
  }
  return i;
}

/* 1 when the (valid) string body k[0..len) decodes to exactly "message". */
static int is_message_key(const uint8_t* k, size_t len) {
  static const uint8_t want[7] = {'m', 'e', 's', 's', 'a', 'g', 'e'};
  size_t at = 0;
  for (size_t j = 0; j < len;) {
    unsigned c = k[j];
    if (c == '\\') {
      if (k[j + 1] == 'u') {
        c = (unsigned)(hex_value(k[j + 2]) << 12 | hex_value(k[j + 3]) << 8 | hex_value(k[j + 4]) << 4 |
                       hex_value(k[j + 5]));
        j += 6;
      } else {
        c = 0; /* \" \\ \/ \b \f \n \r \t: none is a letter of "message" */
        j += 2;
      }
    } else {
      j++;
    }
    if (at == sizeof want || c != want[at]) return 0;
    at++;
  }
  return at == sizeof want;
}

static inline int literal(const uint8_t* p, size_t n, size_t i, const char* word, size_t len) {
  if (n - i < len) return 0;
  for (size_t j = 1; j < len; j++) {
    if (p[i + j] != (uint8_t)word[j]) return 0;
  }
  return 1;
}

int npah_json_valid(const uint8_t* p, size_t n, unsigned flags) {
  uint8_t closer[NPAH_JSON_MAX_DEPTH]; /* closer[d]: '}' or ']', the bracket that ends level d + 1 */
  size_t depth = 0;
  size_t i = 0;
  const int error_object = (flags & NPAH_JSON_ERROR_OBJECT) != 0;
  int message = 0; /* the last top-level "message" member so far: 0 none, 1 a string, 2 something else */

  if (p == NULL) return 0;
  if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) i = 3; /* a byte order mark */
  i = skip_ws(p, n, i);
  if (error_object && (i >= n || p[i] != '{')) return 0;

value: /* at the first byte of a value, whitespace skipped */
  if (i >= n) return 0;
  switch (p[i]) {
    case '{':
      if (depth == NPAH_JSON_MAX_DEPTH) return 0;
      closer[depth++] = '}';
      i = skip_ws(p, n, i + 1);
      if (i < n && p[i] == '}') {
        i++;
        depth--;
        goto after;
      }
      goto member;
    case '[':
      if (depth == NPAH_JSON_MAX_DEPTH) return 0;
      closer[depth++] = ']';
      i = skip_ws(p, n, i + 1);
      if (i < n && p[i] == ']') {
        i++;
        depth--;
        goto after;
      }
      goto value;
    case '"':
      i = scan_string(p, n, i + 1);
      if (i == 0) return 0;
      goto after;
    case 't':
      if (!literal(p, n, i, "true", 4)) return 0;
      i += 4;
      goto after;
    case 'f':
      if (!literal(p, n, i, "false", 5)) return 0;
      i += 5;
      goto after;
    case 'n':
      if (!literal(p, n, i, "null", 4)) return 0;
      i += 4;
      goto after;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      i = scan_number(p, n, i);
      if (i == 0) return 0;
      goto after;
    default:
      return 0;
  }

member: /* at the key of an object member, whitespace skipped */
  if (i >= n || p[i] != '"') return 0;
  {
    size_t key = i + 1;
    i = scan_string(p, n, key);
    if (i == 0) return 0;
    size_t key_len = i - 1 - key;
    i = skip_ws(p, n, i);
    if (i >= n || p[i] != ':') return 0;
    i = skip_ws(p, n, i + 1);
    if (error_object && depth == 1 && is_message_key(p + key, key_len)) message = i < n && p[i] == '"' ? 1 : 2;
  }
  goto value;

after: /* just after a value */
  i = skip_ws(p, n, i);
  if (depth == 0) return i == n && (!error_object || message == 1);
  if (i >= n) return 0;
  if (p[i] == ',') {
    i = skip_ws(p, n, i + 1);
    if (closer[depth - 1] == '}') goto member;
    goto value;
  }
  if (p[i] != closer[depth - 1]) return 0;
  i++;
  depth--;
  goto after;
}
