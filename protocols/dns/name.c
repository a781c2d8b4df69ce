/* Domain names: text form to wire form and back (with RFC 1035 §5.1 escapes, because labels are
 * binary), comparison without case, and the decoder of compressed names in a received message,
 * which is where resolvers have most often been broken (dns-anchors §1). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns_private.h"

/* ---- text form to wire form ------------------------------------------------------------------ */

/* One \c or \DDD escape at *p (just past the backslash): stores the byte, advances *p. */
static int parse_escape(const char **p, uint8_t *byte)
{
    const char *s = *p;
    if (*s == '\0')
        return -EINVAL;
    if (*s < '0' || *s > '9') {
        *byte = (uint8_t)*s;
        *p = s + 1;
        return 0;
    }
    unsigned value = 0;
    for (int i = 0; i < 3; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        value = value * 10 + (unsigned)(s[i] - '0');
    }
    if (value > 255)
        return -EINVAL;
    *byte = (uint8_t)value;
    *p = s + 3;
    return 0;
}

/* Appends the label at *p (up to an unescaped '.' or the end) to wire at *out, which has room for
 * TW_DNS_NAME_MAX octets; one octet stays free for the root. */
static int parse_label(const char **p, uint8_t *wire, size_t *out)
{
    size_t len_at = *out, n = 0;
    const char *s = *p;
    while (*s != '\0' && *s != '.') {
        uint8_t byte = (uint8_t)*s++;
        if (byte == '\\') {
            int rc = parse_escape(&s, &byte);
            if (rc < 0)
                return rc;
        }
        if (n == TW_DNS_LABEL_MAX || len_at + 1 + n + 1 >= TW_DNS_NAME_MAX)
            return -ENAMETOOLONG;
        wire[len_at + 1 + n++] = byte;
    }
    if (n == 0)
        return -EINVAL;
    wire[len_at] = (uint8_t)n;
    *out = len_at + 1 + n;
    *p = s;
    return 0;
}

int tw_dns_name_to_wire(const char *text, uint8_t *wire, size_t size)
{
    uint8_t buf[TW_DNS_NAME_MAX];
    size_t out = 0;
    if (!text || !*text)
        return -EINVAL;
    const char *p = text;
    if (strcmp(p, ".") != 0) {
        for (;;) {
            int rc = parse_label(&p, buf, &out);
            if (rc < 0)
                return rc;
            if (*p == '\0' || (*p == '.' && p[1] == '\0'))
                break;
            p++;
        }
    }
    buf[out++] = 0;
    if (out > size)
        return -ENOBUFS;
    memcpy(wire, buf, out);
    return (int)out;
}

/* ---- wire form to text form ------------------------------------------------------------------ */

/* Writes one label byte as text at text[*n] (room checked by the caller: 4 characters). */
static void escape_byte(uint8_t c, char *text, size_t *n)
{
    if (strchr(".\\\";()@$", c) && c != '\0') {
        text[(*n)++] = '\\';
        text[(*n)++] = (char)c;
    } else if (c < 0x21 || c > 0x7e) {
        snprintf(text + *n, 5, "\\%03u", c);
        *n += 4;
    } else {
        text[(*n)++] = (char)c;
    }
}

int tw_dns_name_to_text(const uint8_t *wire, size_t wire_len, char *text, size_t size)
{
    char buf[TW_DNS_NAME_TEXT_MAX];
    size_t n = 0, i = 0;
    if (wire_len == 0 || wire_len > TW_DNS_NAME_MAX)
        return TW_EPARSE;
    while (wire[i] != 0) {
        size_t len = wire[i];
        if (len > TW_DNS_LABEL_MAX || i + 1 + len >= wire_len)
            return TW_EPARSE;
        if (n > 0)
            buf[n++] = '.';
        for (size_t k = 1; k <= len; k++)
            escape_byte(wire[i + k], buf, &n);
        i += 1 + len;
    }
    if (i + 1 != wire_len)
        return TW_EPARSE;
    if (n == 0)
        buf[n++] = '.';
    if (n + 1 > size)
        return -ENOBUFS;
    memcpy(text, buf, n);
    text[n] = '\0';
    return (int)n;
}

/* ---- comparison ------------------------------------------------------------------------------ */

static uint8_t ascii_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* Length octets are at most 63, below 'A', so folding them changes nothing. */
bool tw__dns_wire_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    if (a_len != b_len)
        return false;
    for (size_t i = 0; i < a_len; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

bool tw_dns_name_equal(const char *a, const char *b)
{
    uint8_t wa[TW_DNS_NAME_MAX], wb[TW_DNS_NAME_MAX];
    int la = tw_dns_name_to_wire(a, wa, sizeof wa);
    int lb = tw_dns_name_to_wire(b, wb, sizeof wb);
    return la > 0 && lb > 0 && tw__dns_wire_equal(wa, (size_t)la, wb, (size_t)lb);
}

/* ---- compressed names in a message (RFC 1035 §4.1.4) ---------------------------------------- */

/* The rules, after c-ares' decoder: every length byte and label lies inside the bytes allowed; a
 * pointer must point strictly before everything this name has read so far (so a chain of pointers
 * only moves backwards and must end), at most TW_DNS_POINTER_JUMPS_MAX of them; the decoded name
 * keeps room for its root octet within TW_DNS_NAME_MAX; the reserved label types 01 and 10 are
 * refused (extended labels are dead, RFC 6891 §5). */
int tw__dns_name_unpack(const uint8_t *msg, size_t msg_len, size_t *pos, size_t limit,
                        uint8_t *wire)
{
    size_t cur = *pos, floor = *pos, end = limit < msg_len ? limit : msg_len, resume = 0, out = 0;
    unsigned jumps = 0;
    for (;;) {
        if (cur >= end)
            return TW_EPARSE;
        uint8_t len = msg[cur];
        if (len == 0) {
            wire[out++] = 0;
            *pos = jumps ? resume : cur + 1;
            return (int)out;
        }
        if ((len & 0xC0) == 0xC0) {
            if (cur + 2 > end)
                return TW_EPARSE;
            size_t target = (size_t)(len & 0x3F) << 8 | msg[cur + 1];
            if (target >= floor || ++jumps > TW_DNS_POINTER_JUMPS_MAX)
                return TW_EPARSE;
            if (jumps == 1)
                resume = cur + 2;
            end = msg_len;
            floor = cur = target;
            continue;
        }
        if (len > TW_DNS_LABEL_MAX || cur + 1 + len > end || out + 1 + len + 1 > TW_DNS_NAME_MAX)
            return TW_EPARSE;
        memcpy(wire + out, msg + cur, 1u + len);
        out += 1u + len;
        cur += 1u + len;
    }
}
