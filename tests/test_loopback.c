/* Tests for the loopback pair (testing.h, Twisted's iosim.connect): bytes pumped both ways until
 * quiet, mirrored addresses, a close reaching the other side as EOF after the bytes, an abort as a
 * reset, half-close, pull producers asked each round, paused readers, and the failures: a side that
 * cannot be built, protocols that never go quiet, a pump from inside a callback. */
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

typedef struct {
    tw_test_clock_env env;
    tw_test_factory server, client;
    tw_loopback *lb;
} fixture;

static int setup(void **state)
{
    if (tw_test_clock_fixture_setup(state, sizeof(fixture)) < 0)
        return -1;
    fixture *fx = *state;
    tw_test_factory_init(&fx->server);
    tw_test_factory_init(&fx->client);
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tw_loopback_free(fx->lb);
    assert_int_equal(tw_transport_count(fx->env.r), 0);
    tw_test_factory_free(&fx->server);
    tw_test_factory_free(&fx->client);
    return tw_test_clock_fixture_teardown(state);
}

static void open_pair(fixture *fx)
{
    int err = 0;
    fx->lb = tw_loopback_new(fx->env.r, &fx->server.factory, &fx->client.factory, &err);
    assert_non_null(fx->lb);
    assert_int_equal(err, 0);
}

static tw_test_peer *server_peer(fixture *fx)
{
    return tw_test_factory_last(&fx->server);
}

static tw_test_peer *client_peer(fixture *fx)
{
    return tw_test_factory_last(&fx->client);
}

/* ---- bytes ----------------------------------------------------------------------------------- */

static void test_echo_round_trip(void **state)
{
    fixture *fx = *state;
    fx->server.template.echo = true;
    fx->client.template.send_on_made = "hello";
    fx->client.template.send_on_made_len = 5;
    open_pair(fx);
    assert_int_equal(server_peer(fx)->made, 1);
    assert_int_equal(client_peer(fx)->made, 1);
    assert_int_equal(server_peer(fx)->len, 0); /* nothing moves before the pump */
    size_t len;
    tw_string_transport_value(tw_loopback_client(fx->lb), &len);
    assert_int_equal(len, 5);
    assert_int_equal(tw_loopback_pump(fx->lb), 10); /* there and back */
    assert_int_equal(server_peer(fx)->len, 5);
    assert_int_equal(client_peer(fx)->len, 5);
    assert_memory_equal(client_peer(fx)->data, "hello", 5);
    tw_string_transport_value(tw_loopback_client(fx->lb), &len);
    assert_int_equal(len, 0); /* moved */
    assert_int_equal(tw_loopback_pump(fx->lb), 0); /* quiet */
    /* the test can still feed a side directly */
    assert_int_equal(tw_string_transport_data_received(tw_loopback_server(fx->lb), "x", 1), 0);
    assert_int_equal(tw_loopback_pump(fx->lb), 1);
    assert_int_equal(client_peer(fx)->len, 6);
}

static void test_addresses_mirror_each_other(void **state)
{
    fixture *fx = *state;
    open_pair(fx);
    tw_address sh, sp, ch, cp;
    assert_int_equal(tw_transport_get_host(server_peer(fx)->transport, &sh), 0);
    assert_int_equal(tw_transport_get_peer(server_peer(fx)->transport, &sp), 0);
    assert_int_equal(tw_transport_get_host(client_peer(fx)->transport, &ch), 0);
    assert_int_equal(tw_transport_get_peer(client_peer(fx)->transport, &cp), 0);
    assert_string_equal(sh.host, TW_STRING_TRANSPORT_HOST);
    assert_int_equal(sh.port, TW_STRING_TRANSPORT_HOST_PORT);
    assert_string_equal(ch.host, TW_STRING_TRANSPORT_PEER);
    assert_int_equal(ch.port, TW_STRING_TRANSPORT_PEER_PORT);
    assert_memory_equal(&sp, &ch, sizeof sp);
    assert_memory_equal(&cp, &sh, sizeof cp);
    assert_string_equal(client_peer(fx)->peer_addr.host, TW_STRING_TRANSPORT_HOST);
    assert_ptr_equal(tw_loopback_server(NULL), NULL);
    assert_int_equal(tw_loopback_pump(NULL), -EINVAL);
}

/* ---- ends ------------------------------------------------------------------------------------ */

