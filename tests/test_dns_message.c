/* Tests for the DNS wire format: names in text and wire form (limits, escapes, the CVE-2016-5180
 * escaped dot), the compressed-name decoder (loops, forward pointers, pointers past the end, cut
 * pointers, reserved label types, 255-octet limit), every message bound check (short headers,
 * lying counts, short records, RDLENGTH mismatches per type, OPT rules, the record cap),
 * query encoding and reply matching, and MX extraction (CNAME chains, loops, sorting, ties). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <twine/twine.h>

#include "protocols/dns/dns_private.h"
#include "support/dns_wire.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static int parse(const tw_test_wire *w)
{
    tw_dns_message *m = (tw_dns_message *)&m; /* must come back NULL on error */
    int rc = tw_dns_message_parse(w->b, w->n, &m);
    if (rc < 0)
        assert_null(m);
    tw_dns_message_free(m);
    return rc;
}

static tw_dns_message *parse_ok(const tw_test_wire *w)
{
    tw_dns_message *m = NULL;
    assert_int_equal(tw_dns_message_parse(w->b, w->n, &m), 0);
    assert_non_null(m);
    return m;
}

/* Text form of a wire name given as bytes. */
static const char *text_of(const uint8_t *wire, size_t len)
{
    static char text[TW_DNS_NAME_TEXT_MAX];
    int n = tw_dns_name_to_text(wire, len, text, sizeof text);
    assert_true(n > 0);
    return text;
}

/* A response to "example.com" MX with one answer slot open: header, question; RR comes next. */
static tw_test_wire *mx_response(unsigned an)
{
    tw_test_wire *w = tw_test_wire_new();
    tw_test_wire_response(w, 0x1234, 0, "example.com", TW_DNS_TYPE_MX, an, 0, 0);
    return w;
}

/* A dotted name of total wire length `wire_len` (>= 2) made of labels of at most 63 octets. */
static void long_name(char *out, size_t wire_len)
{
    size_t left = wire_len - 1, n = 0; /* octets before the root */
    while (left > 0) {
        size_t label = left - 1 > 63 ? 63 : left - 1;
        if (left - (label + 1) == 1) /* never leave a single octet: it cannot be a label */
            label--;
        if (n)
            out[n++] = '.';
        memset(out + n, 'a', label);
        n += label;
        left -= label + 1;
    }
    out[n] = '\0';
}

/* ---- names: text to wire --------------------------------------------------------------------- */

