/* Builds DNS messages byte by byte for tests, well formed or hostile: a header, names from dotted
 * text (no compression, no escapes) or raw bytes and pointers, resource-record headers. */
#ifndef TWINE_TESTS_DNS_WIRE_H
#define TWINE_TESTS_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Room for the largest message and then some, so tests can build oversized ones. */
#define TW_TEST_WIRE_MAX 70000

typedef struct {
    size_t n;
    uint8_t b[TW_TEST_WIRE_MAX];
} tw_test_wire;

/* A new, empty builder (abort()s when out of memory); free() it. */
tw_test_wire *tw_test_wire_new(void);
void tw_test_wire_u8(tw_test_wire *w, unsigned v);
void tw_test_wire_u16(tw_test_wire *w, unsigned v);
void tw_test_wire_u32(tw_test_wire *w, uint32_t v);
void tw_test_wire_bytes(tw_test_wire *w, const void *p, size_t n);
/* Overwrites two bytes at offset (a count, an RDLENGTH). */
void tw_test_wire_set16(tw_test_wire *w, size_t offset, unsigned v);
/* An uncompressed name from dotted text: "example.com" -> 7example3com0; "" or "." -> the root. */
void tw_test_wire_name(tw_test_wire *w, const char *dotted);
/* A compression pointer to offset. */
void tw_test_wire_pointer(tw_test_wire *w, unsigned offset);
void tw_test_wire_header(tw_test_wire *w, unsigned id, unsigned flags, unsigned qd, unsigned an,
                         unsigned ns, unsigned ar);
/* Header (QR|RD|RA, given rcode, one question) and question: a response skeleton. The question's
 * name starts at offset 12, so later names may point there with tw_test_wire_pointer(w, 12). */
void tw_test_wire_response(tw_test_wire *w, unsigned id, unsigned rcode, const char *qname,
                           unsigned qtype, unsigned an, unsigned ns, unsigned ar);
/* A record's fixed part after its owner: type, class, TTL, RDLENGTH. */
void tw_test_wire_rr_fixed(tw_test_wire *w, unsigned type, unsigned rclass, uint32_t ttl,
                           unsigned rdlength);
/* A whole MX record owned by a pointer to offset 12: preference and an uncompressed exchange. */
void tw_test_wire_mx(tw_test_wire *w, unsigned preference, const char *exchange);

#endif
