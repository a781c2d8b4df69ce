/* Tests for the line receiver: lines split at every point and byte by byte, coalesced lines, the
 * maximum length (exactly at the limit, one over, split delimiters), raw mode switches inside one
 * buffer, pausing, hook errors; then a line echo on connections (string transports). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <twine/twine.h>

#include "support/clock_env.h"
#include "support/framing_feed.h"
#include "support/net.h"
#include "support/reactor_test.h"

#define LOG_MAX 200000

/* A receiver that writes what it sees into a log: L(line) per line (L#n for long ones), R(bytes)
 * for raw data (consecutive raw chunks merged, so the log does not depend on how input was split),
 * X#n for an over-long line. Some lines are commands: RAW switches to raw mode, PAUSE pauses, FAIL
 * returns an error. */
typedef struct {
    tw_line_receiver lr;
    char log[LOG_MAX];
    size_t log_len;
    bool last_raw;
    size_t raw_budget;    /* raw bytes to take before going back to line mode; 0: stay raw */
    size_t raw_seen;
    size_t raw_take_max;  /* raw_data_received takes at most this many per call; 0: all */
    bool raw_refuse;      /* raw_data_received takes nothing */
    int exceeded_result;  /* what line_length_exceeded returns */
    size_t exceeded_len;
} rec;

static void log_add(rec *r, const char *s, size_t n)
{
    assert_true(r->log_len + n < LOG_MAX);
    memcpy(r->log + r->log_len, s, n);
    r->log_len += n;
    r->log[r->log_len] = '\0';
}

static void log_str(rec *r, const char *s)
{
    log_add(r, s, strlen(s));
}

static int on_line(tw_line_receiver *lr, const char *line, size_t len)
{
    rec *r = lr->user;
    r->last_raw = false;
    if (len > 64) {
        char text[32];
        snprintf(text, sizeof text, "L#%zu", len);
        log_str(r, text);
    } else {
        log_str(r, "L(");
        log_add(r, line, len);
        log_str(r, ")");
    }
    if (len == 3 && memcmp(line, "RAW", 3) == 0)
        tw_line_receiver_set_raw_mode(lr);
    if (len == 5 && memcmp(line, "PAUSE", 5) == 0)
        tw_line_receiver_pause_producing(lr);
    if (len == 4 && memcmp(line, "FAIL", 4) == 0)
        return -EPROTO;
    return 0;
}

static ssize_t on_raw(tw_line_receiver *lr, const char *data, size_t len)
{
    rec *r = lr->user;
    size_t take = r->raw_refuse ? 0 : len;
    if (r->raw_take_max && take > r->raw_take_max)
        take = r->raw_take_max;
    if (r->raw_budget && take > r->raw_budget - r->raw_seen)
        take = r->raw_budget - r->raw_seen;
    if (take == 0)
        return 0;
    if (r->last_raw)
        r->log_len--; /* reopen the previous R( ... ) */
    else
        log_str(r, "R(");
    log_add(r, data, take);
    log_str(r, ")");
    r->last_raw = true;
    r->raw_seen += take;
    if (r->raw_budget && r->raw_seen == r->raw_budget) {
        r->raw_seen = 0;
        tw_line_receiver_set_line_mode(lr);
    }
    return (ssize_t)take;
}

static int on_exceeded(tw_line_receiver *lr, const char *data, size_t len)
{
    rec *r = lr->user;
    (void)data;
    char text[32];
    snprintf(text, sizeof text, "X#%zu", len);
    log_str(r, text);
    r->last_raw = false;
    r->exceeded_len = len;
    return r->exceeded_result;
}

static const tw_line_receiver_ops rec_ops = {
    .line_received = on_line,
    .raw_data_received = on_raw,
    .line_length_exceeded = on_exceeded,
};

static const tw_line_receiver_ops default_exceed_ops = {
    .line_received = on_line,
};

static rec *rec_new(const tw_line_receiver_ops *ops)
{
    rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    tw_line_receiver_init(&r->lr, ops, r);
    return r;
}

static ssize_t feed_line(void *receiver, const char *data, size_t len)
{
    return tw_line_receiver_data_received(receiver, data, len);
}

/* Feeds the chunks of input cut at the given points (ascending), then returns the feed's tail. */
static void feed_split(rec *r, tw_test_feed *f, const char *input, size_t len, const size_t *cuts,
                       int ncuts)
{
    size_t from = 0;
    for (int i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        assert_true(tw_test_feed_push(f, input + from, to - from) >= 0);
        from = to;
    }
    (void)r;
}