static void test_name_to_wire_basic(void **state)
{
    (void)state;
    uint8_t wire[TW_DNS_NAME_MAX];
    static const uint8_t expect[] = {7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
    assert_int_equal(tw_dns_name_to_wire("Example.com", wire, sizeof wire), sizeof expect);
    assert_memory_equal(wire, expect, sizeof expect);
    assert_int_equal(tw_dns_name_to_wire("Example.com.", wire, sizeof wire), sizeof expect);
    assert_memory_equal(wire, expect, sizeof expect);
    assert_int_equal(tw_dns_name_to_wire(".", wire, sizeof wire), 1);
    assert_int_equal(wire[0], 0);
    assert_int_equal(tw_dns_name_to_wire("Example.com", wire, sizeof expect - 1), -ENOBUFS);
}

static void test_name_to_wire_rejects_empty_labels(void **state)
{
    (void)state;
    uint8_t wire[TW_DNS_NAME_MAX];
    const char *bad[] = {"", "..", ".a", "a..b", "a.b..", "\\", "a\\", "\\25", "\\2a5", "\\256"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tw_dns_name_to_wire(bad[i], wire, sizeof wire), -EINVAL);
    assert_int_equal(tw_dns_name_to_wire(NULL, wire, sizeof wire), -EINVAL);
}

static void test_name_to_wire_label_limit(void **state)
{
    (void)state;
    char text[128];
    uint8_t wire[TW_DNS_NAME_MAX];
    memset(text, 'x', 63);
    strcpy(text + 63, ".com");
    assert_int_equal(tw_dns_name_to_wire(text, wire, sizeof wire), 1 + 63 + 4 + 1);
    memset(text, 'x', 64);
    strcpy(text + 64, ".com");
    assert_int_equal(tw_dns_name_to_wire(text, wire, sizeof wire), -ENAMETOOLONG);
    /* An escape counts as the one octet it stands for. */
    text[0] = '\0';
    for (int i = 0; i < 63; i++)
        strcat(text, "\\.");
    assert_int_equal(tw_dns_name_to_wire(text, wire, sizeof wire), 1 + 63 + 1);
}

static void test_name_to_wire_name_limit(void **state)
{
    (void)state;
    char text[400];
    uint8_t wire[TW_DNS_NAME_MAX];
    long_name(text, 255);
    assert_int_equal(tw_dns_name_to_wire(text, wire, sizeof wire), 255);
    assert_string_equal(text_of(wire, 255), text);
    long_name(text, 256);
    assert_int_equal(tw_dns_name_to_wire(text, wire, sizeof wire), -ENAMETOOLONG);
    long_name(text, 255);
    strcat(text, "."); /* the trailing dot adds nothing */
    assert_int_equal(tw_dns_name_to_wire(text, wire, sizeof wire), 255);
}

/* CVE-2016-5180: a name ending in an escaped dot is one label holding a '.', with nothing after
 * it; c-ares' query builder wrote one byte past its buffer on it. */
static void test_name_to_wire_escapes(void **state)
{
    (void)state;
    uint8_t wire[TW_DNS_NAME_MAX];
    static const uint8_t dot[] = {4, 'f', 'o', 'o', '.', 0};
    assert_int_equal(tw_dns_name_to_wire("foo\\.", wire, sizeof dot), sizeof dot);
    assert_memory_equal(wire, dot, sizeof dot);
    static const uint8_t mixed[] = {3, 'A', 0, ' ', 2, 'b', '\\', 0};
    assert_int_equal(tw_dns_name_to_wire("\\065\\000\\032.b\\\\.", wire, sizeof wire),
                     sizeof mixed);
    assert_memory_equal(wire, mixed, sizeof mixed);
}

/* ---- names: wire to text --------------------------------------------------------------------- */

static void test_name_to_text_escapes_everything_unsafe(void **state)
{
    (void)state;
    static const uint8_t wire[] = {10, 'a', '.', '\\', ' ', 0, 0xff, '"', ';', '/', '$', 1, '@', 0};
    char text[TW_DNS_NAME_TEXT_MAX];
    int n = tw_dns_name_to_text(wire, sizeof wire, text, sizeof text);
    assert_string_equal(text, "a\\.\\\\\\032\\000\\255\\\"\\;/\\$.\\@");
    assert_int_equal(n, (int)strlen(text));
    /* And back: the text names the same bytes. */
    uint8_t again[TW_DNS_NAME_MAX];
    assert_int_equal(tw_dns_name_to_wire(text, again, sizeof again), sizeof wire);
    assert_memory_equal(again, wire, sizeof wire);
    assert_int_equal(tw_dns_name_to_text(wire, sizeof wire, text, 5), -ENOBUFS);
}

static void test_name_to_text_rejects_bad_wire(void **state)
{
    (void)state;
    char text[TW_DNS_NAME_TEXT_MAX];
    static const uint8_t root[] = {0};
    assert_int_equal(tw_dns_name_to_text(root, 1, text, sizeof text), 1);
    assert_string_equal(text, ".");
    static const uint8_t no_root[] = {1, 'a'};
    assert_int_equal(tw_dns_name_to_text(no_root, sizeof no_root, text, sizeof text), TW_EPARSE);
    static const uint8_t past[] = {5, 'a', 0};
    assert_int_equal(tw_dns_name_to_text(past, sizeof past, text, sizeof text), TW_EPARSE);
    static const uint8_t trailing[] = {1, 'a', 0, 0};
    assert_int_equal(tw_dns_name_to_text(trailing, sizeof trailing, text, sizeof text), TW_EPARSE);
    static const uint8_t pointer[] = {0xC0, 0, 0};
    assert_int_equal(tw_dns_name_to_text(pointer, sizeof pointer, text, sizeof text), TW_EPARSE);
    assert_int_equal(tw_dns_name_to_text(root, 0, text, sizeof text), TW_EPARSE);
}

/* The worst case for the text buffer: 250 octets, every one escaped as \DDD. */
static void test_name_text_max_is_enough(void **state)
{
    (void)state;
    uint8_t wire[TW_DNS_NAME_MAX];
    size_t n = 0;
    for (int label = 0; label < 4; label++) {
        size_t len = label < 3 ? 63 : 61;
        wire[n++] = (uint8_t)len;
        memset(wire + n, 0x01, len);
        n += len;
    }
    wire[n++] = 0;
    assert_int_equal(n, 255);
    char text[TW_DNS_NAME_TEXT_MAX];
    assert_int_equal(tw_dns_name_to_text(wire, n, text, sizeof text), 250 * 4 + 3);
}

static void test_name_equal(void **state)
{
    (void)state;
    assert_true(tw_dns_name_equal("Example.COM", "example.com."));
    assert_true(tw_dns_name_equal("\\065.b", "a.B"));
    assert_false(tw_dns_name_equal("example.com", "example.org"));
    assert_false(tw_dns_name_equal("a\\.b", "a.b"));
    assert_false(tw_dns_name_equal("a..b", "a..b")); /* names that do not parse equal nothing */
}

/* ---- the name decoder ------------------------------------------------------------------------ */

static int unpack(const uint8_t *msg, size_t len, size_t pos, uint8_t *wire, size_t *next)
{
    int rc = tw__dns_name_unpack(msg, len, &pos, len, wire);
    if (next)
        *next = pos;
    return rc;
}

static void test_unpack_follows_backward_pointer(void **state)
{
    (void)state;
    /* 0: 3com0  5: 7example<ptr 0>  */
    static const uint8_t msg[] = {3, 'c', 'o', 'm', 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
                                  0xC0, 0x00, 0xEE};
    uint8_t wire[TW_DNS_NAME_MAX];
    size_t next;
    assert_int_equal(unpack(msg, sizeof msg, 5, wire, &next), 13);
    assert_int_equal(next, 15); /* just past the pointer, not past where it led */
    assert_string_equal(text_of(wire, 13), "example.com");
}

static void test_unpack_rejects_loops_and_forward_pointers(void **state)
{
    (void)state;
    uint8_t wire[TW_DNS_NAME_MAX];
    static const uint8_t self[] = {0xC0, 0x00};
    assert_int_equal(unpack(self, sizeof self, 0, wire, NULL), TW_EPARSE);
    /* A two-pointer cycle: 2 -> 0 -> 2. */
    static const uint8_t cycle[] = {0xC0, 0x02, 0xC0, 0x00};
    assert_int_equal(unpack(cycle, sizeof cycle, 2, wire, NULL), TW_EPARSE);
    /* A label then a pointer back into the same name. */
    static const uint8_t into_self[] = {1, 'a', 0xC0, 0x00};
    assert_int_equal(unpack(into_self, sizeof into_self, 0, wire, NULL), TW_EPARSE);
    /* A forward pointer, even to a good name. */
    static const uint8_t forward[] = {0xC0, 0x02, 1, 'a', 0};
    assert_int_equal(unpack(forward, sizeof forward, 0, wire, NULL), TW_EPARSE);
    /* After one jump, the next must go further back than the first target. */
    static const uint8_t zigzag[] = {1, 'a', 0xC0, 0x06, 0, 0, 0xC0, 0x00};
    assert_int_equal(unpack(zigzag, sizeof zigzag, 6, wire, NULL), TW_EPARSE);
}

static void test_unpack_rejects_pointers_past_the_end(void **state)
{
    (void)state;
    uint8_t wire[TW_DNS_NAME_MAX];
    static const uint8_t far[] = {1, 'a', 0, 0xFF, 0xFF};
    assert_int_equal(unpack(far, sizeof far, 3, wire, NULL), TW_EPARSE);
    static const uint8_t cut[] = {1, 'a', 0, 0xC0};
    assert_int_equal(unpack(cut, sizeof cut, 3, wire, NULL), TW_EPARSE);
    /* A name starting at the end of the message. */
    assert_int_equal(unpack(far, sizeof far, sizeof far, wire, NULL), TW_EPARSE);
}

/* A chain of backward pointers: each pointer at 1, 3, 5, ... leads to the one before it, and the
 * one at 1 to the root at 0. Decoding from the pointer at 2k-1 takes k jumps. */
static void test_unpack_bounds_pointer_chains(void **state)
{
    (void)state;
    uint8_t msg[1 + 2 * 200];
    msg[0] = 0;
    for (unsigned k = 1; k <= 200; k++) {
        unsigned target = k == 1 ? 0 : 2 * k - 3;
        msg[2 * k - 1] = (uint8_t)(0xC0 | target >> 8);
        msg[2 * k] = (uint8_t)target;
    }
    uint8_t wire[TW_DNS_NAME_MAX];
    unsigned ok = TW_DNS_POINTER_JUMPS_MAX;
    assert_int_equal(unpack(msg, sizeof msg, 2 * ok - 1, wire, NULL), 1);
    assert_int_equal(unpack(msg, sizeof msg, 2 * (ok + 1) - 1, wire, NULL), TW_EPARSE);
    assert_int_equal(unpack(msg, sizeof msg, 2 * 200 - 1, wire, NULL), TW_EPARSE);
}

static void test_unpack_rejects_bad_labels(void **state)
{
    (void)state;
    uint8_t wire[TW_DNS_NAME_MAX];
    uint8_t l64[70] = {64};
    memset(l64 + 1, 'a', 64);
    assert_int_equal(unpack(l64, sizeof l64, 0, wire, NULL), TW_EPARSE);
    static const uint8_t ext40[] = {0x40, 1, 'a', 0}, ext80[] = {0x80, 1, 'a', 0};
    assert_int_equal(unpack(ext40, sizeof ext40, 0, wire, NULL), TW_EPARSE);
    assert_int_equal(unpack(ext80, sizeof ext80, 0, wire, NULL), TW_EPARSE);
    /* CVE-2016-10195: a label running past the end of the message. */
    static const uint8_t runs_off[] = {5, 'a', 'b'};
    assert_int_equal(unpack(runs_off, sizeof runs_off, 0, wire, NULL), TW_EPARSE);
    /* No root: the name simply stops at the end. */
    static const uint8_t unterminated[] = {1, 'a'};
    assert_int_equal(unpack(unterminated, sizeof unterminated, 0, wire, NULL), TW_EPARSE);
    assert_int_equal(unpack(unterminated, 0, 0, wire, NULL), TW_EPARSE);
}

/* A name's own bytes must end before its limit (the end of the RDATA holding it). */
static void test_unpack_respects_limit(void **state)
{
    (void)state;
    static const uint8_t msg[] = {1, 'a', 0, 9, 9};
    uint8_t wire[TW_DNS_NAME_MAX];
    size_t pos = 0;
    assert_int_equal(tw__dns_name_unpack(msg, sizeof msg, &pos, 2, wire), TW_EPARSE);
    pos = 0;
    assert_int_equal(tw__dns_name_unpack(msg, sizeof msg, &pos, 3, wire), 3);
}

/* Names over 255 octets, whether written out or assembled from pointers, are refused; 255 is
 * accepted. Built as labels of 63 'a's chained by pointers. */
static void test_unpack_name_limit_through_pointers(void **state)
{
    (void)state;
    uint8_t msg[512];
    size_t n = 0;
    msg[n++] = 0; /* root at 0 */
    size_t prev = 0, starts[5];
    for (int i = 0; i < 5; i++) {
        starts[i] = n;
        msg[n++] = 63;
        memset(msg + n, 'a', 63);
        n += 63;
        msg[n++] = (uint8_t)(0xC0 | prev >> 8);
        msg[n++] = (uint8_t)prev;
        prev = starts[i];
    }
    uint8_t wire[TW_DNS_NAME_MAX];
    assert_int_equal(unpack(msg, n, starts[2], wire, NULL), 3 * 64 + 1);
    assert_int_equal(unpack(msg, n, starts[3], wire, NULL), TW_EPARSE); /* 4 * 64 + 1 = 257 */
    /* Exactly 255 (three labels of 63, then one of 61 through a pointer) and 256 (62). */
    for (size_t last = 61; last <= 62; last++) {
        uint8_t exact[300];
        size_t e = 0;
        exact[e++] = (uint8_t)last;
        memset(exact + e, 'b', last);
        e += last;
        exact[e++] = 0;
        size_t start = e;
        for (int i = 0; i < 3; i++) {
            exact[e++] = 63;
            memset(exact + e, 'c', 63);
            e += 63;
        }
        exact[e++] = 0xC0;
        exact[e++] = 0;
        assert_int_equal(unpack(exact, e, start, wire, NULL), last == 61 ? 255 : TW_EPARSE);
    }
}

/* ---- message bound checks -------------------------------------------------------------------- */

static void test_parse_short_messages(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(0);
    tw_test_wire *cut = tw_test_wire_new();
    for (size_t len = 0; len < w->n; len++) {
        cut->n = 0;
        tw_test_wire_bytes(cut, w->b, len);
        assert_int_equal(parse(cut), TW_EPARSE); /* 0 bytes, 11 bytes, a cut question ... */
    }
    assert_int_equal(parse(w), 0);
    assert_int_equal(tw_dns_message_parse(NULL, 0, &(tw_dns_message *){NULL}), TW_EPARSE);
    free(cut);
    free(w);
}

static void test_parse_requires_one_question(void **state)
{
    (void)state;
    tw_test_wire *w = tw_test_wire_new();
    tw_test_wire_header(w, 1, 0x8182, 0, 0, 0, 0); /* a bare SERVFAIL with no question */
    assert_int_equal(parse(w), TW_EPARSE);
    w->n = 0;
    tw_test_wire_header(w, 1, 0x8180, 2, 0, 0, 0);
    tw_test_wire_name(w, "a");
    tw_test_wire_u32(w, 0x000F0001);
    tw_test_wire_name(w, "b");
    tw_test_wire_u32(w, 0x000F0001);
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);
}

