/* Tests for the memory reactor (testing_endpoints.h, Twisted's MemoryReactor): a client protocol
 * tested without a network through endpoints that record connects and listens; the connect made to
 * succeed, fail, or cancelled; a listener handed connections; and every error return. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <twine/twine.h>
#include <twine/testing.h>

#include "support/clock_env.h"
#include "support/net.h"
#include "support/outcome.h"

typedef struct {
    tw_test_clock_env env;
    tw_test_factory f;
    tw_memory_reactor *mr;
    tw_client_endpoint *client;
    tw_server_endpoint *server;
} fixture;

static int setup(void **state)
{
    if (tw_test_clock_fixture_setup(state, sizeof(fixture)) < 0)
        return -1;
    fixture *fx = *state;
    tw_test_factory_init(&fx->f);
    fx->f.template.send_on_made = "HELLO\r\n";
    fx->f.template.send_on_made_len = 7;
    int err = 0;
    fx->mr = tw_memory_reactor_new(fx->env.r, &err);
    fx->client = tw_memory_client_endpoint(fx->mr, "example.com", 80, &err);
    fx->server = tw_memory_server_endpoint(fx->mr, 8080, &err);
    return fx->mr && fx->client && fx->server ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tw_client_endpoint_free(fx->client);
    tw_memory_reactor_free(fx->mr);
    tw_server_endpoint_free(fx->server); /* after the memory reactor: it lives until this */
    assert_int_equal(tw_transport_count(fx->env.r), 0);
    tw_test_factory_free(&fx->f);
    return tw_test_clock_fixture_teardown(state);
}

/* Connects through the memory client endpoint and watches the deferred. */
static void connect_watched(fixture *fx, tw_test_outcome *o)
{
    int err = 0;
    tw_deferred *d = tw_client_endpoint_connect(fx->client, &fx->f.factory, &err);
    assert_non_null(d);
    tw_test_outcome_expect(d, o);
}

/* ---- recording ------------------------------------------------------------------------------- */

static void test_connect_is_recorded_and_pending(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o;
    assert_int_equal(tw_memory_connect_count(fx->mr), 0);
    connect_watched(fx, &o);
    assert_int_equal(tw_memory_connect_count(fx->mr), 1);
    assert_ptr_equal(tw_memory_connect_factory(fx->mr, 0), &fx->f.factory);
    assert_string_equal(tw_memory_connect_host(fx->mr, 0), "example.com");
    assert_int_equal(tw_memory_connect_port(fx->mr, 0), 80);
    assert_int_equal(tw_memory_connect_state_of(fx->mr, 0), TW_MEMORY_CONNECT_PENDING);
    assert_int_equal(o.fired, 0);
    assert_int_equal(tw_test_factory_made(&fx->f), 0); /* nothing built yet */
    assert_int_equal(tw_memory_connect_fail(fx->mr, 0, NULL), 0); /* o lives on this frame */
}

/* ---- success: the client protocol talks to the test ------------------------------------------- */

static void test_connect_succeed_runs_protocol(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o;
    connect_watched(fx, &o);
    int err = 0;
    tw_string_transport *st = tw_memory_connect_succeed(fx->mr, 0, &err);
    assert_non_null(st);
    assert_int_equal(o.fired, 1);
    assert_false(o.failed);
    assert_ptr_equal(o.value, tw_string_transport_protocol(st));
    assert_int_equal(tw_memory_connect_state_of(fx->mr, 0), TW_MEMORY_CONNECT_SUCCEEDED);
    assert_string_equal(tw_string_transport_value(st, NULL), "HELLO\r\n");

    assert_int_equal(tw_string_transport_data_received(st, "WORLD", 5), 0);
    tw_test_peer *p = tw_test_factory_last(&fx->f);
    assert_int_equal(p->len, 5);
    assert_memory_equal(p->data, "WORLD", 5);

    /* Settled: neither succeeds nor fails again. */
    assert_null(tw_memory_connect_succeed(fx->mr, 0, &err));
    assert_int_equal(err, -EALREADY);
    assert_int_equal(tw_memory_connect_fail(fx->mr, 0, NULL), -EALREADY);
    assert_int_equal(o.fired, 1);
}

static void test_close_inside_connection_made_still_connects(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o;
    fx->f.template.send_on_made = NULL;
    fx->f.template.lose_on_made = true;
    connect_watched(fx, &o);
    int err = 0;
    tw_string_transport *st = tw_memory_connect_succeed(fx->mr, 0, &err);
    assert_non_null(st);
    /* A close asked inside connection_made completes when it returns: the connection was made,
     * as over a socket, so the connect succeeds. */
    assert_true(tw_test_outcome_ok(&o));
    assert_true(tw_string_transport_state(st) & TW_STRING_LOSE_CONNECTION);
}