/* ---- basics ---------------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    assert_int_equal(r->lr.max_length, TW_LINE_MAX_LENGTH_DEFAULT);
    assert_int_equal(r->lr.max_length, 16384);
    assert_int_equal(r->lr.delimiter_len, 2);
    assert_memory_equal(r->lr.delimiter, "\r\n", 2);
    assert_false(r->lr.raw_mode);
    assert_false(r->lr.paused);
    assert_null(r->lr.protocol);
    free(r);
}

static void test_coalesced_lines_and_partial_tail(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    const char *in = "one\r\ntwo\r\n\r\nthr";
    assert_int_equal(tw_line_receiver_data_received(&r->lr, in, strlen(in)), 12);
    assert_string_equal(r->log, "L(one)L(two)L()");
    /* Nothing complete: nothing consumed. */
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "thr", 3), 0);
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "three\r", 6), 0);
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "three\r\n", 7), 7);
    assert_string_equal(r->log, "L(one)L(two)L()L(three)");
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "", 0), 0);
    free(r);
}

/* Lines, a raw stretch ended by the raw hook itself, more lines and a partial one: the same events
 * whatever the split. */
static const char split_input[] = "alpha\r\nRAW\r\n12345beta\r\n\r\ngamma\r\r\ndelta";
static const char split_expected[] = "L(alpha)L(RAW)R(12345)L(beta)L()L(gamma\r)";

static void check_split(const size_t *cuts, int ncuts)
{
    rec *r = rec_new(&rec_ops);
    r->raw_budget = 5;
    tw_test_feed f;
    tw_test_feed_init(&f, feed_line, &r->lr);
    feed_split(r, &f, split_input, sizeof split_input - 1, cuts, ncuts);
    if (strcmp(r->log, split_expected) != 0)
        fail_msg("cuts %zu %zu: got %s", ncuts > 0 ? cuts[0] : 0, ncuts > 1 ? cuts[1] : 0, r->log);
    assert_int_equal(f.tail_len, 5);
    assert_memory_equal(f.tail, "delta", 5);
    tw_test_feed_free(&f);
    free(r);
}

static void test_every_split_point(void **state)
{
    (void)state;
    size_t len = sizeof split_input - 1;
    for (size_t i = 0; i <= len; i++) {
        size_t one[1] = {i};
        check_split(one, 1);
        for (size_t j = i; j <= len; j++) {
            size_t two[2] = {i, j};
            check_split(two, 2);
        }
    }
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    size_t len = sizeof split_input - 1;
    size_t cuts[64];
    for (size_t i = 0; i < len - 1; i++)
        cuts[i] = i + 1;
    check_split(cuts, (int)len - 1);
}

static void test_raw_hook_taking_less(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    r->raw_budget = 5;
    r->raw_take_max = 2; /* takes two bytes per call: the receiver keeps calling it */
    const char *in = "RAW\r\n12345x\r\n";
    assert_int_equal(tw_line_receiver_data_received(&r->lr, in, strlen(in)), (ssize_t)strlen(in));
    assert_string_equal(r->log, "L(RAW)R(12345)L(x)");
    free(r);
}

static void test_raw_hook_consuming_nothing_keeps_tail(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    tw_test_feed f;
    tw_test_feed_init(&f, feed_line, &r->lr);
    tw_line_receiver_set_raw_mode(&r->lr);
    r->raw_refuse = true; /* a raw hook waiting for more bytes */
    assert_int_equal(tw_test_feed_push(&f, "ab", 2), 0);
    assert_true(r->lr.raw_mode);
    assert_string_equal(r->log, "");
    r->raw_refuse = false;
    assert_int_equal(tw_test_feed_push(&f, "cd", 2), 4);
    assert_string_equal(r->log, "R(abcd)");
    tw_test_feed_free(&f);
    free(r);
}

static void test_raw_without_hook_discards(void **state)
{
    (void)state;
    rec *r = rec_new(&default_exceed_ops);
    tw_line_receiver_set_raw_mode(&r->lr);
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "abc\r\n", 5), 5);
    assert_string_equal(r->log, "");
    tw_line_receiver_set_line_mode(&r->lr);
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "abc\r\n", 5), 5);
    assert_string_equal(r->log, "L(abc)");
    free(r);
}

static ssize_t raw_overclaims(tw_line_receiver *lr, const char *data, size_t len)
{
    (void)lr;
    (void)data;
    return (ssize_t)len + 1;
}

static ssize_t raw_fails(tw_line_receiver *lr, const char *data, size_t len)
{
    (void)lr;
    (void)data;
    (void)len;
    return -EPROTO;
}