static void test_parse_lying_counts(void **state)
{
    (void)state;
    /* ANCOUNT 65535 with one record: refused before anything is sized from the count. */
    tw_test_wire *w = mx_response(65535);
    tw_test_wire_mx(w, 10, "mx.example.com");
    assert_int_equal(parse(w), TW_EPARSE);
    /* ANCOUNT 2 with one record. */
    tw_test_wire_set16(w, 6, 2);
    assert_int_equal(parse(w), TW_EPARSE);
    /* NSCOUNT and ARCOUNT count too. */
    tw_test_wire_set16(w, 6, 1);
    tw_test_wire_set16(w, 10, 1);
    assert_int_equal(parse(w), TW_EPARSE);
    /* Fewer counted than present: the extra bytes are ignored, never read as records. */
    tw_test_wire_set16(w, 10, 0);
    tw_test_wire_mx(w, 20, "other.example.com");
    tw_dns_message *m = parse_ok(w);
    assert_int_equal(m->count, 1);
    tw_dns_message_free(m);
    /* The largest counts allowed by the size check fit; a 16-bit overflow of their sum does not
     * wrap around. */
    w->n = 0;
    tw_test_wire_header(w, 1, 0x8180, 1, 65535, 65535, 65535);
    tw_test_wire_name(w, "a");
    tw_test_wire_u32(w, 0x000F0001);
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);
}

