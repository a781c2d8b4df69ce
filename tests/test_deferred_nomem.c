/* Out-of-memory tests for deferreds: each scenario runs again and again with the 1st, 2nd, 3rd ...
 * allocation failing, until it runs without meeting a failure. Every run must end without a crash
 * and with as many frees as allocations. malloc/calloc are replaced in this binary (forwarding to
 * glibc's __libc_* functions); under AddressSanitizer, which owns malloc, the tests are skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <twine/deferred.h>

#include "support/reactor_test.h"

#if defined(__SANITIZE_ADDRESS__)
#define NOMEM_INJECTION 0
#else
#define NOMEM_INJECTION 1
#endif

/* ---- failure injection ----------------------------------------------------------------------- */

static struct {
    bool armed;
    long countdown; /* the allocation that reaches 0 fails */
    bool injected;
    long balance;   /* allocations minus frees while armed */
} inject;

#if NOMEM_INJECTION
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void __libc_free(void *p);

static bool allocation_fails(void)
{
    if (!inject.armed)
        return false;
    if (--inject.countdown == 0) {
        inject.injected = true;
        return true;
    }
    inject.balance++;
    return false;
}

void *malloc(size_t size)
{
    return allocation_fails() ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    return allocation_fails() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    if (p == NULL)
        return malloc(size);
    return __libc_realloc(p, size);
}

void free(void *p)
{
    if (p && inject.armed)
        inject.balance--;
    __libc_free(p);
}
#endif

/* ---- scenarios: ordinary use that must survive any allocation failing ------------------------ */

static tw_reactor *reactor;

static int swallow(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)arg;
    tw_result_set_value(res, NULL, NULL);
    return 0;
}

static int return_arg_deferred(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    tw_result_set_deferred(res, tw_deferred_ref(arg));
    return 0;
}

static int fail_io(tw_deferred *d, tw_result *res, void *arg)
{
    (void)d;
    (void)arg;
    (void)res;
    return -EIO;
}

/* Frees d after consuming any failure (a fired deferred has room for the errback inline). */
static void finish(tw_deferred *d)
{
    tw_deferred_add_errback(d, swallow, NULL);
    tw_deferred_unref(d);
}

static void scenario_callbacks(void)
{
    tw_deferred *d = tw_deferred_new(reactor, NULL);
    if (!d)
        return;
    for (int i = 0; i < 9; i++)
        tw_deferred_add_callback(d, i == 6 ? fail_io : swallow, NULL);
    tw_deferred_callback(d, NULL, NULL);
    finish(d);
}

static void scenario_chaining(void)
{
    enum { LINE = 40 }; /* deeper than the runner's inline stack */
    tw_deferred *ds[LINE] = {0};
    for (int i = 0; i < LINE; i++)
        ds[i] = tw_deferred_new(reactor, NULL);
    for (int i = 0; i + 1 < LINE; i++)
        if (ds[i] && ds[i + 1])
            tw_deferred_add_callback(ds[i], return_arg_deferred, ds[i + 1]);
    for (int i = 0; i + 1 < LINE; i++)
        tw_deferred_callback(ds[i], NULL, NULL);
    tw_deferred_callback(ds[LINE - 1], NULL, NULL);
    for (int i = 0; i < LINE; i++)
        finish(ds[i]);
}

static void scenario_list(unsigned flags)
{
    tw_deferred *in[3];
    for (int i = 0; i < 3; i++)
        in[i] = tw_deferred_new(reactor, NULL);
    if (!in[0] || !in[1] || !in[2]) {
        for (int i = 0; i < 3; i++)
            tw_deferred_unref(in[i]);
        return;
    }
    tw_deferred_callback(in[0], "zero", NULL);
    tw_deferred *list = tw_deferred_list_new(reactor, in, 3, flags, NULL);
    tw_deferred_errback(in[1], tw_failure_new("One", 0, NULL));
    tw_deferred_cancel(list);
    finish(list);
    for (int i = 0; i < 3; i++)
        finish(in[i]);
}

static int work_value(tw_result *out, void *arg)
{
    tw_result_set_value(out, arg, NULL);
    return 0;
}

