/* Tests for the hostname endpoint (Happy Eyeballs, RFC 8305). Most run on the reactor's
 * controllable clock with an injected resolver and an injected socket opener, so the exact
 * schedule is checked: when each attempt starts, the interleaving of families, the fast advance
 * after a failure, the 10 ms spacing, the winner when two complete in one turn, what is closed,
 * the overall timeout over resolution and attempts, and cancel at each stage. An attempt the test
 * controls is one end of a socketpair whose buffer is full (it "connects" when the test drains the
 * other end), or a TCP socket stuck connecting to a full listener (it fails when the test
 * disconnects it). The last tests use real sockets, the real opener and the default resolver on
 * loopback. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <twine/twine.h>

#include "endpoints/internal.h"
#include "support/net.h"
#include "support/outcome.h"
#include "support/reactor_test.h"

#define WAIT_SECONDS 5.0
#define MAX_STARTS 8
#define MAX_EVENTS 32
#define TIME_EPSILON 1e-9

/* What the injected opener does with the k-th attempt. */
typedef enum {
    PENDING,     /* connecting until the test completes it (a full socketpair) */
    HANGING,     /* connecting until the test fails it (TCP to a full listener) */
    REFUSED_NOW, /* connect() fails at once with ECONNREFUSED */
    UNREACH_NOW  /* connect() fails at once with ENETUNREACH */
} plan;

typedef struct {
    char address[TW_ADDRESS_HOST_MAX];
    double at;  /* seconds after the connect began */
    int fd;     /* the attempt's socket (twine's once handed over) */
    int peer;   /* the test's end of a PENDING socketpair, or -1 */
} start;

typedef struct {
    tw_attempt_event event;
    size_t index;
    char address[TW_ADDRESS_HOST_MAX];
    int error;
    double elapsed;
} event;

typedef struct {
    tw_test_net_env net;
    /* the injected resolver */
    tw_resolver resolver;
    tw_deferred *resolving;
    int resolve_calls;
    char resolve_host[64];
    uint16_t answer_port; /* the port of the addresses answered; 0 for 80 */
    /* the injected opener */
    plan plans[MAX_STARTS];
    start starts[MAX_STARTS];
    size_t nstarts;
    int full_listener, filler;
    uint16_t full_port;
    double began;
    /* what the endpoint told */
    event events[MAX_EVENTS];
    size_t nevents;
    tw_client_endpoint *ep;
    tw_deferred *d;
    tw_test_outcome o;
    int fds_before;
} fixture;

/* ---- the injected resolver ------------------------------------------------------------------- */

static tw_deferred *test_resolve(tw_resolver *res, tw_reactor *r, const char *host, uint16_t port,
                                 int *err)
{
    (void)port;
    fixture *f = res->user;
    f->resolve_calls++;
    snprintf(f->resolve_host, sizeof f->resolve_host, "%s", host);
    f->resolving = tw_deferred_new(r, err);
    return f->resolving ? tw_deferred_ref(f->resolving) : NULL;
}

static const tw_resolver_ops test_resolver_ops = {.resolve = test_resolve};

/* A list of numeric addresses, in this order, with the port set. */
static tw_address_list *addresses(uint16_t port, const char *const *hosts)
{
    size_t n = 0;
    while (hosts[n])
        n++;
    tw_address_list *list = tw_address_list_new(n, NULL);
    assert_non_null(list);
    for (size_t i = 0; i < n; i++) {
        tw_address *a = &list->addrs[i];
        bool v6 = strchr(hosts[i], ':') != NULL;
        a->type = v6 ? TW_ADDRESS_TCP6 : TW_ADDRESS_TCP4;
        a->port = port;
        snprintf(a->host, sizeof a->host, "%s", hosts[i]);
    }
    return list;
}

static void answer(fixture *f, const char *const *hosts)
{
    assert_non_null(f->resolving);
    tw_address_list *list = addresses(f->answer_port ? f->answer_port : 80, hosts);
    assert_int_equal(tw_deferred_callback(f->resolving, list, tw_address_list_free), 0);
}

/* ---- the injected opener --------------------------------------------------------------------- */

