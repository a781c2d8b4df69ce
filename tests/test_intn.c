/* Tests for the 8/16/32-bit length-prefixed receivers: frames split at every point and byte by
 * byte for each prefix size, the length limit (default hook drops, custom hook keeps the frame),
 * send_string refusing strings too long for the prefix, pausing; then a round trip on a connection
 * (a string transport). */
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

#define LOG_MAX 4096
#define INPUT_MAX 256

/* Logs S(payload) per string and E#n for a length over the limit; "PAUSE" pauses, "FAIL" fails. */
typedef struct {
    tw_intn_string_receiver ir;
    char log[LOG_MAX];
    size_t log_len;
    int exceeded_result;
} rec;

static void log_printf(rec *r, const char *fmt, ...) TW_PRINTF(2, 3);
static void log_printf(rec *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->log + r->log_len, LOG_MAX - r->log_len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && r->log_len + (size_t)n < LOG_MAX);
    r->log_len += (size_t)n;
}

static int on_string(tw_intn_string_receiver *ir, const char *data, size_t len)
{
    rec *r = ir->user;
    log_printf(r, "S(%.*s)", (int)len, data);
    if (len == 5 && memcmp(data, "PAUSE", 5) == 0)
        tw_intn_string_receiver_pause_producing(ir);
    if (len == 4 && memcmp(data, "FAIL", 4) == 0)
        return -EPROTO;
    return 0;
}

static int on_exceeded(tw_intn_string_receiver *ir, size_t length)
{
    rec *r = ir->user;
    log_printf(r, "E#%zu", length);
    return r->exceeded_result;
}

static const tw_intn_string_receiver_ops rec_ops = {
    .string_received = on_string,
    .length_limit_exceeded = on_exceeded,
};
static const tw_intn_string_receiver_ops default_ops = {.string_received = on_string};

static rec *rec_new(unsigned prefix, const tw_intn_string_receiver_ops *ops)
{
    rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    assert_int_equal(tw_intn_string_receiver_init(&r->ir, prefix, ops, r), 0);
    return r;
}

static ssize_t feed_intn(void *receiver, const char *data, size_t len)
{
    return tw_intn_string_receiver_data_received(receiver, data, len);
}

/* Appends a frame with a prefix of the given size to buf at *len. */
static void put_frame(char *buf, size_t *len, unsigned prefix, const char *payload)
{
    size_t n = strlen(payload);
    for (unsigned i = 0; i < prefix; i++)
        buf[(*len)++] = (char)(n >> (8 * (prefix - 1 - i)));
    memcpy(buf + *len, payload, n);
    *len += n;
}

static size_t build_input(char *buf, unsigned prefix)
{
    size_t len = 0;
    put_frame(buf, &len, prefix, "abc");
    put_frame(buf, &len, prefix, "");
    put_frame(buf, &len, prefix, "hello world");
    put_frame(buf, &len, prefix, "\n\r\0x"); /* payload bytes are opaque */
    put_frame(buf, &len, prefix, "partial");
    return len - 2; /* the last frame arrives incomplete */
}

static void test_init(void **state)
{
    (void)state;
    tw_intn_string_receiver r;
    assert_int_equal(tw_intn_string_receiver_init(&r, 0, NULL, NULL), -EINVAL);
    assert_int_equal(tw_intn_string_receiver_init(&r, 3, NULL, NULL), -EINVAL);
    assert_int_equal(tw_intn_string_receiver_init(&r, 8, NULL, NULL), -EINVAL);
    assert_int_equal(tw_intn_string_receiver_init(&r, 2, NULL, NULL), 0);
    assert_int_equal(r.prefix_length, 2);
    assert_int_equal(r.max_length, TW_INTN_MAX_LENGTH_DEFAULT);
    assert_int_equal(r.max_length, 99999);
    assert_int_equal(tw_intn_string_receiver_set_max_length(&r, 0), -EINVAL);
    assert_int_equal(tw_intn_string_receiver_set_max_length(&r, SIZE_MAX), -EINVAL);
    assert_int_equal(tw_intn_string_receiver_set_max_length(&r, 5), 0);
    assert_int_equal(r.max_length, 5);
    /* No hooks: strings are consumed and ignored. */
    assert_int_equal(tw_intn_string_receiver_data_received(&r, "\0\1a\0\1", 5), 3);
}

