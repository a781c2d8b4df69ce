/* Private to protocols/http: the Range header (RFC 9110 14.2) as the contract answers it: one byte
 * range -> 206 (or 416 when it cannot be satisfied); several ranges, another unit, or a value that
 * does not parse -> the whole file (200). */
#ifndef TWINE_PROTOCOLS_HTTP_RANGE_H
#define TWINE_PROTOCOLS_HTTP_RANGE_H

#include <stdint.h>

#include "chars.h"

typedef enum {
    TW__HTTP_RANGE_NONE = 0,      /* serve the whole representation */
    TW__HTTP_RANGE_PARTIAL,       /* 206 with bytes *first..*last (inclusive) */
    TW__HTTP_RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * / size */
} tw__http_range_kind;

/* Judges value (a Range header; p NULL when absent) against a representation of size bytes.
 * "bytes=F-L" clamps L to size - 1; "bytes=F-" runs to the end; "bytes=-N" is the last N bytes (all
 * of them when N >= size). F >= size, N = 0, or an empty representation -> unsatisfiable; L < F is
 * invalid -> NONE. Numbers of any length are read without overflow (they saturate). */
tw__http_range_kind tw__http_range_parse(tw__http_str value, uint64_t size, uint64_t *first,
                                         uint64_t *last);

#endif