static void test_parse_truncated_records(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(1);
    size_t start = w->n;
    tw_test_wire_mx(w, 10, "mx.example.com");
    size_t full = w->n;
    for (size_t len = start; len < full; len++) {
        w->n = len;
        assert_int_equal(parse(w), TW_EPARSE);
    }
    w->n = full;
    assert_int_equal(parse(w), 0);
    free(w);
}

static void test_parse_rdlength_past_the_end(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(1);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_A, 1, 60, 4);
    tw_test_wire_bytes(w, "\x7f\0\0\1", 4);
    assert_int_equal(parse(w), 0);
    tw_test_wire_set16(w, w->n - 6, 5); /* RDLENGTH one past the end */
    assert_int_equal(parse(w), TW_EPARSE);
    tw_test_wire_set16(w, w->n - 6, 0xFFFF);
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);
}

/* One answer of this type with the given RDATA bytes: does the message parse? */
static int parse_one_rdata(unsigned type, const void *rdata, size_t len)
{
    tw_test_wire *w = mx_response(1);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_rr_fixed(w, type, 1, 60, (unsigned)len);
    tw_test_wire_bytes(w, rdata, len);
    int rc = parse(w);
    free(w);
    return rc;
}

static void test_parse_rdata_sizes_per_type(void **state)
{
    (void)state;
    static const uint8_t bytes[32] = {0, 10, 2, 'm', 'x', 0};
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_A, bytes, 4), 0);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_A, bytes, 5), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_A, bytes, 3), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_AAAA, bytes, 16), 0);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_AAAA, bytes, 4), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_MX, bytes, 6), 0);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_MX, bytes, 2), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_MX, bytes, 0), TW_EPARSE);
    /* The exchange runs past RDLENGTH (its root byte outside), or leaves a byte after it. */
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_MX, bytes, 5), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_MX, bytes, 7), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_CNAME, bytes + 2, 4), 0);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_CNAME, bytes + 2, 3), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_CNAME, bytes + 2, 5), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_CNAME, bytes, 0), TW_EPARSE);
    /* SOA: two names and exactly 20 bytes. */
    uint8_t soa[40] = {0, 0};
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_SOA, soa, 22), 0);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_SOA, soa, 21), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_SOA, soa, 23), TW_EPARSE);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_SOA, soa, 1), TW_EPARSE);
    /* Types twine does not decode are taken whole, whatever their RDATA. */
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_TXT, bytes, 7), 0);
    assert_int_equal(parse_one_rdata(TW_DNS_TYPE_TXT, bytes, 0), 0);
}

/* A compressed name inside RDATA may point back anywhere, but its own bytes end inside it. */
static void test_parse_rdata_name_pointer(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(1);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_MX, 1, 60, 7);
    tw_test_wire_u16(w, 5);
    tw_test_wire_bytes(w, "\2mx", 3);
    tw_test_wire_pointer(w, 12);
    tw_dns_message *m = parse_ok(w);
    assert_string_equal(m->records[0].data.mx.exchange, "mx.example.com");
    tw_dns_message_free(m);
    /* RDLENGTH 6 cuts the pointer in half; the next byte is outside the RDATA. */
    tw_test_wire_set16(w, w->n - 9, 6);
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);
}