static void fill(int fd)
{
    char junk[65536] = {0};
    while (write(fd, junk, sizeof junk) > 0)
        ;
}

static int test_open(void *ctx, const struct sockaddr *dest, socklen_t len,
                     const struct sockaddr *bind_to, socklen_t bind_len, int *fd)
{
    (void)bind_to;
    (void)bind_len;
    fixture *f = ctx;
    assert_true(f->nstarts < MAX_STARTS);
    start *s = &f->starts[f->nstarts];
    tw_address a;
    assert_int_equal(tw_address_from_sockaddr(&a, dest, len), 0);
    snprintf(s->address, sizeof s->address, "%s", a.host);
    s->at = tw_reactor_seconds(f->net.r) - f->began;
    s->fd = s->peer = *fd = -1;
    switch (f->plans[f->nstarts++]) {
    case PENDING: {
        int pair[2];
        int type = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
        assert_int_equal(socketpair(AF_UNIX, type, 0, pair), 0);
        fill(pair[0]);
        s->fd = *fd = pair[0];
        s->peer = pair[1];
        return 0;
    }
    case HANGING: {
        s->fd = *fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(f->full_port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(*fd, (struct sockaddr *)&sin, sizeof sin), -1);
        assert_int_equal(errno, EINPROGRESS);
        return 0;
    }
    case REFUSED_NOW:
        return -ECONNREFUSED;
    case UNREACH_NOW:
    default:
        return -ENETUNREACH;
    }
}

/* The k-th attempt connects: its socket becomes writable. */
static void complete(fixture *f, size_t k)
{
    char junk[65536];
    while (read(f->starts[k].peer, junk, sizeof junk) > 0)
        ;
}

/* The k-th attempt fails: disconnecting a socket in SYN-SENT resets it (SO_ERROR ECONNRESET). */
static void fail_later(fixture *f, size_t k)
{
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    connect(f->starts[k].fd, &unspec, sizeof unspec);
}

/* Was the k-th attempt's socket closed (its peer reads the filler, then EOF)? */
static bool closed(fixture *f, size_t k)
{
    char junk[65536];
    ssize_t n;
    while ((n = read(f->starts[k].peer, junk, sizeof junk)) > 0)
        ;
    return n == 0;
}

/* ---- the endpoint's trace -------------------------------------------------------------------- */

static void record(void *ctx, const tw_attempt_info *info)
{
    fixture *f = ctx;
    assert_true(f->nevents < MAX_EVENTS);
    event *e = &f->events[f->nevents++];
    e->event = info->event;
    e->index = info->index;
    e->error = info->error;
    e->elapsed = info->elapsed;
    snprintf(e->address, sizeof e->address, "%s", info->address->host);
}

static size_t count_events(const fixture *f, tw_attempt_event which)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nevents; i++)
        n += f->events[i].event == which;
    return n;
}

static const event *find_event(const fixture *f, tw_attempt_event which, size_t index)
{
    for (size_t i = 0; i < f->nevents; i++)
        if (f->events[i].event == which && f->events[i].index == index)
            return &f->events[i];
    return NULL;
}

/* ---- fixture --------------------------------------------------------------------------------- */

static int setup(void **state)
{
    if (tw_test_net_fixture_setup(state, sizeof(fixture)) < 0)
        return -1;
    fixture *f = *state;
    f->resolver = (tw_resolver){.ops = &test_resolver_ops, .user = f};
    f->full_listener = f->filler = -1;
    tw_test_clock_install(f->net.r, &f->net.clock);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->d)
        tw_deferred_unref(f->d);
    if (f->resolving)
        tw_deferred_unref(f->resolving);
    tw_client_endpoint_free(f->ep);
    for (size_t k = 0; k < f->nstarts; k++)
        if (f->starts[k].peer >= 0)
            close(f->starts[k].peer);
    if (f->full_listener >= 0)
        close(f->full_listener);
    if (f->filler >= 0)
        close(f->filler);
    return tw_test_net_fixture_teardown(state);
}

