/* Tests for the DNS client against the test server of tests/support/dns_server.c on loopback:
 * MX answers sorted, NXDOMAIN, SERVFAIL, REFUSED, NODATA, a truncated answer retried over TCP,
 * replies with the wrong ID or from the wrong port and replies with a compression loop ignored,
 * an ICMP-refused server skipped, a server that never answers (attempt order and timeouts on a
 * controlled clock), cancellation, freeing a resolver with queries running, and 1,000 domains
 * through a semaphore of 10 never holding more than 10 queries at the server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <twine/twine.h>

#include "support/dns_server.h"
#include "support/net.h"
#include "support/reactor_test.h"

typedef struct {
    tw_test_env env;
    tw_test_dns_server server;
    tw_dns_resolver *res;
} fixture;

/* What a lookup's deferred fired with. */
typedef struct {
    bool fired, failed;
    char type[48];
    char message[256];
    tw_dns_mx_list *mx;  /* the value, for a lookup */
    void *value;         /* the value, whatever it is */
    tw_destructor destroy;
} outcome;

static int on_value(tw_deferred *d, tw_result *r, void *arg)
{
    (void)d;
    outcome *o = arg;
    o->fired = true;
    o->value = o->mx = tw_result_take_value(r, &o->destroy);
    return 0;
}

static int on_failure(tw_deferred *d, tw_result *r, void *arg)
{
    (void)d;
    outcome *o = arg;
    tw_failure *f = tw_result_take_failure(r);
    o->fired = o->failed = true;
    snprintf(o->type, sizeof o->type, "%s", tw_failure_type(f));
    snprintf(o->message, sizeof o->message, "%s", tw_failure_message(f));
    tw_failure_unref(f);
    return 0;
}

static bool fired(void *arg)
{
    return ((outcome *)arg)->fired;
}

static void watch(tw_deferred *d, outcome *o)
{
    assert_non_null(d);
    memset(o, 0, sizeof *o);
    assert_int_equal(tw_deferred_add_callbacks(d, on_value, o, on_failure, o), 0);
    tw_deferred_unref(d);
}

static tw_dns_resolver *resolver_for(tw_reactor *r, const tw_dns_server *servers, size_t n,
                                     const double *timeouts, size_t ntimeouts)
{
    tw_dns_resolver_options o = {.servers = servers, .nservers = n, .timeouts = timeouts,
                                 .ntimeouts = ntimeouts};
    int err = 0;
    tw_dns_resolver *res = tw_dns_resolver_new(r, &o, &err);
    assert_non_null(res);
    return res;
}

static int setup_clock(void **state, tw_test_clock_choice clock)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || tw_test_env_open(&f->env, clock) < 0)
        return -1;
    if (tw_test_dns_server_start(&f->server, f->env.r) < 0)
        return -1;
    static const double timeouts[] = {2.0, 2.0};
    f->res = resolver_for(f->env.r, &f->server.addr, 1, timeouts, 2);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_clock(state, TW_TEST_REAL_CLOCK);
}

static int setup_controlled(void **state)
{
    return setup_clock(state, TW_TEST_CONTROLLED_CLOCK);
}

static int teardown(void **state)
{
    fixture *f = *state;
    tw_dns_resolver_free(f->res);
    tw_test_dns_server_stop(&f->server);
    tw_test_env_close(&f->env);
    free(f);
    return 0;
}

/* Looks name up and runs the reactor until the outcome is known. */
static void lookup(fixture *f, const char *name, outcome *o)
{
    int err = 0;
    watch(tw_dns_lookup_mail_exchange(f->res, name, &err), o);
    assert_true(tw_test_run_until(f->env.r, fired, o, 10));
}

static void assert_good_mx(const outcome *o, const char *name)
{
    char expect[300];
    assert_false(o->failed);
    assert_non_null(o->mx);
    assert_string_equal(o->mx->domain, name);
    assert_int_equal(o->mx->count, 2);
    assert_int_equal(o->mx->items[0].preference, 10);
    snprintf(expect, sizeof expect, "mx1.%s", name);
    assert_string_equal(o->mx->items[0].exchange, expect);
    assert_int_equal(o->mx->items[1].preference, 20);
}

