/* libFuzzer target for the framing receivers. Each input picks a receiver and its settings, then
 * the rest is fed twice: in one piece, and cut into random chunks the way a transport presents
 * them (unconsumed tail first). Both runs must deliver the same frames and end the same way, and
 * every frame must respect the receiver's limits. Build: see fuzz/README.md. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <twine/framing.h>

#include "tests/support/framing_feed.h"

#define FUZZ_LINE_MAX 64
#define FUZZ_STRING_MAX 300

/* What a receiver delivered, as one byte string: a kind byte, then for frames the length (4 bytes)
 * and the bytes; raw bytes are logged one by one so the log does not depend on the cuts. */
typedef struct {
    unsigned char *bytes;
    size_t len, cap;
} record;

static void record_add(record *r, const void *data, size_t len)
{
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        while (cap < r->len + len)
            cap *= 2;
        r->bytes = realloc(r->bytes, cap);
        if (!r->bytes)
            abort();
        r->cap = cap;
    }
    memcpy(r->bytes + r->len, data, len);
    r->len += len;
}

static void record_frame(record *r, char kind, const char *data, size_t len)
{
    uint32_t n = (uint32_t)len;
    record_add(r, &kind, 1);
    record_add(r, &n, sizeof n);
    record_add(r, data, len);
}

static bool same_record(const record *a, const record *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_framing: invariant broken: %s\n", what);
        abort();
    }
}

/* Checks a delivered frame against its receiver's limit and records it; true when the frame asks
 * the receiver to pause ("P"). */
static bool record_checked(record *r, char kind, const char *data, size_t len, size_t max_length,
                           const char *over_limit)
{
    check(len <= max_length, over_limit);
    record_frame(r, kind, data, len);
    return len == 1 && data[0] == 'P';
}

/* ---- the line receiver: "R<digit>" lines switch to raw for digit+1 bytes, "P" lines pause ----- */

typedef struct {
    tw_line_receiver lr;
    record rec;
    size_t raw_left;
} line_fx;

static int fz_line(tw_line_receiver *lr, const char *line, size_t len)
{
    line_fx *fx = lr->user;
    check(!memmem(line, len, lr->delimiter, lr->delimiter_len), "delimiter inside a line");
    if (record_checked(&fx->rec, 'L', line, len, lr->max_length, "line over max_length"))
        tw_line_receiver_pause_producing(lr);
    if (len == 2 && line[0] == 'R' && line[1] >= '0' && line[1] <= '9') {
        fx->raw_left = (size_t)(line[1] - '0') + 1;
        tw_line_receiver_set_raw_mode(lr);
    }
    return 0;
}

static ssize_t fz_raw(tw_line_receiver *lr, const char *data, size_t len)
{
    line_fx *fx = lr->user;
    size_t take = len < fx->raw_left ? len : fx->raw_left;
    for (size_t i = 0; i < take; i++)
        record_frame(&fx->rec, 'r', data + i, 1);
    fx->raw_left -= take;
    if (fx->raw_left == 0)
        tw_line_receiver_set_line_mode(lr);
    return (ssize_t)take;
}

static const tw_line_receiver_ops fz_line_ops = {.line_received = fz_line, .raw_data_received = fz_raw};

/* ---- netstrings and length prefixes -------------------------------------------------------------- */

typedef struct {
    tw_netstring_receiver ns;
    tw_intn_string_receiver in;
    record rec;
} string_fx;

static int fz_netstring(tw_netstring_receiver *ns, const char *data, size_t len)
{
    string_fx *fx = ns->user;
    if (record_checked(&fx->rec, 'N', data, len, ns->max_length, "netstring over max_length"))
        tw_netstring_receiver_pause_producing(ns);
    return 0;
}

static int fz_intn(tw_intn_string_receiver *r, const char *data, size_t len)
{
    string_fx *fx = r->user;
    if (record_checked(&fx->rec, 'I', data, len, r->max_length, "prefixed string over max_length"))
        tw_intn_string_receiver_pause_producing(r);
    return 0;
}

static const tw_netstring_receiver_ops fz_ns_ops = {.string_received = fz_netstring};
static const tw_intn_string_receiver_ops fz_intn_ops = {.string_received = fz_intn};

/* ---- driving ------------------------------------------------------------------------------------ */

typedef struct {
    int kind;       /* 0 line, 1 netstring, 2..4 prefix of 1, 2, 4 bytes */
    int delimiter;  /* line receiver: 0 "\r\n", 1 "\n", 2 "aba" */
    line_fx line;
    string_fx str;
} receiver;

static ssize_t feed_any(void *arg, const char *data, size_t len)
{
    receiver *r = arg;
    if (r->kind == 0)
        return tw_line_receiver_data_received(&r->line.lr, data, len);
    if (r->kind == 1)
        return tw_netstring_receiver_data_received(&r->str.ns, data, len);
    return tw_intn_string_receiver_data_received(&r->str.in, data, len);
}

