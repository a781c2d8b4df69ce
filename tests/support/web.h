/* Shared helper for end-to-end tests of `twined web`: a directory tree to serve, twined web started
 * on a free loopback port and stopped by a signal, curl run as a child, and raw HTTP over a socket
 * for what curl cannot show (pipelining, trickled heads, clients that stop reading). */
#ifndef TWINE_TESTS_WEB_H
#define TWINE_TESTS_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <twine/twine.h>

#include "http_client.h"
#include "reactor_test.h"
#include "twined_child.h"

#define TW_TEST_CURL "/usr/bin/curl"
#define TW_TEST_WEB_TEXT_MAX 65536

/* A test's fixture: the reactor that reads twined's output, twined, and the tree it serves. */
typedef struct {
    tw_test_env env;
    tw_test_twined twined;
    bool started;
    char dir[64];  /* the served tree, under /tmp */
    uint16_t port; /* where twined listens */
} tw_test_web;

/* cmocka setup and teardown for a fixture of size bytes starting with a tw_test_web: the tree is
 * made (index.html, a.txt "hello\n", page.html, blob.qqq, sub/ without an index holding b.txt,
 * site/ with index.html) and removed afterwards; a twined left running is killed. */
int tw_test_web_setup(void **state, size_t size);
int tw_test_web_teardown(void **state);

/* Starts twined with args (argv of the subcommand, NULL-terminated) and waits for its first
 * listening line; returns the port and keeps it in w->port. Fails the test when twined exits. */
uint16_t tw_test_web_start_args(tw_test_web *w, const char *const *args);
/* `twined web --listen tcp:0:interface=127.0.0.1 --path w->dir` plus up to 6 extra arguments
 * (NULL-terminated, may be NULL). */
uint16_t tw_test_web_start(tw_test_web *w, const char *const *extra);
/* Sends sig (0: none) and waits for twined to exit: its status; the seconds it took in *took (may
 * be NULL). Fails the test when it takes more than timeout seconds. */
int tw_test_web_stop(tw_test_web *w, int sig, double timeout, double *took);
/* Runs twined to completion with args and returns its status (stderr in w->twined.err_text). */
int tw_test_web_run(tw_test_web *w, const char *const *args);

/* Skips the running test when curl is not installed. */
void tw_test_skip_without_curl(void);
/* Runs curl -sS with args (NULL-terminated) and a 10 s limit through w's reactor (tests/support/
 * program.h), so twined's output is read meanwhile: its exit status, with what it wrote to stdout
 * in out (NUL-terminated, cut at size). */
int tw_test_curl(tw_test_web *w, char *out, size_t size, const char *const *args);
/* http://127.0.0.1:PORT/PATH in a static buffer (one of two, so two may be in use at once). */
const char *tw_test_web_url(const tw_test_web *w, const char *path);

/* ---- raw HTTP over a socket ------------------------------------------------------------------ */

/* A blocking loopback connection to port with a 10 s receive timeout. */
int tw_test_web_connect(uint16_t port);
/* Writes all of text. */
void tw_test_web_send(int fd, const char *text);
/* Reads one response: the head (with its blank line) into head, then Content-Length bytes of
 * body into body unless no_body (a HEAD). Returns the status, or -1 at EOF before a whole head. */
int tw_test_web_read(int fd, char *head, size_t head_size, char *body, size_t body_size,
                      size_t *body_len, bool no_body);
/* Reads the one response a connection gets, in as few reads as it takes (buf holds it whole):
 * its status, or -1 at EOF first. Only for a connection with no other response behind it. */
int tw_test_web_read_only(int fd, char *buf, size_t size);
/* Waits up to timeout seconds for the peer's EOF (reading and dropping what comes): true at EOF
 * (or a reset). */
bool tw_test_web_wait_eof(int fd, double timeout);

#endif
