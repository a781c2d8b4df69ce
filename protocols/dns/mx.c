/* MX answers: the records of the queried domain (after the CNAME chain inside the answer, RFC 1034
 * §3.6.2), sorted by preference, with ties put in random order on request (RFC 5321 §5.1). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns_private.h"

/* The answer record of this type and class IN owned by name, from index `from` on; or NULL. */
static const tw_dns_record *find_answer(const tw_dns_message *m, const char *name, uint16_t type,
                                        size_t *from)
{
    for (size_t i = *from; i < m->count; i++) {
        const tw_dns_record *rr = &m->records[i];
        if (rr->section == TW_DNS_SECTION_ANSWER && rr->type == type &&
            rr->rclass == TW_DNS_CLASS_IN && tw_dns_name_equal(rr->name, name)) {
            *from = i + 1;
            return rr;
        }
    }
    return NULL;
}

/* The name the question's CNAME chain ends at. A chain longer than the limit is refused, and so
 * is a loop, which never ends. */
static int follow_cnames(const tw_dns_message *m, const char **owner)
{
    *owner = m->question.name;
    for (int hops = 0;; hops++) {
        size_t from = 0;
        const tw_dns_record *cname = find_answer(m, *owner, TW_DNS_TYPE_CNAME, &from);
        if (!cname)
            return 0;
        if (hops == TW_DNS_CNAME_CHAIN_MAX)
            return -ELOOP;
        *owner = cname->data.cname.target;
    }
}

/* Stable: records of equal preference keep their wire order. At most TW_DNS_RECORDS_MAX items. */
static void sort_by_preference(tw_dns_mx *items, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        tw_dns_mx item = items[i];
        size_t j = i;
        for (; j > 0 && items[j - 1].preference > item.preference; j--)
            items[j] = items[j - 1];
        items[j] = item;
    }
}

/* Copies s into the list's string area at *area, returning the copy. */
static const char *copy_string(char **area, const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = memcpy(*area, s, n);
    *area += n;
    return copy;
}

int tw_dns_message_mx(const tw_dns_message *m, tw_dns_mx_list **out)
{
    const char *owner;
    *out = NULL;
    int rc = follow_cnames(m, &owner);
    if (rc < 0)
        return rc;
    size_t count = 0, strings = strlen(owner) + 1;
    for (size_t from = 0; find_answer(m, owner, TW_DNS_TYPE_MX, &from); count++)
        strings += strlen(m->records[from - 1].data.mx.exchange) + 1;
    tw_dns_mx_list *list = malloc(sizeof *list + count * sizeof(tw_dns_mx) + strings);
    if (!list)
        return -ENOMEM;
    list->items = (tw_dns_mx *)(list + 1);
    char *area = (char *)(list->items + count);
    list->domain = copy_string(&area, owner);
    list->count = count;
    size_t from = 0;
    for (size_t i = 0; i < count; i++) {
        const tw_dns_record *rr = find_answer(m, owner, TW_DNS_TYPE_MX, &from);
        list->items[i] = (tw_dns_mx){.preference = rr->data.mx.preference,
                                     .ttl = rr->ttl,
                                     .exchange = copy_string(&area, rr->data.mx.exchange)};
    }
    sort_by_preference(list->items, count);
    *out = list;
    return 0;
}

/* splitmix64: a small generator that spreads any seed, 0 included, over the whole range. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

void tw_dns_mx_list_shuffle_ties(tw_dns_mx_list *list, uint64_t seed)
{
    size_t start = 0;
    while (start < list->count) {
        size_t end = start + 1;
        while (end < list->count && list->items[end].preference == list->items[start].preference)
            end++;
        for (size_t i = end - 1; i > start; i--) { /* Fisher-Yates over [start, end) */
            size_t j = start + (size_t)(next_random(&seed) % (i - start + 1));
            tw_dns_mx tmp = list->items[i];
            list->items[i] = list->items[j];
            list->items[j] = tmp;
        }
        start = end;
    }
}

void tw_dns_mx_list_free(tw_dns_mx_list *list)
{
    free(list);
}
