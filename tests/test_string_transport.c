/* Tests for the string transport (testing.h, Twisted's StringTransport): building and connecting a
 * protocol, recording writes, the consumed-bytes rule and held tails, closes from inside and
 * outside the protocol's callbacks with the socket transport's reasons and timing, producers,
 * pausing, half-close, peer errors, addresses and options, the reactor's shutdown; and every error
 * return. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <twine/twine.h>
#include <twine/testing.h>

#include "support/clock_env.h"
#include "support/net.h"
#include "transport/net.h" /* the per-connection bound on what is held, lowered for one test */

typedef struct {
    tw_test_clock_env env;
    tw_test_factory f;
    tw_string_transport *st;
} fixture;

static int setup(void **state)
{
    if (tw_test_clock_fixture_setup(state, sizeof(fixture)) < 0)
        return -1;
    fixture *fx = *state;
    tw_test_factory_init(&fx->f);
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tw_string_transport_free(fx->st);
    assert_int_equal(tw_transport_count(fx->env.r), 0);
    tw_test_factory_free(&fx->f);
    return tw_test_clock_fixture_teardown(state);
}

/* Connects a protocol of fx->f (its template as configured) and returns its recorded peer. */
static tw_test_peer *connect_peer(fixture *fx)
{
    int err = 0;
    fx->st = tw_string_transport_new(fx->env.r, &fx->f.factory, NULL, &err);
    assert_non_null(fx->st);
    assert_int_equal(err, 0);
    return tw_test_factory_last(&fx->f);
}

static tw_transport *tr(fixture *fx)
{
    return tw_string_transport_transport(fx->st);
}

/* Runs the later turn on which closes and resumes asked from outside a callback complete. */
static void later_turn(fixture *fx)
{
    assert_true(tw_clock_advance(fx->env.clock, 0) >= 0);
}

static void assert_value(fixture *fx, const char *want)
{
    size_t len = 99;
    const char *v = tw_string_transport_value(fx->st, &len);
    assert_int_equal(len, strlen(want));
    assert_string_equal(v, want);
}

static bool has(fixture *fx, unsigned bit)
{
    return tw_string_transport_state(fx->st) & bit;
}

/* ---- creation -------------------------------------------------------------------------------- */

static void test_connects_like_an_accepted_socket(void **state)
{
    fixture *fx = *state;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(p->made, 1);
    assert_ptr_equal(p->transport, tr(fx));
    assert_ptr_equal(tw_string_transport_protocol(fx->st), tw_transport_protocol(tr(fx)));
    assert_ptr_equal(tw_transport_protocol(tr(fx))->factory, &fx->f.factory);
    assert_ptr_equal(tw_transport_reactor(tr(fx)), fx->env.r);
    assert_int_equal(tw_transport_fd(tr(fx)), -EBADF);
    assert_int_equal(tw_transport_count(fx->env.r), 1);
    assert_int_equal(fx->f.started, 0); /* not a port: the factory is not started */
    /* build_protocol was told the peer; both addresses are Twisted's defaults */
    assert_int_equal(p->peer_addr.type, TW_ADDRESS_TCP4);
    assert_string_equal(p->peer_addr.host, TW_STRING_TRANSPORT_PEER);
    tw_address a;
    assert_int_equal(tw_transport_get_host(tr(fx), &a), 0);
    assert_string_equal(a.host, "10.0.0.1");
    assert_int_equal(a.port, 12345);
    assert_int_equal(tw_transport_get_peer(tr(fx), &a), 0);
    assert_string_equal(a.host, "192.168.1.1");
    assert_int_equal(a.port, 54321);
    assert_int_equal(tw_transport_get_peer(tr(fx), NULL), -EINVAL);
    assert_int_equal(tw_string_transport_state(fx->st), TW_STRING_TCP_NODELAY);
    assert_null(tw_string_transport_reason(fx->st));
    assert_false(tw_transport_disconnecting(tr(fx)));
}