/* Connects to host port 80 with the injected resolver and opener; plans: what each attempt does. */
static void connect_with(fixture *f, const char *host, double delay, double timeout,
                         const plan *plans, size_t nplans)
{
    memcpy(f->plans, plans, nplans * sizeof *plans);
    for (size_t k = 0; k < nplans; k++)
        if (plans[k] == HANGING && f->full_listener < 0)
            f->full_port = tw_test_full_listener(&f->full_listener, &f->filler);
    tw_hostname_options o = {.timeout = timeout, .attempt_delay = delay, .resolver = &f->resolver,
                             .on_attempt = record, .on_attempt_ctx = f};
    int err = 0;
    f->ep = tw_hostname_endpoint_new(f->net.r, host, 80, &o, &err);
    assert_non_null(f->ep);
    assert_int_equal(tw__client_endpoint_set_opener(f->ep, test_open, f), 0);
    f->fds_before = tw_test_count_open_fds();
    f->began = tw_reactor_seconds(f->net.r);
    f->d = tw_client_endpoint_connect(f->ep, &f->net.client.factory, &err);
    tw_test_outcome_expect(tw_deferred_ref(f->d), &f->o);
}

static void turn(fixture *f, double seconds)
{
    tw_test_clock_turn(f->net.r, &f->net.clock, seconds);
}

static void assert_time(double actual, double expected)
{
    if (fabs(actual - expected) > TIME_EPSILON)
        fail_msg("at %.9f s, expected %.9f s", actual, expected);
}

static void assert_started(const fixture *f, size_t k, const char *address, double at)
{
    assert_true(f->nstarts > k);
    assert_string_equal(f->starts[k].address, address);
    assert_time(f->starts[k].at, at);
    const event *e = find_event(f, TW_ATTEMPT_STARTED, k);
    assert_non_null(e);
    assert_time(e->elapsed, at);
}

/* The k-th attempt won: the deferred fired with the one protocol built, every other attempt still
 * connecting was closed, and no timer of the connect is left. */
static void assert_won(fixture *f, size_t k)
{
    assert_int_equal(f->o.fired, 1);
    assert_true(tw_test_outcome_ok(&f->o));
    assert_int_equal(f->net.client.npeers, 1);
    const event *e = find_event(f, TW_ATTEMPT_WON, k);
    assert_non_null(e);
    assert_int_equal(count_events(f, TW_ATTEMPT_WON), 1);
    for (size_t j = 0; j < f->nstarts; j++)
        if (j != k && f->starts[j].peer >= 0)
            assert_true(closed(f, j));
    assert_int_equal(tw_reactor_pending_calls(f->net.r), 0);
    tw_protocol *p = f->o.value;
    tw_transport_abort_connection(p->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, WAIT_SECONDS));
}

/* Nothing of the connect is left: no descriptor, no delayed call. */
static void assert_clean(fixture *f)
{
    for (size_t k = 0; k < f->nstarts; k++)
        if (f->starts[k].peer >= 0) {
            assert_true(closed(f, k));
            close(f->starts[k].peer);
            f->starts[k].peer = -1;
        }
    assert_int_equal(tw_reactor_pending_calls(f->net.r), 0);
    assert_int_equal(tw_test_count_open_fds(), f->fds_before);
}

static const char *const two_v4[] = {"192.0.2.1", "192.0.2.2", NULL};
static const char *const three_v4[] = {"192.0.2.1", "192.0.2.2", "192.0.2.3", NULL};

/* ---- the schedule ---------------------------------------------------------------------------- */

static void test_attempts_start_at_once_then_after_each_delay(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING, PENDING, PENDING};
    connect_with(f, "example.test", 0, 0, p, 3);
    assert_int_equal(f->resolve_calls, 1);
    assert_string_equal(f->resolve_host, "example.test");
    turn(f, 0.1);
    assert_int_equal(f->nstarts, 0); /* nothing before the answer */
    answer(f, three_v4);
    assert_started(f, 0, "192.0.2.1", 0.1);
    turn(f, 0.249);
    assert_int_equal(f->nstarts, 1);
    turn(f, 0.001);
    assert_started(f, 1, "192.0.2.2", 0.35); /* the default delay: 250 ms */
    turn(f, 0.25);
    assert_started(f, 2, "192.0.2.3", 0.6);
    turn(f, 5);
    assert_int_equal(f->nstarts, 3); /* the delay is no timeout: all three still connecting */
    assert_int_equal(count_events(f, TW_ATTEMPT_ABANDONED), 0);
    complete(f, 1);
    turn(f, 0);
    assert_won(f, 1);
    assert_int_equal(count_events(f, TW_ATTEMPT_ABANDONED), 2);
}

