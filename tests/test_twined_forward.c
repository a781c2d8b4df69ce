/* End-to-end tests of `twined forward` (Twisted's portforward; docs/twined.md), with the backend
 * and the clients in the test's own reactor: a round trip with the client's EOF passed on, the
 * backend's half-close passed the other way, a refusing backend closing only its client (and the
 * forwarder serving the next one), a backend dying under one client while another goes on, a
 * client leaving while its backend connect is in progress (the attempt is cancelled), bounded
 * memory when either side does not read, stdio as the listening side, bad arguments and SIGTERM. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/outcome.h"
#include "support/reactor_test.h"
#include "support/stop_signal.h"
#include "support/twined_child.h"

#define WAIT_SECONDS 10.0
#define ROUND_TRIP_SIZE (2u << 20)
#define PUSH_SIZE (32u << 20)
#define RSS_GROWTH_MAX_KIB 4096
#define MAX_CONNS 8

/* ---- one end of a connection in the test: the backend's side or a client --------------------- */

typedef struct {
    bool echo;             /* write back what arrives (until our write side is shut) */
    bool pause;            /* never read: for back-pressure */
    const char *greeting;  /* sent on connection_made, then our write side is shut */
    const char *push;      /* PUSH_SIZE bytes lent on connection_made, then our write side shut */
} conduct;

typedef struct {
    conduct how;
    tw_transport *t;
    char *data;
    size_t len, cap;
    bool read_eof, write_done, lost;
    char lost_type[40];
} end;

typedef struct {
    tw_test_env env;
    tw_factory backend_factory;
    conduct backend_conduct;
    end backends[MAX_CONNS];
    size_t nbackends;
    tw_port *backend_port;
    end clients[MAX_CONNS];
    size_t nclients;
    tw_test_twined twined;
    char *push;
} fixture;

static void keep(end *e, const char *data, size_t len)
{
    if (e->len + len > e->cap) {
        e->cap = (e->len + len) * 2;
        e->data = realloc(e->data, e->cap);
        assert_non_null(e->data);
    }
    memcpy(e->data + e->len, data, len);
    e->len += len;
}

static ssize_t end_data(tw_protocol *p, const char *data, size_t len)
{
    end *e = p->user;
    keep(e, data, len);
    if (e->how.echo)
        tw_transport_write(p->transport, data, len);
    if (len >= 3 && memcmp(data, "die", 3) == 0)
        tw_transport_abort_connection(p->transport);
    return (ssize_t)len;
}

static int end_made(tw_protocol *p)
{
    end *e = p->user;
    e->t = p->transport;
    if (e->how.pause)
        tw_transport_pause_producing(p->transport);
    if (e->how.greeting) {
        tw_transport_write(p->transport, e->how.greeting, strlen(e->how.greeting));
        tw_transport_lose_write_connection(p->transport);
    }
    if (e->how.push) {
        tw_transport_write_lent(p->transport, e->how.push, PUSH_SIZE, NULL, NULL);
        tw_transport_lose_write_connection(p->transport);
    }
    return 0;
}

static int end_read_lost(tw_protocol *p)
{
    end *e = p->user;
    e->read_eof = true;
    if (e->write_done)
        tw_transport_lose_connection(p->transport); /* both directions are done */
    else if (e->how.echo)
        tw_transport_lose_write_connection(p->transport);
    return 0;
}

static int end_write_lost(tw_protocol *p)
{
    end *e = p->user;
    e->write_done = true;
    if (e->read_eof)
        tw_transport_lose_connection(p->transport);
    return 0;
}

static void end_lost(tw_protocol *p, const tw_failure *reason)
{
    end *e = p->user;
    e->t = NULL;
    e->lost = true;
    snprintf(e->lost_type, sizeof e->lost_type, "%s", tw_failure_type(reason));
}

static const tw_protocol_ops end_ops = {
    .connection_made = end_made,
    .data_received = end_data,
    .read_connection_lost = end_read_lost,
    .write_connection_lost = end_write_lost,
    .connection_lost = end_lost,
};

static int backend_build(tw_factory *fac, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    fixture *f = fac->user;
    if (f->nbackends == MAX_CONNS)
        return -ECONNREFUSED;
    end *e = &f->backends[f->nbackends++];
    e->how = f->backend_conduct;
    out->ops = &end_ops;
    out->user = e;
    return 0;
}

static const tw_factory_ops backend_factory_ops = {.build_protocol = backend_build};

/* ---- fixture and helpers --------------------------------------------------------------------- */

