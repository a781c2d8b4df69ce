/* DNS message parser: checks every length against the bytes really received (dns-anchors §1,
 * "message checks, in order") and builds a tw_dns_message in one allocation. It walks the message
 * twice with the same code: once to check it and measure what to keep, once to fill it in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_private.h"

/* Where the walk puts what it keeps; with m NULL it only counts (the first walk). */
typedef struct builder {
    tw_dns_message *m;
    char *arena;
    size_t arena_used;
    size_t kept;
    size_t dropped;
    bool opt_seen;
} builder;

/* The names one record carries: its owner, and up to two in its RDATA (SOA). */
typedef struct record_names {
    uint8_t wire[3][TW_DNS_NAME_MAX];
    size_t len[3];
    int count;
} record_names;

/* Copies a checked wire name into the arena as text; NULL while counting. */
static const char *keep_name(builder *b, const uint8_t *wire, size_t wire_len)
{
    char text[TW_DNS_NAME_TEXT_MAX];
    int n = tw_dns_name_to_text(wire, wire_len, text, sizeof text);
    if (n < 0)
        n = 0, text[0] = '\0'; /* cannot happen: the decoder only yields well-formed names */
    const char *kept = NULL;
    if (b->m) {
        kept = b->arena + b->arena_used;
        memcpy(b->arena + b->arena_used, text, (size_t)n + 1);
    }
    b->arena_used += (size_t)n + 1;
    return kept;
}

/* Decodes one name of the RDATA at *pos into names (bytes before end only). */
static int rdata_name(const uint8_t *msg, size_t len, size_t *pos, size_t end,
                      record_names *names)
{
    int n = tw__dns_name_unpack(msg, len, pos, end, names->wire[names->count]);
    if (n < 0)
        return n;
    names->len[names->count++] = (size_t)n;
    return 0;
}

/* SOA RDATA: two names, then serial, refresh, retry, expire, minimum, filling RDLENGTH. */
static int decode_soa(const uint8_t *msg, size_t len, size_t at, size_t end, tw_dns_record *rr,
                      record_names *names)
{
    if (rdata_name(msg, len, &at, end, names) < 0 || rdata_name(msg, len, &at, end, names) < 0)
        return TW_EPARSE;
    if (end - at != 20)
        return TW_EPARSE;
    rr->data.soa.serial = tw__dns_get32(msg + at);
    rr->data.soa.refresh = tw__dns_get32(msg + at + 4);
    rr->data.soa.retry = tw__dns_get32(msg + at + 8);
    rr->data.soa.expire = tw__dns_get32(msg + at + 12);
    rr->data.soa.minimum = tw__dns_get32(msg + at + 16);
    return 0;
}

/* Decodes the RDATA msg[at..end) of the types twine understands; its size must be exactly what the
 * type demands, and names inside it must end inside it. */
static int decode_rdata(const uint8_t *msg, size_t len, size_t at, size_t end, tw_dns_record *rr,
                        record_names *names)
{
    size_t size = end - at;
    if (rr->rclass != TW_DNS_CLASS_IN)
        return 0;
    switch (rr->type) {
    case TW_DNS_TYPE_A:
        if (size != sizeof rr->data.a)
            return TW_EPARSE;
        memcpy(rr->data.a, msg + at, size);
        return 0;
    case TW_DNS_TYPE_AAAA:
        if (size != sizeof rr->data.aaaa)
            return TW_EPARSE;
        memcpy(rr->data.aaaa, msg + at, size);
        return 0;
    case TW_DNS_TYPE_MX:
        if (size < 3)
            return TW_EPARSE;
        rr->data.mx.preference = tw__dns_get16(msg + at);
        at += 2;
        /* The exchange is a name filling the rest, like a CNAME's target. */
        /* fall through */
    case TW_DNS_TYPE_CNAME:
        if (rdata_name(msg, len, &at, end, names) < 0 || at != end)
            return TW_EPARSE;
        return 0;
    case TW_DNS_TYPE_SOA:
        return decode_soa(msg, len, at, end, rr, names);
    default:
        return 0;
    }
}

