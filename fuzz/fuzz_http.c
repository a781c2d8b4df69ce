/* libFuzzer target for the HTTP request-head parser and what the server does with a parsed head.
 * The input is a connection's byte stream, fed twice: in one piece, and cut into random chunks the
 * way a transport presents them (unconsumed tail first, each call in a fresh exact-size buffer).
 * Both runs must log the same requests and leave the same tail, and every head must respect the
 * limits. Each accepted head's path, Range and dates then go through the path normaliser, the
 * range parser and the date parser, whose invariants are checked too. Build: see fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <twine/error.h>
#include <twine/http.h>

#include "protocols/http/conditional.h"
#include "protocols/http/date.h"
#include "protocols/http/parser.h"
#include "protocols/http/path.h"
#include "protocols/http/range.h"
#include "protocols/http/text.h"
#include "tests/support/framing_feed.h"
#include "tests/support/http_feed.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http: invariant broken: %s\n", what);
        abort();
    }
}

static bool inside(tw__http_str s, const char *head, size_t len)
{
    return !s.p || (s.p >= head && s.p + s.len <= head + len);
}

/* The normalised path holds no empty, "." or ".." segment, no NUL or backslash, no leading '/'. */
static void check_path(tw__http_str path)
{
    char *out = malloc(path.len + 1);
    size_t n;
    bool slash;
    if (!out)
        abort();
    int status = tw__http_path_normalize(path.p, path.len, out, path.len + 1, &n, &slash);
    check(status == 0 || status == 400 || status == 403 || status == 404, "path status");
    if (status == 0) {
        check(n <= path.len && strlen(out) == n, "path length");
        check(n == 0 || (out[0] != '/' && out[n - 1] != '/'), "path slashes at the ends");
        check(!memchr(out, '\\', n) && !strstr(out, "//"), "backslash or empty segment");
        for (const char *seg = out; n && seg <= out + n;) {
            const char *end = memchr(seg, '/', (size_t)(out + n - seg));
            size_t len = end ? (size_t)(end - seg) : (size_t)(out + n - seg);
            check(!(len == 1 && seg[0] == '.') && !(len == 2 && seg[0] == '.' && seg[1] == '.'),
                  "dot segment left");
            seg += len + 1;
        }
    }
    free(out);
}

static void check_date(tw__http_str value)
{
    int64_t t, again;
    char text[TW__HTTP_DATE_LEN + 1];
    if (!value.p || !tw__http_date_parse(value.p, value.len, &t))
        return;
    tw__http_date_format(t, text);
    check(strlen(text) == TW__HTTP_DATE_LEN, "date length");
    check(tw__http_date_parse(text, TW__HTTP_DATE_LEN, &again) && again == t, "date round trip");
}

static void check_escapes(tw__http_str path)
{
    tw__http_text t;
    tw__http_text_init(&t);
    tw__http_text_html(&t, path.p, path.len);
    check(t.failed || (!memchr(t.p, '<', t.len) && !memchr(t.p, '"', t.len)), "html escape");
    tw__http_text_free(&t);
    tw__http_text_uri(&t, path.p, path.len, true);
    for (size_t i = 0; i < t.len; i++)
        check(t.p[i] != '"' && t.p[i] != '<' && t.p[i] != ' ' && (unsigned char)t.p[i] < 0x7f,
              "uri escape");
    tw__http_text_free(&t);
}

typedef struct {
    uint64_t size; /* the file size ranges are judged against */
} context;

static void on_head(void *user, ssize_t rc, const tw__http_request *req, const char *head)
{
    const context *ctx = user;
    if (rc < 0) {
        int s = req->status;
        check(s == 400 || s == 414 || s == 431 || s == 501 || s == 505, "refusal status");
        check(!req->keep_alive && req->body_len == 0, "refused head keeps the connection");
        return;
    }
    size_t len = (size_t)rc;
    check(len <= TW_HTTP_HEAD_MAX, "head over TW_HTTP_HEAD_MAX");
    check(req->request_line.len <= TW_HTTP_REQUEST_LINE_MAX, "request line over the limit");
    check(req->body_len <= TW_HTTP_BODY_DISCARD_MAX, "body to discard over the limit");
    check(req->status == 0 || req->status == 405 || req->status == 501 || req->status == 413,
          "request status");
    check((req->status == 0) == (req->method == TW__HTTP_GET || req->method == TW__HTTP_HEAD) ||
              req->status == 413, "status and method disagree");
    check(req->status != 413 || !req->keep_alive, "413 keeps the connection");
    check(inside(req->request_line, head, len) && inside(req->target, head, len) &&
              inside(req->query, head, len) && inside(req->range, head, len) &&
              inside(req->if_modified_since, head, len) && inside(req->user_agent, head, len),
          "span outside the head");
    if (req->status != 0)
        return;
    check(req->path.p && req->path.len > 0 && req->path.p[0] == '/', "path");
    check_path(req->path);
    check_escapes(req->path);
    check_date(req->if_modified_since);
    check_date(req->if_range);
    uint64_t first, last;
    if (tw__http_range_parse(req->range, ctx->size, &first, &last) == TW__HTTP_RANGE_PARTIAL)
        check(first <= last && last < ctx->size, "range outside the file");
    char etag[TW__HTTP_ETAG_MAX + 1];
    tw__http_str e = {etag, tw__http_etag_format(784111777, ctx->size, etag)};
    int pre = tw__http_preconditions(req, 784111777, e);
    check(pre == 0 || pre == 304 || pre == 412, "precondition status");
    (void)tw__http_if_range_holds(req->if_range, 784111777, e);
}

typedef struct {
    char *log;
    size_t tail_len;
} outcome;

/* Feeds the stream in chunks from a small generator seeded by seed (0: one piece). */
static outcome run(const char *data, size_t len, uint32_t seed, context *ctx)
{
    tw_test_http_conn conn;
    tw_test_http_conn_init(&conn);
    conn.on_head = on_head;
    conn.user = ctx;
    tw_test_feed f;
    tw_test_feed_init(&f, tw_test_http_conn_feed, &conn);
    uint32_t state = seed;
    for (size_t pos = 0; pos < len || pos == 0;) {
        size_t n = len - pos;
        if (seed) {
            state = state * 1103515245u + 12345u;
            size_t big = len / 4 > 300 ? len / 4 : 300;
            size_t pick = (state >> 16) % 4 == 0 ? (state >> 8) % big : (state >> 8) % 7;
            n = pick < n ? pick : n;
        }
        check(tw_test_feed_push(&f, data + pos, n) >= 0, "feed failed");
        check(f.tail_len <= TW_HTTP_HEAD_MAX + TW_HTTP_BODY_DISCARD_MAX, "tail over the limit");
        check(conn.body_left || f.tail_len <= TW_HTTP_HEAD_MAX, "undecided head over the limit");
        pos += n;
        if (len == 0)
            break;
    }
    outcome o = {conn.log ? strdup(conn.log) : strdup(""), f.tail_len};
    tw_test_feed_free(&f);
    tw_test_http_conn_free(&conn);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    context ctx = {(uint64_t)data[1] * 37};
    uint32_t seed = (uint32_t)data[0] * 2654435761u + 1u;
    const char *stream = (const char *)data + 2;
    outcome whole = run(stream, size - 2, 0, &ctx);
    outcome cut = run(stream, size - 2, seed, &ctx);
    check(strcmp(whole.log, cut.log) == 0, "different requests whole and cut");
    check(whole.tail_len == cut.tail_len, "different unconsumed tails");
    free(whole.log);
    free(cut.log);
    return 0;
}