static int setup(void **state)
{
    if (tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_REAL_CLOCK) < 0)
        return -1;
    fixture *f = *state;
    f->backend_factory = (tw_factory){.ops = &backend_factory_ops, .user = f};
    return 0;
}

static void abort_ends(end *ends, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ends[i].t)
            tw_transport_abort_connection(ends[i].t);
}

static bool all_ends_closed(void *arg)
{
    fixture *f = arg;
    for (size_t i = 0; i < f->nclients; i++)
        if (f->clients[i].t)
            return false;
    for (size_t i = 0; i < f->nbackends; i++)
        if (f->backends[i].t)
            return false;
    return true;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tw_test_twined_free(&f->twined);
    abort_ends(f->clients, f->nclients);
    abort_ends(f->backends, f->nbackends);
    assert_true(tw_test_run_until(f->env.r, all_ends_closed, f, WAIT_SECONDS));
    if (f->backend_port)
        tw_port_free(f->backend_port);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        free(f->clients[i].data);
        free(f->backends[i].data);
    }
    free(f->push);
    return tw_test_fixture_teardown(state);
}

static uint16_t start_backend(fixture *f, conduct how, uint16_t port)
{
    int err = 0;
    f->backend_conduct = how;
    f->backend_port = tw_listen_tcp(f->env.r, port, "127.0.0.1", 0, &f->backend_factory, &err);
    assert_non_null(f->backend_port);
    return tw_test_port_number(f->backend_port);
}

/* Starts `twined forward --listen tcp:0:interface=127.0.0.1 --connect tcp:127.0.0.1:PORT`;
 * returns the port it listens on. */
static uint16_t start_forward(fixture *f, uint16_t backend_port)
{
    char connect[64];
    snprintf(connect, sizeof connect, "tcp:127.0.0.1:%u", (unsigned)backend_port);
    const char *args[] = {"forward", "--listen", "tcp:0:interface=127.0.0.1", "--connect",
                          connect, NULL};
    tw_test_twined_start(&f->twined, f->env.r, args, NULL, 0, false);
    assert_true(tw_test_run_until(f->env.r, tw_test_twined_listening, &f->twined, WAIT_SECONDS));
    uint16_t port = tw_test_twined_port(&f->twined);
    assert_true(port != 0);
    return port;
}

/* A client of the forwarder: connects and runs until connected. */
static end *client(fixture *f, uint16_t port, conduct how)
{
    end *e = &f->clients[f->nclients++];
    e->how = how;
    int err = 0;
    tw_client_endpoint *ep =
        tw_tcp4_client_endpoint_new(f->env.r, "127.0.0.1", port, 0, NULL, &err);
    tw_protocol proto = {.ops = &end_ops, .user = e};
    tw_test_outcome o;
    tw_test_outcome_expect(tw_connect_protocol(ep, &proto, &err), &o);
    tw_client_endpoint_free(ep);
    assert_true(tw_test_run_until(f->env.r, tw_test_outcome_fired, &o, WAIT_SECONDS));
    assert_true(tw_test_outcome_ok(&o));
    return e;
}

static bool end_closed(void *arg)
{
    return ((end *)arg)->lost;
}

static bool end_read_eof(void *arg)
{
    return ((end *)arg)->read_eof || ((end *)arg)->lost;
}

static void wait_for(fixture *f, bool (*cond)(void *), void *arg)
{
    assert_true(tw_test_run_until(f->env.r, cond, arg, WAIT_SECONDS));
}

/* ---- the tests ------------------------------------------------------------------------------- */

static void test_round_trip_with_half_close(void **state)
{
    fixture *f = *state;
    uint16_t port = start_forward(f, start_backend(f, (conduct){.echo = true}, 0));
    char *input = malloc(ROUND_TRIP_SIZE);
    tw_test_fill_random(input, ROUND_TRIP_SIZE, 11);
    end *c = client(f, port, (conduct){0});
    tw_transport_write(c->t, input, ROUND_TRIP_SIZE);
    tw_transport_lose_write_connection(c->t); /* passed on: the backend sees EOF, echoes, closes */
    wait_for(f, end_read_eof, c);
    assert_int_equal(c->len, ROUND_TRIP_SIZE);
    assert_memory_equal(c->data, input, ROUND_TRIP_SIZE);
    assert_true(f->backends[0].read_eof);
    wait_for(f, end_closed, &f->backends[0]);
    free(input);
}

