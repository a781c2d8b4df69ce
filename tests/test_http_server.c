/* Tests for tw_http_server over real loopback sockets, on a controllable clock: each line of the
 * twined web contract as a client sees it (files, HEAD, directories, listings, redirects, hostile
 * paths, conditionals, ranges, refused heads, bodies, pipelining, keep-alive and close), the head
 * and idle timers, the connection limit, the access log, the cache, a large file to a client that
 * does not read, and the server's own errors and teardown. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <twine/twine.h>
#include <twine/testing.h>

#include "support/clock_env.h"
#include "support/files.h"
#include "support/http_client.h"
#include "support/net.h"
#include "support/syscalls.h"

typedef struct {
    tw_test_clock_env env;
    char base[64];       /* holds outside.txt and root/ */
    char root[96];
    tw_http_options opt; /* what serve() starts the server with */
    tw_http_server *s;
    tw_port *port;
    tw_test_http_client c;
} fx;

static void put_dir(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
    if (tw_test_clock_fixture_setup(state, sizeof(fx)) < 0)
        return -1;
    fx *f = *state;
    snprintf(f->base, sizeof f->base, "/tmp/twine-http-server-XXXXXX");
    if (!mkdtemp(f->base))
        return -1;
    snprintf(f->root, sizeof f->root, "%s/root", f->base);
    put_dir(f->base, "root");
    tw_test_write_file(f->base, "outside.txt", "secret");
    tw_test_write_file(f->root, "a.txt", "hello world");
    tw_test_write_file(f->root, "page.html", "<p>page</p>");
    put_dir(f->root, "dir");
    tw_test_write_file(f->root, "dir/index.html", "<p>index</p>");
    put_dir(f->root, "bare");
    tw_test_write_file(f->root, "bare/<b>&.txt", "x");
    char link[256];
    snprintf(link, sizeof link, "%s/escape.txt", f->root);
    assert_int_equal(symlink("../outside.txt", link), 0);
    tw_http_options_init(&f->opt);
    f->opt.root = f->root;
    f->c.fd = -1;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tw_test_http_close(&f->c);
    tw_port_free(f->port);
    tw_http_server_free(f->s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->base);
    assert_int_equal(system(cmd), 0);
    return tw_test_clock_fixture_teardown(state);
}

static tw_reactor *reactor(fx *f)
{
    return f->env.r;
}

/* Starts the server with f->opt on a fresh loopback port and connects f->c to it. */
static void serve(fx *f)
{
    int err = 0;
    f->s = tw_http_server_new(reactor(f), &f->opt, &err);
    assert_non_null(f->s);
    f->port = tw_listen_tcp(reactor(f), 0, "127.0.0.1", 0, tw_http_server_factory(f->s), &err);
    assert_non_null(f->port);
    tw_test_http_open(&f->c, reactor(f), tw_test_port_number(f->port));
}

/* Runs the reactor until the server has n connections. */
static void wait_connections(fx *f, size_t n)
{
    for (int i = 0; i < 2000 && tw_http_server_connections(f->s) != n; i++)
        (void)tw_reactor_iterate(reactor(f), 0.002);
    assert_int_equal(tw_http_server_connections(f->s), n);
}

/* Sends raw and reads one response; asserts its status. */
static void expect(fx *f, const char *raw, int status, tw_test_http_response *out)
{
    tw_test_http_sends(&f->c, raw);
    assert_true(tw_test_http_read(&f->c, out, strncmp(raw, "HEAD ", 5) == 0));
    assert_int_equal(out->status, status);
}

static void expect_status(fx *f, const char *raw, int status)
{
    tw_test_http_response r;
    expect(f, raw, status, &r);
    tw_test_http_response_free(&r);
}

static void expect_get(fx *f, const char *path, int status)
{
    char raw[512];
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    expect_status(f, raw, status);
}

/* ---- files ------------------------------------------------------------------------------------ */