static void test_new_errors(void **state)
{
    fixture *fx = *state;
    int err = 0;
    assert_null(tw_string_transport_new(NULL, &fx->f.factory, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_string_transport_new(fx->env.r, NULL, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_string_transport_new_protocol(fx->env.r, NULL, NULL, &err));
    assert_int_equal(err, -EINVAL);
    fx->f.refuse = -EPERM;
    assert_null(tw_string_transport_new(fx->env.r, &fx->f.factory, NULL, &err));
    assert_int_equal(err, -EPERM);
    tw_factory none = {0};
    assert_null(tw_string_transport_new(fx->env.r, &none, NULL, NULL)); /* err may be NULL */
    err = 0;
    assert_null(tw_string_transport_new(fx->env.r, &none, NULL, &err));
    assert_int_equal(err, -ECONNREFUSED);
    assert_int_equal(tw_transport_count(fx->env.r), 0);
    /* NULL where a transport is needed: twine's NULL rule */
    size_t len = 7;
    assert_null(tw_string_transport_value(NULL, &len));
    assert_int_equal(len, 0);
    assert_int_equal(tw_string_transport_state(NULL), 0);
    assert_false(tw_string_transport_producer(NULL, NULL));
    assert_int_equal(tw_string_transport_data_received(NULL, "x", 1), -EINVAL);
    assert_int_equal(tw_string_transport_receive_eof(NULL), -EINVAL);
    assert_int_equal(tw_string_transport_fail(NULL, -EIO), -EINVAL);
    tw_string_transport_clear(NULL);
    tw_string_transport_free(NULL);
}

static int failing_made(tw_protocol *p)
{
    (void)p;
    return -EPROTO;
}

static int lost_code;
static void record_lost(tw_protocol *p, const tw_failure *reason)
{
    (void)p;
    lost_code = tw_failure_code(reason);
}

/* A connection_made that fails closes the transport with its error, as on a socket. */
static void test_connection_made_error_closes(void **state)
{
    fixture *fx = *state;
    static const tw_protocol_ops ops = {.connection_made = failing_made,
                                        .connection_lost = record_lost};
    tw_protocol proto = {.ops = &ops};
    lost_code = 0;
    fx->st = tw_string_transport_new_protocol(fx->env.r, &proto, NULL, NULL);
    assert_non_null(fx->st);
    assert_true(has(fx, TW_STRING_CLOSED));
    assert_int_equal(lost_code, -EPROTO);
    assert_int_equal(tw_failure_code(tw_string_transport_reason(fx->st)), -EPROTO);
    assert_null(tw_transport_protocol(tr(fx))->factory);
    assert_true(tw_test_log_contains(&fx->env.log, "connection_made failed"));
    assert_int_equal(tw_transport_count(fx->env.r), 0);
}

/* ---- writing --------------------------------------------------------------------------------- */

static int released;
static void release(void *arg)
{
    (void)arg;
    released++;
}

static void test_writes_are_recorded(void **state)
{
    fixture *fx = *state;
    fx->f.template.send_on_made = "hi ";
    fx->f.template.send_on_made_len = 3;
    connect_peer(fx);
    assert_value(fx, "hi ");
    struct iovec iov[2] = {{.iov_base = "a", .iov_len = 1}, {.iov_base = "bc", .iov_len = 2}};
    assert_int_equal(tw_transport_write_sequence(tr(fx), iov, 2), 0);
    released = 0;
    assert_int_equal(tw_transport_write_lent(tr(fx), "lent", 4, release, NULL), 0);
    assert_int_equal(released, 1);
    assert_int_equal(tw_transport_write(tr(fx), "", 0), 0);
    assert_value(fx, "hi abclent");
    assert_int_equal(tw_transport_write_buffer_size(tr(fx)), 0);
    tw_string_transport_clear(fx->st);
    assert_value(fx, "");
    /* big writes grow the record */
    char big[5000];
    memset(big, 'z', sizeof big);
    assert_int_equal(tw_transport_write(tr(fx), big, sizeof big), 0);
    size_t len;
    assert_memory_equal(tw_string_transport_value(fx->st, &len), big, sizeof big);
    assert_int_equal(len, sizeof big);
    /* bad arguments, as on a socket; release does not run on an error */
    assert_int_equal(tw_transport_write(tr(fx), NULL, 1), -EINVAL);
    assert_int_equal(tw_transport_write_sequence(tr(fx), NULL, 1), -EINVAL);
    assert_int_equal(tw_transport_write_lent(tr(fx), NULL, 1, release, NULL), -EINVAL);
    assert_int_equal(released, 1);
    /* water marks are accepted (and checked) but nothing ever waits */
    assert_int_equal(tw_transport_set_water_marks(tr(fx), 10, 20), -EINVAL);
    assert_int_equal(tw_transport_set_water_marks(tr(fx), 1, 0), 0);
    tw_transport_set_pause_reading_when_full(tr(fx), true);
    assert_int_equal(tw_transport_write(tr(fx), "more", 4), 0);
    assert_false(has(fx, TW_STRING_PAUSED));
}

/* ---- reading --------------------------------------------------------------------------------- */

/* What the protocol leaves unconsumed is presented again in front of the next bytes. */
static void test_unconsumed_tail_presented_again(void **state)
{
    fixture *fx = *state;
    fx->f.template.consume_min = 5;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(tw_string_transport_data_received(fx->st, "abc", 3), 0);
    assert_int_equal(p->calls, 1);
    assert_int_equal(p->len, 0);
    assert_int_equal(tw_string_transport_data_received(fx->st, "de", 2), 0);
    assert_int_equal(p->calls, 2);
    assert_int_equal(p->last_presented, 5);
    assert_memory_equal(p->data, "abcde", 5);
    /* consuming part of it: the rest comes back first */
    p->consume_min = 0;
    p->consume_at_most = 2;
    assert_int_equal(tw_string_transport_data_received(fx->st, "fgh", 3), 0);
    assert_int_equal(p->last_presented, 3);
    assert_int_equal(tw_string_transport_data_received(fx->st, "i", 1), 0);
    assert_int_equal(p->last_presented, 2); /* "h" kept, then "i" */
    assert_memory_equal(p->data, "abcdefghi", 9);
    assert_int_equal(tw_string_transport_data_received(fx->st, "", 0), 0);
    assert_int_equal(tw_string_transport_data_received(fx->st, NULL, 1), -EINVAL);
}

static void test_data_received_error_closes(void **state)
{
    fixture *fx = *state;
    fx->f.template.data_error = -EPROTO;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(tw_string_transport_data_received(fx->st, "x", 1), 0);
    assert_int_equal(p->lost, 1);
    assert_false(p->lost_inside_data);
    assert_int_equal(p->destroyed, 1);
    assert_int_equal(p->reason_code, -EPROTO);
    assert_true(has(fx, TW_STRING_CLOSED));
    assert_true(tw_test_log_contains(&fx->env.log, "data_received failed"));
    assert_int_equal(tw_transport_count(fx->env.r), 0);
    /* closed: the peer can send nothing more, and nothing can be written */
    assert_int_equal(tw_string_transport_data_received(fx->st, "y", 1), -ENOTCONN);
    assert_int_equal(tw_string_transport_receive_eof(fx->st), -ENOTCONN);
    assert_int_equal(tw_string_transport_fail(fx->st, -EIO), -ENOTCONN);
    assert_int_equal(tw_transport_write(tr(fx), "z", 1), -ENOTCONN);
    tw_address a;
    assert_int_equal(tw_transport_get_host(tr(fx), &a), -ENOTCONN);
    assert_int_equal(tw_transport_set_tcp_nodelay(tr(fx), false), -ENOTCONN);
    assert_ptr_equal(tw_transport_reactor(tr(fx)), fx->env.r);
}

/* More than the per-connection bound left unconsumed: ValueError, as on a socket. */
static void test_unconsumed_bound(void **state)
{
    fixture *fx = *state;
    fx->f.template.consume_min = 1000;
    tw_test_peer *p = connect_peer(fx);
    tw__net_find(fx->env.r)->tails.max = 8;
    assert_int_equal(tw_string_transport_data_received(fx->st, "12345678", 8), 0);
    assert_int_equal(p->lost, 0);
    assert_int_equal(tw_string_transport_data_received(fx->st, "9", 1), 0);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_VALUE_ERROR);
    assert_int_equal(p->reason_code, -EMSGSIZE);
}

static int feed_self_rc;
static void feed_self(tw_test_peer *p, const char *data, size_t len)
{
    (void)data;
    (void)len;
    fixture *fx = p->user;
    feed_self_rc = tw_string_transport_data_received(fx->st, "again", 5);
}

/* The peer's bytes come from the test, never from inside the protocol's own callback. */
static void test_feeding_from_a_callback_is_refused(void **state)
{
    fixture *fx = *state;
    feed_self_rc = 0;
    fx->f.template.on_data = feed_self;
    fx->f.template.user = fx;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(tw_string_transport_data_received(fx->st, "x", 1), 0);
    assert_int_equal(feed_self_rc, -EBUSY);
    assert_int_equal(p->len, 1);
}

/* ---- closing --------------------------------------------------------------------------------- */

static void lose_from_data(tw_test_peer *p, const char *data, size_t len)
{
    (void)data;
    (void)len;
    tw_transport_write(p->transport, "bye", 3);
    tw_transport_lose_connection(p->transport);
    tw_transport_write(p->transport, "!", 1); /* still sent, as Twisted */
}

/* lose_connection inside data_received: closed when the callback returns, ConnectionDone. */
static void test_lose_connection_inside_a_callback(void **state)
{
    fixture *fx = *state;
    fx->f.template.on_data = lose_from_data;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(tw_string_transport_data_received(fx->st, "x", 1), 0);
    assert_int_equal(p->lost, 1);
    assert_false(p->lost_inside_data);
    assert_string_equal(p->reason_type, TW_CONNECTION_DONE);
    assert_int_equal(p->destroyed, 1);
    assert_value(fx, "bye!");
    assert_true(has(fx, TW_STRING_LOSE_CONNECTION | TW_STRING_CLOSED));
    assert_false(has(fx, TW_STRING_ABORT_CONNECTION));
    assert_string_equal(tw_failure_type(tw_string_transport_reason(fx->st)), TW_CONNECTION_DONE);
}

/* From outside a callback: on a later turn, and reading stops at once. */
static void test_lose_connection_outside_completes_later(void **state)
{
    fixture *fx = *state;
    tw_test_peer *p = connect_peer(fx);
    tw_transport_lose_connection(tr(fx));
    tw_transport_lose_connection(tr(fx)); /* idempotent */
    assert_true(has(fx, TW_STRING_LOSE_CONNECTION));
    assert_true(tw_transport_disconnecting(tr(fx)));
    assert_int_equal(p->lost, 0);
    assert_int_equal(tw_string_transport_data_received(fx->st, "late", 4), 0);
    assert_int_equal(p->calls, 0); /* never read */
    assert_int_equal(tw_transport_write(tr(fx), "w", 1), 0);
    later_turn(fx);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_DONE);
    assert_value(fx, "w");
    assert_int_equal(tw_transport_count(fx->env.r), 0);
    assert_int_equal(tw_reactor_pending_calls(fx->env.r), 0);
}

