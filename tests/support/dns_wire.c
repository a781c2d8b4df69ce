/* Builds DNS messages byte by byte for tests (see dns_wire.h). */
#include "dns_wire.h"

#include <stdlib.h>
#include <string.h>

tw_test_wire *tw_test_wire_new(void)
{
    tw_test_wire *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    return w;
}

void tw_test_wire_bytes(tw_test_wire *w, const void *p, size_t n)
{
    if (n > sizeof w->b - w->n)
        abort();
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

void tw_test_wire_u8(tw_test_wire *w, unsigned v)
{
    uint8_t b = (uint8_t)v;
    tw_test_wire_bytes(w, &b, 1);
}

void tw_test_wire_u16(tw_test_wire *w, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    tw_test_wire_bytes(w, b, 2);
}

void tw_test_wire_u32(tw_test_wire *w, uint32_t v)
{
    tw_test_wire_u16(w, v >> 16);
    tw_test_wire_u16(w, v & 0xFFFF);
}

void tw_test_wire_set16(tw_test_wire *w, size_t offset, unsigned v)
{
    if (offset + 2 > w->n)
        abort();
    w->b[offset] = (uint8_t)(v >> 8);
    w->b[offset + 1] = (uint8_t)v;
}

void tw_test_wire_name(tw_test_wire *w, const char *dotted)
{
    const char *p = dotted;
    while (*p && strcmp(p, ".") != 0) {
        size_t len = strcspn(p, ".");
        tw_test_wire_u8(w, (unsigned)len);
        tw_test_wire_bytes(w, p, len);
        p += len;
        if (*p == '.')
            p++;
    }
    tw_test_wire_u8(w, 0);
}

void tw_test_wire_pointer(tw_test_wire *w, unsigned offset)
{
    tw_test_wire_u16(w, 0xC000 | offset);
}

void tw_test_wire_header(tw_test_wire *w, unsigned id, unsigned flags, unsigned qd, unsigned an,
                         unsigned ns, unsigned ar)
{
    tw_test_wire_u16(w, id);
    tw_test_wire_u16(w, flags);
    tw_test_wire_u16(w, qd);
    tw_test_wire_u16(w, an);
    tw_test_wire_u16(w, ns);
    tw_test_wire_u16(w, ar);
}

void tw_test_wire_response(tw_test_wire *w, unsigned id, unsigned rcode, const char *qname,
                           unsigned qtype, unsigned an, unsigned ns, unsigned ar)
{
    tw_test_wire_header(w, id, 0x8180 | rcode, 1, an, ns, ar);
    tw_test_wire_name(w, qname);
    tw_test_wire_u16(w, qtype);
    tw_test_wire_u16(w, 1);
}

void tw_test_wire_rr_fixed(tw_test_wire *w, unsigned type, unsigned rclass, uint32_t ttl,
                           unsigned rdlength)
{
    tw_test_wire_u16(w, type);
    tw_test_wire_u16(w, rclass);
    tw_test_wire_u32(w, ttl);
    tw_test_wire_u16(w, rdlength);
}

void tw_test_wire_mx(tw_test_wire *w, unsigned preference, const char *exchange)
{
    tw_test_wire_pointer(w, 12);
    size_t fixed = w->n;
    tw_test_wire_rr_fixed(w, 15, 1, 3600, 0);
    size_t start = w->n;
    tw_test_wire_u16(w, preference);
    tw_test_wire_name(w, exchange);
    tw_test_wire_set16(w, fixed + 8, (unsigned)(w->n - start));
}