static bool receiver_paused(const receiver *r)
{
    return r->kind == 0 ? r->line.lr.paused : r->kind == 1 ? r->str.ns.paused : r->str.in.paused;
}

static void receiver_resume(receiver *r)
{
    if (r->kind == 0)
        tw_line_receiver_resume_producing(&r->line.lr);
    else if (r->kind == 1)
        tw_netstring_receiver_resume_producing(&r->str.ns);
    else
        tw_intn_string_receiver_resume_producing(&r->str.in);
}

static void receiver_init(receiver *r, int kind, int delimiter)
{
    static const char *const delimiters[] = {"\r\n", "\n", "aba"};
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->delimiter = delimiter;
    tw_line_receiver_init(&r->line.lr, &fz_line_ops, &r->line);
    tw_line_receiver_set_delimiter(&r->line.lr, delimiters[delimiter], strlen(delimiters[delimiter]));
    tw_line_receiver_set_max_length(&r->line.lr, FUZZ_LINE_MAX);
    tw_netstring_receiver_init(&r->str.ns, &fz_ns_ops, &r->str);
    tw_netstring_receiver_set_max_length(&r->str.ns, FUZZ_STRING_MAX);
    static const unsigned prefixes[] = {1, 2, 4};
    tw_intn_string_receiver_init(&r->str.in, prefixes[kind >= 2 ? kind - 2 : 0], &fz_intn_ops,
                                 &r->str);
    tw_intn_string_receiver_set_max_length(&r->str.in, FUZZ_STRING_MAX);
}

static record *receiver_record(receiver *r)
{
    return r->kind == 0 ? &r->line.rec : &r->str.rec;
}

/* The most a receiver may leave unconsumed: one incomplete frame. */
static size_t tail_bound(const receiver *r)
{
    if (r->kind == 0)
        return FUZZ_LINE_MAX + r->line.lr.delimiter_len - 1;
    if (r->kind == 1)
        return FUZZ_STRING_MAX + 4; /* "300:" and the payload, without the "," */
    return FUZZ_STRING_MAX + r->str.in.prefix_length - 1;
}

/* Presents the chunk; while the receiver pauses itself, resumes it and presents the tail again,
 * as a transport does after resume_producing. */
static ssize_t push(tw_test_feed *f, receiver *r, const char *chunk, size_t len)
{
    ssize_t rc = tw_test_feed_push(f, chunk, len);
    while (rc >= 0 && receiver_paused(r)) {
        receiver_resume(r);
        rc = tw_test_feed_again(f);
    }
    check(rc != -ERANGE, "consumed more than presented");
    /* Only a paused receiver, or one that just failed, may be left holding more. */
    check(rc < 0 || f->tail_len <= tail_bound(r), "unconsumed tail longer than one frame");
    return rc;
}

typedef struct {
    int error;
    size_t tail_len;
} outcome;

/* Feeds data in chunks whose sizes come from a small generator seeded by seed (0: one piece). */
static outcome run(receiver *r, const char *data, size_t len, uint32_t seed)
{
    tw_test_feed f;
    tw_test_feed_init(&f, feed_any, r);
    outcome o = {0, 0};
    size_t pos = 0;
    uint32_t state = seed;
    while (pos < len || pos == 0) {
        size_t n = len - pos;
        if (seed) {
            state = state * 1103515245u + 12345u;
            size_t pick = (state >> 16) % 4 == 0 ? (state >> 8) % 97 : (state >> 8) % 5;
            n = pick < n ? pick : n;
        }
        ssize_t rc = push(&f, r, data + pos, n);
        pos += n;
        if (rc < 0) {
            o.error = (int)rc;
            break;
        }
        if (len == 0)
            break;
    }
    o.tail_len = f.tail_len;
    tw_test_feed_free(&f);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int kind = data[0] % 5;
    int delimiter = (data[0] / 5) % 3;
    uint32_t seed = (uint32_t)data[1] * 2654435761u + 1u;
    const char *stream = (const char *)data + 2;
    size_t len = size - 2;

    receiver *whole = malloc(sizeof *whole), *cut = malloc(sizeof *cut);
    if (!whole || !cut)
        abort();
    receiver_init(whole, kind, delimiter);
    receiver_init(cut, kind, delimiter);
    outcome a = run(whole, stream, len, 0);
    outcome b = run(cut, stream, len, seed);
    record *ra = receiver_record(whole), *rb = receiver_record(cut);

    /* A bad frame is refused at the same point however the input is cut. */
    check(a.error == b.error, "different errors whole and cut");
    check(same_record(ra, rb), "different frames whole and cut");
    check(a.error < 0 || a.tail_len == b.tail_len, "different unconsumed tails");
    free(ra->bytes);
    free(rb->bytes);
    free(whole);
    free(cut);
    return 0;
}
