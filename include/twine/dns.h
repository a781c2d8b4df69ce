/* twine DNS: the wire format of RFC 1035 written for hostile input (query encoding, response
 * parsing with name decompression, A/AAAA/MX/CNAME/SOA records, question matching, MX ordering),
 * /etc/resolv.conf parsing and nameserver addresses. docs/dns.md explains it with examples.
 *
 * NAMES are handled in two forms. The wire form is what RFC 1035 §3.1 puts in a message:
 * length-prefixed labels ending with the root's zero byte, at most TW_DNS_NAME_MAX octets. The text
 * form is what a user reads and writes: labels joined by '.', no trailing dot ("." alone is the
 * root), and every label byte that could be misread escaped (RFC 1035 §5.1): . \ " ; ( ) @ $ as
 * a backslash and the byte, bytes outside 0x21..0x7e as a backslash and three decimal digits
 * (\DDD). Labels are binary (RFC 2181 §11), so a name decoded from a message can always be written
 * back unchanged: tw_dns_name_to_wire(text) gives the wire form the text came from. Names compare
 * without regard to ASCII case.
 *
 * OWNERSHIP: tw_dns_message_parse and tw_dns_message_mx return one allocation each, freed with
 * tw_dns_message_free / tw_dns_mx_list_free; every string inside lives as long as it does. On error
 * nothing is allocated and *out is left NULL.
 *
 * ERRORS: -EINVAL for a malformed argument (a name with an empty label or a dangling backslash, an
 * unparsable address), -ENAMETOOLONG for a label or name over its limit, -ENOBUFS when an output
 * buffer is too small, -ENOMEM, and TW_EPARSE for a message that breaks the wire format. */
#ifndef TWINE_DNS_H
#define TWINE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "deferred.h"
#include "error.h"
#include "failure.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits --------------------------------------------------------------------------------- */

#define TW_DNS_HEADER_SIZE 12  /* RFC 1035 §4.1.1 */
#define TW_DNS_LABEL_MAX 63    /* octets in one label (§2.3.4) */
#define TW_DNS_NAME_MAX 255    /* octets of a name's wire form, length bytes and root included */
/* Size of a buffer that holds any name in text form with its NUL: every label byte may take four
 * characters (\DDD), and at most 253 octets of a name are not length bytes. */
#define TW_DNS_NAME_TEXT_MAX 1024
/* Compression pointers followed while decoding one name; each must point strictly before the
 * previous one, so this only bounds the work (c-ares' limit). */
#define TW_DNS_POINTER_JUMPS_MAX 128
/* Smallest resource record: a root owner (1), type, class, TTL, RDLENGTH (10). */
#define TW_DNS_RR_MIN 11
#define TW_DNS_MESSAGE_MAX 65535   /* largest message (TCP's 16-bit length prefix) */
#define TW_DNS_UDP_PAYLOAD_MAX 512 /* UDP payload without EDNS (RFC 1035 §4.2.1) */
/* UDP payload advertised with EDNS0: 1280 (IPv6 minimum MTU) - 40 - 8, DNS flag day 2020. */
#define TW_DNS_EDNS_PAYLOAD 1232
/* Records kept by tw_dns_message_parse, in wire order; the rest are checked but not kept. */
#define TW_DNS_RECORDS_MAX 256
/* CNAME records followed inside one answer before tw_dns_message_mx gives up with -ELOOP. */
#define TW_DNS_CNAME_CHAIN_MAX 8
/* The largest query tw_dns_query_encode writes: header, longest name, type, class, an OPT RR. */
#define TW_DNS_QUERY_SIZE_MAX (TW_DNS_HEADER_SIZE + TW_DNS_NAME_MAX + 4 + TW_DNS_RR_MIN)

/* ---- constants of the protocol --------------------------------------------------------------- */

enum {
    TW_DNS_TYPE_A = 1,
    TW_DNS_TYPE_NS = 2,
    TW_DNS_TYPE_CNAME = 5,
    TW_DNS_TYPE_SOA = 6,
    TW_DNS_TYPE_PTR = 12,
    TW_DNS_TYPE_MX = 15,
    TW_DNS_TYPE_TXT = 16,
    TW_DNS_TYPE_AAAA = 28,
    TW_DNS_TYPE_OPT = 41,
};

