/* Tests for the connection policies: the idle timeout (TimeoutMixin) on a controllable clock, the
 * connection-limiting factory (refusal and overflow protocol over real TCP, the count following
 * connections as they close) and the timeout factory closing idle connections (string transports
 * on the controllable clock). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/clock_env.h"
#include "support/framing_feed.h"
#include "support/net.h"
#include "support/reactor_test.h"

typedef struct {
    tw_test_env env; /* reactor, captured log, test clock */
} fixture;

static int setup(void **state)
{
    return tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_CONTROLLED_CLOCK);
}

static int teardown(void **state)
{
    return tw_test_fixture_teardown(state);
}

/* Moves the test clock and runs the turn that sees it. */
static void advance(fixture *f, double seconds)
{
    tw_test_clock_turn(f->env.r, &f->env.clock, seconds);
}

/* ---- TimeoutMixin ---------------------------------------------------------------------------- */

static int count_timeout(tw_timeout_mixin *tm)
{
    (*(int *)tm->user)++;
    return 0;
}

static void test_mixin_fires_after_period(void **state)
{
    fixture *f = *state;
    int fired = 0;
    tw_timeout_mixin tm;
    tw_timeout_mixin_init(&tm, f->env.r, NULL, count_timeout, &fired);
    double prev = -1;
    assert_int_equal(tw_timeout_mixin_set_timeout(&tm, 5.0, &prev), 0);
    assert_true(prev == 0.0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1);
    advance(f, 4.9);
    assert_int_equal(fired, 0);
    advance(f, 0.2);
    assert_int_equal(fired, 1);
    assert_null(tm.call);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    /* Fired once; a reset now has nothing to restart. */
    tw_timeout_mixin_reset_timeout(&tm);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    advance(f, 10);
    assert_int_equal(fired, 1);
    tw_timeout_mixin_cancel(&tm);
}

static void test_mixin_reset_and_change_period(void **state)
{
    fixture *f = *state;
    int fired = 0;
    tw_timeout_mixin tm;
    tw_timeout_mixin_init(&tm, f->env.r, NULL, count_timeout, &fired);
    assert_int_equal(tw_timeout_mixin_set_timeout(&tm, 5.0, NULL), 0);
    advance(f, 4.0);
    tw_timeout_mixin_reset_timeout(&tm); /* due 5 s from now again */
    advance(f, 4.0);
    assert_int_equal(fired, 0);
    double prev = 0;
    assert_int_equal(tw_timeout_mixin_set_timeout(&tm, 10.0, &prev), 0);
    assert_true(prev == 5.0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 1); /* the same call, moved */
    advance(f, 9.0);
    assert_int_equal(fired, 0);
    advance(f, 1.5);
    assert_int_equal(fired, 1);
    /* Setting again after it fired starts a new countdown. */
    assert_int_equal(tw_timeout_mixin_set_timeout(&tm, 1.0, &prev), 0);
    assert_true(prev == 10.0);
    advance(f, 1.5);
    assert_int_equal(fired, 2);
}

static void test_mixin_cancel(void **state)
{
    fixture *f = *state;
    int fired = 0;
    tw_timeout_mixin tm;
    tw_timeout_mixin_init(&tm, f->env.r, NULL, count_timeout, &fired);
    assert_int_equal(tw_timeout_mixin_set_timeout(&tm, 2.0, NULL), 0);
    double prev = 0;
    assert_int_equal(tw_timeout_mixin_set_timeout(&tm, 0, &prev), 0);
    assert_true(prev == 2.0);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
    advance(f, 5);
    assert_int_equal(fired, 0);
    /* Cancelling twice, or with nothing pending, is harmless; negative periods mean none. */
    tw_timeout_mixin_cancel(&tm);
    assert_int_equal(tw_timeout_mixin_set_timeout(&tm, -1, &prev), 0);
    assert_true(prev == 0.0);
    assert_true(tm.period == 0.0);
    assert_int_equal(tw_timeout_mixin_set_timeout(&tm, 3.0, NULL), 0);
    tw_timeout_mixin_cancel(&tm);
    assert_int_equal(tw_reactor_pending_calls(f->env.r), 0);
}

static void test_mixin_default_without_protocol(void **state)
{
    fixture *f = *state;
    tw_timeout_mixin tm;
    tw_timeout_mixin_init(&tm, f->env.r, NULL, NULL, NULL);
    assert_int_equal(tw_timeout_mixin_set_timeout(&tm, 1.0, NULL), 0);
    advance(f, 2);
    assert_null(tm.call);
    assert_int_equal(tw_test_log_errors(&f->env.log), 0);
}

/* ---- LimitTotalConnectionsFactory over TCP --------------------------------------------------- */

typedef struct {
    tw_test_factory *f;
    size_t made;
} made_cond;

static bool made_at_least(void *arg)
{
    made_cond *m = arg;
    return tw_test_factory_made(m->f) >= m->made;
}

typedef struct {
    tw_limit_total_connections_factory *lf;
    unsigned count;
} count_cond;

