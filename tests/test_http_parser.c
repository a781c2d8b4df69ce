/* Tests for the HTTP request-head parser, one group per rule of the contract (docs/web.md): the
 * request line, versions, limits (414, 431), header syntax, Host, framing (Content-Length,
 * Transfer-Encoding, 413), methods (405, 501), persistence and pipelining. Every input is parsed
 * whole, cut in two at every offset, and fed byte by byte, and all must give the same outcomes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <twine/error.h>
#include <twine/http.h>

#include "protocols/http/parser.h"
#include "support/framing_feed.h"
#include "support/http_feed.h"

/* ---- driving --------------------------------------------------------------------------------- */

typedef struct {
    char *log;
    size_t tail_len;
} outcome;

/* Feeds text cut at the given offsets (ascending, each < len); returns the log and the tail. */
static outcome feed_cut(const char *text, size_t len, const size_t *cuts, size_t ncuts)
{
    tw_test_http_conn conn;
    tw_test_http_conn_init(&conn);
    tw_test_feed f;
    tw_test_feed_init(&f, tw_test_http_conn_feed, &conn);
    size_t pos = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        assert_true(tw_test_feed_push(&f, text + pos, end - pos) >= 0);
        pos = end;
    }
    outcome o = {strdup(conn.log ? conn.log : ""), f.tail_len};
    tw_test_feed_free(&f);
    tw_test_http_conn_free(&conn);
    return o;
}

static void assert_same(const outcome *a, const outcome *b, size_t where)
{
    if (strcmp(a->log, b->log) != 0 || a->tail_len != b->tail_len) {
        fprintf(stderr, "cut at %zu:\nwhole:\n%s(tail %zu)\ncut:\n%s(tail %zu)\n", where, a->log,
                a->tail_len, b->log, b->tail_len);
        fail();
    }
}

/* The log of text parsed whole, after checking that every way of cutting it gives the same: two
 * pieces at every offset (every stride-th one for long inputs), and pieces of `step` bytes. The
 * caller frees the result. */
static char *parse_every_way(const char *text, size_t len)
{
    outcome whole = feed_cut(text, len, NULL, 0);
    size_t stride = len > 4096 ? 61 : 1, step = len > 4096 ? 97 : 1;
    for (size_t k = 1; k < len; k += stride) {
        outcome o = feed_cut(text, len, &k, 1);
        assert_same(&whole, &o, k);
        free(o.log);
    }
    size_t ncuts = len ? (len - 1) / step : 0;
    size_t *cuts = malloc((ncuts + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < ncuts; i++)
        cuts[i] = (i + 1) * step;
    outcome pieces = feed_cut(text, len, cuts, ncuts);
    assert_same(&whole, &pieces, 0);
    free(pieces.log);
    free(cuts);
    return whole.log;
}

/* The first outcome line of text, without the head length, must start with want ("ERR 400",
 * "0 m1 1.1 ka body=0 ..."). */
static void expect(const char *text, const char *want)
{
    char *log = parse_every_way(text, strlen(text));
    const char *got = strncmp(log, "ERR", 3) == 0 ? log : log + strcspn(log, " ") + 1;
    if (strncmp(got, want, strlen(want)) != 0) {
        fprintf(stderr, "input: %s\nwant: %s\ngot:  %s", text, want, log);
        fail();
    }
    free(log);
}

/* The status part of the first outcome: "ERR 400", or "0" / "405" ... for an accepted head. */
static void expect_status(const char *text, const char *want)
{
    char *log = parse_every_way(text, strlen(text));
    char got[32] = "";
    if (strncmp(log, "ERR", 3) == 0)
        snprintf(got, sizeof got, "%.*s", (int)strcspn(log, "\n"), log);
    else if (*log)
        sscanf(log, "%*d %31s", got);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "input: %s\nwant: %s\ngot:  %s\n", text, want, log);
        fail();
    }
    free(log);
}