static void check_splits(unsigned prefix)
{
    char in[INPUT_MAX];
    size_t len = build_input(in, prefix);
    for (size_t i = 0; i <= len; i++)
        for (size_t j = i; j <= len; j++) {
            rec *r = rec_new(prefix, &rec_ops);
            tw_test_feed f;
            tw_test_feed_init(&f, feed_intn, &r->ir);
            assert_true(tw_test_feed_push(&f, in, i) >= 0);
            assert_true(tw_test_feed_push(&f, in + i, j - i) >= 0);
            assert_true(tw_test_feed_push(&f, in + j, len - j) >= 0);
            assert_int_equal(r->log_len, strlen("S(abc)S()S(hello world)S(\n\r)"));
            assert_memory_equal(r->log, "S(abc)S()S(hello world)S(\n\r)", r->log_len);
            assert_int_equal(f.tail_len, prefix + 5);
            tw_test_feed_free(&f);
            free(r);
        }
    rec *r = rec_new(prefix, &rec_ops);
    tw_test_feed f;
    tw_test_feed_init(&f, feed_intn, &r->ir);
    for (size_t i = 0; i < len; i++)
        assert_true(tw_test_feed_push(&f, in + i, 1) >= 0);
    assert_memory_equal(r->log, "S(abc)S()S(hello world)S(\n\r)", r->log_len);
    tw_test_feed_free(&f);
    free(r);
}

static void test_every_split_int8(void **state)
{
    (void)state;
    check_splits(1);
}

static void test_every_split_int16(void **state)
{
    (void)state;
    check_splits(2);
}

static void test_every_split_int32(void **state)
{
    (void)state;
    check_splits(4);
}

static void test_length_limit(void **state)
{
    (void)state;
    /* Default: a length over max_length drops the connection before any payload is awaited. */
    rec *r = rec_new(4, &default_ops);
    assert_int_equal(tw_intn_string_receiver_data_received(&r->ir, "\0\0\0\1a\0\1\x86\xa0", 9),
                     -EMSGSIZE);
    assert_string_equal(r->log, "S(a)");
    /* Exactly max_length is accepted: 99999 = 0x01869f. */
    char *big = calloc(1, 4 + 99999);
    memcpy(big, "\0\1\x86\x9f", 4);
    assert_int_equal(tw_intn_string_receiver_data_received(&r->ir, big, 4 + 99999), 4 + 99999);
    free(big);
    free(r);

    /* A custom hook that returns 0 stops without consuming that frame, as Twisted. */
    r = rec_new(2, &rec_ops);
    assert_int_equal(tw_intn_string_receiver_set_max_length(&r->ir, 3), 0);
    assert_int_equal(tw_intn_string_receiver_data_received(&r->ir, "\0\3abc\0\4abcd", 11), 5);
    assert_string_equal(r->log, "S(abc)E#4");
    r->exceeded_result = -ECONNRESET;
    assert_int_equal(tw_intn_string_receiver_data_received(&r->ir, "\0\4abcd", 6), -ECONNRESET);
    free(r);
}

static void test_hook_error_and_pause(void **state)
{
    (void)state;
    rec *r = rec_new(1, &rec_ops);
    assert_int_equal(tw_intn_string_receiver_data_received(&r->ir, "\1a\4FAIL\1b", 9), -EPROTO);
    assert_string_equal(r->log, "S(a)S(FAIL)");
    free(r);

    r = rec_new(1, &rec_ops);
    tw_test_feed f;
    tw_test_feed_init(&f, feed_intn, &r->ir);
    assert_int_equal(tw_test_feed_push(&f, "\1a\5PAUSE\1b", 10), 8);
    assert_int_equal(tw_test_feed_push(&f, "\1c", 2), 0);
    assert_string_equal(r->log, "S(a)S(PAUSE)");
    tw_intn_string_receiver_resume_producing(&r->ir);
    assert_int_equal(tw_test_feed_again(&f), 4);
    assert_string_equal(r->log, "S(a)S(PAUSE)S(b)S(c)");
    /* stop_producing without a transport: paused for good */
    tw_intn_string_receiver_stop_producing(&r->ir);
    assert_true(r->ir.paused);
    assert_int_equal(tw_test_feed_push(&f, "\1d", 2), 0);
    assert_string_equal(r->log, "S(a)S(PAUSE)S(b)S(c)");
    tw_test_feed_free(&f);
    free(r);
}