/* Abort: always on a later turn, ConnectionAborted, writes refused from the call on. */
static void test_abort_connection(void **state)
{
    fixture *fx = *state;
    fx->f.template.abort_on_data = true;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(tw_string_transport_data_received(fx->st, "x", 1), 0);
    assert_int_equal(p->lost, 0); /* never from inside the call */
    assert_true(has(fx, TW_STRING_ABORT_CONNECTION));
    assert_true(tw_transport_disconnecting(tr(fx)));
    assert_int_equal(tw_transport_write(tr(fx), "w", 1), -ENOTCONN);
    tw_transport_lose_connection(tr(fx)); /* too late to change the reason */
    later_turn(fx);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_ABORTED);
    assert_int_equal(p->reason_code, -ECONNABORTED);
    tw_transport_abort_connection(tr(fx)); /* closed: nothing happens */
    assert_int_equal(p->lost, 1);
}

/* A connection the peer breaks: ConnectionLost with the error, when the call returns. */
static void test_peer_error(void **state)
{
    fixture *fx = *state;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(tw_string_transport_fail(fx->st, 0), -EINVAL);
    assert_int_equal(tw_string_transport_fail(fx->st, -ECONNRESET), 0);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_LOST);
    assert_int_equal(p->reason_code, -ECONNRESET);
    assert_int_equal(tw_string_transport_fail(fx->st, -ECONNRESET), -ENOTCONN);
}