static void test_parse_good_response(void **state)
{
    (void)state;
    tw_test_wire *w = tw_test_wire_new();
    tw_test_wire_response(w, 0xBEEF, 0, "Example.com", TW_DNS_TYPE_MX, 4, 1, 2);
    tw_test_wire_mx(w, 20, "mx2.example.com");
    tw_test_wire_pointer(w, 12); /* CNAME */
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_CNAME, 1, 0x80000001u, 2);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_pointer(w, 12); /* A */
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_A, 1, 300, 4);
    tw_test_wire_bytes(w, "\xc0\x00\x02\x01", 4);
    tw_test_wire_pointer(w, 12); /* AAAA */
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_AAAA, 1, 300, 16);
    tw_test_wire_bytes(w, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1", 16);
    tw_test_wire_pointer(w, 12); /* SOA in the authority section */
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_SOA, 1, 900, 0);
    size_t soa = w->n;
    tw_test_wire_name(w, "ns.example.com");
    tw_test_wire_name(w, "host\\.master.example.com"); /* a literal backslash in a label */
    for (uint32_t v = 1; v <= 5; v++)
        tw_test_wire_u32(w, v * 100);
    tw_test_wire_set16(w, soa - 2, (unsigned)(w->n - soa));
    tw_test_wire_name(w, "x.example.com"); /* additional: a type twine keeps whole */
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_TXT, 1, 5, 3);
    tw_test_wire_bytes(w, "\2hi", 3);
    tw_test_wire_name(w, ""); /* OPT */
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_OPT, 4096, 0, 0);

    tw_dns_message *m = parse_ok(w);
    assert_int_equal(m->id, 0xBEEF);
    assert_true(m->flags & TW_DNS_FLAG_QR);
    assert_false(m->flags & TW_DNS_FLAG_TC);
    assert_int_equal(m->opcode, 0);
    assert_int_equal(m->rcode, 0);
    assert_string_equal(m->question.name, "Example.com");
    assert_int_equal(m->question.type, TW_DNS_TYPE_MX);
    assert_int_equal(m->question.qclass, TW_DNS_CLASS_IN);
    assert_int_equal(m->count, 6);
    assert_int_equal(m->dropped, 1); /* the OPT record */
    assert_true(m->edns);
    assert_int_equal(m->edns_payload, 4096);

    const tw_dns_record *r = m->records;
    assert_int_equal(r[0].type, TW_DNS_TYPE_MX);
    assert_string_equal(r[0].name, "Example.com");
    assert_int_equal(r[0].data.mx.preference, 20);
    assert_string_equal(r[0].data.mx.exchange, "mx2.example.com");
    assert_int_equal(r[0].ttl, 3600);
    assert_int_equal(r[0].section, TW_DNS_SECTION_ANSWER);
    assert_string_equal(r[1].data.cname.target, "Example.com");
    assert_int_equal(r[1].ttl, 0); /* top bit set reads as 0 (RFC 2181 §8) */
    assert_memory_equal(r[2].data.a, "\xc0\x00\x02\x01", 4);
    assert_int_equal(r[3].data.aaaa[15], 1);
    assert_int_equal(r[4].section, TW_DNS_SECTION_AUTHORITY);
    assert_string_equal(r[4].data.soa.mname, "ns.example.com");
    assert_string_equal(r[4].data.soa.rname, "host\\\\.master.example.com");
    assert_int_equal(r[4].data.soa.serial, 100);
    assert_int_equal(r[4].data.soa.minimum, 500);
    assert_int_equal(r[5].section, TW_DNS_SECTION_ADDITIONAL);
    assert_int_equal(r[5].type, TW_DNS_TYPE_TXT);
    assert_int_equal(r[5].rdlength, 3);
    tw_dns_message_free(m);
    free(w);
}

static void test_parse_header_flags_and_rcode(void **state)
{
    (void)state;
    tw_test_wire *w = tw_test_wire_new();
    tw_test_wire_response(w, 7, TW_DNS_RCODE_NXDOMAIN, "nope.example", TW_DNS_TYPE_MX, 0, 0, 0);
    tw_test_wire_set16(w, 2, 0x8383); /* QR, RD, TC, RA, NXDOMAIN */
    tw_dns_message *m = parse_ok(w);
    assert_true(m->flags & TW_DNS_FLAG_TC);
    assert_int_equal(m->rcode, TW_DNS_RCODE_NXDOMAIN);
    assert_false(m->edns);
    tw_dns_message_free(m);
    /* Opcode 2 (STATUS) is reported, not judged, by the parser. */
    tw_test_wire_set16(w, 2, 0x9000);
    m = parse_ok(w);
    assert_int_equal(m->opcode, 2);
    tw_dns_message_free(m);
    free(w);
}

static void test_parse_opt_rules(void **state)
{
    (void)state;
    /* The extended rcode: OPT TTL's top byte 1 over header rcode 0 is BADVERS (16). */
    tw_test_wire *w = mx_response(0);
    tw_test_wire_set16(w, 10, 1);
    tw_test_wire_name(w, "");
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_OPT, 100, 0x01000000, 0);
    tw_dns_message *m = parse_ok(w);
    assert_int_equal(m->rcode, TW_DNS_RCODE_BADVERS);
    assert_int_equal(m->edns_payload, TW_DNS_UDP_PAYLOAD_MAX); /* below 512 reads as 512 */
    tw_dns_message_free(m);
    /* Options must fill RDATA exactly. */
    size_t fixed = w->n - 10;
    tw_test_wire_u16(w, 10);
    tw_test_wire_u16(w, 2);
    tw_test_wire_u16(w, 0xABCD);
    tw_test_wire_set16(w, fixed + 8, 6);
    assert_int_equal(parse(w), 0);
    tw_test_wire_set16(w, fixed + 8 + 2 + 2, 3); /* option length past RDATA */
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);

    /* Two OPT records. */
    w = mx_response(0);
    tw_test_wire_set16(w, 10, 2);
    for (int i = 0; i < 2; i++) {
        tw_test_wire_name(w, "");
        tw_test_wire_rr_fixed(w, TW_DNS_TYPE_OPT, 1232, 0, 0);
    }
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);
    /* OPT in the answer section; OPT owned by a name other than the root. */
    w = mx_response(1);
    tw_test_wire_name(w, "");
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_OPT, 1232, 0, 0);
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);
    w = mx_response(0);
    tw_test_wire_set16(w, 10, 1);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_OPT, 1232, 0, 0);
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);
}