/* Points the record's name fields at their text in the arena. */
static void keep_record(builder *b, tw_dns_record *rr, const record_names *names)
{
    const char *text[3] = {NULL, NULL, NULL};
    for (int i = 0; i < names->count; i++)
        text[i] = keep_name(b, names->wire[i], names->len[i]);
    if (b->m) {
        rr->name = text[0];
        if (rr->type == TW_DNS_TYPE_MX)
            rr->data.mx.exchange = text[1];
        else if (rr->type == TW_DNS_TYPE_CNAME)
            rr->data.cname.target = text[1];
        else if (rr->type == TW_DNS_TYPE_SOA)
            rr->data.soa.mname = text[1], rr->data.soa.rname = text[2];
        b->m->records[b->kept] = *rr;
    }
    b->kept++;
}

/* The OPT pseudo-record (RFC 6891 §6.1): at most one, owned by the root, in the additional
 * section; its options must fill RDATA exactly. */
static int parse_opt(const uint8_t *msg, size_t at, size_t end, const tw_dns_record *rr,
                     size_t owner_len, builder *b)
{
    if (b->opt_seen || rr->section != TW_DNS_SECTION_ADDITIONAL || owner_len != 1)
        return TW_EPARSE;
    while (at < end) {
        if (end - at < 4 || tw__dns_get16(msg + at + 2) > end - at - 4)
            return TW_EPARSE;
        at += 4u + tw__dns_get16(msg + at + 2);
    }
    b->opt_seen = true;
    b->dropped++;
    if (b->m) {
        b->m->edns = true;
        b->m->edns_payload = rr->rclass < TW_DNS_UDP_PAYLOAD_MAX ? (uint16_t)TW_DNS_UDP_PAYLOAD_MAX
                                                                 : rr->rclass;
        b->m->edns_version = (uint8_t)(rr->ttl >> 16);
        b->m->rcode |= (rr->ttl >> 24) << 4;
    }
    return 0;
}

/* One resource record at *pos: owner, ten fixed bytes, RDATA inside RDLENGTH. */
static int parse_record(const uint8_t *msg, size_t len, size_t *pos, tw_dns_section section,
                        builder *b)
{
    record_names names = {.count = 0};
    tw_dns_record rr = {.section = section};
    if (rdata_name(msg, len, pos, len, &names) < 0 || len - *pos < 10)
        return TW_EPARSE;
    const uint8_t *fixed = msg + *pos;
    rr.type = tw__dns_get16(fixed);
    rr.rclass = tw__dns_get16(fixed + 2);
    uint32_t ttl = tw__dns_get32(fixed + 4);
    rr.ttl = ttl & 0x80000000u ? 0 : ttl;
    rr.rdlength = tw__dns_get16(fixed + 8);
    *pos += 10;
    if (rr.rdlength > len - *pos)
        return TW_EPARSE;
    size_t at = *pos, end = at + rr.rdlength;
    *pos = end;
    if (rr.type == TW_DNS_TYPE_OPT) {
        rr.ttl = ttl; /* OPT's TTL carries the extended rcode and version, not a time */
        return parse_opt(msg, at, end, &rr, names.len[0], b);
    }
    int rc = decode_rdata(msg, len, at, end, &rr, &names);
    if (rc < 0)
        return rc;
    if (b->kept < TW_DNS_RECORDS_MAX)
        keep_record(b, &rr, &names);
    else
        b->dropped++;
    return 0;
}

static void read_header(const uint8_t *msg, tw_dns_message *m)
{
    m->id = tw__dns_get16(msg);
    m->flags = tw__dns_get16(msg + 2);
    m->opcode = (m->flags >> 11) & 0xF;
    m->rcode = m->flags & 0xF;
    m->qdcount = tw__dns_get16(msg + 4);
    m->ancount = tw__dns_get16(msg + 6);
    m->nscount = tw__dns_get16(msg + 8);
    m->arcount = tw__dns_get16(msg + 10);
}