static void test_raw_hook_errors(void **state)
{
    (void)state;
    tw_line_receiver lr;
    tw_line_receiver_ops ops = {.raw_data_received = raw_overclaims};
    tw_line_receiver_init(&lr, &ops, NULL);
    tw_line_receiver_set_raw_mode(&lr);
    assert_int_equal(tw_line_receiver_data_received(&lr, "abc", 3), -EINVAL);
    ops.raw_data_received = raw_fails;
    assert_int_equal(tw_line_receiver_data_received(&lr, "abc", 3), -EPROTO);
}

static void test_line_hook_error_stops(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    const char *in = "a\r\nFAIL\r\nb\r\n";
    assert_int_equal(tw_line_receiver_data_received(&r->lr, in, strlen(in)), -EPROTO);
    assert_string_equal(r->log, "L(a)L(FAIL)");
    free(r);
}

static void test_no_line_hook_ignores_lines(void **state)
{
    (void)state;
    tw_line_receiver lr;
    tw_line_receiver_init(&lr, NULL, NULL);
    assert_int_equal(tw_line_receiver_data_received(&lr, "a\r\nb\r\nc", 7), 6);
}

/* ---- delimiters and limits ------------------------------------------------------------------- */

static void test_custom_delimiters(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    assert_int_equal(tw_line_receiver_set_delimiter(&r->lr, "\n", 1), 0);
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "a\nb\r\nc", 6), 5);
    assert_string_equal(r->log, "L(a)L(b\r)");
    /* A delimiter that overlaps itself, found across every split. */
    const char *in = "xxabcabcab-abcab";
    for (size_t cut = 0; cut <= strlen(in); cut++) {
        rec *s = rec_new(&rec_ops);
        assert_int_equal(tw_line_receiver_set_delimiter(&s->lr, "abcab", 5), 0);
        tw_test_feed f;
        tw_test_feed_init(&f, feed_line, &s->lr);
        feed_split(s, &f, in, strlen(in), &cut, 1);
        assert_string_equal(s->log, "L(xx)L(cab-)");
        assert_int_equal(f.tail_len, 0);
        tw_test_feed_free(&f);
        free(s);
    }
    free(r);
}

static void test_bad_settings(void **state)
{
    (void)state;
    tw_line_receiver lr;
    tw_line_receiver_init(&lr, NULL, NULL);
    assert_int_equal(tw_line_receiver_set_delimiter(&lr, "", 0), -EINVAL);
    assert_int_equal(tw_line_receiver_set_delimiter(&lr, NULL, 1), -EINVAL);
    assert_int_equal(tw_line_receiver_set_delimiter(&lr, "0123456789abcdefg", 17), -EINVAL);
    assert_int_equal(tw_line_receiver_set_delimiter(&lr, "0123456789abcdef", 16), 0);
    assert_int_equal(tw_line_receiver_set_max_length(&lr, 0), -EINVAL);
    assert_int_equal(tw_line_receiver_set_max_length(&lr, TW_TRANSPORT_UNCONSUMED_MAX), -EINVAL);
    assert_int_equal(tw_line_receiver_set_max_length(&lr, SIZE_MAX), -EINVAL);
    assert_int_equal(tw_line_receiver_set_max_length(&lr, TW_TRANSPORT_UNCONSUMED_MAX - 16), 0);
    assert_int_equal(tw_line_receiver_set_max_length(&lr, 7), 0);
    assert_int_equal(lr.max_length, 7);
}

/* A line of exactly max_length is a line, with the delimiter in one piece or split. */
static void test_exactly_max_length(void **state)
{
    (void)state;
    size_t max = TW_LINE_MAX_LENGTH_DEFAULT;
    char *in = malloc(max + 2);
    memset(in, 'a', max);
    memcpy(in + max, "\r\n", 2);
    for (size_t cut = max - 1; cut <= max + 2; cut++) {
        rec *r = rec_new(&rec_ops);
        tw_test_feed f;
        tw_test_feed_init(&f, feed_line, &r->lr);
        feed_split(r, &f, in, max + 2, &cut, 1);
        assert_string_equal(r->log, "L#16384");
        tw_test_feed_free(&f);
        free(r);
    }
    /* max_length bytes and half a delimiter: wait, do not drop. */
    rec *r = rec_new(&rec_ops);
    assert_int_equal(tw_line_receiver_data_received(&r->lr, in, max + 1), 0);
    assert_string_equal(r->log, "");
    free(r);
    free(in);
}