enum { TW_DNS_CLASS_IN = 1 };

/* Header flag bits (the 16-bit word after the ID). */
enum {
    TW_DNS_FLAG_QR = 0x8000,
    TW_DNS_FLAG_AA = 0x0400,
    TW_DNS_FLAG_TC = 0x0200,
    TW_DNS_FLAG_RD = 0x0100,
    TW_DNS_FLAG_RA = 0x0080,
    TW_DNS_FLAG_AD = 0x0020,
    TW_DNS_FLAG_CD = 0x0010,
};

/* Response codes; with EDNS the full code has 12 bits (RFC 6891 §6.1.3). */
enum {
    TW_DNS_RCODE_NOERROR = 0,
    TW_DNS_RCODE_FORMERR = 1,
    TW_DNS_RCODE_SERVFAIL = 2,
    TW_DNS_RCODE_NXDOMAIN = 3,
    TW_DNS_RCODE_NOTIMP = 4,
    TW_DNS_RCODE_REFUSED = 5,
    TW_DNS_RCODE_BADVERS = 16,
};

/* Failure type names (Twisted's twisted.names.error classes). */
#define TW_DNS_FORMAT_ERROR "DNSFormatError"
#define TW_DNS_SERVER_ERROR "DNSServerError"
#define TW_DNS_NAME_ERROR "DNSNameError"
#define TW_DNS_NOT_IMPLEMENTED_ERROR "DNSNotImplementedError"
#define TW_DNS_QUERY_REFUSED_ERROR "DNSQueryRefusedError"
#define TW_DNS_UNKNOWN_ERROR "DNSUnknownError"

/* The failure type Twisted raises for a response code (ResolverBase._errormap): FORMERR ->
 * DNSFormatError, SERVFAIL -> DNSServerError, NXDOMAIN -> DNSNameError, NOTIMP ->
 * DNSNotImplementedError, REFUSED -> DNSQueryRefusedError, any other non-zero code ->
 * DNSUnknownError; NULL for NOERROR. */
TW_API const char *tw_dns_rcode_error_type(unsigned rcode);
/* "NXDOMAIN", "SERVFAIL", ...; "RCODE<n>" for codes without a name (buf holds it; size >= 16). */
TW_API const char *tw_dns_rcode_name(unsigned rcode, char *buf, size_t size);

/* ---- names ---------------------------------------------------------------------------------- */

/* Text form to wire form. Accepts an optional trailing '.' and the escapes \c and \DDD (DDD at most
 * 255); "." is the root. Returns the wire length (1..TW_DNS_NAME_MAX).
 * Errors: -EINVAL (empty text, an empty label such as "a..b" or ".a", a dangling backslash, a \DDD
 * over 255 or with fewer than three digits), -ENAMETOOLONG (a label over TW_DNS_LABEL_MAX, a name
 * over TW_DNS_NAME_MAX), -ENOBUFS (size too small). */
TW_API int tw_dns_name_to_wire(const char *text, uint8_t *wire, size_t size);
/* Wire form (uncompressed, wire_len octets, ending with the root) to text form. Returns the text
 * length. Errors: TW_EPARSE (not a well-formed name), -ENOBUFS (size too small: use
 * TW_DNS_NAME_TEXT_MAX). */
TW_API int tw_dns_name_to_text(const uint8_t *wire, size_t wire_len, char *text, size_t size);
/* Do two text-form names name the same domain? (Escapes and a trailing dot resolved, ASCII case
 * ignored.) A name that does not parse equals nothing. */
TW_API bool tw_dns_name_equal(const char *a, const char *b);

/* ---- queries -------------------------------------------------------------------------------- */

/* Query flags for tw_dns_query_encode. */
enum {
    TW_DNS_QUERY_RD = 1,   /* recursion desired (what a stub resolver wants) */
    TW_DNS_QUERY_EDNS = 2, /* add an OPT record advertising TW_DNS_EDNS_PAYLOAD */
};

/* Writes a standard query for (name, type, qclass) with this id into buf: header, one question,
 * and an OPT record with TW_DNS_QUERY_EDNS. Returns its length (at most TW_DNS_QUERY_SIZE_MAX).
 * Errors: those of tw_dns_name_to_wire; -ENOBUFS when size is too small. */