/* The peer's EOF: a protocol that is not half-closeable is closed with ConnectionDone. */
static void test_peer_eof_closes(void **state)
{
    fixture *fx = *state;
    fx->f.template.consume_min = 10;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(tw_string_transport_data_received(fx->st, "part", 4), 0);
    assert_int_equal(tw_string_transport_receive_eof(fx->st), 0);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_DONE);
    assert_int_equal(p->calls, 1); /* the partial frame is dropped */
    assert_true(has(fx, TW_STRING_EOF | TW_STRING_CLOSED));
}

static void write_on_read_lost(tw_test_peer *p)
{
    tw_transport_write(p->transport, "last words", 10);
    tw_transport_lose_write_connection(p->transport);
}

/* Half-close both ways: the peer's EOF reaches read_connection_lost and the transport stays open
 * for writing; the protocol's own lose_write_connection shuts its side after the callback. */
static void test_half_close(void **state)
{
    fixture *fx = *state;
    fx->f.template.half_close = true;
    fx->f.template.on_read_lost = write_on_read_lost;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(tw_string_transport_receive_eof(fx->st), 0);
    assert_int_equal(p->read_lost, 1);
    assert_int_equal(p->write_lost, 1);
    assert_int_equal(p->lost, 0);
    assert_true(has(fx, TW_STRING_EOF | TW_STRING_LOSE_WRITE_CONNECTION | TW_STRING_WRITE_SHUT));
    assert_value(fx, "last words");
    assert_int_equal(tw_transport_write(tr(fx), "x", 1), -ENOTCONN);
    assert_int_equal(tw_string_transport_receive_eof(fx->st), -ENOTCONN);
    assert_int_equal(tw_string_transport_data_received(fx->st, "y", 1), -ENOTCONN);
    tw_transport_lose_connection(tr(fx));
    later_turn(fx);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_DONE);
}