/* A protocol whose connection_made fails. */
static int made_fails(tw_protocol *p)
{
    (void)p;
    return -EPROTO;
}

static const tw_protocol_ops made_fails_ops = {.connection_made = made_fails};

static int build_made_fails(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    (void)peer;
    out->ops = &made_fails_ops;
    return 0;
}

static const tw_factory_ops made_fails_factory_ops = {.build_protocol = build_made_fails};

static void test_connection_made_failure_fails_connect(void **state)
{
    fixture *fx = *state;
    tw_factory factory = {.ops = &made_fails_factory_ops};
    tw_test_outcome o;
    int err = 0;
    tw_test_outcome_expect(tw_client_endpoint_connect(fx->client, &factory, &err), &o);
    tw_string_transport *st = tw_memory_connect_succeed(fx->mr, 0, &err);
    assert_non_null(st);
    assert_true(tw_string_transport_state(st) & TW_STRING_CLOSED);
    assert_int_equal(o.fired, 1);
    assert_true(o.failed);
    assert_int_equal(o.code, -EPROTO);
    assert_int_equal(tw_memory_connect_state_of(fx->mr, 0), TW_MEMORY_CONNECT_FAILED);
}

static void test_refused_build_fails_with_no_protocol(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o;
    fx->f.refuse = -ECONNREFUSED;
    connect_watched(fx, &o);
    int err = 0;
    assert_null(tw_memory_connect_succeed(fx->mr, 0, &err));
    assert_int_equal(err, -ECONNREFUSED);
    assert_int_equal(o.fired, 1);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_NO_PROTOCOL);
    assert_int_equal(tw_memory_connect_state_of(fx->mr, 0), TW_MEMORY_CONNECT_FAILED);
}

/* ---- failure and cancel ---------------------------------------------------------------------- */

static void test_connect_fail_default_refused(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o;
    connect_watched(fx, &o);
    assert_int_equal(tw_memory_connect_fail(fx->mr, 0, NULL), 0);
    assert_int_equal(o.fired, 1);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_CONNECTION_REFUSED_ERROR);
    assert_int_equal(o.code, -ECONNREFUSED);
    assert_non_null(strstr(o.message, "example.com port 80"));
    assert_int_equal(tw_memory_connect_state_of(fx->mr, 0), TW_MEMORY_CONNECT_FAILED);
    assert_int_equal(tw_test_factory_made(&fx->f), 0);
    assert_int_equal(tw_memory_connect_fail(fx->mr, 0, NULL), -EALREADY);
}

static void test_connect_fail_with_given_failure(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o1, o2;
    connect_watched(fx, &o1);
    connect_watched(fx, &o2);
    assert_int_equal(tw_memory_connect_fail(fx->mr, 1, tw_failure_from_errno(-ETIMEDOUT, "x")), 0);
    assert_int_equal(o1.fired, 0); /* only the one asked for */
    assert_true(o2.failed);
    assert_string_equal(o2.type, TW_TCP_TIMED_OUT_ERROR);
    assert_int_equal(o2.code, -ETIMEDOUT);
    assert_int_equal(tw_memory_connect_fail(fx->mr, 0, NULL), 0); /* o1 lives on this frame */
    assert_string_equal(o1.type, TW_CONNECTION_REFUSED_ERROR);
}

static void test_cancel_pending_connect(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o = {0};
    int err = 0;
    tw_deferred *d = tw_client_endpoint_connect(fx->client, &fx->f.factory, &err);
    assert_non_null(d);
    assert_int_equal(tw_deferred_add_both(d, tw_test_outcome_note, &o), 0);
    tw_deferred_cancel(d);
    tw_deferred_unref(d);
    assert_int_equal(o.fired, 1);
    assert_string_equal(o.type, TW_CONNECTING_CANCELLED_ERROR);
    assert_int_equal(o.code, -ECANCELED);
    assert_string_equal(o.message, "Connecting to example.com port 80 was cancelled");
    assert_int_equal(tw_memory_connect_state_of(fx->mr, 0), TW_MEMORY_CONNECT_CANCELLED);
    assert_null(tw_memory_connect_succeed(fx->mr, 0, &err));
    assert_int_equal(err, -EALREADY);
    assert_int_equal(tw_test_factory_made(&fx->f), 0);
}

static void test_free_fails_pending_with_connection_lost(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o;
    connect_watched(fx, &o);
    tw_memory_reactor_free(fx->mr);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_CONNECTION_LOST);
    /* Endpoints outliving it refuse politely. */
    int err = 0;
    assert_null(tw_client_endpoint_connect(fx->client, &fx->f.factory, &err));
    assert_int_equal(err, -ESHUTDOWN);
    err = 0;
    assert_null(tw_server_endpoint_listen(fx->server, &fx->f.factory, &err));
    assert_int_equal(err, -ESHUTDOWN);
    fx->mr = NULL;
}