/* The client writes and closes at once: the server gets the bytes, then EOF (ConnectionDone). */
static void test_close_reaches_the_other_side_after_the_bytes(void **state)
{
    fixture *fx = *state;
    fx->client.template.send_on_made = "last";
    fx->client.template.send_on_made_len = 4;
    fx->client.template.lose_on_made = true;
    open_pair(fx);
    /* closed as connection_made returned, as on a socket; its bytes are on their way */
    assert_int_equal(client_peer(fx)->lost, 1);
    assert_int_equal(server_peer(fx)->len, 0);
    assert_int_equal(tw_loopback_pump(fx->lb), 4);
    assert_string_equal(client_peer(fx)->reason_type, TW_CONNECTION_DONE);
    assert_int_equal(server_peer(fx)->len, 4);
    assert_int_equal(server_peer(fx)->lost, 1);
    assert_string_equal(server_peer(fx)->reason_type, TW_CONNECTION_DONE);
    assert_true(tw_string_transport_state(tw_loopback_server(fx->lb)) & TW_STRING_EOF);
}

/* An abort reaches the other side as a reset. */
static void test_abort_is_a_reset_for_the_other_side(void **state)
{
    fixture *fx = *state;
    fx->server.template.abort_on_data = true;
    fx->client.template.send_on_made = "x";
    fx->client.template.send_on_made_len = 1;
    open_pair(fx);
    assert_int_equal(tw_loopback_pump(fx->lb), 1);
    assert_string_equal(server_peer(fx)->reason_type, TW_CONNECTION_ABORTED);
    assert_int_equal(client_peer(fx)->lost, 1);
    assert_string_equal(client_peer(fx)->reason_type, TW_CONNECTION_LOST);
    assert_int_equal(client_peer(fx)->reason_code, -ECONNRESET);
}

static void answer_and_close(tw_test_peer *p)
{
    tw_transport_write(p->transport, "answer", 6);
    tw_transport_lose_connection(p->transport);
}

/* Half-close, as a request/response client does: the client shuts its write side after its
 * request; the server reads the request, then EOF, answers and closes; the client, still reading,
 * gets the answer, then EOF. */
static void test_half_close_request_and_answer(void **state)
{
    fixture *fx = *state;
    fx->client.template.half_close = true;
    fx->client.template.send_on_made = "req";
    fx->client.template.send_on_made_len = 3;
    fx->server.template.half_close = true;
    fx->server.template.on_read_lost = answer_and_close;
    open_pair(fx);
    tw_transport_lose_write_connection(client_peer(fx)->transport);
    assert_int_equal(tw_loopback_pump(fx->lb), 9);
    tw_test_peer *s = server_peer(fx), *c = client_peer(fx);
    assert_int_equal(c->write_lost, 1);
    assert_int_equal(s->read_lost, 1);
    assert_memory_equal(s->data, "req", 3);
    assert_memory_equal(c->data, "answer", 6);
    assert_int_equal(c->read_lost, 1);
    assert_int_equal(s->lost, 1);
    assert_string_equal(s->reason_type, TW_CONNECTION_DONE);
    assert_int_equal(c->lost, 0); /* half-closeable: both halves are shut, the close is its own */
    tw_transport_lose_connection(c->transport);
    assert_int_equal(tw_loopback_pump(fx->lb), 0);
    assert_int_equal(c->lost, 1);
}

/* A paused side holds what arrives, EOF included, until it resumes. */
static void test_paused_side_holds_input(void **state)
{
    fixture *fx = *state;
    fx->client.template.send_on_made = "data";
    fx->client.template.send_on_made_len = 4;
    fx->client.template.lose_on_made = true;
    open_pair(fx);
    tw_transport_pause_producing(server_peer(fx)->transport);
    assert_int_equal(tw_loopback_pump(fx->lb), 4);
    assert_int_equal(server_peer(fx)->calls, 0);
    assert_int_equal(server_peer(fx)->lost, 0);
    tw_transport_resume_producing(server_peer(fx)->transport);
    assert_int_equal(tw_loopback_pump(fx->lb), 0); /* no bytes moved, but the turn presented them */
    assert_int_equal(server_peer(fx)->len, 4);
    assert_int_equal(server_peer(fx)->lost, 1);
}

/* ---- producers ------------------------------------------------------------------------------- */

typedef struct {
    tw_transport *t;
    int chunks_left;
    int asked;
} file_producer;

