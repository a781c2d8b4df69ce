/* What twined adds to the library's reason when an endpoint description does not parse or cannot
 * listen: a hint for the usual mistakes (an IPv6 address whose colons were not escaped) and plain
 * words for a path that holds something other than a socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* Where the next unescaped ':' or the end of s is, from p. */
static const char *segment_end(const char *p)
{
    while (*p && *p != ':') {
        if (*p == '\\' && p[1])
            p++;
        p++;
    }
    return p;
}

static bool has_unescaped(const char *from, const char *to, char c)
{
    for (const char *p = from; p < to; p++) {
        if (*p == '\\' && p + 1 < to)
            p++;
        else if (*p == c)
            return true;
    }
    return false;
}

/* Is text (an IPv6 address, maybe with a %scope) an address inet_pton accepts? */
static bool looks_ipv6(const char *text, size_t len)
{
    char addr[INET6_ADDRSTRLEN];
    const char *scope = memchr(text, '%', len);
    size_t n = scope ? (size_t)(scope - text) : len;
    struct in6_addr a;
    if (n >= sizeof addr)
        return false;
    memcpy(addr, text, n);
    addr[n] = '\0';
    return inet_pton(AF_INET6, addr, &a) == 1;
}

/* Writes key=value with every ':' of value escaped into hint. */
static void write_escaped(char *hint, size_t size, const char *key, size_t key_len,
                          const char *value, size_t value_len)
{
    size_t n = (size_t)snprintf(hint, size, "%.*s=", (int)key_len, key);
    for (size_t i = 0; i < value_len && n + 3 < size; i++) {
        if (value[i] == ':')
            hint[n++] = '\\';
        hint[n++] = value[i];
    }
    hint[n < size ? n : size - 1] = '\0';
}

bool twined_colon_hint(const char *description, char *hint, size_t size)
{
    const char *seg = description;
    while (*seg) {
        const char *end = segment_end(seg);
        const char *eq = memchr(seg, '=', (size_t)(end - seg));
        if (eq && *end == ':') {
            /* The value, and the segments after it that hold no '=': what an unescaped colon cut */
            const char *last = end;
            while (*last == ':' && !has_unescaped(last + 1, segment_end(last + 1), '='))
                last = segment_end(last + 1);
            if (last != end && looks_ipv6(eq + 1, (size_t)(last - eq - 1))) {
                write_escaped(hint, size, seg, (size_t)(eq - seg), eq + 1, (size_t)(last - eq - 1));
                return true;
            }
        }
        seg = *end ? end + 1 : end;
    }
    return false;
}

const char *twined_listen_reason(const tw_server_description *d, int err, char *buf, size_t size)
{
    if (err == -ENOTSOCK && d->type == TW_ENDPOINT_UNIX) {
        snprintf(buf, size, "'%s' exists and is not a socket (left as it is)",
                 twined_show(d->path).text);
        return buf;
    }
    return tw_strerror(err);
}
