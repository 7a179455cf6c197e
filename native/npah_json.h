/*
 * npah_json.h — a JSON validator for the native fuzz loop: after each plugin
 * call it tells, without leaving C, whether an output or error buffer is one
 * valid JSON text (RFC 8259) in valid UTF-8 (RFC 3629), accepting exactly what
 * the guard (lib/errors/guard.ts: a fatal TextDecoder, then JSON.parse) accepts,
 * with nesting bounded to NPAH_JSON_MAX_DEPTH.
 *
 * No allocation, no global state, no libc: safe on any thread, at any rate.
 */
#ifndef NPAH_JSON_H
#define NPAH_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Also require {"message": <string>, ...} at the top level (the error buffer's shape). */
#define NPAH_JSON_ERROR_OBJECT 1u

/* Deepest nesting of arrays and objects accepted: 512 levels are valid, 513 are not. */
#define NPAH_JSON_MAX_DEPTH 512u

/*
 * 1 when p[0..n) is one valid JSON text in valid UTF-8 (and, with
 * NPAH_JSON_ERROR_OBJECT, an object whose member "message" is a string), else 0.
 *
 * - UTF-8 per RFC 3629: no overlong forms, no encoded surrogates, nothing past
 *   U+10FFFF, no truncated sequence, no stray continuation byte. One leading
 *   byte order mark (EF BB BF) is skipped, as TextDecoder skips it (RFC 8259
 *   section 8.1 lets a parser ignore it); anywhere else U+FEFF is not whitespace.
 * - JSON per RFC 8259: one value with optional space, \t, \n, \r around it;
 *   escapes \" \\ \/ \b \f \n \r \t \uXXXX (lone surrogate escapes accepted,
 *   as JSON.parse accepts them); numbers -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?;
 *   true, false, null; at most NPAH_JSON_MAX_DEPTH levels of nesting, counted
 *   in the text (a member a later duplicate key overwrites counts too).
 * - NPAH_JSON_ERROR_OBJECT: the top-level value is an object, and the LAST
 *   member whose key (escapes decoded: "\u006dessage" counts) is "message"
 *   has a string value, as JSON.parse keeps the last duplicate.
 * - n == 0 is invalid, and so is p == NULL (never read). Other flag bits are reserved and ignored.
 */
int npah_json_valid(const uint8_t* p, size_t n, unsigned flags);

#endif