static void test_families_are_interleaved(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING, PENDING, PENDING, PENDING, PENDING};
    connect_with(f, "example.test", 0.1, 0, p, 5);
    const char *const order[] = {"fd00::1", "fd00::2", "fd00::3", "192.0.2.1", "192.0.2.2", NULL};
    answer(f, order);
    for (int i = 0; i < 4; i++)
        turn(f, 0.1);
    assert_int_equal(f->nstarts, 5);
    assert_started(f, 0, "fd00::1", 0);
    assert_started(f, 1, "192.0.2.1", 0.1);
    assert_started(f, 2, "fd00::2", 0.2);
    assert_started(f, 3, "192.0.2.2", 0.3);
    assert_started(f, 4, "fd00::3", 0.4);
    complete(f, 3);
    turn(f, 0);
    assert_won(f, 3);
}

static void test_interleaving_starts_with_the_first_family(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING, PENDING, PENDING};
    connect_with(f, "example.test", 0.1, 0, p, 3);
    const char *const order[] = {"192.0.2.1", "192.0.2.2", "fd00::1", NULL};
    answer(f, order);
    turn(f, 0.1);
    turn(f, 0.1);
    assert_started(f, 0, "192.0.2.1", 0);
    assert_started(f, 1, "fd00::1", 0.1);
    assert_started(f, 2, "192.0.2.2", 0.2);
    complete(f, 0);
    turn(f, 0);
    assert_won(f, 0);
}

static void test_a_failure_starts_the_next_at_once(void **state)
{
    fixture *f = *state;
    const plan p[] = {HANGING, PENDING};
    connect_with(f, "example.test", 0, 0, p, 2);
    answer(f, two_v4);
    turn(f, 0.1);
    fail_later(f, 0);
    turn(f, 0.02);
    const event *e = find_event(f, TW_ATTEMPT_FAILED, 0);
    assert_non_null(e);
    assert_int_equal(e->error, -ECONNRESET);
    assert_started(f, 1, "192.0.2.2", 0.12); /* at once, not at 0.25 */
    complete(f, 1);
    turn(f, 0);
    assert_won(f, 1);
}

static void test_never_two_starts_within_10_ms(void **state)
{
    fixture *f = *state;
    const plan p[] = {REFUSED_NOW, UNREACH_NOW, PENDING};
    connect_with(f, "example.test", 0, 0, p, 3);
    answer(f, three_v4);
    assert_started(f, 0, "192.0.2.1", 0);
    turn(f, 0); /* the failure connect() gave at once is told on a later turn */
    assert_int_equal(f->nstarts, 1);
    turn(f, 0.009);
    assert_int_equal(f->nstarts, 1);
    turn(f, 0.001);
    assert_started(f, 1, "192.0.2.2", 0.01);
    turn(f, 0.005);
    turn(f, 0.005);
    assert_started(f, 2, "192.0.2.3", 0.02);
    complete(f, 2);
    turn(f, 0);
    assert_won(f, 2);
}

/* A failure of an older attempt while a younger one is in progress does not hurry the next. */
static void test_only_the_attempt_in_progress_hurries_the_next(void **state)
{
    fixture *f = *state;
    const plan p[] = {HANGING, PENDING, PENDING};
    connect_with(f, "example.test", 0, 0, p, 3);
    answer(f, three_v4);
    turn(f, 0.25);
    assert_int_equal(f->nstarts, 2);
    fail_later(f, 0);
    turn(f, 0.05);
    assert_non_null(find_event(f, TW_ATTEMPT_FAILED, 0));
    assert_int_equal(f->nstarts, 2);
    turn(f, 0.2);
    assert_started(f, 2, "192.0.2.3", 0.5);
    complete(f, 2);
    turn(f, 0);
    assert_won(f, 2);
}