static void test_send_string_limits(void **state)
{
    (void)state;
    rec *r = rec_new(1, &rec_ops);
    static char big[65536];
    /* Too long for the prefix: refused before anything else is checked. */
    assert_int_equal(tw_intn_string_receiver_send_string(&r->ir, big, 256), -EMSGSIZE);
    assert_int_equal(tw_intn_string_receiver_send_string(&r->ir, big, 255), -ENOTCONN);
    free(r);
    r = rec_new(2, &rec_ops);
    assert_int_equal(tw_intn_string_receiver_send_string(&r->ir, big, 65536), -EMSGSIZE);
    assert_int_equal(tw_intn_string_receiver_send_string(&r->ir, big, 65535), -ENOTCONN);
    free(r);
    r = rec_new(4, &rec_ops);
    assert_int_equal(tw_intn_string_receiver_send_string(&r->ir, big, (size_t)1 << 32), -EMSGSIZE);
    assert_int_equal(tw_intn_string_receiver_send_string(&r->ir, big, 10), -ENOTCONN);
    tw_protocol p = {.user = &r->ir};
    assert_int_equal(tw_intn_string_receiver_protocol_data_received(&p, "\0\0\0\1x", 5), 5);
    assert_ptr_equal(r->ir.protocol, &p);
    free(r);
}

/* ---- on a connection (a string transport): Int32 echo ---------------------------------------- */

/* Echoes every string; after echoing "STOP" it stops producing. */
static int echo_string(tw_intn_string_receiver *ir, const char *data, size_t len)
{
    int rc = tw_intn_string_receiver_send_string(ir, data, len);
    if (rc == 0 && len == 4 && memcmp(data, "STOP", 4) == 0)
        tw_intn_string_receiver_stop_producing(ir);
    return rc;
}

static const tw_intn_string_receiver_ops echo_ops = {.string_received = echo_string};

static void init_echo_conn(void *conn, void *user)
{
    (void)user;
    tw_intn_string_receiver_init(conn, 4, &echo_ops, NULL);
}

static void test_int32_echo_on_a_connection(void **state)
{
    tw_test_clock_env *env = *state;
    tw_test_conn_factory conns;
    tw_test_conn_factory_init(&conns, sizeof(tw_intn_string_receiver), init_echo_conn,
                              tw_intn_string_receiver_protocol_data_received, NULL);
    tw_string_transport *c = tw_test_conn_open(env->r, &conns);
    char in[INPUT_MAX];
    size_t len = build_input(in, 4) + 2; /* every frame complete */
    assert_int_equal(tw_test_feed_bytewise(c, in, len), len);
    size_t out_len;
    const char *out = tw_string_transport_value(c, &out_len);
    assert_false(tw_test_conn_closed(c));
    assert_int_equal(out_len, len);
    assert_memory_equal(out, in, len);
    /* A frame announcing 1 MiB, over the 99999 limit: dropped at once, with the reason logged. */
    tw_string_transport_clear(c);
    assert_int_equal(tw_string_transport_data_received(c, "\0\x10\0\0", 4), 0);
    assert_true(tw_test_conn_closed(c));
    tw_string_transport_value(c, &out_len);
    assert_int_equal(out_len, 0);
    assert_true(tw_test_log_contains(&env->log, TW_STRING_TOO_LONG_ERROR));
    tw_string_transport_free(c);
}

/* stop_producing from a hook: later frames of the same chunk are not delivered, what was written is
 * sent, then the connection is lost. */
static void test_stop_producing_on_a_connection(void **state)
{
    tw_test_clock_env *env = *state;
    tw_test_conn_factory conns;
    tw_test_conn_factory_init(&conns, sizeof(tw_intn_string_receiver), init_echo_conn,
                              tw_intn_string_receiver_protocol_data_received, NULL);
    tw_string_transport *c = tw_test_conn_open(env->r, &conns);
    static const char in[] = "\0\0\0\1a\0\0\0\4STOP\0\0\0\1b";
    assert_int_equal(tw_string_transport_data_received(c, in, sizeof in - 1), 0);
    assert_true(tw_test_conn_closed(c));
    size_t len;
    const char *out = tw_string_transport_value(c, &len);
    assert_int_equal(len, 13);
    assert_memory_equal(out, in, 13);
    tw_string_transport_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_every_split_int8),
        cmocka_unit_test(test_every_split_int16),
        cmocka_unit_test(test_every_split_int32),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_hook_error_and_pause),
        cmocka_unit_test(test_send_string_limits),
        cmocka_unit_test_setup_teardown(test_int32_echo_on_a_connection,
                                        tw_test_clock_fixture_setup_default,
                                        tw_test_clock_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stop_producing_on_a_connection,
                                        tw_test_clock_fixture_setup_default,
                                        tw_test_clock_fixture_teardown),
    };
    return cmocka_run_group_tests_name("intn", tests, NULL, NULL);
}