/* One parse of a complete head with a fresh parser. */
static ssize_t parse1(const char *text, tw__http_request *req)
{
    tw__http_parser p;
    tw__http_parser_reset(&p);
    return tw__http_parse(&p, text, strlen(text), req);
}

static bool span_is(tw__http_str s, const char *want)
{
    return want ? s.p && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0 : s.p == NULL;
}

#define H11 " HTTP/1.1\r\nHost: x\r\n"

/* ---- request line ---------------------------------------------------------------------------- */

static void test_simple_get(void **state)
{
    (void)state;
    const char *text =
        "GET /index.html?a=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\n\r\n";
    tw__http_request req;
    assert_int_equal(parse1(text, &req), (ssize_t)strlen(text));
    assert_int_equal(req.status, 0);
    assert_int_equal(req.method, TW__HTTP_GET);
    assert_int_equal(req.minor, 1);
    assert_true(req.keep_alive);
    assert_int_equal(req.body_len, 0);
    assert_true(span_is(req.path, "/index.html"));
    assert_true(span_is(req.query, "a=1"));
    assert_true(span_is(req.host, "example.test"));
    assert_true(span_is(req.user_agent, "t"));
    assert_true(span_is(req.request_line, "GET /index.html?a=1 HTTP/1.1"));
    expect(text, "0 m1 1.1 ka body=0");
}