/* The question: exactly one, its name and four bytes of type and class. */
static int parse_question(const uint8_t *msg, size_t len, size_t *pos, builder *b)
{
    uint8_t wire[TW_DNS_NAME_MAX];
    int n = tw__dns_name_unpack(msg, len, pos, len, wire);
    if (n < 0 || len - *pos < 4)
        return TW_EPARSE;
    const char *name = keep_name(b, wire, (size_t)n);
    if (b->m) {
        b->m->question.name = name;
        b->m->question.type = tw__dns_get16(msg + *pos);
        b->m->question.qclass = tw__dns_get16(msg + *pos + 2);
        memcpy(b->m->question.wire, wire, (size_t)n);
        b->m->question.wire_len = (size_t)n;
    }
    *pos += 4;
    return 0;
}

static int walk(const uint8_t *msg, size_t len, builder *b)
{
    tw_dns_message header;
    if (len < TW_DNS_HEADER_SIZE || len > TW_DNS_MESSAGE_MAX)
        return TW_EPARSE;
    read_header(msg, b->m ? b->m : &header);
    if (tw__dns_get16(msg + 4) != 1)
        return TW_EPARSE;
    size_t pos = TW_DNS_HEADER_SIZE;
    if (parse_question(msg, len, &pos, b) < 0)
        return TW_EPARSE;
    size_t counts[3] = {tw__dns_get16(msg + 6), tw__dns_get16(msg + 8), tw__dns_get16(msg + 10)};
    /* Lying counts are refused before anything is sized from them. */
    if (counts[0] + counts[1] + counts[2] > (len - pos) / TW_DNS_RR_MIN)
        return TW_EPARSE;
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < counts[s]; i++)
            if (parse_record(msg, len, &pos, (tw_dns_section)s, b) < 0)
                return TW_EPARSE;
    return 0;
}

int tw_dns_message_parse(const uint8_t *data, size_t len, tw_dns_message **out)
{
    builder measure = {.m = NULL};
    *out = NULL;
    if (!data || walk(data, len, &measure) < 0)
        return TW_EPARSE;
    size_t records = measure.kept * sizeof(tw_dns_record);
    tw_dns_message *m = calloc(1, sizeof *m + records + measure.arena_used);
    if (!m)
        return -ENOMEM;
    m->records = (tw_dns_record *)(m + 1);
    builder fill = {.m = m, .arena = (char *)(m + 1) + records};
    (void)walk(data, len, &fill); /* cannot fail: the same walk just succeeded */
    m->count = fill.kept;
    m->dropped = fill.dropped;
    *out = m;
    return 0;
}

void tw_dns_message_free(tw_dns_message *m)
{
    free(m);
}

/* ---- response codes -------------------------------------------------------------------------- */

const char *tw_dns_rcode_error_type(unsigned rcode)
{
    switch (rcode) {
    case TW_DNS_RCODE_NOERROR:
        return NULL;
    case TW_DNS_RCODE_FORMERR:
        return TW_DNS_FORMAT_ERROR;
    case TW_DNS_RCODE_SERVFAIL:
        return TW_DNS_SERVER_ERROR;
    case TW_DNS_RCODE_NXDOMAIN:
        return TW_DNS_NAME_ERROR;
    case TW_DNS_RCODE_NOTIMP:
        return TW_DNS_NOT_IMPLEMENTED_ERROR;
    case TW_DNS_RCODE_REFUSED:
        return TW_DNS_QUERY_REFUSED_ERROR;
    default:
        return TW_DNS_UNKNOWN_ERROR;
    }
}

const char *tw_dns_rcode_name(unsigned rcode, char *buf, size_t size)
{
    static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                        "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                        "NXRRSET", "NOTAUTH", "NOTZONE"};
    if (rcode < sizeof names / sizeof names[0])
        return names[rcode];
    if (rcode == TW_DNS_RCODE_BADVERS)
        return "BADVERS";
    snprintf(buf, size, "RCODE%u", rcode);
    return buf;
}