/* lose_write_connection from outside a callback: the write side shuts on a later turn. */
static void test_lose_write_connection_outside(void **state)
{
    fixture *fx = *state;
    fx->f.template.half_close = true;
    tw_test_peer *p = connect_peer(fx);
    tw_transport_lose_write_connection(tr(fx));
    assert_true(has(fx, TW_STRING_LOSE_WRITE_CONNECTION));
    assert_false(has(fx, TW_STRING_WRITE_SHUT));
    assert_int_equal(tw_transport_write(tr(fx), "still", 5), 0);
    later_turn(fx);
    assert_int_equal(p->write_lost, 1);
    assert_true(has(fx, TW_STRING_WRITE_SHUT));
    assert_int_equal(tw_transport_write(tr(fx), "x", 1), -ENOTCONN);
    assert_value(fx, "still");
    /* reading goes on */
    assert_int_equal(tw_string_transport_data_received(fx->st, "in", 2), 0);
    assert_int_equal(p->len, 2);
}

static void test_free_closes_an_open_connection(void **state)
{
    fixture *fx = *state;
    tw_test_peer *p = connect_peer(fx);
    tw_transport_lose_connection(tr(fx)); /* pending on a later turn: the free cancels it */
    tw_string_transport_free(fx->st);
    fx->st = NULL;
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_LOST);
    assert_int_equal(p->destroyed, 1);
    assert_int_equal(tw_reactor_pending_calls(fx->env.r), 0);
}

/* The reactor's shutdown closes a string transport as it closes sockets; the transport is still
 * the test's to free, after the reactor. */
static void test_reactor_free_closes_it(void **state)
{
    fixture *fx = *state;
    tw_test_peer *p = connect_peer(fx);
    tw_clock_free(fx->env.clock);
    fx->env.clock = tw_clock_new(NULL); /* for the teardown */
    assert_non_null(fx->env.clock);
    fx->env.r = tw_clock_reactor(fx->env.clock);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_LOST);
    assert_non_null(strstr(tw_failure_message(tw_string_transport_reason(fx->st)),
                           "reactor shutdown"));
    assert_int_equal(tw_transport_write(tr(fx), "x", 1), -ENOTCONN);
}