TW_API int tw_dns_query_encode(uint8_t *buf, size_t size, uint16_t id, const char *name,
                               uint16_t type, uint16_t qclass, unsigned flags);

/* ---- messages ------------------------------------------------------------------------------- */

typedef enum tw_dns_section {
    TW_DNS_SECTION_ANSWER,
    TW_DNS_SECTION_AUTHORITY,
    TW_DNS_SECTION_ADDITIONAL,
} tw_dns_section;

/* One resource record. Names are in text form. data is decoded for A, AAAA, MX, CNAME and SOA
 * in class IN; records of other types or classes keep only their header fields. */
typedef struct tw_dns_record {
    const char *name;
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl; /* 0..2^31-1; a TTL with its top bit set reads as 0 (RFC 2181 §8) */
    uint16_t rdlength;
    tw_dns_section section;
    union {
        uint8_t a[4];
        uint8_t aaaa[16];
        struct {
            uint16_t preference;
            const char *exchange;
        } mx;
        struct {
            const char *target;
        } cname;
        struct {
            const char *mname;
            const char *rname;
            uint32_t serial, refresh, retry, expire, minimum;
        } soa;
    } data;
} tw_dns_record;

/* A parsed message (query or response). */
typedef struct tw_dns_message {
    uint16_t id;
    uint16_t flags;     /* the raw flags word: TW_DNS_FLAG_* plus opcode and header rcode */
    unsigned opcode;    /* 0 for a standard query */
    unsigned rcode;     /* full response code, the OPT record's upper bits included */
    uint16_t qdcount, ancount, nscount, arcount;
    struct {
        const char *name;
        uint16_t type;
        uint16_t qclass;
        uint8_t wire[TW_DNS_NAME_MAX]; /* the name's wire form, for exact matching */
        size_t wire_len;
    } question;
    bool edns;            /* had an OPT record */
    uint16_t edns_payload; /* its advertised UDP payload size (values below 512 read as 512) */
    uint8_t edns_version;
    size_t count;          /* records kept, at most TW_DNS_RECORDS_MAX */
    size_t dropped;        /* records checked but not kept (beyond TW_DNS_RECORDS_MAX; OPT) */
    tw_dns_record *records;
} tw_dns_message;

/* Parses one DNS message (without TCP's length prefix). Every length in it is checked against the
 * bytes that are really there: the header must be complete, QDCOUNT exactly 1, the record counts
 * possible in what remains, every name well formed (labels of at most 63 octets, no reserved label
 * types, names of at most 255 octets, compression pointers inside the message and strictly before
 * every byte the name has used so far, at most TW_DNS_POINTER_JUMPS_MAX of them), every record
 * complete with its RDATA inside RDLENGTH and of the size its type demands (A 4, AAAA 16, MX a
 * preference and a name filling it, CNAME a name filling it, SOA two names and 20 bytes filling
 * it), and at most one OPT record, owned by the root, in the additional section. Bytes after the
 * last counted record are ignored. It does not judge QR, opcode or rcode: see
 * tw_dns_message_answers. Errors: TW_EPARSE, -ENOMEM. */
TW_API int tw_dns_message_parse(const uint8_t *data, size_t len, tw_dns_message **out);
TW_API void tw_dns_message_free(tw_dns_message *m);

/* Is reply the answer to query (the bytes tw_dns_query_encode wrote)? The same ID, QR set, opcode
 * 0, and the same question: name (ASCII case ignored), type and class (RFC 1035 §7.3; RFC 5452
 * §9.1). Checking where it came from is the caller's part. */
TW_API bool tw_dns_message_answers(const tw_dns_message *reply, const uint8_t *query, size_t len);

/* ---- MX ------------------------------------------------------------------------------------- */

typedef struct tw_dns_mx {
    uint16_t preference;
    uint32_t ttl;
    const char *exchange; /* text form; "." for a null MX (RFC 7505) */
} tw_dns_mx;

/* MX records of one domain, sorted by preference. */
typedef struct tw_dns_mx_list {
    const char *domain; /* the name the records belong to, after CNAMEs */
    size_t count;
    tw_dns_mx *items;
} tw_dns_mx_list;