/* CVE-2017-15650: more records than an output array holds. The parser keeps TW_DNS_RECORDS_MAX
 * and counts the rest as dropped. */
static void test_parse_caps_records(void **state)
{
    (void)state;
    const unsigned total = TW_DNS_RECORDS_MAX + 44;
    tw_test_wire *w = mx_response(total);
    for (unsigned i = 0; i < total; i++) {
        tw_test_wire_pointer(w, 12);
        tw_test_wire_rr_fixed(w, TW_DNS_TYPE_A, 1, 60, 4);
        tw_test_wire_u32(w, i);
    }
    tw_dns_message *m = parse_ok(w);
    assert_int_equal(m->count, TW_DNS_RECORDS_MAX);
    assert_int_equal(m->dropped, 44);
    assert_int_equal(m->records[TW_DNS_RECORDS_MAX - 1].data.a[3], (TW_DNS_RECORDS_MAX - 1) & 0xFF);
    tw_dns_message_free(m);
    /* A bad record past the cap still fails the message: dropped records are checked too. */
    tw_test_wire_set16(w, 6, total + 1);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_A, 1, 60, 5);
    tw_test_wire_bytes(w, "12345", 5);
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);
}

static void test_parse_other_classes_kept_whole(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(1);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_A, 3 /* CH */, 60, 5);
    tw_test_wire_bytes(w, "abcde", 5);
    tw_dns_message *m = parse_ok(w);
    assert_int_equal(m->records[0].rclass, 3);
    assert_int_equal(m->records[0].rdlength, 5);
    tw_dns_message_free(m);
    free(w);
}

static void test_parse_size_limit(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(0);
    w->n = TW_DNS_MESSAGE_MAX + 1; /* trailing zero bytes are tolerated, the size is not */
    assert_int_equal(parse(w), TW_EPARSE);
    w->n = TW_DNS_MESSAGE_MAX;
    assert_int_equal(parse(w), 0);
    free(w);
}

/* The pointer cases of dns-anchors §5.3, inside a message: the answer's owner is the bad name. */
static void test_parse_hostile_pointers(void **state)
{
    (void)state;
    const uint8_t owners[][2] = {{0xC0, 29}, {0xC0, 31}, {0xFF, 0xFF}};
    for (size_t i = 0; i < 3; i++) {
        tw_test_wire *w = mx_response(1); /* the answer starts at offset 29 */
        assert_int_equal(w->n, 29);
        tw_test_wire_bytes(w, owners[i], 2);
        tw_test_wire_rr_fixed(w, TW_DNS_TYPE_A, 1, 60, 4);
        tw_test_wire_u32(w, 0);
        assert_int_equal(parse(w), TW_EPARSE);
        free(w);
    }
    /* A question whose name is a pointer to itself. */
    tw_test_wire *w = tw_test_wire_new();
    tw_test_wire_header(w, 1, 0x8180, 1, 0, 0, 0);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_u32(w, 0x000F0001);
    assert_int_equal(parse(w), TW_EPARSE);
    free(w);
}

/* ---- queries --------------------------------------------------------------------------------- */