/* ---- producers and pausing ------------------------------------------------------------------- */

typedef struct {
    int pauses, resumes, stops;
} counts;

static int count_pause(void *self)
{
    ((counts *)self)->pauses++;
    return 0;
}

static int count_resume(void *self)
{
    ((counts *)self)->resumes++;
    return 0;
}

static int count_stop(void *self)
{
    ((counts *)self)->stops++;
    return -EIO; /* logged, nothing else */
}

static const tw_producer_ops counting_ops = {count_pause, count_resume, count_stop};

/* A registered producer holds lose_connection until it is unregistered (Twisted's rule). */
static void test_producer_holds_the_close(void **state)
{
    fixture *fx = *state;
    tw_test_peer *p = connect_peer(fx);
    counts c = {0};
    tw_producer prod = {.ops = &counting_ops, .self = &c};
    assert_int_equal(tw_transport_register_producer(tr(fx), NULL, true), -EINVAL);
    assert_int_equal(tw_transport_register_producer(tr(fx), &prod, true), 0);
    assert_int_equal(tw_transport_register_producer(tr(fx), &prod, true), -EBUSY);
    assert_int_equal(c.resumes, 0); /* a streaming producer is not asked */
    tw_producer seen = {0};
    assert_true(tw_string_transport_producer(fx->st, &seen));
    assert_ptr_equal(seen.self, &c);
    assert_true(has(fx, TW_STRING_PRODUCER | TW_STRING_STREAMING));
    tw_transport_lose_connection(tr(fx));
    later_turn(fx);
    assert_int_equal(p->lost, 0);
    tw_transport_unregister_producer(tr(fx));
    assert_false(tw_string_transport_producer(fx->st, NULL));
    assert_false(has(fx, TW_STRING_PRODUCER));
    assert_int_equal(p->lost, 0); /* on a later turn still */
    later_turn(fx);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_DONE);
    assert_int_equal(c.stops, 0);
    assert_int_equal(tw_transport_register_producer(tr(fx), &prod, true), -ENOTCONN);
    tw_transport_unregister_producer(tr(fx)); /* none: nothing */
}

/* A pull producer is asked once at registration; a close the peer causes stops it. */
static void test_pull_producer_and_stop(void **state)
{
    fixture *fx = *state;
    tw_test_peer *p = connect_peer(fx);
    counts c = {0};
    tw_producer prod = {.ops = &counting_ops, .self = &c};
    assert_int_equal(tw_transport_register_producer(tr(fx), &prod, false), 0);
    assert_int_equal(c.resumes, 1);
    assert_true(has(fx, TW_STRING_PRODUCER));
    assert_false(has(fx, TW_STRING_STREAMING));
    assert_int_equal(tw_string_transport_fail(fx->st, -EPIPE), 0);
    assert_int_equal(p->lost, 1);
    assert_int_equal(c.stops, 1);
    assert_true(tw_test_log_contains(&fx->env.log, "stop_producing failed"));
    assert_false(has(fx, TW_STRING_PRODUCER));
}

/* While paused the peer's bytes and EOF are held, and presented on a later turn once resumed. */
static void test_pause_holds_input_and_eof(void **state)
{
    fixture *fx = *state;
    tw_test_peer *p = connect_peer(fx);
    tw_transport_pause_producing(tr(fx));
    assert_true(has(fx, TW_STRING_PAUSED));
    assert_int_equal(tw_string_transport_data_received(fx->st, "held", 4), 0);
    assert_int_equal(tw_string_transport_receive_eof(fx->st), 0);
    later_turn(fx);
    assert_int_equal(p->calls, 0);
    assert_int_equal(p->lost, 0);
    tw_transport_resume_producing(tr(fx));
    assert_false(has(fx, TW_STRING_PAUSED));
    assert_int_equal(p->calls, 0); /* not from inside resume */
    later_turn(fx);
    assert_int_equal(p->calls, 1);
    assert_memory_equal(p->data, "held", 4);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_DONE);
}