static void test_head_and_versions(void **state)
{
    (void)state;
    expect("HEAD /" H11 "\r\n", "0 m2 1.1 ka");
    expect("GET / HTTP/1.0\r\n\r\n", "0 m1 1.0 close");
    expect("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "0 m1 1.0 close");
    expect("GET / HTTP/1.2\r\nHost: x\r\n\r\n", "0 m1 1.1 ka");
    expect("GET / HTTP/1.9\r\nHost: x\r\n\r\n", "0 m1 1.1 ka");
    expect_status("GET / HTTP/2.0\r\nHost: x\r\n\r\n", "ERR 505");
    expect_status("GET / HTTP/0.9\r\n\r\n", "ERR 505");
    expect_status("GET / HTTP/3.0\r\n\r\n", "ERR 505");
    const char *bad[] = {"GET / HTTP/1.10\r\n\r\n", "GET / HTTP/01.1\r\n\r\n",
                         "GET / http/1.1\r\n\r\n",  "GET / HTTP/1\r\n\r\n",
                         "GET / HTTP/1.x\r\n\r\n",  "GET /\r\n\r\n",
                         "GET / HTTP/1.1 \r\n\r\n", "GET / HTTP/a.1\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_status(bad[i], "ERR 400");
}

static void test_request_line_whitespace(void **state)
{
    (void)state;
    const char *bad[] = {"GET  /" H11 "\r\n",  "GET /  HTTP/1.1\r\nHost: x\r\n\r\n",
                         " GET /" H11 "\r\n",  "GET\t/" H11 "\r\n",
                         " /" H11 "\r\n",      "GET  HTTP/1.1\r\nHost: x\r\n\r\n",
                         "GET / / HTTP/1.1\r\nHost: x\r\n\r\n", "GET\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_status(bad[i], "ERR 400");
}

static void test_line_ends(void **state)
{
    (void)state;
    expect("GET /a HTTP/1.1\nHost: x\n\n", "0 m1 1.1 ka");
    expect("GET /a HTTP/1.1\r\nHost: x\n\r\n", "0 m1 1.1 ka");
    expect("\r\nGET /a" H11 "\r\n", "0 m1 1.1 ka");
    expect("\n\r\n\nGET /a" H11 "\r\n", "0 m1 1.1 ka");
    /* eight empty lines are skipped, a ninth is refused */
    expect("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET /a" H11 "\r\n", "0 m1 1.1 ka");
    expect_status("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET /a" H11 "\r\n", "ERR 400");
    /* a bare CR anywhere is refused */
    expect_status("GET /a HTTP/1.1\r\r\nHost: x\r\n\r\n", "ERR 400");
    expect_status("GET /a\r HTTP/1.1\r\nHost: x\r\n\r\n", "ERR 400");
    expect_status("GET /a" H11 "X-A: a\rb\r\n\r\n", "ERR 400");
    expect_status("GET /a" H11 "X-A: a\r\r\n\r\n", "ERR 400");
    expect_status("GET /a" H11 "\r\r\n\r\n", "ERR 400");
    /* nothing, or only empty lines: no outcome */
    char *log = parse_every_way("\r\n\r\n", 4);
    assert_string_equal(log, "");
    free(log);
}

static void test_target(void **state)
{
    (void)state;
    expect_status("GET /\x01" H11 "\r\n", "ERR 400");
    expect_status("GET /\x7f" H11 "\r\n", "ERR 400");
    expect_status("GET /a#frag" H11 "\r\n", "ERR 400");
    expect("GET /caf\xc3\xa9" H11 "\r\n", "0 m1 1.1 ka body=0 line=[GET /caf\\xc3\\xa9 HTTP/1.1]");
    const char *bad_escapes[] = {"GET /foo/bar%" H11 "\r\n", "GET /foo/bar%1" H11 "\r\n",
                                 "GET /%zz" H11 "\r\n", "GET /%g0?x" H11 "\r\n"};
    for (size_t i = 0; i < sizeof bad_escapes / sizeof bad_escapes[0]; i++)
        expect_status(bad_escapes[i], "ERR 400");
    expect_status("GET /%02%2e%2E%C0%AE?q=100%" H11 "\r\n", "0");
    expect_status("GET *" H11 "\r\n", "ERR 400");
    expect_status("GET example.test:80" H11 "\r\n", "ERR 400");
    expect_status("OPTIONS *" H11 "\r\n", "405");
}

static void test_absolute_form(void **state)
{
    (void)state;
    tw__http_request req;
    const char *a = "GET http://example.test/a/b?c HTTP/1.1\r\nHost: other\r\n\r\n";
    assert_true(parse1(a, &req) > 0);
    assert_true(span_is(req.host, "example.test"));
    assert_true(span_is(req.path, "/a/b"));
    assert_true(span_is(req.query, "c"));
    const char *b = "GET HTTP://example.test:8080?a HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_true(parse1(b, &req) > 0);
    assert_true(span_is(req.host, "example.test:8080"));
    assert_true(span_is(req.path, "/"));
    assert_true(span_is(req.query, "a"));
    const char *c = "GET https://[::1]:8443 HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_true(parse1(c, &req) > 0);
    assert_true(span_is(req.path, "/"));
    assert_true(span_is(req.query, NULL));
    expect_status(a, "0");
    expect_status("GET ftp://example.test/" H11 "\r\n", "ERR 400");
    expect_status("GET http:///x" H11 "\r\n", "ERR 400");
    expect_status("GET http://user@host/" H11 "\r\n", "ERR 400");
    expect_status("GET http:/x" H11 "\r\n", "ERR 400");
    expect_status("GET http://a..b/" H11 "\r\n", "ERR 400");
    /* Host is still required and checked */
    expect_status("GET http://example.test/ HTTP/1.1\r\n\r\n", "ERR 400");
}

static void test_methods(void **state)
{
    (void)state;
    expect("POST /f" H11 "\r\n", "405 m3 1.1 ka");
    const char *known[] = {"PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    char text[128];
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        snprintf(text, sizeof text, "%s /f" H11 "\r\n", known[i]);
        expect_status(text, "405");
    }
    expect("BREW /pot" H11 "\r\n", "501 m4 1.1 ka");
    expect_status("get /" H11 "\r\n", "501");
    expect_status("GETT /" H11 "\r\n", "501");
    expect_status("G(T /" H11 "\r\n", "ERR 400");
    expect_status("G\x80T /" H11 "\r\n", "ERR 400");
    /* the target of another method is not judged: the method is refused anyway */
    expect_status("CONNECT example.test:443" H11 "\r\n", "405");
}

/* ---- limits ---------------------------------------------------------------------------------- */

/* "GET /aaa...a HTTP/1.1" with a request line of exactly line_len bytes, then a Host line. */
static char *long_request_line(size_t line_len)
{
    size_t target = line_len - strlen("GET  HTTP/1.1");
    char *text = malloc(line_len + 64);
    assert_non_null(text);
    memcpy(text, "GET /", 5);
    memset(text + 5, 'a', target - 1);
    strcpy(text + 4 + target, " HTTP/1.1\r\nHost: x\r\n\r\n");
    return text;
}

static void test_request_line_limit(void **state)
{
    (void)state;
    char *ok = long_request_line(TW_HTTP_REQUEST_LINE_MAX);
    expect_status(ok, "0");
    char *over = long_request_line(TW_HTTP_REQUEST_LINE_MAX + 1);
    expect_status(over, "ERR 414");
    /* refused before the line ends: a client cannot make us hold more */
    tw__http_parser p;
    tw__http_request req;
    tw__http_parser_reset(&p);
    assert_int_equal(tw__http_parse(&p, over, TW_HTTP_REQUEST_LINE_MAX + 1, &req), 0);
    assert_int_equal(tw__http_parse(&p, over, TW_HTTP_REQUEST_LINE_MAX + 2, &req), TW_EPARSE);
    assert_int_equal(req.status, 414);
    free(ok);
    free(over);
}

/* A head whose header section is exactly fields_len bytes in lines header lines. */
static char *big_head(size_t fields_len, unsigned lines)
{
    char *text = malloc(fields_len + 64);
    assert_non_null(text);
    size_t o = (size_t)sprintf(text, "GET / HTTP/1.1\r\n");
    size_t per = fields_len / lines, left = fields_len;
    for (unsigned i = 0; i < lines; i++) {
        size_t n = i + 1 == lines ? left : per; /* "X-N: v...v\r\n" of n bytes */
        int head = sprintf(text + o, i == 0 ? "Host: " : "X-%u: ", i);
        memset(text + o + head, 'v', n - (size_t)head - 2);
        memcpy(text + o + n - 2, "\r\n", 2);
        o += n;
        left -= n;
    }
    strcpy(text + o, "\r\n");
    return text;
}

static void test_header_limits(void **state)
{
    (void)state;
    char *t = big_head(TW_HTTP_HEADERS_MAX, 10);
    expect_status(t, "0");
    free(t);
    t = big_head(TW_HTTP_HEADERS_MAX + 1, 10);
    expect_status(t, "ERR 431");
    free(t);
    t = big_head(TW_HTTP_HEADER_LINES_MAX * 10, TW_HTTP_HEADER_LINES_MAX);
    expect_status(t, "0");
    free(t);
    t = big_head((TW_HTTP_HEADER_LINES_MAX + 1) * 10, TW_HTTP_HEADER_LINES_MAX + 1);
    expect_status(t, "ERR 431");
    free(t);
    /* one endless header line is refused once it can no longer fit */
    size_t len = 16 + TW_HTTP_HEADERS_MAX + 8;
    char *endless = malloc(len);
    assert_non_null(endless);
    memcpy(endless, "GET / HTTP/1.1\r\nX: ", 19);
    memset(endless + 19, 'v', len - 19);
    tw__http_parser p;
    tw__http_request req;
    tw__http_parser_reset(&p);
    assert_int_equal(tw__http_parse(&p, endless, 16 + TW_HTTP_HEADERS_MAX - 1, &req), 0);
    assert_int_equal(tw__http_parse(&p, endless, 16 + TW_HTTP_HEADERS_MAX, &req), TW_EPARSE);
    assert_int_equal(req.status, 431);
    free(endless);
    /* the largest head the parser can be shown */
    assert_int_equal(TW_HTTP_HEAD_MAX, 2 * 8 + 8192 + 2 + 32768 + 2);
}

/* ---- header fields --------------------------------------------------------------------------- */

static void test_field_syntax(void **state)
{
    (void)state;
    const char *bad[] = {
        "GET /" H11 "X-A: a\r\n b\r\n\r\n",     /* obs-fold */
        "GET /" H11 "X-A: a\r\n\tb\r\n\r\n",    /* obs-fold with a tab */
        "GET / HTTP/1.1\r\n Host: x\r\n\r\n",    /* whitespace before the first field */
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",    /* whitespace before the colon */
        "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n",
        "GET /" H11 "no colon here\r\n\r\n",
        "GET /" H11 ": v\r\n\r\n",
        "GET /" H11 "X-A: a\0b\r\n\r\n",
        "GET /" H11 "X-A: a\x7f\r\n\r\n",
        "GET /" H11 "X-A: \x01\r\n\r\n",
        "GET /" H11 "Ho@st: v\r\n\r\n",
        "GET /" H11 "X\x80Y: v\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *text = bad[i];
        size_t len = strlen(text);
        if (i == 7) /* the NUL inside: give the real length */
            len = strlen("GET /" H11 "X-A: a") + strlen("b\r\n\r\n") + 1;
        char *log = parse_every_way(text, len);
        if (strncmp(log, "ERR 400", 7) != 0) {
            fprintf(stderr, "case %zu: %s", i, log);
            fail();
        }
        free(log);
    }
    expect_status("GET /" H11 "X_Y: 1\r\nx-lower:\r\nX-Tab:\tv\t\r\n\r\n", "0");
    tw__http_request req;
    assert_true(parse1("GET / HTTP/1.1\r\nHost:x\r\nUser-Agent: \t a b \t\r\n\r\n", &req) > 0);
    assert_true(span_is(req.host, "x"));
    assert_true(span_is(req.user_agent, "a b"));
    assert_true(parse1("GET / HTTP/1.1\r\nHOST: y\r\nuser-AGENT: z\r\nX: \xe9\r\n\r\n", &req) > 0);
    assert_true(span_is(req.host, "y"));
    assert_true(span_is(req.user_agent, "z"));
}

static void test_host(void **state)
{
    (void)state;
    expect_status("GET / HTTP/1.1\r\n\r\n", "ERR 400");
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "ERR 400");
    expect_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", "ERR 400");
    const char *good[] = {"example.test", "example.test.", "EXAMPLE.test:8080", "[::1]:80", "[::1]",
                          "1.2.3.4", "", "host:", "a-b_c~d", "xn--bcher-kva.example", "%41.test"};
    const char *bad[] = {"..examp-LE.com", "example.com/\\:552", "example.test:98777",
                         "1.2.3.4:9000:80", "a b", "[::1", "[zz::1]", "[]", "x@y", "a/b", ".a",
                         "%4", "host:8a", "[::1]x"};
    char text[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(text, sizeof text, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);
        expect_status(text, "0");
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        expect_status(text, "ERR 400");
    }
}

static void test_conditional_fields(void **state)
{
    (void)state;
    tw__http_request req;
    const char *text =
        "GET /f HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: A\r\nIf-None-Match: \"e\"\r\n"
        "If-Match: *\r\nIf-Unmodified-Since: B\r\nRange: bytes=0-1\r\n"
        "If-Range: C\r\nReferer: /r\r\n\r\n";
    assert_true(parse1(text, &req) > 0);
    assert_true(span_is(req.if_modified_since, "A"));
    assert_true(span_is(req.if_none_match, "\"e\""));
    assert_true(span_is(req.if_match, "*"));
    assert_true(span_is(req.if_unmodified_since, "B"));
    assert_true(span_is(req.range, "bytes=0-1"));
    assert_true(span_is(req.if_range, "C"));
    assert_true(span_is(req.referer, "/r"));
    /* sent twice (or three times): ignored */
    const char *twice = "GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n"
                        "Range: bytes=4-5\r\nIf-Modified-Since: A\r\nIf-Modified-Since: A\r\n\r\n";
    assert_true(parse1(twice, &req) > 0);
    assert_true(span_is(req.range, NULL));
    assert_true(span_is(req.if_modified_since, NULL));
}

/* ---- framing --------------------------------------------------------------------------------- */

static void test_content_length(void **state)
{
    (void)state;
    expect("GET /" H11 "Content-Length: 5\r\n\r\nhello", "0 m1 1.1 ka body=5");
    expect("GET /" H11 "Content-Length: 5, 5\r\n\r\nhello", "0 m1 1.1 ka body=5");
    expect("GET /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
           "0 m1 1.1 ka body=5");
    expect("GET /" H11 "Content-Length: 007\r\n\r\n", "0 m1 1.1 ka body=7");
    expect("GET /" H11 "Content-Length: 0\r\n\r\n", "0 m1 1.1 ka body=0");
    const char *bad[] = {"5\r\nContent-Length: 6", "5, 6", "+5", "-5", "5a", "", "1,2", "0x5",
                         "5,", ", 5", "5 5", "99999999999999999999", "9223372036854775808"};
    char text[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "GET /" H11 "Content-Length: %s\r\n\r\n", bad[i]);
        expect_status(text, "ERR 400");
    }
    snprintf(text, sizeof text, "GET /" H11 "Content-Length: %d\r\n\r\n", TW_HTTP_BODY_DISCARD_MAX);
    expect_status(text, "0");
    snprintf(text, sizeof text, "GET /" H11 "Content-Length: %d\r\n\r\n",
             TW_HTTP_BODY_DISCARD_MAX + 1);
    expect(text, "413 m1 1.1 close body=0");
    snprintf(text, sizeof text, "HEAD /" H11 "Content-Length: 9223372036854775807\r\n\r\n");
    expect_status(text, "413");
    snprintf(text, sizeof text, "POST /" H11 "Content-Length: 100000\r\n\r\n");
    expect(text, "405 m3 1.1 close body=0");
}

static void test_transfer_encoding(void **state)
{
    (void)state;
    expect("GET /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "413 m1 1.1 close");
    expect_status("GET /" H11 "Transfer-Encoding: CHUNKED\r\n\r\n", "413");
    expect_status("GET /" H11 "Transfer-Encoding: chunked ; x=1\r\n\r\n", "413");
    expect("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n", "405 m3 1.1 close");
    expect_status("BREW /" H11 "Transfer-Encoding: chunked\r\n\r\n", "501");
    expect_status("GET /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", "ERR 501");
    const char *bad[] = {"chunked, gzip", "identity", "gzip", "chunked, chunked", "", ",",
                         "chunked\r\nTransfer-Encoding: chunked", "chu nked", "(chunked)"};
    char text[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "GET /" H11 "Transfer-Encoding: %s\r\n\r\n", bad[i]);
        expect_status(text, "ERR 400");
    }
    /* with Content-Length, on HTTP/1.0: 400 whatever the method (framing comes first) */
    const char *methods[] = {"GET", "HEAD", "POST", "BREW"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(text, sizeof text,
                 "%s /" H11 "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", methods[i]);
        expect_status(text, "ERR 400");
        snprintf(text, sizeof text, "%s / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                 methods[i]);
        expect_status(text, "ERR 400");
        snprintf(text, sizeof text, "%s /" H11 "X: a\r\n b\r\n\r\n", methods[i]);
        expect_status(text, "ERR 400");
    }
}

/* ---- persistence and pipelining -------------------------------------------------------------- */

static void test_connection_header(void **state)
{
    (void)state;
    expect_status("GET /" H11 "Connection: close\r\n\r\n", "0");
    expect("GET /" H11 "Connection: close\r\n\r\n", "0 m1 1.1 close");
    expect("GET /" H11 "Connection: Keep-Alive, CLOSE\r\n\r\n", "0 m1 1.1 close");
    expect("GET /" H11 "Connection: te\r\nConnection: close\r\n\r\n", "0 m1 1.1 close");
    expect("GET /" H11 "Connection: closed\r\n\r\n", "0 m1 1.1 ka");
}

static void test_pipelining(void **state)
{
    (void)state;
    const char *two = "GET /1" H11 "\r\nHEAD /2" H11 "\r\n";
    char *log = parse_every_way(two, strlen(two));
    assert_non_null(strstr(log, "path=[/1]"));
    assert_non_null(strstr(log, "path=[/2]"));
    assert_true(strstr(log, "path=[/1]") < strstr(log, "path=[/2]"));
    free(log);
    /* Connection: close on the second: the third is never read */
    const char *three = "GET /1" H11 "\r\nGET /2" H11 "Connection: close\r\n\r\nGET /3" H11 "\r\n";
    log = parse_every_way(three, strlen(three));
    assert_non_null(strstr(log, "path=[/2]"));
    assert_null(strstr(log, "path=[/3]"));
    free(log);
    /* a GET's small body is skipped: two requests, never three */
    const char *body = "GET /1" H11 "Content-Length: 5\r\n\r\nGET /GET /2" H11 "\r\n";
    log = parse_every_way(body, strlen(body));
    assert_non_null(strstr(log, "path=[/2]"));
    assert_null(strstr(log, "path=[/GET"));
    free(log);
    /* POST (405) with a body, then a GET */
    const char *post = "POST /f" H11 "Content-Length: 5\r\n\r\nabcdeGET /g" H11 "\r\n";
    log = parse_every_way(post, strlen(post));
    assert_non_null(strstr(log, "405 m3"));
    assert_non_null(strstr(log, "path=[/g]"));
    free(log);
    /* nothing after a refused head is answered */
    const char *refused = "GET /" H11 "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "GET /after" H11 "\r\n";
    log = parse_every_way(refused, strlen(refused));
    assert_string_equal(log, "ERR 400\n");
    free(log);
    /* nor after a body that is not read */
    const char *unread = "GET /" H11 "Content-Length: 70000\r\n\r\nGET /after" H11 "\r\n";
    log = parse_every_way(unread, strlen(unread));
    assert_null(strstr(log, "after"));
    free(log);
}

static void test_incomplete_heads(void **state)
{
    (void)state;
    const char *text = "GET /index.html" H11 "Range: bytes=1-2\r\n\r\n";
    size_t len = strlen(text);
    tw__http_parser p;
    tw__http_request req;
    tw__http_parser_reset(&p);
    for (size_t k = 0; k < len; k++)
        assert_int_equal(tw__http_parse(&p, text, k, &req), 0);
    assert_int_equal(tw__http_parse(&p, text, len, &req), (ssize_t)len);
    /* reset between heads: a fresh head parses from the start */
    assert_int_equal(tw__http_parse(&p, text, len, &req), (ssize_t)len);
    /* shown less than before (not the same input): it starts over */
    assert_int_equal(tw__http_parse(&p, text, 10, &req), 0);
    assert_int_equal(tw__http_parse(&p, "GET /x HTTP/1.0\r\n\r\n", 5, &req), 0);
    assert_int_equal(tw__http_parse(&p, "GET /x HTTP/1.0\r\n\r\n", 19, &req), 19);
    assert_true(span_is(req.path, "/x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_head_and_versions),
        cmocka_unit_test(test_request_line_whitespace),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_request_line_limit),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_field_syntax),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_conditional_fields),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_connection_header),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_incomplete_heads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