static void test_query_encode(void **state)
{
    (void)state;
    uint8_t buf[TW_DNS_QUERY_SIZE_MAX];
    static const uint8_t expect[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                     7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
                                     0, 15, 0, 1};
    int n = tw_dns_query_encode(buf, sizeof buf, 0x1234, "example.com.", TW_DNS_TYPE_MX,
                                TW_DNS_CLASS_IN, TW_DNS_QUERY_RD);
    assert_int_equal(n, sizeof expect);
    assert_memory_equal(buf, expect, sizeof expect);
    n = tw_dns_query_encode(buf, sizeof buf, 0x1234, "example.com", TW_DNS_TYPE_MX,
                            TW_DNS_CLASS_IN, TW_DNS_QUERY_RD | TW_DNS_QUERY_EDNS);
    assert_int_equal(n, sizeof expect + TW_DNS_RR_MIN);
    assert_int_equal(buf[11], 1); /* ARCOUNT */
    static const uint8_t opt[] = {0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(buf + sizeof expect, opt, sizeof opt);
    /* The query parses as a message, OPT and all. */
    tw_dns_message *m = NULL;
    assert_int_equal(tw_dns_message_parse(buf, (size_t)n, &m), 0);
    assert_false(m->flags & TW_DNS_FLAG_QR);
    assert_true(m->flags & TW_DNS_FLAG_RD);
    assert_true(m->edns);
    assert_int_equal(m->edns_payload, TW_DNS_EDNS_PAYLOAD);
    assert_string_equal(m->question.name, "example.com");
    tw_dns_message_free(m);
}

static void test_query_encode_errors(void **state)
{
    (void)state;
    uint8_t buf[TW_DNS_QUERY_SIZE_MAX];
    assert_int_equal(tw_dns_query_encode(buf, sizeof buf, 1, "", 15, 1, 0), -EINVAL);
    assert_int_equal(tw_dns_query_encode(buf, sizeof buf, 1, "a..b", 15, 1, 0), -EINVAL);
    char text[400];
    long_name(text, 256);
    assert_int_equal(tw_dns_query_encode(buf, sizeof buf, 1, text, 15, 1, 0), -ENAMETOOLONG);
    assert_int_equal(tw_dns_query_encode(buf, 20, 1, "example.com", 15, 1, 0), -ENOBUFS);
    assert_int_equal(tw_dns_query_encode(NULL, 0, 1, "example.com", 15, 1, 0), -ENOBUFS);
    /* The longest name with OPT fits TW_DNS_QUERY_SIZE_MAX exactly. */
    long_name(text, 255);
    assert_int_equal(tw_dns_query_encode(buf, sizeof buf, 1, text, 15, 1, TW_DNS_QUERY_EDNS),
                     TW_DNS_QUERY_SIZE_MAX);
}

/* Does a reply (built from the response skeleton with these fields) answer the query? */
static bool answers(unsigned id, unsigned flags, const char *name, unsigned type, unsigned qclass)
{
    uint8_t query[TW_DNS_QUERY_SIZE_MAX];
    int n = tw_dns_query_encode(query, sizeof query, 0x4242, "mail.Example.com", TW_DNS_TYPE_MX,
                                TW_DNS_CLASS_IN, TW_DNS_QUERY_RD | TW_DNS_QUERY_EDNS);
    assert_true(n > 0);
    tw_test_wire *w = tw_test_wire_new();
    tw_test_wire_header(w, id, flags, 1, 0, 0, 0);
    tw_test_wire_name(w, name);
    tw_test_wire_u16(w, type);
    tw_test_wire_u16(w, qclass);
    tw_dns_message *m = parse_ok(w);
    bool yes = tw_dns_message_answers(m, query, (size_t)n);
    tw_dns_message_free(m);
    free(w);
    return yes;
}

static void test_answers_matches_id_and_question(void **state)
{
    (void)state;
    assert_true(answers(0x4242, 0x8180, "mail.example.com", 15, 1));
    assert_true(answers(0x4242, 0x8183, "MAIL.EXAMPLE.COM", 15, 1)); /* case; rcode is not judged */
    assert_false(answers(0x4243, 0x8180, "mail.example.com", 15, 1));  /* wrong ID */
    assert_false(answers(0x4242, 0x0100, "mail.example.com", 15, 1));  /* QR=0: our query echoed */
    assert_false(answers(0x4242, 0x8980, "mail.example.com", 15, 1));  /* opcode 1 */
    /* An NXDOMAIN for another name. */
    assert_false(answers(0x4242, 0x8183, "other.example.com", 15, 1));
    assert_false(answers(0x4242, 0x8180, "mail.example.com", 1, 1));   /* another type */
    assert_false(answers(0x4242, 0x8180, "mail.example.com", 15, 3));  /* another class */
    assert_false(answers(0x4242, 0x8180, "mail.example.com.x", 15, 1));
    tw_dns_message m = {.id = 1};
    assert_false(tw_dns_message_answers(&m, (const uint8_t *)"short", 5));
    assert_false(tw_dns_message_answers(NULL, (const uint8_t *)"short", 5));
}

/* ---- MX -------------------------------------------------------------------------------------- */

static tw_dns_mx_list *mx_of(const tw_test_wire *w)
{
    tw_dns_message *m = parse_ok(w);
    tw_dns_mx_list *list = NULL;
    assert_int_equal(tw_dns_message_mx(m, &list), 0);
    tw_dns_message_free(m); /* the list owns copies of its strings */
    return list;
}

static void test_mx_sorted_by_preference(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(3);
    tw_test_wire_mx(w, 20, "c.example.com");
    tw_test_wire_mx(w, 10, "a.example.com");
    tw_test_wire_mx(w, 10, "b.example.com");
    tw_dns_mx_list *list = mx_of(w);
    assert_string_equal(list->domain, "example.com");
    assert_int_equal(list->count, 3);
    assert_int_equal(list->items[0].preference, 10);
    assert_string_equal(list->items[0].exchange, "a.example.com"); /* ties: wire order */
    assert_string_equal(list->items[1].exchange, "b.example.com");
    assert_int_equal(list->items[2].preference, 20);
    assert_int_equal(list->items[2].ttl, 3600);
    /* Shuffling ties moves only ties, and over a few seeds gives both orders. */
    bool seen_ab = false, seen_ba = false;
    for (uint64_t seed = 0; seed < 64; seed++) {
        tw_dns_mx_list_shuffle_ties(list, seed);
        assert_int_equal(list->items[2].preference, 20);
        assert_string_equal(list->items[2].exchange, "c.example.com");
        if (strcmp(list->items[0].exchange, "a.example.com") == 0)
            seen_ab = true;
        else
            seen_ba = true;
    }
    assert_true(seen_ab && seen_ba);
    tw_dns_mx_list_free(list);
    free(w);
}

static void test_mx_follows_cname_and_skips_others(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(5);
    tw_test_wire_pointer(w, 12); /* example.com CNAME mail.example.net */
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_CNAME, 1, 60, 18);
    tw_test_wire_name(w, "mail.example.net");
    tw_test_wire_mx(w, 1, "ignored.example.com"); /* owned by the alias: not the answer */
    tw_test_wire_name(w, "MAIL.example.net");
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_MX, 1, 60, 10);
    tw_test_wire_u16(w, 5);
    tw_test_wire_name(w, "mx.net");
    tw_test_wire_name(w, "mail.example.net"); /* class CH: skipped */
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_MX, 3, 60, 10);
    tw_test_wire_u16(w, 0);
    tw_test_wire_name(w, "ch.net");
    tw_test_wire_name(w, "elsewhere.net"); /* unrequested owner: skipped */
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_MX, 1, 60, 10);
    tw_test_wire_u16(w, 0);
    tw_test_wire_name(w, "oth.er");
    tw_dns_mx_list *list = mx_of(w);
    assert_string_equal(list->domain, "mail.example.net");
    assert_int_equal(list->count, 1);
    assert_string_equal(list->items[0].exchange, "mx.net");
    tw_dns_mx_list_free(list);
    free(w);
}