static void test_the_delay_is_clamped(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING, PENDING, PENDING};
    connect_with(f, "example.test", 0.01, 0, p, 3); /* below the minimum: 100 ms */
    answer(f, three_v4);
    turn(f, 0.099);
    assert_int_equal(f->nstarts, 1);
    turn(f, 0.001);
    assert_started(f, 1, "192.0.2.2", 0.1);
    tw_deferred_cancel(f->d);
    assert_clean(f);
    int err = 0;
    tw_hostname_options o = {.attempt_delay = 60};
    tw_client_endpoint *slow = tw_hostname_endpoint_new(f->net.r, "example.test", 80, &o, &err);
    assert_non_null(slow); /* above the maximum is clamped to 2 s, not refused */
    tw_client_endpoint_free(slow);
    o.attempt_delay = -1;
    assert_null(tw_hostname_endpoint_new(f->net.r, "example.test", 80, &o, &err));
    assert_int_equal(err, -EINVAL);
}

static void test_the_delay_maximum(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING, PENDING};
    connect_with(f, "example.test", 60, 0, p, 2);
    answer(f, two_v4);
    turn(f, 1.999);
    assert_int_equal(f->nstarts, 1);
    turn(f, 0.001);
    assert_started(f, 1, "192.0.2.2", 2.0);
    complete(f, 0);
    turn(f, 0);
    assert_won(f, 0);
}

/* ---- the winner ------------------------------------------------------------------------------ */

/* Two sockets connected before the reactor looked: the earlier in the order wins, whichever the
 * kernel lists first. */
static void two_complete_in_one_turn(fixture *f, size_t first_drained)
{
    const plan p[] = {PENDING, PENDING, PENDING};
    connect_with(f, "example.test", 0, 0, p, 3);
    answer(f, three_v4);
    turn(f, 0.25);
    turn(f, 0.25);
    assert_int_equal(f->nstarts, 3);
    complete(f, first_drained);
    complete(f, 3 - first_drained); /* 1 and 2 */
    turn(f, 0);
    assert_won(f, 1);
    assert_non_null(find_event(f, TW_ATTEMPT_ABANDONED, 0));
    assert_non_null(find_event(f, TW_ATTEMPT_ABANDONED, 2));
}

static void test_two_completions_in_one_turn_later_told_first(void **state)
{
    two_complete_in_one_turn(*state, 2);
}

static void test_two_completions_in_one_turn_earlier_told_first(void **state)
{
    two_complete_in_one_turn(*state, 1);
}

/* ---- failures -------------------------------------------------------------------------------- */

static void test_all_failed_names_every_address(void **state)
{
    fixture *f = *state;
    const plan p[] = {REFUSED_NOW, UNREACH_NOW};
    connect_with(f, "example.test", 0, 0, p, 2);
    const char *const order[] = {"fd00::1", "192.0.2.1", NULL};
    answer(f, order);
    turn(f, 0);
    turn(f, 0.01);
    turn(f, 0);
    assert_int_equal(f->o.fired, 1);
    assert_false(tw_test_outcome_ok(&f->o));
    assert_string_equal(f->o.type, TW_NO_ROUTE_ERROR); /* the type of the last error */
    assert_int_equal(f->o.code, -ENETUNREACH);
    assert_string_equal(f->o.message, "Couldn't connect to example.test port 80 (fd00::1: "
                                      "Connection refused; 192.0.2.1: Network is unreachable)");
    assert_int_equal(f->net.client.npeers, 0);
    assert_int_equal(f->net.client.started, 1);
    assert_int_equal(f->net.client.stopped, 1);
    assert_clean(f);
}

static void test_dns_failure(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING};
    connect_with(f, "nowhere.test", 0, 0, p, 1);
    tw_deferred_errback(f->resolving, tw_failure_new(TW_DNS_LOOKUP_ERROR, 0,
                                                     "nowhere.test: Name or service not known"));
    assert_int_equal(f->o.fired, 1);
    assert_string_equal(f->o.type, TW_DNS_LOOKUP_ERROR);
    assert_string_equal(f->o.message, "nowhere.test: Name or service not known");
    assert_int_equal(f->nstarts, 0);
    assert_clean(f);
}

