/* libFuzzer target for twine's DNS code: parses the input as a DNS message, as a text-form name
 * and as resolv.conf, and checks what must always hold (bounded record counts, every decoded name
 * writable back to the same wire form, MX lists sorted, a message answering itself as a query).
 * `make fuzz` builds and runs it on fuzz/corpus/dns; to build it alone, after `make`:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -Iinclude -I. \
 *     fuzz/fuzz_dns.c protocols/dns/[a-z]*.c build/epoll/libtwine.a -lpthread -lresolv -lm \
 *     -o build/fuzz_dns && build/fuzz_dns -max_total_time=60 fuzz/corpus/dns */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <twine/dns.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* A decoded name is canonical text: it parses back to a wire form that prints the same. */
static void check_name(const char *name)
{
    CHECK(name && strlen(name) < TW_DNS_NAME_TEXT_MAX);
    uint8_t wire[TW_DNS_NAME_MAX];
    char again[TW_DNS_NAME_TEXT_MAX];
    int n = tw_dns_name_to_wire(name, wire, sizeof wire);
    CHECK(n > 0 && n <= TW_DNS_NAME_MAX);
    CHECK(tw_dns_name_to_text(wire, (size_t)n, again, sizeof again) == (int)strlen(name));
    CHECK(strcmp(again, name) == 0);
}

static void check_record(const tw_dns_record *rr)
{
    check_name(rr->name);
    CHECK(rr->ttl <= 0x7FFFFFFFu);
    CHECK(rr->type != TW_DNS_TYPE_OPT);
    if (rr->rclass != TW_DNS_CLASS_IN)
        return;
    if (rr->type == TW_DNS_TYPE_MX)
        check_name(rr->data.mx.exchange);
    else if (rr->type == TW_DNS_TYPE_CNAME)
        check_name(rr->data.cname.target);
    else if (rr->type == TW_DNS_TYPE_SOA)
        check_name(rr->data.soa.mname), check_name(rr->data.soa.rname);
    else if (rr->type == TW_DNS_TYPE_A)
        CHECK(rr->rdlength == 4);
    else if (rr->type == TW_DNS_TYPE_AAAA)
        CHECK(rr->rdlength == 16);
}

static void check_mx(const tw_dns_message *m, uint64_t seed)
{
    tw_dns_mx_list *list = NULL;
    int rc = tw_dns_message_mx(m, &list);
    if (rc < 0) {
        CHECK(rc == -ELOOP && !list);
        return;
    }
    CHECK(list->count <= m->count);
    check_name(list->domain);
    tw_dns_mx_list_shuffle_ties(list, seed);
    for (size_t i = 0; i < list->count; i++) {
        check_name(list->items[i].exchange);
        CHECK(i == 0 || list->items[i - 1].preference <= list->items[i].preference);
    }
    tw_dns_mx_list_free(list);
}

static void check_message(const uint8_t *data, size_t size)
{
    tw_dns_message *m = NULL;
    if (tw_dns_message_parse(data, size, &m) != 0) {
        CHECK(!m);
        return;
    }
    CHECK(size >= TW_DNS_HEADER_SIZE && m->qdcount == 1);
    CHECK(m->count <= TW_DNS_RECORDS_MAX);
    CHECK(m->count + m->dropped == (size_t)m->ancount + m->nscount + m->arcount);
    check_name(m->question.name);
    uint8_t wire[TW_DNS_NAME_MAX];
    int n = tw_dns_name_to_wire(m->question.name, wire, sizeof wire);
    CHECK((size_t)n == m->question.wire_len && memcmp(wire, m->question.wire, (size_t)n) == 0);
    for (size_t i = 0; i < m->count; i++)
        check_record(&m->records[i]);
    /* A response is the answer to itself taken as a query: same ID, same question. */
    bool response = (m->flags & TW_DNS_FLAG_QR) && m->opcode == 0;
    CHECK(tw_dns_message_answers(m, data, size) == response);
    check_mx(m, size);
    tw_dns_message_free(m);
}

/* The input as a text name: what encodes must come back the same through the parser. */
static void check_text(const char *text)
{
    uint8_t query[TW_DNS_QUERY_SIZE_MAX];
    int n = tw_dns_query_encode(query, sizeof query, 0xABCD, text, TW_DNS_TYPE_MX,
                                TW_DNS_CLASS_IN, TW_DNS_QUERY_RD | TW_DNS_QUERY_EDNS);
    if (n < 0)
        return;
    tw_dns_message *m = NULL;
    CHECK(tw_dns_message_parse(query, (size_t)n, &m) == 0);
    CHECK(tw_dns_name_equal(m->question.name, text));
    check_name(m->question.name);
    CHECK(!tw_dns_message_answers(m, query, (size_t)n)); /* a query is not a response */
    tw_dns_message_free(m);
}

static void check_config(const char *data, size_t size, const char *text)
{
    tw_dns_resolv_conf conf;
    tw_dns_resolv_conf_parse(data, size, &conf);
    CHECK(conf.count >= 1 && conf.count <= TW_DNS_NAMESERVERS_MAX);
    CHECK(conf.timeout >= 1 && conf.timeout <= TW_DNS_TIMEOUT_MAX);
    CHECK(conf.attempts >= 1 && conf.attempts <= TW_DNS_ATTEMPTS_MAX);
    tw_dns_server s;
    if (tw_dns_server_parse(text, TW_DNS_PORT, &s) == 0)
        CHECK(s.addr.ss_family == AF_INET || s.addr.ss_family == AF_INET6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_message(data, size);
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_text(text);
    check_config((const char *)data, size, text);
    free(text);
    return 0;
}
