/* End-to-end tests of `twined web` with a real client (curl) over loopback, one test per line of
 * the twined contract: GET and HEAD with their headers, index.html, 403/404, listings, 301,
 * ranges, conditional GETs, paths that try to leave DIR, methods, pipelining, HTTP/1.0 and
 * Connection: close, a UNIX socket, the access log, bad arguments and the signals.
 * test_web_load.c has the slow and the many-connection tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/files.h"
#include "support/net.h"
#include "support/web.h"

#define SIGNAL_EXIT_SECONDS 2.0
#define WAIT_SECONDS 10.0

typedef struct {
    tw_test_web web;
    char out[TW_TEST_WEB_TEXT_MAX];
} fixture;

static int setup(void **state)
{
    return tw_test_web_setup(state, sizeof(fixture));
}

/* Runs curl with up to four arguments before the URL of path; returns the status code it saw
 * (curl -i puts the head first in f->out). */
static int curl_get(fixture *f, const char *path, const char *a1, const char *a2, const char *a3,
                    const char *a4)
{
    const char *args[8] = {"-i"};
    size_t n = 1;
    const char *extra[] = {a1, a2, a3, a4};
    for (size_t i = 0; i < 4 && extra[i]; i++)
        args[n++] = extra[i];
    args[n++] = tw_test_web_url(&f->web, path);
    args[n] = NULL;
    int rc = tw_test_curl(&f->web, f->out, sizeof f->out, args);
    if (rc != 0)
        fail_msg("curl %s: exit %d", path, rc);
    return tw_test_http_status_of(f->out);
}

static const char *body_of(const char *response)
{
    const char *end = strstr(response, "\r\n\r\n");
    assert_non_null(end);
    return end + 4;
}

static void assert_header(const fixture *f, const char *name, const char *want)
{
    char value[256];
    if (!tw_test_http_head_value(f->out, name, value, sizeof value))
        fail_msg("no %s header in: %s", name, f->out);
    if (want && strcmp(value, want) != 0)
        fail_msg("%s: '%s', wanted '%s'", name, value, want);
}

static void start(fixture *f, const char *a1, const char *a2)
{
    tw_test_skip_without_curl();
    const char *extra[] = {a1, a2, NULL};
    tw_test_web_start(&f->web, extra);
}

static void stop(fixture *f)
{
    assert_int_equal(tw_test_web_stop(&f->web, SIGTERM, SIGNAL_EXIT_SECONDS, NULL), 0);
}

/* ---- GET, HEAD and what they say --------------------------------------------------------------- */

static void test_get_sends_type_length_and_mtime(void **state)
{
    fixture *f = *state;
    start(f, NULL, NULL);
    assert_int_equal(curl_get(f, "/a.txt", NULL, NULL, NULL, NULL), 200);
    assert_string_equal(body_of(f->out), "hello\n");
    assert_header(f, "Content-Type", NULL);
    assert_non_null(strstr(strstr(f->out, "Content-Type:"), "text/plain"));
    assert_header(f, "Content-Length", "6");
    assert_header(f, "Last-Modified", NULL);
    assert_int_equal(curl_get(f, "/page.html", NULL, NULL, NULL, NULL), 200);
    assert_non_null(strstr(strstr(f->out, "Content-Type:"), "text/html"));
    assert_int_equal(curl_get(f, "/blob.qqq", NULL, NULL, NULL, NULL), 200);
    assert_header(f, "Content-Type", "application/octet-stream");
    stop(f);
}