/* Looks name up and expects the two good MX records. */
static void expect_good(fixture *f, const char *name)
{
    outcome o;
    lookup(f, name, &o);
    assert_good_mx(&o, name);
    tw_dns_mx_list_free(o.mx);
}

static void test_mx_sorted(void **state)
{
    fixture *f = *state;
    outcome o;
    lookup(f, "example.test", &o);
    assert_good_mx(&o, "example.test");
    tw_dns_mx_list_free(o.mx);
    assert_int_equal(f->server.udp_queries, 1);
    assert_int_equal(tw_dns_resolver_in_flight(f->res), 0);
}

static void test_nxdomain(void **state)
{
    fixture *f = *state;
    outcome o;
    lookup(f, "nx.example.test", &o);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_DNS_NAME_ERROR);
    assert_string_equal(o.message, "nx.example.test: no such domain (NXDOMAIN)");
    assert_int_equal(f->server.udp_queries, 1); /* no retry */
}

static void test_servfail_and_refused(void **state)
{
    fixture *f = *state;
    outcome o;
    lookup(f, "servfail.example.test", &o);
    assert_true(o.failed);
    assert_string_equal(o.type, TW_DNS_SERVER_ERROR);
    assert_string_equal(o.message, "servfail.example.test: server answered SERVFAIL");
    assert_int_equal(f->server.udp_queries, 1); /* the only server is struck, no second try */
    lookup(f, "refused.example.test", &o);
    assert_string_equal(o.type, TW_DNS_QUERY_REFUSED_ERROR);
}

static void test_nodata_is_an_empty_list(void **state)
{
    fixture *f = *state;
    outcome o;
    lookup(f, "empty.example.test", &o);
    assert_false(o.failed);
    assert_int_equal(o.mx->count, 0);
    tw_dns_mx_list_free(o.mx);
}

static void test_truncated_retried_over_tcp(void **state)
{
    fixture *f = *state;
    outcome o;
    lookup(f, "tc.example.test", &o);
    assert_good_mx(&o, "tc.example.test");
    tw_dns_mx_list_free(o.mx);
    assert_int_equal(f->server.udp_queries, 1);
    assert_int_equal(f->server.tcp_queries, 1);
}

/* Without the option no query carries an OPT record (as Twisted's client); with it every query
 * does, and a server that answers FORMERR without OPT is asked once more without it, a second
 * copy of that FORMERR changing nothing. */
static void test_edns(void **state)
{
    fixture *f = *state;
    expect_good(f, "noedns.example.test");
    assert_int_equal(f->server.edns_queries, 0);

    tw_dns_resolver_free(f->res);
    static const double timeouts[] = {2.0, 2.0};
    tw_dns_resolver_options opt = {.servers = &f->server.addr, .nservers = 1,
                                   .timeouts = timeouts, .ntimeouts = 2, .edns = true};
    int err = 0;
    f->res = tw_dns_resolver_new(f->env.r, &opt, &err);
    assert_non_null(f->res);
    f->server.udp_queries = 0;
    expect_good(f, "example.test");
    assert_int_equal(f->server.udp_queries, 1);
    assert_int_equal(f->server.edns_queries, 1);
    /* FORMERR to the OPT (and a duplicate of it, ignored), then the answer without the OPT */
    expect_good(f, "noedns.example.test");
    assert_int_equal(f->server.udp_queries, 3);
    assert_int_equal(f->server.edns_queries, 2);
    expect_good(f, "tc.example.test"); /* TC still goes to TCP */
    assert_int_equal(f->server.tcp_queries, 1);
    assert_int_equal(tw_dns_resolver_in_flight(f->res), 0);
}

/* A reply with another ID, one from another port of the server's host, and one that does not
 * parse are all dropped; the real reply that follows each is taken. */
