/* Drives the HTTP request-head parser the way the server's connection does, for the parser tests
 * and the fuzz target: heads are parsed from the unconsumed input, Content-Length bodies skipped,
 * and the connection ends at a refused head or a request that does not keep it. Every outcome is
 * written as one line of text, so runs over differently cut input can be compared as strings. */
#ifndef TWINE_TESTS_HTTP_FEED_H
#define TWINE_TESTS_HTTP_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocols/http/parser.h"

typedef struct {
    tw__http_parser parser;
    uint64_t body_left; /* body bytes still to skip */
    bool closed;        /* no more requests will be read */
    unsigned heads;     /* outcomes logged */
    /* Called for every outcome before it is logged (NULL: none); head is where the parser was
     * shown the input, rc its result. */
    void (*on_head)(void *user, ssize_t rc, const tw__http_request *req, const char *head);
    void *user;
    char *log;          /* one line per outcome (malloc'd, NUL-terminated) */
    size_t log_len, log_cap;
} tw_test_http_conn;

void tw_test_http_conn_init(tw_test_http_conn *c);
void tw_test_http_conn_free(tw_test_http_conn *c);
/* A tw_test_feed_fn: consumes complete heads and bodies of data, logging each outcome. Once the
 * connection is closed everything is consumed and ignored. */
ssize_t tw_test_http_conn_feed(void *conn, const char *data, size_t len);

/* One line describing a parse result: rc (TW_EPARSE as "ERR"), status, method, version, keep-alive,
 * body length and every span's text. */
void tw_test_http_describe(ssize_t rc, const tw__http_request *req, char *out, size_t cap);

#endif
