/* twined web for end-to-end tests: the tree, the process, curl and raw HTTP. See web.h. */
#include "web.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "files.h"
#include "net.h"
#include "program.h"
#include "stop_signal.h"

#define WAIT_SECONDS 10.0

/* ---- the tree -------------------------------------------------------------------------------- */

static void make_tree(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/twine-web-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char sub[128];
    tw_test_write_file(dir, "index.html", "<h1>home</h1>\n");
    tw_test_write_file(dir, "a.txt", "hello\n");
    tw_test_write_file(dir, "page.html", "<p>page</p>\n");
    tw_test_write_file(dir, "blob.qqq", "????");
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    tw_test_write_file(sub, "b.txt", "bee\n");
    snprintf(sub, sizeof sub, "%s/site", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    tw_test_write_file(sub, "index.html", "<h1>site</h1>\n");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int tw_test_web_setup(void **state, size_t size)
{
    if (tw_test_fixture_setup(state, size, TW_TEST_REAL_CLOCK) != 0)
        return -1;
    tw_test_web *w = *state;
    make_tree(w->dir, sizeof w->dir);
    return 0;
}

int tw_test_web_teardown(void **state)
{
    tw_test_web *w = *state;
    if (w->started)
        tw_test_twined_free(&w->twined);
    nftw(w->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return tw_test_fixture_teardown(state);
}

/* ---- the process ----------------------------------------------------------------------------- */

uint16_t tw_test_web_start_args(tw_test_web *w, const char *const *args)
{
    if (w->started)
        tw_test_twined_free(&w->twined);
    tw_test_twined_start(&w->twined, w->env.r, args, NULL, 0, false);
    w->started = true;
    assert_true(tw_test_run_until(w->env.r, tw_test_twined_listening, &w->twined, WAIT_SECONDS));
    if (w->twined.exited)
        fail_msg("twined exited with %d: %s", w->twined.status, w->twined.err_text);
    w->port = tw_test_twined_port(&w->twined);
    assert_true(w->port > 0);
    return w->port;
}

uint16_t tw_test_web_start(tw_test_web *w, const char *const *extra)
{
    const char *args[16] = {"web", "--listen", "tcp:0:interface=127.0.0.1", "--path", w->dir};
    size_t n = 5;
    for (size_t i = 0; extra && extra[i]; i++) {
        assert_true(n < 15);
        args[n++] = extra[i];
    }
    args[n] = NULL;
    return tw_test_web_start_args(w, args);
}

int tw_test_web_stop(tw_test_web *w, int sig, double timeout, double *took)
{
    double start = tw_test_now();
    if (sig)
        assert_int_equal(tw_test_stop_signal(w->twined.pid, sig), 0);
    if (!tw_test_run_until(w->env.r, tw_test_twined_finished, &w->twined, timeout))
        fail_msg("twined did not exit within %.1f s of signal %d", timeout, sig);
    if (took)
        *took = tw_test_now() - start;
    return w->twined.status;
}

int tw_test_web_run(tw_test_web *w, const char *const *args)
{
    if (w->started)
        tw_test_twined_free(&w->twined);
    tw_test_twined_start(&w->twined, w->env.r, args, NULL, 0, false);
    w->started = true;
    if (!tw_test_run_until(w->env.r, tw_test_twined_finished, &w->twined, WAIT_SECONDS))
        fail_msg("twined did not finish: %s", w->twined.err_text);
    return w->twined.status;
}

/* ---- curl ------------------------------------------------------------------------------------ */

void tw_test_skip_without_curl(void)
{
    if (access(TW_TEST_CURL, X_OK) != 0) {
        print_message("skipped: %s is not installed (CI installs it)\n", TW_TEST_CURL);
        skip();
    }
}

int tw_test_curl(tw_test_web *w, char *out, size_t size, const char *const *args)
{
    const char *argv[32] = {TW_TEST_CURL, "-sS", "--max-time", "10"};
    size_t n = 4;
    for (size_t i = 0; args[i]; i++) {
        assert_true(n < 31);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    tw_test_program curl;
    tw_test_program_start(&curl, w->env.r, argv);
    int status = tw_test_program_finish(&curl, 0, WAIT_SECONDS + 5);
    if (status != 0)
        print_message("curl: %s", curl.text[TW_TEST_STDERR]);
    assert_true(curl.len[TW_TEST_STDOUT] < TW_TEST_PROGRAM_OUTPUT_MAX - 1); /* not cut short */
    snprintf(out, size, "%s", curl.text[TW_TEST_STDOUT]);
    return status;
}

const char *tw_test_web_url(const tw_test_web *w, const char *path)
{
    static char urls[2][512];
    static int next;
    char *url = urls[next++ % 2];
    snprintf(url, sizeof urls[0], "http://127.0.0.1:%u%s", w->port, path);
    return url;
}

/* ---- raw HTTP -------------------------------------------------------------------------------- */

int tw_test_web_connect(uint16_t port)
{
    int fd = tw_test_tcp_client(port);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = (time_t)WAIT_SECONDS};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

void tw_test_web_send(int fd, const char *text)
{
    size_t len = strlen(text), sent = 0;
    while (sent < len) {
        ssize_t k = send(fd, text + sent, len - sent, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        assert_true(k > 0);
        sent += (size_t)k;
    }
}

/* Reads the head a byte at a time, so that a pipelined response behind it stays in the socket for
 * the next call. The head's length, or 0 at EOF or timeout. */
static size_t read_head(int fd, char *head, size_t size)
{
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t k = recv(fd, head + len, 1, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return 0;
        head[++len] = '\0';
        if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
            return len;
    }
    fail_msg("a response head longer than %zu bytes", size);
    return 0;
}

int tw_test_web_read(int fd, char *head, size_t head_size, char *body, size_t body_size,
                      size_t *body_len, bool no_body)
{
    if (body_len)
        *body_len = 0;
    if (read_head(fd, head, head_size) == 0)
        return -1;
    char value[32];
    size_t want = 0;
    if (!no_body && tw_test_http_head_value(head, "Content-Length", value, sizeof value))
        want = (size_t)strtoull(value, NULL, 10);
    int status = tw_test_http_status_of(head);
    if (no_body || status == 304 || want == 0)
        return status;
    assert_true(want <= body_size);
    size_t got = tw_test_read_full(fd, body, want);
    assert_int_equal(got, want);
    if (body_len)
        *body_len = got;
    return status;
}

int tw_test_web_read_only(int fd, char *buf, size_t size)
{
    size_t len = 0;
    for (;;) {
        ssize_t k = recv(fd, buf + len, size - 1 - len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        buf[len += (size_t)k] = '\0';
        char *end = strstr(buf, "\r\n\r\n"), value[32];
        size_t body = 0;
        if (end && tw_test_http_head_value(buf, "Content-Length", value, sizeof value))
            body = (size_t)strtoull(value, NULL, 10);
        if (end && len >= (size_t)(end + 4 - buf) + body)
            return tw_test_http_status_of(buf);
        assert_true(len + 1 < size);
    }
}

bool tw_test_web_wait_eof(int fd, double timeout)
{
    double deadline = tw_test_now() + timeout;
    char buf[65536];
    for (;;) {
        double left = deadline - tw_test_now();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            return false;
        ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno == ECONNRESET))
            return true;
    }
}