static void test_over_max_length(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    assert_int_equal(tw_line_receiver_set_max_length(&r->lr, 4), 0);
    /* Delimiter found, line too long: everything shown goes to the hook and is discarded. */
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "12345\r\nok\r\n", 11), 11);
    assert_string_equal(r->log, "X#11");
    /* No delimiter: waits up to max_length + delimiter - 1 bytes, then gives up. */
    r->log_len = 0;
    r->log[0] = '\0';
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "12345", 5), 0);
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "123456", 6), 6);
    assert_string_equal(r->log, "X#6");
    /* A hook error closes. */
    r->exceeded_result = -ECONNRESET;
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "123456", 6), -ECONNRESET);
    /* Lines after a discarded over-long one are delivered again. */
    r->exceeded_result = 0;
    r->log_len = 0;
    r->log[0] = '\0';
    assert_int_equal(tw_line_receiver_data_received(&r->lr, "ok\r\n", 4), 4);
    assert_string_equal(r->log, "L(ok)");
    free(r);
}

static void test_over_max_length_default_drops(void **state)
{
    (void)state;
    rec *r = rec_new(&default_exceed_ops);
    size_t max = TW_LINE_MAX_LENGTH_DEFAULT;
    char *in = malloc(max + 3);
    memset(in, 'b', max + 1);
    memcpy(in + max + 1, "\r\n", 2);
    assert_int_equal(tw_line_receiver_data_received(&r->lr, in, max + 3), -EMSGSIZE);
    assert_int_equal(tw_line_receiver_data_received(&r->lr, in, max + 2), -EMSGSIZE);
    assert_string_equal(r->log, "");
    free(in);
    free(r);
}

/* A long line trickling in byte by byte is searched once, not once per byte. */
static void test_long_line_trickle_is_linear(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    size_t max = TW_LINE_MAX_LENGTH_DEFAULT;
    char *in = malloc(max + 2);
    memset(in, 'c', max);
    memcpy(in + max, "\r\n", 2);
    tw_test_feed f;
    tw_test_feed_init(&f, feed_line, &r->lr);
    for (size_t i = 0; i < max + 2; i++) {
        assert_true(tw_test_feed_push(&f, in + i, 1) >= 0);
        /* All but the last byte (which may start a delimiter) is known to hold none. */
        if (i + 1 < max)
            assert_int_equal(r->lr.scanned, i);
    }
    assert_string_equal(r->log, "L#16384");
    assert_int_equal(f.tail_len, 0);
    tw_test_feed_free(&f);
    free(in);
    free(r);
}

/* ---- pausing --------------------------------------------------------------------------------- */

static void test_pause_and_resume(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    tw_test_feed f;
    tw_test_feed_init(&f, feed_line, &r->lr);
    const char *in = "a\r\nPAUSE\r\nb\r\nc\r\n";
    assert_int_equal(tw_test_feed_push(&f, in, strlen(in)), 10);
    assert_string_equal(r->log, "L(a)L(PAUSE)");
    assert_true(r->lr.paused);
    /* Paused: more input is kept, nothing delivered. */
    assert_int_equal(tw_test_feed_push(&f, "d\r\n", 3), 0);
    assert_int_equal(f.tail_len, 9);
    assert_string_equal(r->log, "L(a)L(PAUSE)");
    tw_line_receiver_resume_producing(&r->lr);
    assert_false(r->lr.paused);
    assert_int_equal(tw_test_feed_again(&f), 9);
    assert_string_equal(r->log, "L(a)L(PAUSE)L(b)L(c)L(d)");
    /* Pausing from outside a hook, and stop_producing without a transport. */
    tw_line_receiver_pause_producing(&r->lr);
    assert_int_equal(tw_test_feed_push(&f, "e\r\n", 3), 0);
    tw_line_receiver_resume_producing(&r->lr);
    tw_line_receiver_stop_producing(&r->lr);
    assert_true(r->lr.paused);
    assert_int_equal(tw_test_feed_again(&f), 0);
    tw_test_feed_free(&f);
    free(r);
}

static void test_send_without_transport(void **state)
{
    (void)state;
    rec *r = rec_new(&rec_ops);
    assert_int_equal(tw_line_receiver_send_line(&r->lr, "x", 1), -ENOTCONN);
    tw_protocol p = {.ops = NULL, .transport = NULL, .user = &r->lr};
    assert_int_equal(tw_line_receiver_protocol_data_received(&p, "x\r\n", 3), 3);
    assert_ptr_equal(r->lr.protocol, &p);
    assert_string_equal(r->log, "L(x)");
    assert_int_equal(tw_line_receiver_send_line(&r->lr, "x", 1), -ENOTCONN);
    free(r);
}

/* ---- on a connection (string transports: no socket needed) ----------------------------------- */