/* The MX records of the answer section owned by the question's name, or by the name its CNAME
 * chain in the answer leads to (RFC 1034 §3.6.2), class IN only, sorted by preference, records of
 * equal preference in wire order. No MX records gives an empty list (count 0): the caller decides
 * what an empty answer means. Errors: -ELOOP (a CNAME chain longer than TW_DNS_CNAME_CHAIN_MAX,
 * which a loop is), -ENOMEM. */
TW_API int tw_dns_message_mx(const tw_dns_message *m, tw_dns_mx_list **out);
/* Puts records of equal preference in random order, as RFC 5321 §5.1 asks of a mail sender; the
 * order follows from seed (give it random bits). */
TW_API void tw_dns_mx_list_shuffle_ties(tw_dns_mx_list *list, uint64_t seed);
TW_API void tw_dns_mx_list_free(tw_dns_mx_list *list);

/* ---- nameservers and /etc/resolv.conf ------------------------------------------------------- */

#define TW_DNS_PORT 53
#define TW_DNS_NAMESERVERS_MAX 3 /* nameserver lines used, as glibc's and musl's MAXNS */
#define TW_DNS_RESOLV_CONF_PATH "/etc/resolv.conf"
#define TW_DNS_RESOLV_CONF_SIZE_MAX 65536 /* bytes of resolv.conf read; the rest is ignored */
#define TW_DNS_TIMEOUT_DEFAULT 5          /* options timeout:N, seconds */
#define TW_DNS_TIMEOUT_MAX 30
#define TW_DNS_ATTEMPTS_DEFAULT 2 /* options attempts:N */
#define TW_DNS_ATTEMPTS_MAX 5

typedef struct tw_dns_server {
    struct sockaddr_storage addr;
    socklen_t len;
} tw_dns_server;

typedef struct tw_dns_resolv_conf {
    size_t count;                                   /* at least 1 after parsing */
    tw_dns_server servers[TW_DNS_NAMESERVERS_MAX];  /* in the order listed */
    bool defaulted;                                 /* no usable nameserver line: 127.0.0.1:53 */
    unsigned timeout;                               /* seconds, 1..TW_DNS_TIMEOUT_MAX */
    unsigned attempts;                              /* 1..TW_DNS_ATTEMPTS_MAX */
} tw_dns_resolv_conf;

/* Parses an address of a DNS server: "192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]",
 * "[2001:db8::1]:5353", "fe80::1%eth0" or "[fe80::1%2]:53"; port is used when none is given.
 * Numeric addresses only. Errors: -EINVAL. */
TW_API int tw_dns_server_parse(const char *text, uint16_t port, tw_dns_server *out);

/* Parses resolv.conf text (len bytes; NUL bytes are not special): the first
 * TW_DNS_NAMESERVERS_MAX usable `nameserver ADDR` lines (IPv4 or IPv6, port 53) and `options`
 * timeout:N and attempts:N (clamped to their maximums). Lines starting with '#' or ';', unknown
 * keywords and unusable addresses are skipped. With no usable nameserver the result is
 * 127.0.0.1:53 with defaulted set. Never fails. */
TW_API void tw_dns_resolv_conf_parse(const char *text, size_t len, tw_dns_resolv_conf *conf);
/* Reads and parses a file (TW_DNS_RESOLV_CONF_PATH when path is NULL), at most
 * TW_DNS_RESOLV_CONF_SIZE_MAX bytes of it. A missing or unreadable file gives the defaults, as it
 * does for glibc; the error is returned all the same (-errno), with conf filled. */
TW_API int tw_dns_resolv_conf_load(const char *path, tw_dns_resolv_conf *conf);
/* "ADDR" or "[ADDR]" (IPv6) and ":PORT" into buf (INET6_ADDRSTRLEN + 24 is enough); returns buf. */
TW_API char *tw_dns_server_format(const tw_dns_server *s, char *buf, size_t size);

/* ---- the resolver: queries over UDP, with TCP for truncated answers -------------------------- */

/* Twisted's client.Resolver timeouts: one per pass over the servers, in seconds. */
#define TW_DNS_TIMEOUTS_DEFAULT {1.0, 3.0, 11.0, 45.0}
#define TW_DNS_TIMEOUTS_MAX 8
/* Seconds a query over TCP (after a truncated UDP answer) may take, connecting included
 * (Twisted's queryTCP default). */
#define TW_DNS_TCP_TIMEOUT 10.0