/* The backend says hello and shuts its write side; the client still talks, and is heard. */
static void test_backend_half_close_is_passed_on(void **state)
{
    fixture *f = *state;
    uint16_t port = start_forward(f, start_backend(f, (conduct){.greeting = "hello\n"}, 0));
    end *c = client(f, port, (conduct){0});
    wait_for(f, end_read_eof, c);
    assert_false(c->lost);
    assert_int_equal(c->len, 6);
    assert_memory_equal(c->data, "hello\n", 6);
    tw_transport_write(c->t, "late words", 10);
    tw_transport_lose_write_connection(c->t);
    wait_for(f, end_closed, c);
    wait_for(f, end_read_eof, &f->backends[0]); /* the client's EOF, after its words */
    assert_int_equal(f->backends[0].len, 10);
    assert_memory_equal(f->backends[0].data, "late words", 10);
}

static void test_refusing_backend_closes_only_that_client(void **state)
{
    fixture *f = *state;
    uint16_t backend = tw_test_closed_port();
    uint16_t port = start_forward(f, backend);
    end *c = client(f, port, (conduct){0});
    wait_for(f, end_read_eof, c);
    assert_int_equal(c->len, 0);
    start_backend(f, (conduct){.echo = true}, backend); /* the forwarder goes on serving */
    end *next = client(f, port, (conduct){0});
    tw_transport_write(next->t, "again", 5);
    tw_transport_lose_write_connection(next->t);
    wait_for(f, end_closed, next);
    assert_int_equal(next->len, 5);
    assert_false(f->twined.exited);
}

static void test_dead_backend_closes_only_its_client(void **state)
{
    fixture *f = *state;
    uint16_t port = start_forward(f, start_backend(f, (conduct){.echo = true}, 0));
    end *doomed = client(f, port, (conduct){0});
    end *other = client(f, port, (conduct){0});
    tw_transport_write(other->t, "one ", 4);
    tw_transport_write(doomed->t, "die", 3); /* its backend aborts */
    wait_for(f, end_read_eof, doomed);
    assert_false(other->read_eof);
    tw_transport_write(other->t, "two", 3);
    tw_transport_lose_write_connection(other->t);
    wait_for(f, end_closed, other);
    assert_int_equal(other->len, 7);
    assert_memory_equal(other->data, "one two", 7);
}

typedef struct {
    fixture *f;
    int fds;
} fd_wait;

static bool twined_fds_back(void *arg)
{
    fd_wait *w = arg;
    return tw_test_twined_fds(&w->f->twined) == w->fds;
}

/* The accepted socket and its backend attempt are open. */
static bool twined_fds_two_more(void *arg)
{
    fd_wait *w = arg;
    return tw_test_twined_fds(&w->f->twined) == w->fds + 2;
}

/* The backend never answers (its backlog is full): a client that leaves cancels the attempt, which
 * shows as twined's descriptors coming back to what they were. */
static void test_client_leaving_cancels_backend_connect(void **state)
{
    fixture *f = *state;
    int listener, filler;
    uint16_t port = start_forward(f, tw_test_full_listener(&listener, &filler));
    fd_wait w = {.f = f, .fds = tw_test_twined_fds(&f->twined)};
    end *c = client(f, port, (conduct){0});
    wait_for(f, twined_fds_two_more, &w);
    tw_transport_lose_connection(c->t);
    wait_for(f, end_closed, c);
    wait_for(f, twined_fds_back, &w);
    close(listener);
    close(filler);
}

static long settle_rss(fixture *f, long *before)
{
    for (int i = 0; i < 100; i++) { /* about a second against a side that does not read */
        tw_reactor_iterate(f->env.r, 0.01);
        if (i == 20)
            *before = tw_test_twined_rss_kib(&f->twined);
    }
    return tw_test_twined_rss_kib(&f->twined);
}

static void test_back_pressure_from_a_backend_that_does_not_read(void **state)
{
    fixture *f = *state;
    uint16_t port = start_forward(f, start_backend(f, (conduct){.pause = true}, 0));
    f->push = malloc(PUSH_SIZE);
    memset(f->push, 'x', PUSH_SIZE);
    end *c = client(f, port, (conduct){.push = f->push});
    (void)c;
    long before = -1, after = settle_rss(f, &before);
    print_message("twined RSS %ld -> %ld KiB against a backend that does not read\n", before,
                  after);
    assert_true(before > 0 && after - before < RSS_GROWTH_MAX_KIB);
    tw_transport_resume_producing(f->backends[0].t);
    wait_for(f, end_read_eof, &f->backends[0]);
    assert_int_equal(f->backends[0].len, PUSH_SIZE);
}

