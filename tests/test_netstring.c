/* Tests for the netstring receiver: frames split at every point and byte by byte, coalesced
 * frames, empty strings, every kind of malformed input (leading zero, non-digit, missing ':' or
 * ',', length over the limit) and pausing; then netstrings on a connection (a string transport). */
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

#define LOG_MAX 120000

/* Logs S(payload) per string; a payload "PAUSE" pauses, "FAIL" fails. */
typedef struct {
    tw_netstring_receiver ns;
    char log[LOG_MAX];
    size_t log_len;
} rec;

static int on_string(tw_netstring_receiver *ns, const char *data, size_t len)
{
    rec *r = ns->user;
    assert_true(r->log_len + len + 3 < LOG_MAX);
    r->log_len += (size_t)snprintf(r->log + r->log_len, LOG_MAX - r->log_len, "S(%.*s)", (int)len,
                                   data);
    if (len == 5 && memcmp(data, "PAUSE", 5) == 0)
        tw_netstring_receiver_pause_producing(ns);
    if (len == 4 && memcmp(data, "FAIL", 4) == 0)
        return -EPROTO;
    return 0;
}

static const tw_netstring_receiver_ops rec_ops = {.string_received = on_string};

static rec *rec_new(void)
{
    rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    tw_netstring_receiver_init(&r->ns, &rec_ops, r);
    return r;
}

static ssize_t feed_ns(void *receiver, const char *data, size_t len)
{
    return tw_netstring_receiver_data_received(receiver, data, len);
}

static ssize_t feed_chunks(tw_test_feed *f, const char *in, size_t len, const size_t *cuts, int n)
{
    size_t from = 0;
    ssize_t rc = 0;
    for (int i = 0; i <= n && rc >= 0; i++) {
        size_t to = i < n ? cuts[i] : len;
        rc = tw_test_feed_push(f, in + from, to - from);
        from = to;
    }
    return rc;
}

static void test_defaults(void **state)
{
    (void)state;
    rec *r = rec_new();
    assert_int_equal(r->ns.max_length, 99999);
    assert_int_equal(r->ns.max_length, TW_NETSTRING_MAX_LENGTH_DEFAULT);
    assert_false(r->ns.paused);
    assert_false(r->ns.broken_peer);
    free(r);
}

static void test_coalesced_and_partial(void **state)
{
    (void)state;
    rec *r = rec_new();
    const char *in = "5:hello,0:,3:a,b,12:hello";
    assert_int_equal(tw_netstring_receiver_data_received(&r->ns, in, strlen(in)), 17);
    assert_string_equal(r->log, "S(hello)S()S(a,b)");
    assert_int_equal(tw_netstring_receiver_data_received(&r->ns, "12:hello", 8), 0);
    assert_int_equal(tw_netstring_receiver_data_received(&r->ns, "1", 1), 0);
    assert_int_equal(tw_netstring_receiver_data_received(&r->ns, "", 0), 0);
    free(r);
}

static const char split_input[] = "3:abc,0:,11:hello world,1::,10:0123456789,4:ta";
static const char split_expected[] = "S(abc)S()S(hello world)S(:)S(0123456789)";

static void check_split(const size_t *cuts, int n)
{
    rec *r = rec_new();
    tw_test_feed f;
    tw_test_feed_init(&f, feed_ns, &r->ns);
    assert_true(feed_chunks(&f, split_input, sizeof split_input - 1, cuts, n) >= 0);
    assert_string_equal(r->log, split_expected);
    assert_int_equal(f.tail_len, 4);
    assert_memory_equal(f.tail, "4:ta", 4);
    tw_test_feed_free(&f);
    free(r);
}

static void test_every_split_point(void **state)
{
    (void)state;
    size_t len = sizeof split_input - 1;
    for (size_t i = 0; i <= len; i++)
        for (size_t j = i; j <= len; j++) {
            size_t cuts[2] = {i, j};
            check_split(cuts, 2);
        }
    size_t bytes[64];
    for (size_t i = 0; i + 1 < len; i++)
        bytes[i] = i + 1;
    check_split(bytes, (int)len - 1);
}