static void scenario_semaphore(void)
{
    tw_semaphore *s = tw_semaphore_new(reactor, 1, NULL);
    if (!s)
        return;
    tw_deferred *held = tw_semaphore_acquire(s, NULL);
    tw_deferred *runs[4];
    for (int i = 0; i < 4; i++)
        runs[i] = tw_semaphore_run(s, work_value, "v", NULL);
    tw_deferred_cancel(runs[1]);
    if (held)
        tw_semaphore_release(s);
    for (int i = 0; i < 4; i++)
        finish(runs[i]);
    finish(held);
    tw_semaphore_free(s);
}

static void scenario_queue(void)
{
    tw_queue *q = tw_queue_new(reactor, 20, 20, NULL);
    if (!q)
        return;
    tw_deferred *gets[12];
    for (int i = 0; i < 12; i++)
        gets[i] = tw_queue_get(q, NULL);
    for (int i = 0; i < 24; i++)
        tw_queue_put(q, "x", NULL);
    for (int i = 0; i < 12; i++)
        finish(gets[i]);
    tw_queue_free(q);
}

static void scenario_timeout(void)
{
    tw_deferred *d = tw_deferred_new(reactor, NULL);
    if (!d)
        return;
    tw_deferred_add_timeout(d, reactor, 10.0);
    tw_deferred_cancel(d);
    finish(d);
}

static void scenario_failures(void)
{
    tw_failure *f = tw_failure_from_errno(-ECONNREFUSED, "connect");
    tw_failure *g = tw_failure_new(TW_FIRST_ERROR, 0, "outer");
    if (g)
        tw_failure_set_cause(g, f);
    else
        tw_failure_unref(f);
    tw_deferred *d = tw_fail(reactor, g, NULL);
    if (!d)
        tw_failure_unref(g);
    finish(d);
    finish(tw_succeed(reactor, "ok", NULL, NULL));
    finish(tw_maybe_deferred(reactor, work_value, "m", NULL));
}

/* Runs the scenario with allocation 1, 2, 3 ... failing; returns how many runs it took. */
static int run_with_failures(void (*scenario)(void))
{
    for (long fail_at = 1; fail_at < 10000; fail_at++) {
        inject.countdown = fail_at;
        inject.injected = false;
        inject.balance = 0;
        inject.armed = true;
        scenario();
        inject.armed = false;
        assert_int_equal(inject.balance, 0);
        if (!inject.injected)
            return (int)fail_at;
    }
    fail_msg("scenario never ran to the end");
    return 0;
}

static int never_runs(void *arg)
{
    (void)arg;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (!NOMEM_INJECTION)
        return 0;
    reactor = tw_reactor_new(NULL);
    if (!reactor)
        return -1;
    static tw_test_log log;
    tw_test_log_install(reactor, &log);
    /* Warm the reactor's timer storage, which it keeps for reuse, so that the scenarios' balance
     * counts only what twine's deferred code allocates. */
    tw_delayed_call *dc = tw_call_later(reactor, 1.0, never_runs, NULL, NULL);
    tw_delayed_call_cancel(dc);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (reactor)
        tw_reactor_free(reactor);
    return 0;
}

static void check(void (*scenario)(void), int min_allocations)
{
    if (!NOMEM_INJECTION)
        skip();
    /* The scenario must really allocate, or the test proves nothing. */
    assert_true(run_with_failures(scenario) > min_allocations);
}

static void test_callbacks(void **state)
{
    (void)state;
    check(scenario_callbacks, 2);
}

static void test_chaining(void **state)
{
    (void)state;
    check(scenario_chaining, 40);
}

static void scenario_list_default(void)
{
    scenario_list(0);
}

static void scenario_list_first_error(void)
{
    scenario_list(TW_DL_FIRE_ON_ONE_ERRBACK | TW_DL_CONSUME_ERRORS);
}

static void scenario_list_first_callback(void)
{
    scenario_list(TW_DL_FIRE_ON_ONE_CALLBACK);
}

static void test_lists(void **state)
{
    (void)state;
    check(scenario_list_default, 5);
    check(scenario_list_first_error, 5);
    check(scenario_list_first_callback, 5);
}

static void test_semaphore(void **state)
{
    (void)state;
    check(scenario_semaphore, 5);
}

static void test_queue(void **state)
{
    (void)state;
    check(scenario_queue, 10);
}

static void test_timeout(void **state)
{
    (void)state;
    check(scenario_timeout, 2);
}

static void test_failures(void **state)
{
    (void)state;
    check(scenario_failures, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callbacks),
        cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_semaphore),
        cmocka_unit_test(test_queue),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests_name("deferred_nomem", tests, setup, teardown);
}