static bool count_is(void *arg)
{
    count_cond *c = arg;
    return c->lf->connection_count == c->count;
}

static void test_limit_init(void **state)
{
    (void)state;
    tw_limit_total_connections_factory lf;
    assert_int_equal(tw_limit_total_connections_factory_init(&lf, NULL, 1, NULL), -EINVAL);
    assert_int_equal(tw_limit_total_connections_factory_init(NULL, NULL, 1, NULL), -EINVAL);
}

static void test_limit_refuses_over_limit(void **state)
{
    fixture *fx = *state;
    tw_test_factory wrapped;
    tw_test_factory_init(&wrapped);
    wrapped.template.echo = true;
    tw_limit_total_connections_factory lf;
    assert_int_equal(tw_limit_total_connections_factory_init(&lf, &wrapped.factory, 2, NULL), 0);
    int err = 0;
    tw_port *port = tw_listen_tcp(fx->env.r, 0, "127.0.0.1", 0, &lf.factory, &err);
    assert_non_null(port);
    assert_int_equal(wrapped.started, 1);
    uint16_t pn = tw_test_port_number(port);

    tw_test_reader c[3];
    for (int i = 0; i < 2; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].fd = tw_test_tcp_client(pn);
        assert_true(c[i].fd >= 0);
    }
    made_cond two = {&wrapped, 2};
    assert_true(tw_test_run_until(fx->env.r, made_at_least, &two, 10.0));
    assert_int_equal(lf.connection_count, 2);

    /* The third is closed at once and never reaches the wrapped factory. */
    memset(&c[2], 0, sizeof c[2]);
    c[2].fd = tw_test_tcp_client(pn);
    assert_true(c[2].fd >= 0);
    assert_true(tw_test_run_until(fx->env.r, tw_test_reader_ready, &c[2], 10.0));
    assert_int_equal(wrapped.npeers, 2);
    assert_int_equal(lf.connection_count, 2);

    /* The first two still work: the wrapped protocol echoes through the wrapper. */
    assert_int_equal(send(c[0].fd, "ping", 4, MSG_NOSIGNAL), 4);
    c[0].want = 4;
    assert_true(tw_test_run_until(fx->env.r, tw_test_reader_ready, &c[0], 10.0));
    assert_int_equal(c[0].len, 4);
    assert_memory_equal(c[0].buf, "ping", 4);

    /* One leaves: the count follows, and a new connection is accepted again. */
    close(c[0].fd);
    count_cond one = {&lf, 1};
    assert_true(tw_test_run_until(fx->env.r, count_is, &one, 10.0));
    assert_int_equal(wrapped.peers[0]->lost, 1);
    assert_int_equal(wrapped.peers[0]->destroyed, 1);
    assert_string_equal(wrapped.peers[0]->reason_type, TW_CONNECTION_DONE);
    int again = tw_test_tcp_client(pn);
    assert_true(again >= 0);
    made_cond three = {&wrapped, 3};
    assert_true(tw_test_run_until(fx->env.r, made_at_least, &three, 10.0));
    assert_int_equal(lf.connection_count, 2);

    close(again);
    close(c[1].fd);
    close(c[2].fd);
    count_cond none = {&lf, 0};
    assert_true(tw_test_run_until(fx->env.r, count_is, &none, 10.0));
    tw_port_free(port);
    assert_int_equal(wrapped.stopped, 1);
    tw_test_factory_free(&wrapped);
}

static void test_limit_overflow_protocol(void **state)
{
    fixture *fx = *state;
    tw_test_factory wrapped, overflow;
    tw_test_factory_init(&wrapped);
    tw_test_factory_init(&overflow);
    overflow.template.send_on_made = "busy\r\n";
    overflow.template.send_on_made_len = 6;
    overflow.template.lose_on_made = true;
    tw_limit_total_connections_factory lf;
    assert_int_equal(
        tw_limit_total_connections_factory_init(&lf, &wrapped.factory, 1, &overflow.factory), 0);
    int err = 0;
    tw_port *port = tw_listen_tcp(fx->env.r, 0, "127.0.0.1", 0, &lf.factory, &err);
    assert_non_null(port);
    assert_int_equal(overflow.started, 1);
    uint16_t pn = tw_test_port_number(port);

    tw_test_reader first = {.fd = tw_test_tcp_client(pn)};
    made_cond one = {&wrapped, 1};
    assert_true(tw_test_run_until(fx->env.r, made_at_least, &one, 10.0));
    tw_test_reader second = {.fd = tw_test_tcp_client(pn)};
    assert_true(tw_test_run_until(fx->env.r, tw_test_reader_ready, &second, 10.0));
    assert_int_equal(second.len, 6);
    assert_memory_equal(second.buf, "busy\r\n", 6);
    assert_int_equal(overflow.npeers, 1);
    assert_int_equal(wrapped.npeers, 1);
    /* The overflow connection counted while it was open, and stopped counting once gone. */
    count_cond back = {&lf, 1};
    assert_true(tw_test_run_until(fx->env.r, count_is, &back, 10.0));

    close(first.fd);
    close(second.fd);
    count_cond none = {&lf, 0};
    assert_true(tw_test_run_until(fx->env.r, count_is, &none, 10.0));
    tw_port_free(port);
    assert_int_equal(overflow.stopped, 1);
    assert_int_equal(wrapped.stopped, 1);
    tw_test_factory_free(&wrapped);
    tw_test_factory_free(&overflow);
}

