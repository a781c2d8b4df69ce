/* DNS queries: encoding a standard query, and deciding whether a parsed reply answers it (same ID,
 * a response, and the same question; RFC 1035 §7.3, RFC 5452 §9.1). */
#include <errno.h>
#include <string.h>

#include "dns_private.h"

int tw_dns_query_encode(uint8_t *buf, size_t size, uint16_t id, const char *name, uint16_t type,
                        uint16_t qclass, unsigned flags)
{
    uint8_t wire[TW_DNS_NAME_MAX];
    int n = tw_dns_name_to_wire(name, wire, sizeof wire);
    if (n < 0)
        return n;
    bool edns = flags & TW_DNS_QUERY_EDNS;
    size_t total = TW_DNS_HEADER_SIZE + (size_t)n + 4 + (edns ? TW_DNS_RR_MIN : 0);
    if (!buf || total > size)
        return -ENOBUFS;
    memset(buf, 0, total);
    tw__dns_put16(buf, id);
    tw__dns_put16(buf + 2, flags & TW_DNS_QUERY_RD ? TW_DNS_FLAG_RD : 0);
    tw__dns_put16(buf + 4, 1);
    tw__dns_put16(buf + 10, edns ? 1 : 0);
    uint8_t *p = buf + TW_DNS_HEADER_SIZE;
    memcpy(p, wire, (size_t)n);
    p += n;
    tw__dns_put16(p, type);
    tw__dns_put16(p + 2, qclass);
    if (edns) {
        /* Root owner (p[4] = 0), type OPT, class = our payload size; TTL (extended rcode, version,
         * flags) and RDLENGTH stay zero. */
        tw__dns_put16(p + 5, TW_DNS_TYPE_OPT);
        tw__dns_put16(p + 7, TW_DNS_EDNS_PAYLOAD);
    }
    return (int)total;
}

bool tw_dns_message_answers(const tw_dns_message *reply, const uint8_t *query, size_t len)
{
    uint8_t wire[TW_DNS_NAME_MAX];
    size_t pos = TW_DNS_HEADER_SIZE;
    if (!reply || !query || len < TW_DNS_HEADER_SIZE)
        return false;
    int n = tw__dns_name_unpack(query, len, &pos, len, wire);
    if (n < 0 || len - pos < 4)
        return false;
    return reply->id == tw__dns_get16(query) && (reply->flags & TW_DNS_FLAG_QR) &&
           reply->opcode == 0 && reply->question.type == tw__dns_get16(query + pos) &&
           reply->question.qclass == tw__dns_get16(query + pos + 2) &&
           tw__dns_wire_equal(reply->question.wire, reply->question.wire_len, wire, (size_t)n);
}