/* Input that is not a netstring is refused as soon as it is seen, whatever the split. */
static void check_malformed(const char *in, ssize_t code, const char *delivered)
{
    size_t len = strlen(in);
    for (size_t cut = 0; cut <= len; cut++) {
        rec *r = rec_new();
        tw_test_feed f;
        tw_test_feed_init(&f, feed_ns, &r->ns);
        ssize_t rc = feed_chunks(&f, in, len, &cut, 1);
        if (rc != code)
            fail_msg("input \"%s\" cut at %zu: got %zd, want %zd", in, cut, rc, code);
        assert_true(r->ns.broken_peer);
        assert_string_equal(r->log, delivered);
        /* A broken peer's later bytes are ignored. */
        assert_int_equal(tw_netstring_receiver_data_received(&r->ns, "1:x,", 4), 4);
        assert_string_equal(r->log, delivered);
        tw_test_feed_free(&f);
        free(r);
    }
}

static void test_malformed(void **state)
{
    (void)state;
    check_malformed("1:a,01:a,", TW_EPARSE, "S(a)");     /* leading zero */
    check_malformed("00:,", TW_EPARSE, "");              /* leading zero, even for 0 */
    check_malformed(":a,", TW_EPARSE, "");               /* empty length */
    check_malformed("x:a,", TW_EPARSE, "");              /* not a number */
    check_malformed("1x:a,", TW_EPARSE, "");             /* not a number */
    check_malformed("-1:a,", TW_EPARSE, "");             /* not a number */
    check_malformed("1:ab", TW_EPARSE, "");              /* missing comma */
    check_malformed("2:ab;", TW_EPARSE, "");             /* wrong terminator */
    check_malformed("100000:", -EMSGSIZE, "");           /* over 99999 */
    check_malformed("9999999999999999999999999", -EMSGSIZE, ""); /* too many digits */
}

static void test_max_length(void **state)
{
    (void)state;
    rec *r = rec_new();
    assert_int_equal(tw_netstring_receiver_set_max_length(&r->ns, 0), -EINVAL);
    assert_int_equal(tw_netstring_receiver_set_max_length(&r->ns, SIZE_MAX), -EINVAL);
    assert_int_equal(tw_netstring_receiver_set_max_length(&r->ns, TW_TRANSPORT_UNCONSUMED_MAX),
                     -EINVAL);
    assert_int_equal(tw_netstring_receiver_set_max_length(&r->ns, 3), 0);
    assert_int_equal(tw_netstring_receiver_data_received(&r->ns, "3:abc,", 6), 6);
    assert_int_equal(tw_netstring_receiver_data_received(&r->ns, "4:", 2), -EMSGSIZE);
    assert_string_equal(r->log, "S(abc)");
    free(r);

    /* The default limit: exactly 99999 is accepted. */
    r = rec_new();
    size_t n = 99999;
    char *in = malloc(n + 8);
    int h = snprintf(in, 8, "%zu:", n);
    memset(in + h, 'q', n);
    in[(size_t)h + n] = ',';
    assert_int_equal(tw_netstring_receiver_data_received(&r->ns, in, (size_t)h + n + 1),
                     (ssize_t)((size_t)h + n + 1));
    assert_int_equal(r->log_len, n + 3);
    free(in);
    free(r);
}

static void test_hook_error(void **state)
{
    (void)state;
    rec *r = rec_new();
    assert_int_equal(tw_netstring_receiver_data_received(&r->ns, "1:a,4:FAIL,1:b,", 15), -EPROTO);
    assert_string_equal(r->log, "S(a)S(FAIL)");
    assert_false(r->ns.broken_peer);
    tw_netstring_receiver ns;
    tw_netstring_receiver_init(&ns, NULL, NULL);
    assert_int_equal(tw_netstring_receiver_data_received(&ns, "1:a,1:b", 7), 4);
    free(r);
}

static void test_pause_and_resume(void **state)
{
    (void)state;
    rec *r = rec_new();
    tw_test_feed f;
    tw_test_feed_init(&f, feed_ns, &r->ns);
    assert_int_equal(tw_test_feed_push(&f, "1:a,5:PAUSE,1:b,", 16), 12);
    assert_true(r->ns.paused);
    assert_int_equal(tw_test_feed_push(&f, "1:c,", 4), 0);
    assert_string_equal(r->log, "S(a)S(PAUSE)");
    tw_netstring_receiver_resume_producing(&r->ns);
    assert_int_equal(tw_test_feed_again(&f), 8);
    assert_string_equal(r->log, "S(a)S(PAUSE)S(b)S(c)");
    /* stop_producing without a transport: paused for good */
    tw_netstring_receiver_stop_producing(&r->ns);
    assert_true(r->ns.paused);
    assert_int_equal(tw_test_feed_push(&f, "1:d,", 4), 0);
    assert_string_equal(r->log, "S(a)S(PAUSE)S(b)S(c)");
    tw_test_feed_free(&f);
    free(r);
}