/* ---- TimeoutFactory -------------------------------------------------------------------------- */

/* The wrapped protocol: remembers its tw_protocol so the test can reset the timeout through it. */
typedef struct {
    tw_protocol *p;
    int lost;
    char reason[40];
} idle_state;

static int idle_made(tw_protocol *p)
{
    ((idle_state *)p->user)->p = p;
    return 0;
}

static void idle_lost(tw_protocol *p, const tw_failure *reason)
{
    idle_state *s = p->user;
    s->lost++;
    strncpy(s->reason, tw_failure_type(reason), sizeof s->reason - 1);
}

static const tw_protocol_ops idle_ops = {
    .connection_made = idle_made,
    .connection_lost = idle_lost,
};

static int idle_build(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    out->ops = &idle_ops;
    out->user = f->user;
    return 0;
}

static const tw_factory_ops idle_factory_ops = {.build_protocol = idle_build};

/* The timeout factory's connections: string transports on the controllable clock. */
static void test_timeout_factory(void **state)
{
    tw_test_clock_env *env = *state;
    idle_state s = {0};
    tw_factory inner = {.ops = &idle_factory_ops, .user = &s};
    tw_timeout_factory tf;
    assert_int_equal(tw_timeout_factory_init(&tf, NULL, 1), -EINVAL);
    assert_int_equal(tw_timeout_factory_init(&tf, &inner, 0), 0);
    assert_true(tf.timeout_period == TW_TIMEOUT_FACTORY_PERIOD_DEFAULT);
    assert_int_equal(tw_timeout_factory_init(&tf, &inner, 30.0), 0);
    tw_string_transport *c = tw_string_transport_new(env->r, &tf.factory, NULL, NULL);
    assert_non_null(c);
    assert_non_null(s.p);

    tw_clock_advance(env->clock, 20);
    assert_int_equal(tw_string_transport_data_received(c, "x", 1), 0); /* input restarts it */
    tw_clock_advance(env->clock, 20);
    assert_int_equal(s.lost, 0);
    assert_int_equal(tw_timeout_factory_reset_timeout(s.p), 0); /* e.g. after a write */
    assert_int_equal(tw_timeout_factory_reset_timeout(tw_transport_protocol(s.p->transport)),
                     -EINVAL);
    tw_protocol stranger = {0};
    assert_int_equal(tw_timeout_factory_reset_timeout(&stranger), -EINVAL);
    tw_clock_advance(env->clock, 29);
    assert_int_equal(s.lost, 0);
    assert_false(tw_string_transport_state(c) & TW_STRING_LOSE_CONNECTION);
    tw_clock_advance(env->clock, 2);
    assert_true(tw_string_transport_state(c) & TW_STRING_LOSE_CONNECTION);
    assert_true(tw_test_conn_closed(c));
    assert_int_equal(s.lost, 1);
    assert_string_equal(s.reason, TW_CONNECTION_DONE);
    assert_int_equal(tw_reactor_pending_calls(env->r), 0);
    tw_string_transport_free(c);
}

/* A connection lost before its timeout leaves no timer behind. */
static void test_timeout_factory_cancels_on_lost(void **state)
{
    tw_test_clock_env *env = *state;
    idle_state s = {0};
    tw_factory inner = {.ops = &idle_factory_ops, .user = &s};
    tw_timeout_factory tf;
    assert_int_equal(tw_timeout_factory_init(&tf, &inner, 30.0), 0);
    size_t before = tw_reactor_pending_calls(env->r);
    tw_string_transport *c = tw_string_transport_new(env->r, &tf.factory, NULL, NULL);
    assert_non_null(c);
    assert_non_null(s.p);
    assert_int_equal(tw_reactor_pending_calls(env->r), before + 1);
    assert_int_equal(tw_string_transport_receive_eof(c), 0); /* the peer closes */
    assert_int_equal(s.lost, 1);
    assert_int_equal(tw_reactor_pending_calls(env->r), before);
    tw_string_transport_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mixin_fires_after_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixin_reset_and_change_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixin_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixin_default_without_protocol, setup, teardown),
        cmocka_unit_test(test_limit_init),
        cmocka_unit_test_setup_teardown(test_limit_refuses_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_overflow_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_factory, tw_test_clock_fixture_setup_default,
                                        tw_test_clock_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_factory_cancels_on_lost,
                                        tw_test_clock_fixture_setup_default,
                                        tw_test_clock_fixture_teardown),
    };
    return cmocka_run_group_tests_name("policies", tests, NULL, NULL);
}