static void test_get_file(void **state)
{
    fx *f = *state;
    serve(f);
    tw_test_http_response r;
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    assert_string_equal(r.body, "hello world");
    assert_string_equal(tw_test_http_header(&r, "Content-Type"), "text/plain");
    assert_string_equal(tw_test_http_header(&r, "Content-Length"), "11");
    assert_non_null(tw_test_http_header(&r, "Last-Modified"));
    assert_non_null(tw_test_http_header(&r, "ETag"));
    assert_non_null(tw_test_http_header(&r, "Date"));
    assert_null(tw_test_http_header(&r, "Connection"));
    tw_test_http_response_free(&r);
    /* the same again, now from the cache, on the same connection */
    expect(f, "GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    assert_string_equal(r.body, "<p>page</p>");
    assert_string_equal(tw_test_http_header(&r, "Content-Type"), "text/html");
    tw_test_http_response_free(&r);
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    assert_string_equal(r.body, "hello world");
    tw_test_http_response_free(&r);
    assert_int_equal(tw_http_server_requests(f->s), 3);
}

static void test_get_without_cache(void **state)
{
    fx *f = *state;
    f->opt.cache_file_max = 0;
    serve(f);
    for (int i = 0; i < 2; i++) {
        tw_test_http_response r;
        expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
        assert_string_equal(r.body, "hello world");
        tw_test_http_response_free(&r);
    }
}

static void test_head(void **state)
{
    fx *f = *state;
    serve(f);
    tw_test_http_response get, head;
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200, &get);
    expect(f, "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200, &head);
    const char *fields[] = {"Content-Type", "Content-Length", "Last-Modified", "ETag"};
    for (size_t i = 0; i < 4; i++) {
        char want[256];
        snprintf(want, sizeof want, "%s", tw_test_http_header(&get, fields[i]));
        assert_string_equal(tw_test_http_header(&head, fields[i]), want);
    }
    /* nothing follows the head: the next response comes next */
    expect_get(f, "/page.html", 200);
    expect_status(f, "HEAD /nothing HTTP/1.1\r\nHost: t\r\n\r\n", 404);
    expect_get(f, "/page.html", 200);
    tw_test_http_response_free(&get);
    tw_test_http_response_free(&head);
}

static void test_directories(void **state)
{
    fx *f = *state;
    serve(f);
    tw_test_http_response r;
    expect(f, "GET /dir/ HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    assert_string_equal(r.body, "<p>index</p>");
    tw_test_http_response_free(&r);
    expect(f, "GET /dir HTTP/1.1\r\nHost: t\r\n\r\n", 301, &r);
    assert_string_equal(tw_test_http_header(&r, "Location"), "/dir/");
    tw_test_http_response_free(&r);
    expect_get(f, "/bare/", 403);
    expect_get(f, "/missing.txt", 404);
    expect_get(f, "/a.txt/", 404);
}

static void test_listing(void **state)
{
    fx *f = *state;
    f->opt.listing = true;
    serve(f);
    tw_test_http_response r;
    expect(f, "GET /bare/ HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    assert_non_null(strstr(r.body, "&lt;b&gt;&amp;.txt"));
    assert_null(strstr(r.body, "<b>&"));
    tw_test_http_response_free(&r);
}

static void test_hostile_paths(void **state)
{
    fx *f = *state;
    serve(f);
    expect_get(f, "/%2e%2e/outside.txt", 403);
    expect_get(f, "/..%2foutside.txt", 404);
    expect_get(f, "/a.txt%00.html", 404);
    expect_get(f, "/dir\\index.html", 404);
    expect_get(f, "/dir/../../outside.txt", 403);
    tw_test_http_response r;
    expect(f, "GET /escape.txt HTTP/1.1\r\nHost: t\r\n\r\n", 403, &r);
    assert_null(strstr(r.body, "secret"));
    tw_test_http_response_free(&r);
}

/* ---- conditionals and ranges ------------------------------------------------------------------ */

static void test_conditional(void **state)
{
    fx *f = *state;
    serve(f);
    tw_test_http_response r;
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    char raw[512];
    snprintf(raw, sizeof raw, "GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: %s\r\n\r\n",
             tw_test_http_header(&r, "Last-Modified"));
    tw_test_http_response_free(&r);
    expect(f, raw, 304, &r);
    assert_int_equal(r.body_len, 0);
    tw_test_http_response_free(&r);
    expect_status(f,
                  "GET /a.txt HTTP/1.1\r\nHost: t\r\n"
                  "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n\r\n",
                  200);
    expect_status(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-Match: \"nope\"\r\n\r\n", 412);
    /* still in step after the 304 without a body */
    expect_get(f, "/page.html", 200);
}

static void test_ranges(void **state)
{
    fx *f = *state;
    serve(f);
    tw_test_http_response r;
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\n\r\n", 206, &r);
    assert_string_equal(r.body, "hello");
    assert_string_equal(tw_test_http_header(&r, "Content-Range"), "bytes 0-4/11");
    tw_test_http_response_free(&r);
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=-5\r\n\r\n", 206, &r);
    assert_string_equal(r.body, "world");
    tw_test_http_response_free(&r);
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=20-\r\n\r\n", 416, &r);
    assert_string_equal(tw_test_http_header(&r, "Content-Range"), "bytes */11");
    tw_test_http_response_free(&r);
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,4-5\r\n\r\n", 200, &r);
    assert_string_equal(r.body, "hello world");
    tw_test_http_response_free(&r);
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: lines=1-2\r\n\r\n", 200, &r);
    assert_string_equal(r.body, "hello world");
    tw_test_http_response_free(&r);
}

static void test_ranges_without_cache(void **state)
{
    fx *f = *state;
    f->opt.cache_file_max = 0;
    serve(f);
    tw_test_http_response r;
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=6-\r\n\r\n", 206, &r);
    assert_string_equal(r.body, "world");
    tw_test_http_response_free(&r);
    expect_get(f, "/page.html", 200);
}

/* ---- refused requests ------------------------------------------------------------------------- */

static void test_methods(void **state)
{
    fx *f = *state;
    serve(f);
    tw_test_http_response r;
    expect(f, "DELETE /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 405, &r);
    assert_string_equal(tw_test_http_header(&r, "Allow"), "GET, HEAD");
    tw_test_http_response_free(&r);
    expect_status(f, "BREW /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 501);
    expect_get(f, "/a.txt", 200);
}

/* raw is refused with status; the connection closes and a GET sent behind it is not answered. */
static void expect_refused(fx *f, const char *raw, int status)
{
    tw_test_http_client c;
    tw_test_http_open(&c, reactor(f), tw_test_port_number(f->port));
    tw_test_http_sends(&c, raw);
    tw_test_http_sends(&c, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    tw_test_http_response r;
    assert_true(tw_test_http_read(&c, &r, false));
    assert_int_equal(r.status, status);
    assert_string_equal(tw_test_http_header(&r, "Connection"), "close");
    tw_test_http_response_free(&r);
    assert_true(tw_test_http_wait_closed(&c));
    assert_int_equal(c.len, 0);
    tw_test_http_close(&c);
}

static void test_refused_heads(void **state)
{
    fx *f = *state;
    serve(f);
    expect_refused(f, "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400);
    expect_refused(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                      "Transfer-Encoding: chunked\r\n\r\nabc", 400);
    expect_refused(f, "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
    char *big = malloc(TW_HTTP_HEADERS_MAX + 200);
    assert_non_null(big);
    int n = sprintf(big, "GET /");
    memset(big + n, 'a', TW_HTTP_REQUEST_LINE_MAX + 10);
    strcpy(big + n + TW_HTTP_REQUEST_LINE_MAX + 10, " HTTP/1.1\r\n\r\n");
    expect_refused(f, big, 414);
    n = sprintf(big, "GET / HTTP/1.1\r\nX: ");
    memset(big + n, 'a', TW_HTTP_HEADERS_MAX + 10);
    strcpy(big + n + TW_HTTP_HEADERS_MAX + 10, "\r\n\r\n");
    expect_refused(f, big, 431);
    free(big);
    assert_int_equal(tw_http_server_requests(f->s), 5);
}

static void test_bodies(void **state)
{
    fx *f = *state;
    serve(f);
    /* a small body is read and dropped; the request behind it is answered */
    tw_test_http_sends(&f->c, "GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234");
    tw_test_http_response r;
    assert_true(tw_test_http_read(&f->c, &r, false));
    assert_int_equal(r.status, 200);
    tw_test_http_response_free(&r);
    tw_test_http_sends(&f->c, "56789GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(tw_test_http_read(&f->c, &r, false));
    assert_string_equal(r.body, "<p>page</p>");
    tw_test_http_response_free(&r);
    char raw[128];
    snprintf(raw, sizeof raw, "GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
             TW_HTTP_BODY_DISCARD_MAX + 1);
    expect_refused(f, raw, 413);
    expect_refused(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n0\r\n\r\n", 413);
}

/* ---- connections ------------------------------------------------------------------------------ */

static void test_pipelining(void **state)
{
    fx *f = *state;
    serve(f);
    enum { N = 40 };
    char raw[N * 64];
    size_t n = 0;
    for (int i = 0; i < N; i++)
        n += (size_t)sprintf(raw + n, "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n",
                             i % 3 == 2 ? "nope" : i % 3 ? "page.html" : "a.txt");
    tw_test_http_send(&f->c, raw, n);
    long sends = tw_test_send_calls_now();
    for (int i = 0; i < N; i++) {
        tw_test_http_response r;
        assert_true(tw_test_http_read(&f->c, &r, false));
        assert_int_equal(r.status, i % 3 == 2 ? 404 : 200);
        if (i % 3 < 2)
            assert_string_equal(r.body, i % 3 ? "<p>page</p>" : "hello world");
        tw_test_http_response_free(&r);
    }
    assert_int_equal(tw_http_server_requests(f->s), N);
    /* The burst arrived in one read, so its N responses leave in one write. */
    assert_int_equal(tw_test_send_calls_now() - sends, 1);
}

static void test_close(void **state)
{
    fx *f = *state;
    serve(f);
    tw_test_http_response r;
    expect(f, "GET /a.txt HTTP/1.0\r\n\r\n", 200, &r);
    assert_string_equal(tw_test_http_header(&r, "Connection"), "close");
    tw_test_http_response_free(&r);
    assert_true(tw_test_http_wait_closed(&f->c));
    tw_test_http_close(&f->c);
    tw_test_http_open(&f->c, reactor(f), tw_test_port_number(f->port));
    tw_test_http_sends(&f->c, "GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                              "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(tw_test_http_read(&f->c, &r, false));
    assert_string_equal(tw_test_http_header(&r, "Connection"), "close");
    tw_test_http_response_free(&r);
    assert_true(tw_test_http_wait_closed(&f->c));
    assert_int_equal(f->c.len, 0);
}

static void test_connection_limit(void **state)
{
    fx *f = *state;
    f->opt.max_connections = 1;
    serve(f);
    wait_connections(f, 1);
    tw_test_http_client c;
    tw_test_http_open(&c, reactor(f), tw_test_port_number(f->port));
    tw_test_http_response r;
    assert_true(tw_test_http_read(&c, &r, false));
    assert_int_equal(r.status, 503);
    tw_test_http_response_free(&r);
    assert_true(tw_test_http_wait_closed(&c));
    tw_test_http_close(&c);
    assert_int_equal(tw_http_server_connections(f->s), 1);
    expect_get(f, "/a.txt", 200);
}

/* ---- timers ----------------------------------------------------------------------------------- */

static void advance(fx *f, double seconds)
{
    assert_true(tw_clock_advance(f->env.clock, seconds) >= 0);
}

static void assert_open(fx *f)
{
    assert_true(tw_test_http_quiet(&f->c, 5));
    assert_int_equal(tw_http_server_connections(f->s), 1);
}

static void test_head_timeout_does_not_move(void **state)
{
    fx *f = *state;
    serve(f);
    wait_connections(f, 1);
    advance(f, 4);
    tw_test_http_sends(&f->c, "GET /a.txt HT");
    assert_open(f);
    advance(f, 4);
    tw_test_http_sends(&f->c, "TP/1.1\r\n");
    assert_open(f);
    advance(f, 1.999);
    assert_open(f);
    advance(f, 0.001);
    assert_true(tw_test_http_wait_closed(&f->c));
    assert_int_equal(f->c.len, 0); /* closed without an answer */
    wait_connections(f, 0);
}

static void test_idle_timeout(void **state)
{
    fx *f = *state;
    serve(f);
    expect_get(f, "/a.txt", 200);
    advance(f, 59.9);
    assert_open(f);
    advance(f, 0.1);
    assert_true(tw_test_http_wait_closed(&f->c));
    wait_connections(f, 0);
}

static void test_head_deadline_restarts_at_next_head(void **state)
{
    fx *f = *state;
    serve(f);
    advance(f, 9);
    expect_get(f, "/a.txt", 200);
    advance(f, 30); /* idle: the head deadline of the first request is over */
    tw_test_http_sends(&f->c, "GET /a.txt HTTP/1.1\r\n");
    assert_open(f);
    advance(f, 9.9);
    tw_test_http_sends(&f->c, "Host: t\r\n");
    assert_open(f);
    advance(f, 0.1);
    assert_true(tw_test_http_wait_closed(&f->c));
}

/* ---- access log, cache, large files ------------------------------------------------------------ */

static void test_access_log(void **state)
{
    fx *f = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    f->opt.access_log_fd = p[1];
    serve(f);
    expect_status(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: u\"a\\b\r\n"
                     "Referer: http://r/\r\n\r\n", 200);
    expect_get(f, "/nope", 404);
    char buf[1024] = {0};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    assert_true(n > 0);
    assert_true(strncmp(buf, "127.0.0.1 - - [", 15) == 0);
    assert_true(strlen(buf) > 42 && memcmp(buf + 15 + 20, " +0000] ", 8) == 0);
    assert_non_null(strstr(buf, "] \"GET /a.txt HTTP/1.1\" 200 11 \"http://r/\" \"u\\x22a\\x5Cb\"\n"));
    assert_non_null(strstr(buf, "] \"GET /nope HTTP/1.1\" 404 "));
    assert_non_null(strstr(buf, " \"-\" \"-\"\n"));
    tw_port_free(f->port); /* stop listening first */
    f->port = NULL;
    tw_http_server_free(f->s); /* the log must stay open until the server is freed */
    f->s = NULL;
    close(p[0]);
    close(p[1]);
}

static void test_cache_revalidates(void **state)
{
    fx *f = *state;
    serve(f);
    tw_test_http_response r;
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    tw_test_http_response_free(&r);
    tw_test_write_file(f->root, "a.txt", "changed, and longer");
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    assert_string_equal(r.body, "hello world"); /* within the second: no stat */
    tw_test_http_response_free(&r);
    advance(f, 1.0);
    expect(f, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200, &r);
    assert_string_equal(r.body, "changed, and longer");
    tw_test_http_response_free(&r);
    char path[256];
    snprintf(path, sizeof path, "%s/a.txt", f->root);
    assert_int_equal(unlink(path), 0);
    advance(f, 1.0);
    expect_get(f, "/a.txt", 404);
}

static void test_cache_total_evicts(void **state)
{
    fx *f = *state;
    f->opt.cache_total = 16; /* one of the two files at a time */
    serve(f);
    for (int i = 0; i < 4; i++) {
        tw_test_http_response r;
        expect(f, i % 2 ? "GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n" : "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 200,
               &r);
        assert_string_equal(r.body, i % 2 ? "<p>page</p>" : "hello world");
        tw_test_http_response_free(&r);
    }
}

static long rss_kib(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!fp)
        return 0;
    if (fscanf(fp, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(fp);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_large_file_to_slow_client(void **state)
{
    fx *f = *state;
    const uint64_t size = 64u << 20;
    char path[256];
    snprintf(path, sizeof path, "%s/big.bin", f->root);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    assert_int_equal(pwrite(fd, "first", 5, 0), 5);
    assert_int_equal(pwrite(fd, "mid", 3, (off_t)(size / 2)), 3);
    assert_int_equal(pwrite(fd, "last", 4, (off_t)(size - 4)), 4);
    close(fd);
    serve(f);
    long before = rss_kib();
    tw_test_http_sends(&f->c, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 100; i++)
        (void)tw_reactor_iterate(reactor(f), 0.001); /* the client reads nothing */
    long grown = rss_kib() - before;
    if (before)
        assert_true(grown < 16 * 1024);
    tw_test_http_response r;
    assert_true(tw_test_http_read(&f->c, &r, false));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, size);
    assert_memory_equal(r.body, "first", 5);
    assert_memory_equal(r.body + size / 2, "mid", 3);
    assert_memory_equal(r.body + size - 4, "last", 4);
    assert_int_equal(r.body[size / 4], 0);
    tw_test_http_response_free(&r);
    expect_get(f, "/a.txt", 200); /* and the connection goes on */
}

/* ---- the server itself ------------------------------------------------------------------------ */

static void test_new_errors(void **state)
{
    fx *f = *state;
    int err = 0;
    tw_http_options o = f->opt;
    assert_null(tw_http_server_new(NULL, &o, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_http_server_new(reactor(f), NULL, &err));
    assert_int_equal(err, -EINVAL);
    o.root = NULL;
    assert_null(tw_http_server_new(reactor(f), &o, NULL));
    assert_null(tw_http_server_new(reactor(f), &o, &err));
    assert_int_equal(err, -EINVAL);
    o = f->opt;
    o.head_timeout = 0;
    assert_null(tw_http_server_new(reactor(f), &o, &err));
    assert_int_equal(err, -EINVAL);
    o = f->opt;
    o.idle_timeout = -1;
    assert_null(tw_http_server_new(reactor(f), &o, &err));
    assert_int_equal(err, -EINVAL);
    o = f->opt;
    o.max_connections = 0;
    assert_null(tw_http_server_new(reactor(f), &o, &err));
    assert_int_equal(err, -EINVAL);
    char path[256];
    snprintf(path, sizeof path, "%s/a.txt", f->root);
    o = f->opt;
    o.root = path;
    assert_null(tw_http_server_new(reactor(f), &o, &err));
    assert_int_equal(err, -ENOTDIR);
    snprintf(path, sizeof path, "%s/none", f->root);
    assert_null(tw_http_server_new(reactor(f), &o, &err));
    assert_int_equal(err, -ENOENT);
    assert_null(tw_http_server_factory(NULL));
    assert_int_equal(tw_http_server_connections(NULL), 0);
    assert_int_equal(tw_http_server_requests(NULL), 0);
    tw_http_server_free(NULL);
}

static void test_options_defaults(void **state)
{
    (void)state;
    tw_http_options o;
    memset(&o, 0x55, sizeof o);
    tw_http_options_init(&o);
    assert_null(o.root);
    assert_false(o.listing);
    assert_int_equal(o.access_log_fd, -1);
    assert_true(o.head_timeout == TW_HTTP_HEAD_TIMEOUT);
    assert_true(o.idle_timeout == TW_HTTP_IDLE_TIMEOUT);
    assert_int_equal(o.max_connections, TW_HTTP_CONNECTIONS_MAX);
    assert_int_equal(o.cache_file_max, TW_HTTP_CACHE_FILE_MAX);
    assert_int_equal(o.cache_total, TW_HTTP_CACHE_TOTAL);
    tw_http_options_init(NULL);
}

static void test_free_with_connections_open(void **state)
{
    fx *f = *state;
    serve(f);
    tw_test_http_client c;
    tw_test_http_open(&c, reactor(f), tw_test_port_number(f->port));
    wait_connections(f, 2);
    tw_test_http_sends(&f->c, "GET /a.txt HTTP/1.1\r\n"); /* a head in progress */
    (void)tw_test_http_quiet(&f->c, 3);
    tw_port_free(f->port);
    f->port = NULL;
    tw_http_server_free(f->s);
    f->s = NULL;
    assert_true(tw_test_http_wait_closed(&f->c));
    assert_true(tw_test_http_wait_closed(&c));
    tw_test_http_close(&c);
    assert_int_equal(tw_transport_count(reactor(f)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_without_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges_without_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_heads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_timeout_does_not_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_deadline_restarts_at_next_head, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_access_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_revalidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_total_evicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_file_to_slow_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_errors, setup, teardown),
        cmocka_unit_test(test_options_defaults),
        cmocka_unit_test_setup_teardown(test_free_with_connections_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