typedef struct tw_dns_resolver tw_dns_resolver;

/* How a resolver asks. Zeroed fields take the defaults. */
typedef struct tw_dns_resolver_options {
    const tw_dns_server *servers; /* asked in this order; NULL: the nameservers of resolv.conf */
    size_t nservers;              /* at most TW_DNS_NAMESERVERS_MAX */
    const char *resolv_conf;      /* file read when servers is NULL (NULL: /etc/resolv.conf) */
    const double *timeouts;       /* per pass over the servers; NULL: TW_DNS_TIMEOUTS_DEFAULT */
    size_t ntimeouts;             /* at most TW_DNS_TIMEOUTS_MAX */
    double tcp_timeout;           /* 0: TW_DNS_TCP_TIMEOUT */
    /* EDNS0 (RFC 6891): every query carries an OPT record advertising TW_DNS_EDNS_PAYLOAD bytes
     * over UDP, so a large answer comes in one datagram instead of TC and a TCP retry. A server
     * that answers FORMERR without an OPT record knows no EDNS: it is asked the same question
     * once more without one. Off by default, as in Twisted's client. */
    bool edns;
} tw_dns_resolver_options;

/* A resolver on r (Twisted's twisted.names.client.Resolver). options may be NULL. NULL + *err:
 * -EINVAL (too many servers or timeouts, a timeout not above 0), -ENOMEM. */
TW_API tw_dns_resolver *tw_dns_resolver_new(tw_reactor *r, const tw_dns_resolver_options *options,
                                            int *err);
/* Cancels every query still running (their deferreds fail with CancelledError), then frees the
 * resolver. Not from inside one of its own callbacks. */
TW_API void tw_dns_resolver_free(tw_dns_resolver *res);
/* Queries the resolver has running now (sent, not yet answered, failed or cancelled). */
TW_API size_t tw_dns_resolver_in_flight(const tw_dns_resolver *res);

/* How a query runs. Each attempt goes out on a new UDP socket with a random source port,
 * connected to the server it asks, so the kernel drops datagrams from any other address or port;
 * every attempt repeats the same random 16-bit ID and question. An answer counts only if
 * tw_dns_message_answers says it answers the query; a malformed, empty or unrelated datagram is
 * dropped and the query goes on waiting. Sockets of earlier attempts stay open until the query
 * ends, so a late answer to an earlier attempt still counts. Attempts go round the servers, each
 * pass waiting the next of the timeouts. A truncated answer (TC) is discarded and the same query
 * is asked of the same server over TCP (one connection, the 2-byte length prefix of RFC 1035
 * §4.2.2); that answer is taken as it is, TC or not.
 *
 * Outcomes: NOERROR fires the deferred. NXDOMAIN fails it with DNSNameError at once. SERVFAIL,
 * REFUSED and NOTIMP, and an ICMP refusal of the server's port, strike that server for this
 * query and move on to the next one at once; when every server is struck, the query fails with
 * the last such error (DNSServerError, DNSQueryRefusedError, DNSNotImplementedError,
 * ConnectionRefusedError). FORMERR and unknown codes fail it (DNSFormatError, DNSUnknownError).
 * No answer after the last attempt: TimeoutError. Every failure's message starts with the name
 * asked: "example.com: ...". Cancelling the deferred stops the query. */

/* A query for (name, type, class IN). The deferred fires with the whole answer, a tw_dns_message
 * * (destructor tw_dns_message_free). NULL + *err: the errors of tw_dns_name_to_wire for name,
 * -ESHUTDOWN, -ENOMEM; then nothing was sent. */
TW_API tw_deferred *tw_dns_query(tw_dns_resolver *res, const char *name, uint16_t type, int *err);

/* Twisted's lookupMailExchange, with the ordering RFC 5321 asks for: an MX query whose deferred
 * fires with a tw_dns_mx_list * (destructor tw_dns_mx_list_free) from tw_dns_message_mx, records of
 * equal preference shuffled. An answer without MX records fires with an empty list (count 0). A
 * CNAME loop in the answer fails it with ValueError. Errors as tw_dns_query. */
TW_API tw_deferred *tw_dns_lookup_mail_exchange(tw_dns_resolver *res, const char *name, int *err);

#ifdef __cplusplus
}
#endif
#endif