static void test_free_closes_transports(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o;
    connect_watched(fx, &o);
    assert_non_null(tw_memory_connect_succeed(fx->mr, 0, NULL));
    tw_memory_reactor_free(fx->mr);
    fx->mr = NULL;
    tw_test_peer *p = tw_test_factory_last(&fx->f);
    assert_int_equal(p->lost, 1);
    assert_string_equal(p->reason_type, TW_CONNECTION_LOST);
}

/* ---- listening ------------------------------------------------------------------------------- */

static void test_listen_fires_null_and_accepts(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o;
    int err = 0;
    tw_deferred *d = tw_server_endpoint_listen(fx->server, &fx->f.factory, &err);
    assert_non_null(d);
    tw_test_outcome_expect(d, &o);
    assert_true(tw_test_outcome_ok(&o));
    assert_null(o.value);
    assert_int_equal(tw_memory_listen_count(fx->mr), 1);
    assert_ptr_equal(tw_memory_listen_factory(fx->mr, 0), &fx->f.factory);
    assert_int_equal(tw_memory_listen_port(fx->mr, 0), 8080);

    tw_string_transport *a = tw_memory_listen_accept(fx->mr, 0, &err);
    tw_string_transport *b = tw_memory_listen_accept(fx->mr, 0, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(tw_test_factory_made(&fx->f), 2);
    assert_string_equal(tw_string_transport_value(a, NULL), "HELLO\r\n");
    assert_int_equal(tw_string_transport_data_received(b, "x", 1), 0);
    assert_int_equal(tw_test_factory_last(&fx->f)->len, 1);
}

static void test_listen_accept_refused(void **state)
{
    fixture *fx = *state;
    tw_test_outcome o;
    int err = 0;
    tw_test_outcome_expect(tw_server_endpoint_listen(fx->server, &fx->f.factory, &err), &o);
    fx->f.refuse = -ECONNREFUSED;
    assert_null(tw_memory_listen_accept(fx->mr, 0, &err));
    assert_int_equal(err, -ECONNREFUSED);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    fixture *fx = *state;
    int err = 0;
    assert_null(tw_memory_reactor_new(NULL, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_memory_client_endpoint(NULL, "h", 1, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_memory_client_endpoint(fx->mr, "", 1, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_memory_client_endpoint(fx->mr, NULL, 1, &err));
    assert_int_equal(err, -EINVAL);
    char longhost[TW_MEMORY_HOST_MAX + 2];
    memset(longhost, 'a', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    err = 0;
    assert_null(tw_memory_client_endpoint(fx->mr, longhost, 1, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_memory_server_endpoint(NULL, 1, &err));
    assert_int_equal(err, -EINVAL);
    err = 0;
    assert_null(tw_client_endpoint_connect(fx->client, NULL, &err));
    assert_int_equal(err, -EINVAL);

    /* Indexes past the count. */
    err = 0;
    assert_null(tw_memory_connect_succeed(fx->mr, 0, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_memory_connect_fail(fx->mr, 0, NULL), -EINVAL);
    assert_int_equal(tw_memory_connect_state_of(fx->mr, 0), -EINVAL);
    assert_null(tw_memory_connect_factory(fx->mr, 0));
    assert_null(tw_memory_connect_host(fx->mr, 0));
    assert_int_equal(tw_memory_connect_port(fx->mr, 0), 0);
    err = 0;
    assert_null(tw_memory_listen_accept(fx->mr, 0, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_memory_listen_factory(fx->mr, 0));
    assert_int_equal(tw_memory_listen_port(fx->mr, 0), 0);
    err = 0;
    assert_null(tw_memory_connect_succeed(NULL, 0, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(tw_memory_connect_count(NULL), 0);
    assert_int_equal(tw_memory_listen_count(NULL), 0);
    tw_memory_reactor_free(NULL);

    /* A failure given with a bad index stays the caller's. */
    tw_failure *f = tw_failure_from_errno(-ECONNREFUSED, NULL);
    assert_int_equal(tw_memory_connect_fail(fx->mr, 3, f), -EINVAL);
    tw_failure_unref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_is_recorded_and_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_succeed_runs_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_inside_connection_made_still_connects, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_made_failure_fails_connect, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_build_fails_with_no_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_fail_default_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_fail_with_given_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_pending_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_fails_pending_with_connection_lost, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_closes_transports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_fires_null_and_accepts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_accept_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