static void test_resolver_failure_of_another_type_is_a_dns_failure(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING};
    connect_with(f, "nowhere.test", 0, 0, p, 1);
    tw_deferred_errback(f->resolving, tw_failure_from_errno(-EAGAIN, "lookup"));
    assert_string_equal(f->o.type, TW_DNS_LOOKUP_ERROR);
    assert_int_equal(f->o.code, -EAGAIN);
    assert_non_null(strstr(f->o.message, "nowhere.test: "));
    assert_clean(f);
}

static void test_no_addresses(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING};
    connect_with(f, "empty.test", 0, 0, p, 1);
    const char *const none[] = {NULL};
    answer(f, none);
    assert_string_equal(f->o.type, TW_DNS_LOOKUP_ERROR);
    assert_string_equal(f->o.message, "no results for hostname lookup: empty.test");
    assert_clean(f);
}

static void test_family_option_keeps_one_family(void **state)
{
    fixture *f = *state;
    f->plans[0] = PENDING;
    tw_hostname_options o = {.family = AF_INET6, .resolver = &f->resolver, .on_attempt = record,
                             .on_attempt_ctx = f};
    int err = 0;
    f->ep = tw_hostname_endpoint_new(f->net.r, "example.test", 80, &o, &err);
    tw__client_endpoint_set_opener(f->ep, test_open, f);
    f->d = tw_client_endpoint_connect(f->ep, &f->net.client.factory, &err);
    tw_test_outcome_expect(tw_deferred_ref(f->d), &f->o);
    const char *const order[] = {"192.0.2.1", "fd00::1", "192.0.2.2", NULL};
    answer(f, order);
    turn(f, 1);
    assert_int_equal(f->nstarts, 1);
    assert_string_equal(f->starts[0].address, "fd00::1");
    assert_int_equal(f->events[0].index, 0);
    complete(f, 0);
    turn(f, 0);
    assert_won(f, 0);
}

/* ---- timeout and cancel ---------------------------------------------------------------------- */

static void test_timeout_spans_the_resolution(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING};
    connect_with(f, "slow.test", 0, 1.0, p, 1);
    turn(f, 0.999);
    assert_int_equal(f->o.fired, 0);
    turn(f, 0.001);
    assert_int_equal(f->o.fired, 1);
    assert_string_equal(f->o.type, TW_TIMEOUT_ERROR);
    assert_int_equal(f->o.code, -ETIMEDOUT);
    assert_non_null(strstr(f->o.message, "slow.test port 80 took more than 1 s (resolving"));
    /* The resolution was abandoned: its late answer is dropped and starts nothing. */
    assert_true(tw_deferred_called(f->resolving));
    answer(f, two_v4);
    turn(f, 1);
    assert_int_equal(f->nstarts, 0);
    assert_clean(f);
}

static void test_timeout_spans_resolution_and_attempts(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING, PENDING};
    connect_with(f, "example.test", 0, 1.0, p, 2);
    turn(f, 0.6);
    answer(f, two_v4);
    turn(f, 0.25);
    assert_int_equal(f->nstarts, 2);
    turn(f, 0.149);
    assert_int_equal(f->o.fired, 0);
    turn(f, 0.001);
    assert_string_equal(f->o.type, TW_TIMEOUT_ERROR);
    assert_int_equal(count_events(f, TW_ATTEMPT_ABANDONED), 2);
    assert_int_equal(f->net.client.npeers, 0);
    assert_clean(f);
}

static void test_cancel_during_resolution(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING};
    connect_with(f, "example.test", 0, 0, p, 1);
    turn(f, 0.1);
    tw_deferred_cancel(f->d);
    assert_int_equal(f->o.fired, 1);
    assert_string_equal(f->o.type, TW_CONNECTING_CANCELLED_ERROR);
    assert_string_equal(f->o.message, "Connecting to example.test port 80 was cancelled");
    assert_true(tw_deferred_called(f->resolving)); /* abandoned at once, not waited for */
    answer(f, two_v4);                             /* the late answer is dropped */
    turn(f, 1);
    assert_int_equal(f->nstarts, 0);
    assert_int_equal(f->net.client.stopped, 1);
    assert_clean(f);
}