static void test_mx_cname_loop(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(2); /* example.com -> a.example.com -> example.com */
    tw_test_wire_pointer(w, 12);
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_CNAME, 1, 60, 4);
    tw_test_wire_bytes(w, "\1a", 2);
    tw_test_wire_pointer(w, 12);
    tw_test_wire_name(w, "a.example.com");
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_CNAME, 1, 60, 2);
    tw_test_wire_pointer(w, 12);
    tw_dns_message *m = parse_ok(w);
    tw_dns_mx_list *list = (tw_dns_mx_list *)&list;
    assert_int_equal(tw_dns_message_mx(m, &list), -ELOOP);
    assert_null(list);
    tw_dns_message_free(m);
    free(w);
}

static void test_mx_empty_null_and_odd_exchanges(void **state)
{
    (void)state;
    tw_test_wire *w = mx_response(0);
    tw_dns_mx_list *list = mx_of(w);
    assert_int_equal(list->count, 0);
    tw_dns_mx_list_free(list);
    free(w);
    /* Null MX (RFC 7505) comes back as ".", and exchanges with odd bytes come back escaped. */
    w = mx_response(2);
    tw_test_wire_mx(w, 0, "");
    tw_test_wire_pointer(w, 12);
    tw_test_wire_rr_fixed(w, TW_DNS_TYPE_MX, 1, 60, 2 + 9);
    tw_test_wire_u16(w, 7);
    tw_test_wire_bytes(w, "\7a b/\0.\n\0", 9);
    list = mx_of(w);
    assert_int_equal(list->count, 2);
    assert_string_equal(list->items[0].exchange, ".");
    assert_string_equal(list->items[1].exchange, "a\\032b/\\000\\.\\010");
    tw_dns_mx_list_free(list);
    free(w);
}

/* ---- response codes -------------------------------------------------------------------------- */

static void test_rcode_names_and_errors(void **state)
{
    (void)state;
    char buf[16];
    assert_null(tw_dns_rcode_error_type(0));
    assert_string_equal(tw_dns_rcode_error_type(1), TW_DNS_FORMAT_ERROR);
    assert_string_equal(tw_dns_rcode_error_type(2), TW_DNS_SERVER_ERROR);
    assert_string_equal(tw_dns_rcode_error_type(3), TW_DNS_NAME_ERROR);
    assert_string_equal(tw_dns_rcode_error_type(4), TW_DNS_NOT_IMPLEMENTED_ERROR);
    assert_string_equal(tw_dns_rcode_error_type(5), TW_DNS_QUERY_REFUSED_ERROR);
    assert_string_equal(tw_dns_rcode_error_type(16), TW_DNS_UNKNOWN_ERROR);
    assert_string_equal(tw_dns_rcode_name(3, buf, sizeof buf), "NXDOMAIN");
    assert_string_equal(tw_dns_rcode_name(16, buf, sizeof buf), "BADVERS");
    assert_string_equal(tw_dns_rcode_name(99, buf, sizeof buf), "RCODE99");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_to_wire_basic),
        cmocka_unit_test(test_name_to_wire_rejects_empty_labels),
        cmocka_unit_test(test_name_to_wire_label_limit),
        cmocka_unit_test(test_name_to_wire_name_limit),
        cmocka_unit_test(test_name_to_wire_escapes),
        cmocka_unit_test(test_name_to_text_escapes_everything_unsafe),
        cmocka_unit_test(test_name_to_text_rejects_bad_wire),
        cmocka_unit_test(test_name_text_max_is_enough),
        cmocka_unit_test(test_name_equal),
        cmocka_unit_test(test_unpack_follows_backward_pointer),
        cmocka_unit_test(test_unpack_rejects_loops_and_forward_pointers),
        cmocka_unit_test(test_unpack_rejects_pointers_past_the_end),
        cmocka_unit_test(test_unpack_bounds_pointer_chains),
        cmocka_unit_test(test_unpack_rejects_bad_labels),
        cmocka_unit_test(test_unpack_respects_limit),
        cmocka_unit_test(test_unpack_name_limit_through_pointers),
        cmocka_unit_test(test_parse_short_messages),
        cmocka_unit_test(test_parse_requires_one_question),
        cmocka_unit_test(test_parse_lying_counts),
        cmocka_unit_test(test_parse_truncated_records),
        cmocka_unit_test(test_parse_rdlength_past_the_end),
        cmocka_unit_test(test_parse_rdata_sizes_per_type),
        cmocka_unit_test(test_parse_rdata_name_pointer),
        cmocka_unit_test(test_parse_good_response),
        cmocka_unit_test(test_parse_header_flags_and_rcode),
        cmocka_unit_test(test_parse_opt_rules),
        cmocka_unit_test(test_parse_caps_records),
        cmocka_unit_test(test_parse_other_classes_kept_whole),
        cmocka_unit_test(test_parse_size_limit),
        cmocka_unit_test(test_parse_hostile_pointers),
        cmocka_unit_test(test_query_encode),
        cmocka_unit_test(test_query_encode_errors),
        cmocka_unit_test(test_answers_matches_id_and_question),
        cmocka_unit_test(test_mx_sorted_by_preference),
        cmocka_unit_test(test_mx_follows_cname_and_skips_others),
        cmocka_unit_test(test_mx_cname_loop),
        cmocka_unit_test(test_mx_empty_null_and_odd_exchanges),
        cmocka_unit_test(test_rcode_names_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