static void test_spoofed_and_malformed_ignored(void **state)
{
    fixture *f = *state;
    const char *names[] = {"wrongid.example.test", "wrongport.example.test", "loop.example.test"};
    for (size_t i = 0; i < 3; i++) {
        outcome o;
        lookup(f, names[i], &o);
        assert_good_mx(&o, names[i]);
        tw_dns_mx_list_free(o.mx);
    }
}

/* A server whose port is closed answers with ICMP port unreachable: the connected socket reports
 * it and the next server is asked at once. With no other server the lookup fails at once. */
static void test_refused_server_skipped(void **state)
{
    fixture *f = *state;
    int err;
    tw_datagram_protocol none = {0};
    tw_datagram_port *gone = tw_listen_udp(f->env.r, 0, "127.0.0.1", &none, &err);
    assert_non_null(gone);
    tw_dns_server servers[2];
    socklen_t len;
    assert_int_equal(tw_datagram_get_host(gone, &servers[0].addr, &len), 0);
    servers[0].len = len;
    tw_datagram_port_stop(gone);
    servers[1] = f->server.addr;
    static const double long_timeouts[] = {30.0};
    tw_dns_resolver *res = resolver_for(f->env.r, servers, 2, long_timeouts, 1);
    outcome o;
    watch(tw_dns_lookup_mail_exchange(res, "example.test", &err), &o);
    assert_true(tw_test_run_until(f->env.r, fired, &o, 10)); /* well before the 30 s timeout */
    assert_good_mx(&o, "example.test");
    tw_dns_mx_list_free(o.mx);
    tw_dns_resolver_free(res);

    res = resolver_for(f->env.r, servers, 1, long_timeouts, 1);
    watch(tw_dns_lookup_mail_exchange(res, "example.test", &err), &o);
    assert_true(tw_test_run_until(f->env.r, fired, &o, 10));
    assert_string_equal(o.type, TW_CONNECTION_REFUSED_ERROR);
    assert_true(strncmp(o.message, "example.test: ", 14) == 0);
    tw_dns_resolver_free(res);
}

/* Runs non-blocking turns so that datagrams in flight on loopback arrive. */
static void settle(tw_reactor *r)
{
    for (int i = 0; i < 20; i++)
        tw_reactor_iterate(r, 0);
}

/* Two silent servers, timeouts 1 and 3: attempts go A, B at 0 and 1 s, then A, B at 2 and 5 s;
 * the lookup fails with TimeoutError at 8 s, not before. */
static void test_never_answers(void **state)
{
    fixture *f = *state;
    tw_test_dns_server other;
    assert_int_equal(tw_test_dns_server_start(&other, f->env.r), 0);
    tw_dns_server servers[2] = {f->server.addr, other.addr};
    static const double timeouts[] = {1.0, 3.0};
    tw_dns_resolver *res = resolver_for(f->env.r, servers, 2, timeouts, 2);
    outcome o;
    int err;
    watch(tw_dns_lookup_mail_exchange(res, "silent.example.test", &err), &o);
    settle(f->env.r);
    const struct {
        double advance;
        size_t a, b;
    } steps[] = {{0.99, 1, 0}, {0.02, 1, 1}, {0.99, 1, 1}, {0.02, 2, 1},
                 {2.99, 2, 1}, {0.02, 2, 2}, {2.99, 2, 2}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        tw_test_clock_turn(f->env.r, &f->env.clock, steps[i].advance);
        settle(f->env.r);
        assert_int_equal(f->server.udp_queries, steps[i].a);
        assert_int_equal(other.udp_queries, steps[i].b);
        assert_false(o.fired);
    }
    tw_test_clock_turn(f->env.r, &f->env.clock, 0.02);
    settle(f->env.r);
    assert_true(o.fired);
    assert_string_equal(o.type, TW_TIMEOUT_ERROR);
    assert_string_equal(o.message, "silent.example.test: timed out");
    assert_int_equal(tw_dns_resolver_in_flight(res), 0);
    tw_dns_resolver_free(res);
    tw_test_dns_server_stop(&other);
}