static void test_head_has_the_headers_and_no_body(void **state)
{
    fixture *f = *state;
    start(f, NULL, NULL);
    int fd = tw_test_web_connect(f->web.port);
    /* A HEAD and a GET in one write: had the HEAD a body, the GET's answer would not follow its
     * head at once. */
    tw_test_web_send(fd, "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    char head[4096], body[64];
    size_t len;
    assert_int_equal(tw_test_web_read(fd, head, sizeof head, body, sizeof body, &len, true), 200);
    char value[32];
    assert_true(tw_test_http_head_value(head, "Content-Length", value, sizeof value));
    assert_string_equal(value, "6");
    assert_int_equal(tw_test_web_read(fd, head, sizeof head, body, sizeof body, &len, false),
                     200);
    assert_int_equal(len, 6);
    assert_memory_equal(body, "hello\n", 6);
    close(fd);
    stop(f);
}

static void test_directories_index_403_404_and_301(void **state)
{
    fixture *f = *state;
    start(f, NULL, NULL);
    assert_int_equal(curl_get(f, "/", NULL, NULL, NULL, NULL), 200);
    assert_string_equal(body_of(f->out), "<h1>home</h1>\n");
    assert_int_equal(curl_get(f, "/site/", NULL, NULL, NULL, NULL), 200);
    assert_string_equal(body_of(f->out), "<h1>site</h1>\n");
    assert_int_equal(curl_get(f, "/sub/", NULL, NULL, NULL, NULL), 403); /* no index, no listing */
    assert_int_equal(curl_get(f, "/nothing-here", NULL, NULL, NULL, NULL), 404);
    assert_int_equal(curl_get(f, "/nothing/here/", NULL, NULL, NULL, NULL), 404);
    assert_int_equal(curl_get(f, "/sub", NULL, NULL, NULL, NULL), 301);
    assert_header(f, "Location", NULL);
    assert_non_null(strstr(strstr(f->out, "Location:"), "/sub/"));
    stop(f);
}

static void test_listing_only_when_asked(void **state)
{
    fixture *f = *state;
    tw_test_write_file(f->web.dir, "sub/<b>&.txt", "x");
    start(f, "--listing", NULL);
    assert_int_equal(curl_get(f, "/sub/", NULL, NULL, NULL, NULL), 200);
    assert_non_null(strstr(strstr(f->out, "Content-Type:"), "text/html"));
    assert_non_null(strstr(body_of(f->out), "b.txt"));
    assert_non_null(strstr(body_of(f->out), "&lt;b&gt;&amp;.txt")); /* names are escaped */
    assert_null(strstr(body_of(f->out), "<b>&"));
    /* A directory with an index is still its index. */
    assert_int_equal(curl_get(f, "/site/", NULL, NULL, NULL, NULL), 200);
    assert_string_equal(body_of(f->out), "<h1>site</h1>\n");
    stop(f);
}

/* ---- ranges and conditional requests --------------------------------------------------------------- */

static void test_ranges(void **state)
{
    fixture *f = *state;
    start(f, NULL, NULL);
    assert_int_equal(curl_get(f, "/a.txt", "-r", "1-3", NULL, NULL), 206);
    assert_string_equal(body_of(f->out), "ell");
    assert_header(f, "Content-Range", "bytes 1-3/6");
    assert_header(f, "Content-Length", "3");
    assert_int_equal(curl_get(f, "/a.txt", "-r", "-2", NULL, NULL), 206); /* the last two */
    assert_string_equal(body_of(f->out), "o\n");
    assert_int_equal(curl_get(f, "/a.txt", "-r", "100-200", NULL, NULL), 416);
    assert_header(f, "Content-Range", "bytes */6");
    /* Several ranges: the whole file (the contract's other choice is the first range), never a
     * multi-part body. */
    assert_int_equal(curl_get(f, "/a.txt", "-r", "0-0,2-3", NULL, NULL), 200);
    assert_string_equal(body_of(f->out), "hello\n");
    assert_null(strstr(f->out, "multipart"));
    /* A Range that cannot be parsed is ignored. */
    assert_int_equal(curl_get(f, "/a.txt", "-H", "Range: bytes=x-y", NULL, NULL), 200);
    assert_string_equal(body_of(f->out), "hello\n");
    stop(f);
}

static void set_mtime(const char *dir, const char *name, time_t when)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct timespec times[2] = {{.tv_sec = when}, {.tv_sec = when}};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void test_conditional_get(void **state)
{
    fixture *f = *state;
    set_mtime(f->web.dir, "a.txt", 1577836800); /* 2020-01-01 00:00:00 UTC */
    start(f, NULL, NULL);
    assert_int_equal(curl_get(f, "/a.txt", NULL, NULL, NULL, NULL), 200);
    assert_header(f, "Last-Modified", "Wed, 01 Jan 2020 00:00:00 GMT");
    /* curl -z DATE sends If-Modified-Since: DATE. */
    assert_int_equal(curl_get(f, "/a.txt", "-z", "Wed, 01 Jan 2020 00:00:00 GMT", NULL, NULL),
                     304);
    assert_string_equal(body_of(f->out), "");
    assert_int_equal(curl_get(f, "/a.txt", "-z", "Thu, 02 Jan 2020 00:00:00 GMT", NULL, NULL),
                     304);
    assert_int_equal(curl_get(f, "/a.txt", "-H",
                              "If-Modified-Since: Tue, 31 Dec 2019 23:59:59 GMT", NULL, NULL),
                     200);
    assert_string_equal(body_of(f->out), "hello\n");
    stop(f);
}

/* ---- nothing outside DIR ----------------------------------------------------------------------- */

static void assert_refused(fixture *f, const char *path)
{
    int status = curl_get(f, path, "--path-as-is", NULL, NULL, NULL);
    if (status != 403 && status != 404 && status != 400)
        fail_msg("%s: %d (wanted 403 or 404):\n%s", path, status, f->out);
    assert_null(strstr(f->out, "secret"));
}

static void test_paths_never_leave_dir(void **state)
{
    fixture *f = *state;
    /* A file beside DIR, and links from inside DIR to it and to its directory. */
    char outside[128], target[192], link_path[192];
    snprintf(outside, sizeof outside, "%s-outside", f->web.dir);
    assert_int_equal(mkdir(outside, 0755), 0);
    tw_test_write_file(outside, "secret.txt", "secret\n");
    snprintf(target, sizeof target, "%s/secret.txt", outside);
    snprintf(link_path, sizeof link_path, "%s/leak.txt", f->web.dir);
    assert_int_equal(symlink(target, link_path), 0);
    snprintf(link_path, sizeof link_path, "%s/leakdir", f->web.dir);
    assert_int_equal(symlink(outside, link_path), 0);
    const char *name = strrchr(outside, '/') + 1;
    char path[256];
    start(f, NULL, NULL);

    snprintf(path, sizeof path, "/../%s/secret.txt", name);
    assert_refused(f, path);
    snprintf(path, sizeof path, "/%%2e%%2e/%s/secret.txt", name);
    assert_refused(f, path);
    snprintf(path, sizeof path, "/sub/%%2E%%2E/..%%2f%s/secret.txt", name);
    assert_refused(f, path);
    snprintf(path, sizeof path, "/..%%5c%s%%5csecret.txt", name);
    assert_refused(f, path);
    assert_refused(f, "/a.txt%00.html");
    assert_refused(f, "/leak.txt");
    assert_refused(f, "/leakdir/secret.txt");
    /* Going up and down again inside DIR is harmless. */
    assert_int_equal(curl_get(f, "/sub/../a.txt", "--path-as-is", NULL, NULL, NULL), 200);
    stop(f);

    char file[192];
    snprintf(file, sizeof file, "%s/secret.txt", outside);
    unlink(file);
    rmdir(outside);
}

static void test_other_methods(void **state)
{
    fixture *f = *state;
    start(f, NULL, NULL);
    assert_int_equal(curl_get(f, "/a.txt", "-X", "POST", NULL, NULL), 405);
    assert_int_equal(curl_get(f, "/a.txt", "-X", "DELETE", NULL, NULL), 405);
    assert_int_equal(curl_get(f, "/a.txt", "-X", "FROBNICATE", NULL, NULL), 501);
    stop(f);
}

/* ---- connections --------------------------------------------------------------------------------- */

static void test_pipelined_requests_answered_in_order(void **state)
{
    fixture *f = *state;
    start(f, NULL, NULL);
    int fd = tw_test_web_connect(f->web.port);
    tw_test_web_send(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /sub/b.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    char head[4096], body[4096];
    size_t len;
    assert_int_equal(tw_test_web_read(fd, head, sizeof head, body, sizeof body, &len, false),
                     200);
    assert_int_equal(len, 6);
    assert_memory_equal(body, "hello\n", 6);
    assert_int_equal(tw_test_web_read(fd, head, sizeof head, body, sizeof body, &len, false),
                     200);
    assert_int_equal(len, 4);
    assert_memory_equal(body, "bee\n", 4);
    assert_int_equal(tw_test_web_read(fd, head, sizeof head, body, sizeof body, &len, false),
                     404);
    /* Still open: one more request on the same connection. */
    tw_test_web_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(tw_test_web_read(fd, head, sizeof head, body, sizeof body, &len, false),
                     200);
    close(fd);
    stop(f);
}

static void test_http10_and_connection_close_end_the_connection(void **state)
{
    fixture *f = *state;
    start(f, NULL, NULL);
    static const char *const requests[] = {
        "GET /a.txt HTTP/1.0\r\n\r\n",
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < 2; i++) {
        int fd = tw_test_web_connect(f->web.port);
        tw_test_web_send(fd, requests[i]);
        char head[4096], body[64];
        size_t len;
        assert_int_equal(tw_test_web_read(fd, head, sizeof head, body, sizeof body, &len, false),
                         200);
        assert_int_equal(len, 6);
        assert_true(tw_test_web_wait_eof(fd, WAIT_SECONDS));
        close(fd);
    }
    stop(f);
}

static void test_unix_socket_beside_tcp(void **state)
{
    fixture *f = *state;
    tw_test_skip_without_curl();
    char sock[128], endpoint[160];
    snprintf(sock, sizeof sock, "%s.sock", f->web.dir);
    snprintf(endpoint, sizeof endpoint, "unix:%s", sock);
    const char *args[] = {"web", "--listen", "tcp:0:interface=127.0.0.1", "--listen", endpoint,
                          "--path", f->web.dir, NULL};
    tw_test_web_start_args(&f->web, args);
    assert_int_equal(curl_get(f, "/a.txt", "--unix-socket", sock, NULL, NULL), 200);
    assert_string_equal(body_of(f->out), "hello\n");
    assert_int_equal(curl_get(f, "/sub/b.txt", NULL, NULL, NULL, NULL), 200);
    stop(f);
    assert_int_equal(access(sock, F_OK), -1); /* removed at exit */
}

/* ---- the access log -------------------------------------------------------------------------------- */

static void test_access_log_to_a_file(void **state)
{
    fixture *f = *state;
    char log_path[128];
    snprintf(log_path, sizeof log_path, "%s-access.log", f->web.dir);
    tw_test_write_file("/", log_path + 1, "earlier line\n"); /* appended to, not truncated */
    start(f, "--access-log", log_path);
    assert_int_equal(curl_get(f, "/a.txt", NULL, NULL, NULL, NULL), 200);
    assert_int_equal(curl_get(f, "/missing", NULL, NULL, NULL, NULL), 404);
    stop(f); /* every line is out once twined has exited */
    char text[4096] = {0};
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(read(fd, text, sizeof text - 1) > 0);
    close(fd);
    struct stat st;
    assert_int_equal(stat(log_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    unlink(log_path);
    assert_int_equal(strncmp(text, "earlier line\n", 13), 0);
    assert_non_null(strstr(text, "\"GET /a.txt HTTP/1.1\" 200 6"));
    assert_non_null(strstr(text, "\"GET /missing HTTP/1.1\" 404"));
    assert_non_null(strstr(text, "127.0.0.1 "));
}

static bool output_has_line(void *arg)
{
    tw_test_twined *c = arg;
    return c->output && memchr(c->output, '\n', c->output_len);
}

static void test_access_log_to_stdout(void **state)
{
    fixture *f = *state;
    start(f, "--access-log", "-");
    assert_int_equal(curl_get(f, "/a.txt", NULL, NULL, NULL, NULL), 200);
    assert_true(tw_test_run_until(f->web.env.r, output_has_line, &f->web.twined, WAIT_SECONDS));
    assert_non_null(memmem(f->web.twined.output, f->web.twined.output_len,
                           "\"GET /a.txt HTTP/1.1\" 200 6", 27));
    stop(f);
}

static void test_no_access_log_by_default(void **state)
{
    fixture *f = *state;
    start(f, NULL, NULL);
    assert_int_equal(curl_get(f, "/a.txt", NULL, NULL, NULL, NULL), 200);
    stop(f);
    assert_int_equal(f->web.twined.output_len, 0);
}

/* ---- arguments, failures and signals -------------------------------------------------------------- */

typedef struct {
    const char *args[10];
    int status;
    const char *message;
} bad_case;

static void test_bad_arguments_and_bad_directories(void **state)
{
    fixture *f = *state;
    char file[128];
    snprintf(file, sizeof file, "%s/a.txt", f->web.dir);
    const bad_case cases[] = {
        {{"web", "--listen", "tcp:0", NULL}, 2, "missing required option --path"},
        {{"web", "--path", f->web.dir, NULL}, 2, "missing required option --listen"},
        {{"web", "--listen", "tcp:0", "--path", f->web.dir, "--reactors", "0", NULL}, 2,
         "--reactors: bad count '0'"},
        {{"web", "--listen", "tcp:0", "--path", f->web.dir, "--reactors", "65", NULL}, 2,
         "--reactors: bad count '65'"},
        {{"web", "--listen", "tcp:0", "--path", f->web.dir, "--reactors", "2x", NULL}, 2,
         "--reactors: bad count '2x'"},
        {{"web", "--listen", "unix:/tmp/twine-web.sock", "--path", f->web.dir, "--reactors", "2",
          NULL}, 2, "can't be shared by --reactors 2"},
        {{"web", "--listen", "stdio:", "--path", f->web.dir, NULL}, 2, "stdio: is not supported"},
        {{"web", "--listen", "tcp:0", "--path", f->web.dir, "--path", f->web.dir, NULL}, 2,
         "--path given twice"},
        {{"web", "--listen", "tcp:0", "--path", f->web.dir, "--listing=yes", NULL}, 2,
         "option '--listing' takes no value"},
        {{"web", "--listen", "tcp:0:interface=127.0.0.1", "--path", "/nonexistent-twine-dir",
          NULL}, 1, "--path '/nonexistent-twine-dir': No such file or directory"},
        {{"web", "--listen", "tcp:0:interface=127.0.0.1", "--path", file, NULL}, 1,
         "Not a directory"},
        {{"web", "--listen", "tcp:0:interface=127.0.0.1", "--path", f->web.dir, "--access-log",
          "/nonexistent-twine-dir/log", NULL}, 1, "--access-log '/nonexistent-twine-dir/log'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int status = tw_test_web_run(&f->web, cases[i].args);
        const char *err = f->web.twined.err_text;
        if (status != cases[i].status || !strstr(err, cases[i].message))
            fail_msg("case %zu: status %d, stderr '%s'; wanted %d, '%s'", i, status, err,
                     cases[i].status, cases[i].message);
        assert_int_equal(strncmp(err, "twined", 6), 0);
        assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1); /* one line */
        assert_null(strstr(err, "listening on"));
    }
}

static void test_help(void **state)
{
    fixture *f = *state;
    const char *args[] = {"web", "--help", NULL};
    assert_int_equal(tw_test_web_run(&f->web, args), 0);
    assert_non_null(memmem(f->web.twined.output, f->web.twined.output_len,
                           "usage: twined web --listen ENDPOINT", 35));
}

static void signal_exits_promptly(fixture *f, int sig)
{
    start(f, NULL, NULL);
    /* An idle keep-alive connection and a half-sent request must not hold the exit. */
    int idle = tw_test_web_connect(f->web.port), partial = tw_test_web_connect(f->web.port);
    tw_test_web_send(idle, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    char head[4096], body[64];
    size_t len;
    assert_int_equal(tw_test_web_read(idle, head, sizeof head, body, sizeof body, &len, false),
                     200);
    tw_test_web_send(partial, "GET /a.txt HTTP/1.1\r\nHo");
    double took;
    assert_int_equal(tw_test_web_stop(&f->web, sig, SIGNAL_EXIT_SECONDS, &took), 0);
    print_message("exit %.3f s after signal %d\n", took, sig);
    assert_true(tw_test_web_wait_eof(idle, 1.0));
    assert_true(tw_test_web_wait_eof(partial, 1.0));
    close(idle);
    close(partial);
}

static void test_sigterm_exits_0_promptly(void **state)
{
    signal_exits_promptly(*state, SIGTERM);
}

static void test_sigint_exits_0_promptly(void **state)
{
    signal_exits_promptly(*state, SIGINT);
}

#define WEB_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, tw_test_web_teardown)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        WEB_TEST(test_get_sends_type_length_and_mtime),
        WEB_TEST(test_head_has_the_headers_and_no_body),
        WEB_TEST(test_directories_index_403_404_and_301),
        WEB_TEST(test_listing_only_when_asked),
        WEB_TEST(test_ranges),
        WEB_TEST(test_conditional_get),
        WEB_TEST(test_paths_never_leave_dir),
        WEB_TEST(test_other_methods),
        WEB_TEST(test_pipelined_requests_answered_in_order),
        WEB_TEST(test_http10_and_connection_close_end_the_connection),
        WEB_TEST(test_unix_socket_beside_tcp),
        WEB_TEST(test_access_log_to_a_file),
        WEB_TEST(test_access_log_to_stdout),
        WEB_TEST(test_no_access_log_by_default),
        WEB_TEST(test_bad_arguments_and_bad_directories),
        WEB_TEST(test_help),
        WEB_TEST(test_sigterm_exits_0_promptly),
        WEB_TEST(test_sigint_exits_0_promptly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