static int produce_chunk(void *self)
{
    file_producer *fp = self;
    fp->asked++;
    if (fp->chunks_left == 0) {
        tw_transport_unregister_producer(fp->t);
        tw_transport_lose_connection(fp->t);
        return 0;
    }
    fp->chunks_left--;
    return tw_transport_write(fp->t, "0123456789", 10);
}

static const tw_producer_ops file_producer_ops = {.resume_producing = produce_chunk};

/* A pull producer is asked for more each round, as a drained socket buffer asks it, until it
 * unregisters; then its lose_connection completes. */
static void test_pull_producer_is_pumped_to_the_end(void **state)
{
    fixture *fx = *state;
    open_pair(fx);
    file_producer fp = {.t = server_peer(fx)->transport, .chunks_left = 5};
    tw_producer prod = {.ops = &file_producer_ops, .self = &fp};
    assert_int_equal(tw_transport_register_producer(fp.t, &prod, false), 0);
    assert_int_equal(fp.asked, 1);
    assert_int_equal(tw_loopback_pump(fx->lb), 50);
    assert_int_equal(fp.asked, 6);
    assert_int_equal(client_peer(fx)->len, 50);
    assert_int_equal(server_peer(fx)->lost, 1);
    assert_int_equal(client_peer(fx)->lost, 1);
    assert_string_equal(client_peer(fx)->reason_type, TW_CONNECTION_DONE);
}

/* ---- failures -------------------------------------------------------------------------------- */

static void test_client_that_cannot_be_built(void **state)
{
    fixture *fx = *state;
    fx->client.refuse = -EACCES;
    int err = 0;
    assert_null(tw_loopback_new(fx->env.r, &fx->server.factory, &fx->client.factory, &err));
    assert_int_equal(err, -EACCES);
    assert_int_equal(server_peer(fx)->lost, 1); /* the server side was closed and freed */
    assert_string_equal(server_peer(fx)->reason_type, TW_CONNECTION_LOST);
    assert_int_equal(server_peer(fx)->destroyed, 1);
    fx->server.refuse = -EPERM;
    assert_null(tw_loopback_new(fx->env.r, &fx->server.factory, &fx->client.factory, &err));
    assert_int_equal(err, -EPERM);
    assert_null(tw_loopback_new(fx->env.r, NULL, &fx->client.factory, NULL));
}

/* Two echo protocols that started talking never stop: the pump gives up. */
static void test_endless_conversation_gives_up(void **state)
{
    fixture *fx = *state;
    fx->server.template.echo = true;
    fx->server.template.record = false;
    fx->client.template.echo = true;
    fx->client.template.record = false;
    fx->client.template.send_on_made = "ping";
    fx->client.template.send_on_made_len = 4;
    open_pair(fx);
    assert_int_equal(tw_loopback_pump(fx->lb), -ELOOP);
    assert_int_equal(server_peer(fx)->calls, TW_LOOPBACK_PUMP_ROUNDS_MAX);
}

static long pump_result;
static int pump_from_timer(void *arg)
{
    pump_result = tw_loopback_pump(arg);
    return 0;
}

static void test_pump_inside_a_callback_is_refused(void **state)
{
    fixture *fx = *state;
    open_pair(fx);
    assert_non_null(tw_call_later(fx->env.r, 1, pump_from_timer, fx->lb, NULL));
    pump_result = 0;
    tw_clock_advance(fx->env.clock, 1);
    assert_int_equal(pump_result, TW_EALREADYRUNNING);
}

/* Freeing the pair closes both connections. */
static void test_free_closes_both(void **state)
{
    fixture *fx = *state;
    open_pair(fx);
    tw_loopback_free(fx->lb);
    fx->lb = NULL;
    assert_int_equal(server_peer(fx)->lost, 1);
    assert_int_equal(client_peer(fx)->lost, 1);
    assert_int_equal(client_peer(fx)->destroyed, 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_echo_round_trip),
        T(test_addresses_mirror_each_other),
        T(test_close_reaches_the_other_side_after_the_bytes),
        T(test_abort_is_a_reset_for_the_other_side),
        T(test_half_close_request_and_answer),
        T(test_paused_side_holds_input),
        T(test_pull_producer_is_pumped_to_the_end),
        T(test_client_that_cannot_be_built),
        T(test_endless_conversation_gives_up),
        T(test_pump_inside_a_callback_is_refused),
        T(test_free_closes_both),
    };
#undef T
    return cmocka_run_group_tests_name("loopback", tests, NULL, NULL);
}
