/* Private to protocols/http: the byte classes of HTTP's grammar (RFC 9110, RFC 3986) as bit masks,
 * so that the parser, the path decoder and the listing test a byte with one shift and no table;
 * and the span type that points at a piece of a request head. */
#ifndef TWINE_PROTOCOLS_HTTP_CHARS_H
#define TWINE_PROTOCOLS_HTTP_CHARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

/* Bytes inside a buffer someone else owns (a request head); p is NULL when absent. */
typedef struct {
    const char *p;
    size_t len;
} tw__http_str;

/* Does s equal the literal lit, ignoring ASCII case? */
static inline bool tw__http_str_ieq(tw__http_str s, const char *lit, size_t lit_len)
{
    return s.p && s.len == lit_len && strncasecmp(s.p, lit, lit_len) == 0;
}
#define TW__HTTP_IEQ(s, lit) tw__http_str_ieq((s), (lit), sizeof(lit) - 1)

/* Bits 0-63 and 64-127 of an ASCII class; bytes >= 0x80 are never in one. */
typedef struct {
    uint64_t lo, hi;
} tw__http_class;

/* token characters: ALPHA DIGIT and !#$%&'*+-.^_`|~ (RFC 9110 5.6.2) */
#define TW__HTTP_TCHAR ((tw__http_class){0x03ff6cfa00000000u, 0x57ffffffc7fffffeu})
/* reg-name characters: unreserved, sub-delims and '%' (RFC 3986 3.2.2) */
#define TW__HTTP_REGNAME ((tw__http_class){0x2bff7ff200000000u, 0x47fffffe87fffffeu})
/* unreserved: ALPHA DIGIT -._~ (RFC 3986 2.3): what an href may carry without escaping */
#define TW__HTTP_UNRESERVED ((tw__http_class){0x03ff600000000000u, 0x47fffffe87fffffeu})

static inline bool tw__http_in(tw__http_class set, unsigned char c)
{
    if (c < 64)
        return (set.lo >> c) & 1u;
    if (c < 128)
        return (set.hi >> (c - 64)) & 1u;
    return false;
}

/* 0-15 for a hexadecimal digit, -1 otherwise. */
static inline int tw__http_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static inline bool tw__http_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Optional whitespace: SP or HTAB. */
static inline bool tw__http_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

#endif