/* Resuming presents the unconsumed tail again though the peer sends nothing more (a paused
 * receiver gets the frames it held). */
static void test_resume_presents_the_tail(void **state)
{
    fixture *fx = *state;
    fx->f.template.consume_min = 4;
    tw_test_peer *p = connect_peer(fx);
    assert_int_equal(tw_string_transport_data_received(fx->st, "abc", 3), 0);
    tw_transport_pause_producing(tr(fx));
    p->consume_min = 0;
    tw_transport_resume_producing(tr(fx));
    later_turn(fx);
    assert_int_equal(p->calls, 2);
    assert_int_equal(p->last_presented, 3);
    assert_memory_equal(p->data, "abc", 3);
    /* as a producer of its input, through the generic interface */
    tw_producer self = tw_transport_as_producer(tr(fx));
    assert_int_equal(self.ops->pause_producing(self.self), 0);
    assert_true(has(fx, TW_STRING_PAUSED));
    assert_int_equal(self.ops->resume_producing(self.self), 0);
    assert_false(has(fx, TW_STRING_PAUSED));
    assert_int_equal(self.ops->stop_producing(self.self), 0);
    assert_true(has(fx, TW_STRING_LOSE_CONNECTION));
    later_turn(fx);
    assert_int_equal(p->lost, 1);
}

/* ---- addresses and options ------------------------------------------------------------------- */

static void test_addresses_and_tcp_options(void **state)
{
    fixture *fx = *state;
    tw_address host = {.type = TW_ADDRESS_UNIX, .path = "/run/app.sock"};
    tw_address peer = {.type = TW_ADDRESS_UNIX};
    tw_string_transport_options o = {.host = &host, .peer = &peer};
    tw_string_transport *unix_st = tw_string_transport_new(fx->env.r, &fx->f.factory, &o, NULL);
    assert_non_null(unix_st);
    tw_transport *ut = tw_string_transport_transport(unix_st);
    tw_address a;
    assert_int_equal(tw_transport_get_host(ut, &a), 0);
    assert_string_equal(a.path, "/run/app.sock");
    assert_int_equal(tw_test_factory_last(&fx->f)->peer_addr.type, TW_ADDRESS_UNIX);
    assert_int_equal(tw_transport_set_tcp_nodelay(ut, true), -EOPNOTSUPP);
    assert_int_equal(tw_string_transport_state(unix_st) & TW_STRING_TCP_NODELAY, 0);
    tw_string_transport_free(unix_st);

    connect_peer(fx);
    assert_int_equal(tw_transport_set_tcp_nodelay(tr(fx), false), 0);
    assert_int_equal(tw_transport_set_tcp_keepalive(tr(fx), true), 0);
    assert_false(has(fx, TW_STRING_TCP_NODELAY));
    assert_true(has(fx, TW_STRING_TCP_KEEPALIVE));
    assert_int_equal(tw_transport_set_tcp_keepalive(NULL, true), -EINVAL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_connects_like_an_accepted_socket),
        T(test_new_errors),
        T(test_connection_made_error_closes),
        T(test_writes_are_recorded),
        T(test_unconsumed_tail_presented_again),
        T(test_data_received_error_closes),
        T(test_unconsumed_bound),
        T(test_feeding_from_a_callback_is_refused),
        T(test_lose_connection_inside_a_callback),
        T(test_lose_connection_outside_completes_later),
        T(test_abort_connection),
        T(test_peer_error),
        T(test_peer_eof_closes),
        T(test_half_close),
        T(test_lose_write_connection_outside),
        T(test_free_closes_an_open_connection),
        T(test_reactor_free_closes_it),
        T(test_producer_holds_the_close),
        T(test_pull_producer_and_stop),
        T(test_pause_holds_input_and_eof),
        T(test_resume_presents_the_tail),
        T(test_addresses_and_tcp_options),
    };
#undef T
    return cmocka_run_group_tests_name("string_transport", tests, NULL, NULL);
}