static void test_cancel_and_free(void **state)
{
    fixture *f = *state;
    outcome a, b;
    int err;
    tw_deferred *d = tw_dns_lookup_mail_exchange(f->res, "silent.example.test", &err);
    tw_deferred_ref(d);
    watch(d, &a);
    watch(tw_dns_lookup_mail_exchange(f->res, "silent.example.test", &err), &b);
    settle(f->env.r);
    assert_int_equal(tw_dns_resolver_in_flight(f->res), 2);
    tw_deferred_cancel(d);
    tw_deferred_unref(d);
    assert_string_equal(a.type, TW_CANCELLED_ERROR);
    assert_int_equal(tw_dns_resolver_in_flight(f->res), 1);
    tw_dns_resolver_free(f->res); /* the other one is cancelled too */
    f->res = NULL;
    assert_string_equal(b.type, TW_CANCELLED_ERROR);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_dns_lookup_mail_exchange(f->res, "a..b", &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_dns_lookup_mail_exchange(f->res, NULL, &err));
    assert_int_equal(err, -EINVAL);
    settle(f->env.r);
    assert_int_equal(f->server.udp_queries, 0);
    static const double zero[] = {0.0};
    tw_dns_resolver_options o = {.servers = &f->server.addr, .nservers = 1, .timeouts = zero,
                                 .ntimeouts = 1};
    assert_null(tw_dns_resolver_new(f->env.r, &o, &err));
    assert_int_equal(err, -EINVAL);
    o.timeouts = NULL;
    o.nservers = TW_DNS_NAMESERVERS_MAX + 1;
    assert_null(tw_dns_resolver_new(f->env.r, &o, &err));
    assert_int_equal(err, -EINVAL);
}

/* ---- 1,000 domains, at most 10 at once ------------------------------------------------------ */

typedef struct {
    tw_dns_resolver *res;
    char name[32];
} job;

static int run_lookup(tw_result *out, void *arg)
{
    job *j = arg;
    int err = 0;
    tw_deferred *d = tw_dns_lookup_mail_exchange(j->res, j->name, &err);
    if (!d)
        return err;
    tw_result_set_deferred(out, d);
    return 0;
}

static void test_thousand_domains_ten_at_once(void **state)
{
    fixture *f = *state;
    enum { N = 1000 };
    f->server.delay = 0.002;
    int err = 0;
    tw_semaphore *sem = tw_semaphore_new(f->env.r, 10, &err);
    assert_non_null(sem);
    job *jobs = calloc(N, sizeof *jobs);
    tw_deferred **ds = calloc(N, sizeof *ds);
    for (int i = 0; i < N; i++) {
        jobs[i].res = f->res;
        snprintf(jobs[i].name, sizeof jobs[i].name, "d%d.example.test", i);
        ds[i] = tw_semaphore_run(sem, run_lookup, &jobs[i], &err);
        assert_non_null(ds[i]);
    }
    outcome o;
    tw_deferred *list = tw_deferred_list_new(f->env.r, ds, N, 0, &err);
    assert_non_null(list);
    memset(&o, 0, sizeof o);
    assert_int_equal(tw_deferred_add_callbacks(list, on_value, &o, on_failure, &o), 0);
    assert_true(tw_test_run_until(f->env.r, fired, &o, 60));
    tw_list_result *results = o.value;
    assert_int_equal(results->count, N);
    for (int i = 0; i < N; i++) {
        assert_true(results->entries[i].ok);
        tw_dns_mx_list *mx = results->entries[i].value;
        assert_string_equal(mx->domain, jobs[i].name);
    }
    assert_int_equal(f->server.udp_queries, N);
    assert_true(f->server.max_pending <= 10);
    assert_true(f->server.max_pending >= 2); /* the semaphore did let several run at once */
    o.destroy(o.value);
    tw_deferred_unref(list);
    for (int i = 0; i < N; i++)
        tw_deferred_unref(ds[i]);
    free(ds);
    free(jobs);
    tw_semaphore_free(sem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mx_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nxdomain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_servfail_and_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodata_is_an_empty_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_retried_over_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spoofed_and_malformed_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_server_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_answers, setup_controlled, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thousand_domains_ten_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