static void test_back_pressure_from_a_client_that_does_not_read(void **state)
{
    fixture *f = *state;
    f->push = malloc(PUSH_SIZE);
    memset(f->push, 'y', PUSH_SIZE);
    uint16_t port = start_forward(f, start_backend(f, (conduct){.push = f->push}, 0));
    end *c = client(f, port, (conduct){.pause = true});
    long before = -1, after = settle_rss(f, &before);
    print_message("twined RSS %ld -> %ld KiB against a client that does not read\n", before,
                  after);
    assert_true(before > 0 && after - before < RSS_GROWTH_MAX_KIB);
    tw_transport_resume_producing(c->t);
    wait_for(f, end_read_eof, c);
    assert_int_equal(c->len, PUSH_SIZE);
    tw_transport_lose_connection(c->t);
}

static void test_stdio_as_the_listening_side(void **state)
{
    fixture *f = *state;
    char connect[64];
    snprintf(connect, sizeof connect, "tcp:127.0.0.1:%u",
             (unsigned)start_backend(f, (conduct){.echo = true}, 0));
    const char *args[] = {"forward", "--listen", "stdio:", "--connect", connect, NULL};
    tw_test_twined_start(&f->twined, f->env.r, args, "through stdio\n", 14, true);
    assert_true(tw_test_run_until(f->env.r, tw_test_twined_finished, &f->twined, WAIT_SECONDS));
    assert_int_equal(f->twined.status, 0);
    assert_int_equal(f->twined.output_len, 14);
    assert_memory_equal(f->twined.output, "through stdio\n", 14);
}

static void test_sigterm_is_status_0(void **state)
{
    fixture *f = *state;
    uint16_t port = start_forward(f, start_backend(f, (conduct){.echo = true}, 0));
    end *c = client(f, port, (conduct){0});
    tw_transport_write(c->t, "hi", 2);
    while (c->len < 2)
        assert_true(tw_reactor_iterate(f->env.r, 0.1) >= 0);
    assert_int_equal(tw_test_stop_signal(f->twined.pid, SIGTERM), 0);
    assert_true(tw_test_run_until(f->env.r, tw_test_twined_finished, &f->twined, 2.0));
    assert_int_equal(f->twined.status, 0);
    wait_for(f, end_read_eof, c);
}

typedef struct {
    const char *args[8];
    const char *message;
} usage_case;

static const usage_case usage_cases[] = {
    {{"forward", NULL}, "missing required option --listen"},
    {{"forward", "--listen", "tcp:0", NULL}, "missing required option --connect"},
    {{"forward", "--connect", "tcp:h:1", NULL}, "missing required option --listen"},
    {{"forward", "--listen", "tcp:0", "--connect", "tcp:h", NULL}, "missing port for 'tcp'"},
    {{"forward", "--listen", "tcp:0", "--connect", "stdio:", NULL},
     "Unknown endpoint type: 'stdio'"},
    {{"forward", "--listen", "ftl:1", "--connect", "tcp:h:1", NULL}, "Unknown endpoint type"},
    {{"forward", "--listen", "tcp:0", "--connect", "tcp:h:1", "--connect", "tcp:h:2", NULL},
     "--connect given twice"},
    {{"forward", "--listen", "tcp:0", "--connect", "tcp:h:1", "extra", NULL},
     "unexpected argument 'extra'"},
};

static void test_bad_arguments_are_status_2(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < sizeof usage_cases / sizeof usage_cases[0]; i++) {
        const usage_case *u = &usage_cases[i];
        tw_test_twined_start(&f->twined, f->env.r, u->args, NULL, 0, true);
        assert_true(tw_test_run_until(f->env.r, tw_test_twined_finished, &f->twined,
                                      WAIT_SECONDS));
        if (f->twined.status != 2 || !strstr(f->twined.err_text, u->message))
            fail_msg("case %zu: status %d, stderr '%s', wanted '%s'", i, f->twined.status,
                     f->twined.err_text, u->message);
        tw_test_twined_free(&f->twined);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_round_trip_with_half_close),
        T(test_backend_half_close_is_passed_on),
        T(test_refusing_backend_closes_only_that_client),
        T(test_dead_backend_closes_only_its_client),
        T(test_client_leaving_cancels_backend_connect),
        T(test_back_pressure_from_a_backend_that_does_not_read),
        T(test_back_pressure_from_a_client_that_does_not_read),
        T(test_stdio_as_the_listening_side),
        T(test_sigterm_is_status_0),
        T(test_bad_arguments_are_status_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