static void test_send_without_transport(void **state)
{
    (void)state;
    rec *r = rec_new();
    assert_int_equal(tw_netstring_receiver_send_string(&r->ns, "x", 1), -ENOTCONN);
    tw_protocol p = {.user = &r->ns};
    assert_int_equal(tw_netstring_receiver_protocol_data_received(&p, "1:x,", 4), 4);
    assert_ptr_equal(r->ns.protocol, &p);
    free(r);
}

/* ---- on a connection (a string transport): the server answers each netstring reversed -------- */

static int reverse_string(tw_netstring_receiver *ns, const char *data, size_t len)
{
    char out[256];
    assert_true(len <= sizeof out);
    for (size_t i = 0; i < len; i++)
        out[i] = data[len - 1 - i];
    int rc = tw_netstring_receiver_send_string(ns, out, len);
    if (rc == 0 && len == 4 && memcmp(data, "STOP", 4) == 0)
        tw_netstring_receiver_stop_producing(ns);
    return rc;
}

static const tw_netstring_receiver_ops reverse_ops = {.string_received = reverse_string};

static void init_reverse_conn(void *conn, void *user)
{
    (void)user;
    tw_netstring_receiver_init(conn, &reverse_ops, conn);
}

static void test_netstrings_on_a_connection(void **state)
{
    tw_test_clock_env *env = *state;
    tw_test_conn_factory conns;
    tw_test_conn_factory_init(&conns, sizeof(tw_netstring_receiver), init_reverse_conn,
                              tw_netstring_receiver_protocol_data_received, NULL);
    tw_string_transport *c = tw_test_conn_open(env->r, &conns);

    const char *msg = "5:hello,0:,3:abc,";
    assert_int_equal(tw_test_feed_bytewise(c, msg, strlen(msg)), strlen(msg));
    size_t len;
    const char *out = tw_string_transport_value(c, &len);
    assert_false(tw_test_conn_closed(c));
    assert_int_equal(len, strlen(msg));
    assert_memory_equal(out, "5:olleh,0:,3:cba,", len);

    /* Garbage: the server drops the connection and says why. */
    assert_int_equal(tw_string_transport_data_received(c, "01:x,", 5), 0);
    assert_true(tw_test_conn_closed(c));
    assert_true(tw_test_log_contains(&env->log, TW_NETSTRING_PARSE_ERROR));
    tw_string_transport_free(c);
}

/* stop_producing from a hook: later netstrings of the same chunk are not answered, what was written
 * is sent, then the connection is lost. */
static void test_stop_producing_on_a_connection(void **state)
{
    tw_test_clock_env *env = *state;
    tw_test_conn_factory conns;
    tw_test_conn_factory_init(&conns, sizeof(tw_netstring_receiver), init_reverse_conn,
                              tw_netstring_receiver_protocol_data_received, NULL);
    tw_string_transport *c = tw_test_conn_open(env->r, &conns);
    const char *msg = "2:ab,4:STOP,2:cd,";
    assert_int_equal(tw_string_transport_data_received(c, msg, strlen(msg)), 0);
    assert_true(tw_test_conn_closed(c));
    assert_string_equal(tw_failure_type(tw_string_transport_reason(c)), TW_CONNECTION_DONE);
    size_t len;
    const char *out = tw_string_transport_value(c, &len);
    assert_int_equal(len, 12);
    assert_memory_equal(out, "2:ba,4:POTS,", 12);
    tw_string_transport_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_coalesced_and_partial),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_max_length),
        cmocka_unit_test(test_hook_error),
        cmocka_unit_test(test_pause_and_resume),
        cmocka_unit_test(test_send_without_transport),
        cmocka_unit_test_setup_teardown(test_netstrings_on_a_connection,
                                        tw_test_clock_fixture_setup_default,
                                        tw_test_clock_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stop_producing_on_a_connection,
                                        tw_test_clock_fixture_setup_default,
                                        tw_test_clock_fixture_teardown),
    };
    return cmocka_run_group_tests_name("netstring", tests, NULL, NULL);
}