/* A line echo server: every line comes back with the delimiter. */
typedef struct {
    tw_line_receiver lr;
    int *lost;
} echo_conn;

static int echo_line(tw_line_receiver *lr, const char *line, size_t len)
{
    return tw_line_receiver_send_line(lr, line, len);
}

static const tw_line_receiver_ops echo_line_ops = {.line_received = echo_line};

static void echo_lost(tw_protocol *p, const tw_failure *reason)
{
    (void)reason;
    echo_conn *c = p->user;
    (*c->lost)++;
}

static void init_echo_conn(void *conn, void *lost)
{
    echo_conn *c = conn;
    tw_line_receiver_init(&c->lr, &echo_line_ops, c);
    c->lost = lost;
}

typedef struct {
    tw_test_clock_env env;
    tw_test_conn_factory conns;
    int lost;
} conn_fixture;

static int conn_setup(void **state)
{
    if (tw_test_clock_fixture_setup(state, sizeof(conn_fixture)) < 0)
        return -1;
    conn_fixture *cf = *state;
    tw_test_conn_factory_init(&cf->conns, sizeof(echo_conn), init_echo_conn,
                              tw_line_receiver_protocol_data_received, &cf->lost);
    cf->conns.protocol_ops.connection_lost = echo_lost;
    return 0;
}

static void test_echo_byte_at_a_time(void **state)
{
    conn_fixture *cf = *state;
    tw_string_transport *c = tw_test_conn_open(cf->env.r, &cf->conns);
    const char *msg = "hello\r\n\r\nworld, and more\r\n";
    assert_int_equal(tw_test_feed_bytewise(c, msg, strlen(msg)), strlen(msg));
    size_t len;
    const char *out = tw_string_transport_value(c, &len);
    assert_false(tw_test_conn_closed(c));
    assert_int_equal(len, strlen(msg));
    assert_memory_equal(out, msg, strlen(msg));
    tw_string_transport_free(c);
}

/* An over-long line drops that connection only; another connection keeps echoing. */
static void test_over_long_line_drops_only_that_connection(void **state)
{
    conn_fixture *cf = *state;
    tw_string_transport *good = tw_test_conn_open(cf->env.r, &cf->conns);
    tw_string_transport *bad = tw_test_conn_open(cf->env.r, &cf->conns);
    size_t n = TW_LINE_MAX_LENGTH_DEFAULT + 100;
    char *junk = malloc(n);
    memset(junk, 'z', n);
    assert_int_equal(tw_string_transport_data_received(bad, junk, n), 0);
    free(junk);
    assert_int_equal(cf->lost, 1);
    assert_true(tw_test_conn_closed(bad));
    size_t len;
    tw_string_transport_value(bad, &len);
    assert_int_equal(len, 0);
    assert_true(tw_test_log_contains(&cf->env.log, TW_LINE_LENGTH_EXCEEDED));
    assert_int_equal(tw_failure_code(tw_string_transport_reason(bad)), -EMSGSIZE);

    assert_int_equal(tw_string_transport_data_received(good, "still here\r\n", 12), 0);
    const char *out = tw_string_transport_value(good, &len);
    assert_false(tw_test_conn_closed(good));
    assert_int_equal(len, 12);
    assert_memory_equal(out, "still here\r\n", 12);
    assert_int_equal(cf->lost, 1);
    tw_string_transport_free(good);
    tw_string_transport_free(bad);
    assert_int_equal(cf->lost, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_coalesced_lines_and_partial_tail),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_raw_hook_taking_less),
        cmocka_unit_test(test_raw_hook_consuming_nothing_keeps_tail),
        cmocka_unit_test(test_raw_without_hook_discards),
        cmocka_unit_test(test_raw_hook_errors),
        cmocka_unit_test(test_line_hook_error_stops),
        cmocka_unit_test(test_no_line_hook_ignores_lines),
        cmocka_unit_test(test_custom_delimiters),
        cmocka_unit_test(test_bad_settings),
        cmocka_unit_test(test_exactly_max_length),
        cmocka_unit_test(test_over_max_length),
        cmocka_unit_test(test_over_max_length_default_drops),
        cmocka_unit_test(test_long_line_trickle_is_linear),
        cmocka_unit_test(test_pause_and_resume),
        cmocka_unit_test(test_send_without_transport),
        cmocka_unit_test_setup_teardown(test_echo_byte_at_a_time, conn_setup,
                                        tw_test_clock_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_over_long_line_drops_only_that_connection,
                                        conn_setup, tw_test_clock_fixture_teardown),
    };
    return cmocka_run_group_tests_name("line_receiver", tests, NULL, NULL);
}
