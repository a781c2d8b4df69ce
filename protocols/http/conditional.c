/* Conditional requests. Entity-tag lists are scanned by their grammar (an opaque tag may hold a
 * comma, so splitting on commas would be wrong); a list that does not parse matches nothing. */
#include <string.h>

#include "conditional.h"
#include "date.h"

size_t tw__http_etag_format(int64_t mtime, uint64_t size, char *out)
{
    static const char hex[] = "0123456789abcdef";
    char digits[16];
    size_t o = 0;
    out[o++] = '"';
    for (int part = 0; part < 2; part++) {
        uint64_t v = part == 0 ? (uint64_t)mtime : size;
        size_t n = 0;
        do {
            digits[n++] = hex[v & 15];
            v >>= 4;
        } while (v);
        while (n)
            out[o++] = digits[--n];
        out[o++] = part == 0 ? '-' : '"';
    }
    out[o] = '\0';
    return o;
}

/* Does the list (If-Match / If-None-Match) hold etag? weak: compare without the W/ prefixes. */
static bool etag_listed(tw__http_str list, tw__http_str etag, bool weak)
{
    const char *s = list.p, *end = list.p + list.len;
    if (list.len == 1 && s[0] == '*')
        return true;
    for (;;) {
        while (s < end && (*s == ',' || tw__http_ows((unsigned char)*s)))
            s++;
        if (s == end)
            return false;
        bool is_weak = end - s >= 2 && s[0] == 'W' && s[1] == '/';
        if (is_weak)
            s += 2;
        const char *close = s < end && *s == '"' ? memchr(s + 1, '"', (size_t)(end - s - 1)) : NULL;
        if (!close)
            return false;
        size_t len = (size_t)(close + 1 - s);
        if ((weak || !is_weak) && len == etag.len && memcmp(s, etag.p, len) == 0)
            return true;
        s = close + 1;
    }
}

/* A date header, parsed; false when absent or unparsable. */
static bool header_date(tw__http_str value, int64_t *t)
{
    return value.p && tw__http_date_parse(value.p, value.len, t);
}

int tw__http_preconditions(const tw__http_request *req, int64_t mtime, tw__http_str etag)
{
    int64_t t;
    if (req->if_match.p) {
        if (!etag_listed(req->if_match, etag, false))
            return 412;
    } else if (header_date(req->if_unmodified_since, &t) && mtime > t) {
        return 412;
    }
    if (req->if_none_match.p)
        return etag_listed(req->if_none_match, etag, true) ? 304 : 0;
    if (header_date(req->if_modified_since, &t) && mtime <= t)
        return 304;
    return 0;
}

bool tw__http_if_range_holds(tw__http_str if_range, int64_t mtime, tw__http_str etag)
{
    int64_t t;
    if (!if_range.p)
        return true;
    if (if_range.len >= 1 && if_range.p[0] == '"')
        return if_range.len == etag.len && memcmp(if_range.p, etag.p, etag.len) == 0;
    return tw__http_date_parse(if_range.p, if_range.len, &t) && t == mtime;
}