static void test_cancel_during_attempts_closes_them_all(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING, HANGING, PENDING};
    connect_with(f, "example.test", 0, 0, p, 3);
    answer(f, three_v4);
    turn(f, 0.25);
    turn(f, 0.1);
    assert_int_equal(f->nstarts, 2);
    tw_deferred_cancel(f->d);
    assert_string_equal(f->o.type, TW_CONNECTING_CANCELLED_ERROR);
    assert_int_equal(count_events(f, TW_ATTEMPT_ABANDONED), 2);
    turn(f, 1);
    assert_int_equal(f->nstarts, 2); /* nothing more started */
    assert_int_equal(f->net.client.npeers, 0);
    assert_clean(f);
}

/* A numeric host needs no resolver: the first attempt starts inside connect(). */
static void test_numeric_host_skips_the_resolver(void **state)
{
    fixture *f = *state;
    const plan p[] = {PENDING};
    connect_with(f, "[2001:db8::1]", 0, 0, p, 1);
    assert_int_equal(f->resolve_calls, 0);
    assert_started(f, 0, "2001:db8::1", 0);
    complete(f, 0);
    turn(f, 0);
    assert_won(f, 0);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    int err = 0;
    assert_null(tw_hostname_endpoint_new(f->net.r, "", 80, NULL, &err));
    assert_int_equal(err, -EINVAL);
    assert_null(tw_hostname_endpoint_new(f->net.r, "a b", 80, NULL, &err));
    assert_int_equal(err, -EINVAL);
    char longname[TW_HOSTNAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_null(tw_hostname_endpoint_new(f->net.r, longname, 80, NULL, &err));
    assert_int_equal(err, -EINVAL);
    tw_hostname_options o = {.family = AF_UNIX};
    assert_null(tw_hostname_endpoint_new(f->net.r, "example.test", 80, &o, &err));
    assert_int_equal(err, -EINVAL);
    o = (tw_hostname_options){.bind_address = "not-an-address"};
    assert_null(tw_hostname_endpoint_new(f->net.r, "example.test", 80, &o, &err));
    assert_int_equal(err, -EINVAL);
}

/* ---- real sockets ---------------------------------------------------------------------------- */

/* Advances the clock a millisecond a turn (real waits bounded by the guard) until the connect
 * fired, and returns how much reactor time that took. */
static double run_on_clock(fixture *f)
{
    double start_at = tw_reactor_seconds(f->net.r);
    for (int i = 0; i < 5000 && !f->o.fired; i++) {
        tw_test_clock_advance(&f->net.clock, 0.001);
        tw_reactor_iterate(f->net.r, 0.001);
    }
    assert_int_equal(f->o.fired, 1);
    return tw_reactor_seconds(f->net.r) - start_at;
}

static void real_connect(fixture *f, const char *host, uint16_t port, tw_resolver *resolver)
{
    tw_hostname_options o = {.resolver = resolver, .on_attempt = record, .on_attempt_ctx = f};
    int err = 0;
    f->ep = tw_hostname_endpoint_new(f->net.r, host, port, &o, &err);
    assert_non_null(f->ep);
    f->d = tw_client_endpoint_connect(f->ep, &f->net.client.factory, &err);
    tw_test_outcome_expect(tw_deferred_ref(f->d), &f->o);
}

/* A refusal advances at once: with the IPv6 loopback refusing and the IPv4 one listening, the
 * connect is done in far less reactor time than one attempt delay. */
static void test_real_refusal_advances_at_once(void **state)
{
    fixture *f = *state;
    if (!tw_test_ipv6_loopback_available())
        skip();
    int err = 0;
    tw_port *port = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    uint16_t number = tw_test_port_number(port);
    const char *const order[] = {"::1", "127.0.0.1", NULL};
    real_connect(f, "loopback.test", number, &f->resolver);
    f->answer_port = number;
    answer(f, order);
    double took = run_on_clock(f);
    assert_true(tw_test_outcome_ok(&f->o));
    assert_true(took < TW_HAPPY_EYEBALLS_DELAY_DEFAULT / 2);
    const event *failed = find_event(f, TW_ATTEMPT_FAILED, 0);
    assert_non_null(failed);
    assert_int_equal(failed->error, -ECONNREFUSED);
    assert_non_null(find_event(f, TW_ATTEMPT_WON, 1));
    tw_transport_lose_connection(((tw_protocol *)f->o.value)->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
    tw_port_free(port);
}

/* The default resolver (getaddrinfo on a pool thread) finds localhost; whichever loopback address
 * comes first, the one listening wins. */
static void test_real_localhost_with_the_default_resolver(void **state)
{
    fixture *f = *state;
    tw_reactor_set_clock(f->net.r, NULL, NULL); /* real time: a pool thread answers */
    int err = 0;
    tw_port *port = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    real_connect(f, "localhost", tw_test_port_number(port), NULL);
    assert_true(tw_test_run_until(f->net.r, tw_test_outcome_fired, &f->o, WAIT_SECONDS));
    assert_true(tw_test_outcome_ok(&f->o));
    tw_protocol *p = f->o.value;
    tw_address peer;
    assert_int_equal(tw_transport_get_peer(p->transport, &peer), 0);
    assert_string_equal(peer.host, "127.0.0.1");
    tw_transport_lose_connection(p->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
    tw_port_free(port);
}

static void test_real_cancel_while_the_thread_resolves(void **state)
{
    fixture *f = *state;
    tw_reactor_set_clock(f->net.r, NULL, NULL);
    real_connect(f, "localhost", 9, NULL);
    tw_deferred_cancel(f->d); /* the lookup may still be running: it is not waited for */
    assert_string_equal(f->o.type, TW_CONNECTING_CANCELLED_ERROR);
    assert_int_equal(tw_reactor_pending_calls(f->net.r), 0);
    for (int i = 0; i < 10; i++)
        tw_reactor_iterate(f->net.r, 0.01); /* the late answer arrives and is dropped */
    assert_int_equal(f->nevents, 0);
}

static void test_real_numeric_ipv6(void **state)
{
    fixture *f = *state;
    if (!tw_test_ipv6_loopback_available())
        skip();
    int err = 0;
    tw_port *port = tw_listen_tcp6(f->net.r, 0, "::1", 0, &f->net.server.factory, &err);
    real_connect(f, "::1", tw_test_port_number(port), &f->resolver);
    run_on_clock(f);
    assert_true(tw_test_outcome_ok(&f->o));
    assert_int_equal(f->resolve_calls, 0);
    tw_transport_lose_connection(((tw_protocol *)f->o.value)->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, WAIT_SECONDS));
    tw_port_free(port);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_attempts_start_at_once_then_after_each_delay),
        T(test_families_are_interleaved),
        T(test_interleaving_starts_with_the_first_family),
        T(test_a_failure_starts_the_next_at_once),
        T(test_never_two_starts_within_10_ms),
        T(test_only_the_attempt_in_progress_hurries_the_next),
        T(test_the_delay_is_clamped),
        T(test_the_delay_maximum),
        T(test_two_completions_in_one_turn_later_told_first),
        T(test_two_completions_in_one_turn_earlier_told_first),
        T(test_all_failed_names_every_address),
        T(test_dns_failure),
        T(test_resolver_failure_of_another_type_is_a_dns_failure),
        T(test_no_addresses),
        T(test_family_option_keeps_one_family),
        T(test_timeout_spans_the_resolution),
        T(test_timeout_spans_resolution_and_attempts),
        T(test_cancel_during_resolution),
        T(test_cancel_during_attempts_closes_them_all),
        T(test_numeric_host_skips_the_resolver),
        T(test_bad_arguments),
        T(test_real_refusal_advances_at_once),
        T(test_real_localhost_with_the_default_resolver),
        T(test_real_cancel_while_the_thread_resolves),
        T(test_real_numeric_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
