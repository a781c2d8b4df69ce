/* Internal interface between the files of protocols/dns: the name decoder shared by the message
 * parser and the tests, and big-endian helpers. */
#ifndef TWINE_DNS_PRIVATE_H
#define TWINE_DNS_PRIVATE_H

#include <twine/dns.h>

static inline uint16_t tw__dns_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t tw__dns_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void tw__dns_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Decodes the possibly compressed name at *pos of the message msg[0..msg_len) into its wire form
 * (wire: TW_DNS_NAME_MAX bytes). The name's own bytes, up to its end or its first pointer, must lie
 * before limit (the end of the RDATA holding it, or msg_len); pointers may lead anywhere before
 * them. On success *pos is just past those bytes and the wire length is returned.
 * Errors: TW_EPARSE. */
int tw__dns_name_unpack(const uint8_t *msg, size_t msg_len, size_t *pos, size_t limit,
                        uint8_t *wire) TW__MUST_CHECK;

/* Do two wire-form names match, ASCII case ignored? */
bool tw__dns_wire_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/* A numeric IPv4 or IPv6 address (IPv6 optionally with "%scope") of len bytes, no port, into out
 * with this port. Errors: -EINVAL (also for a NUL inside). */
int tw__dns_parse_host(const char *text, size_t len, uint16_t port,
                       tw_dns_server *out) TW__MUST_CHECK;

#endif
