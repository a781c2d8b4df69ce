/* Byte ranges. Only one range is ever served, so the many-ranges attacks (CVE-2011-3192: hundreds
 * of overlapping ranges, each a copy) have nothing to work on: a second range makes the whole
 * header ignored. */
#include <string.h>
#include <strings.h>

#include "range.h"

/* 1*DIGIT at *s, saturating at UINT64_MAX; false when there is no digit. */
static bool number(const char **s, const char *end, uint64_t *out)
{
    const char *start = *s;
    uint64_t v = 0;
    for (; *s < end && tw__http_digit((unsigned char)**s); (*s)++) {
        unsigned d = (unsigned)(**s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return *s > start;
}

/* One byte-range-spec (already trimmed). */
static tw__http_range_kind one_range(const char *s, const char *end, uint64_t size, uint64_t *first,
                                     uint64_t *last)
{
    uint64_t a, b;
    if (s < end && *s == '-') {
        s++;
        if (!number(&s, end, &b) || s != end)
            return TW__HTTP_RANGE_NONE;
        if (b == 0 || size == 0)
            return TW__HTTP_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return TW__HTTP_RANGE_PARTIAL;
    }
    if (!number(&s, end, &a) || s == end || *s++ != '-')
        return TW__HTTP_RANGE_NONE;
    b = UINT64_MAX;
    if (s != end && (!number(&s, end, &b) || s != end || b < a))
        return TW__HTTP_RANGE_NONE;
    if (a >= size)
        return TW__HTTP_RANGE_UNSATISFIABLE;
    *first = a;
    *last = b < size - 1 ? b : size - 1;
    return TW__HTTP_RANGE_PARTIAL;
}

static bool ows(char c)
{
    return tw__http_ows((unsigned char)c);
}

tw__http_range_kind tw__http_range_parse(tw__http_str value, uint64_t size, uint64_t *first,
                                         uint64_t *last)
{
    if (!value.p || value.len < 6 || strncasecmp(value.p, "bytes=", 6) != 0)
        return TW__HTTP_RANGE_NONE;
    const char *s = value.p + 6, *end = value.p + value.len;
    const char *spec = NULL, *spec_end = NULL;
    while (s < end) { /* the list's elements; empty ones are allowed and skipped (RFC 9110 5.6.1) */
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        while (s < e && ows(*s))
            s++;
        while (e > s && ows(e[-1]))
            e--;
        if (s < e) {
            if (spec)
                return TW__HTTP_RANGE_NONE; /* several ranges: the whole file */
            spec = s;
            spec_end = e;
        }
        s = comma ? comma + 1 : end;
    }
    return spec ? one_range(spec, spec_end, size, first, last) : TW__HTTP_RANGE_NONE;
}
