/* A small HTTP/1.1 client for tests over loopback: a non-blocking socket that sends raw bytes and
 * reads responses one at a time (status, head, body by Content-Length), running the server's
 * reactor while it waits, so client and server share one thread. */
#ifndef TWINE_TESTS_HTTP_CLIENT_H
#define TWINE_TESTS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <twine/reactor.h>

typedef struct {
    int fd;
    tw_reactor *r;
    char *buf;       /* received and not yet handed out */
    size_t len, cap;
    bool eof;
} tw_test_http_client;

typedef struct {
    int status;
    char *head;      /* the whole head, NUL-terminated */
    char *body;      /* body_len bytes (and a NUL) */
    size_t body_len;
} tw_test_http_response;

/* Connects to 127.0.0.1:port; fails the running test when it cannot. */
void tw_test_http_open(tw_test_http_client *c, tw_reactor *r, uint16_t port);
void tw_test_http_close(tw_test_http_client *c);
/* Sends all of data (running the reactor while the socket is full). */
void tw_test_http_send(tw_test_http_client *c, const void *data, size_t len);
void tw_test_http_sends(tw_test_http_client *c, const char *s);
/* Reads one response; a HEAD's (head_only) has no body whatever its Content-Length. False when the
 * connection closed (or 5 s passed) before a whole one arrived. Free it with
 * tw_test_http_response_free. */
bool tw_test_http_read(tw_test_http_client *c, tw_test_http_response *out, bool head_only);
void tw_test_http_response_free(tw_test_http_response *r);
/* The value of a header (first, case-insensitive), copied into a static buffer; NULL if absent. */
const char *tw_test_http_header(const tw_test_http_response *r, const char *name);
/* Runs the reactor until the server closes the connection (EOF or reset, true) or 5 s pass. Any
 * bytes still arriving are kept. */
bool tw_test_http_wait_closed(tw_test_http_client *c);
/* Runs the reactor turns for a while and says whether anything arrived meanwhile. */
bool tw_test_http_quiet(tw_test_http_client *c, int turns);
/* The status code of a response head ("HTTP/1.1 206 ..."), or -1. */
int tw_test_http_status_of(const char *head);
/* The value of header name in a response head (case-insensitive name), copied into value; false
 * when absent. */
bool tw_test_http_head_value(const char *head, const char *name, char *value, size_t size);

/* Sends "GET path HTTP/1.1" with a Host and reads the response. */
bool tw_test_http_get(tw_test_http_client *c, const char *path, tw_test_http_response *out);

#endif
