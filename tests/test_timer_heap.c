/* The timer heap against a reference model: random schedules, cancels, resets and delays on a
 * controllable clock must fire exactly the live calls, in (deadline, scheduling order); and the
 * 32-bit sequence renumbering keeps that order across the wrap; a reschedule that runs out of
 * memory changes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>

#include "reactor/internal.h"

#define CALLS 3000

/* realloc can be made to fail once (forwarding to glibc's __libc_realloc otherwise); under
 * AddressSanitizer or ThreadSanitizer, which own the allocator, the test that needs it is
 * skipped. */
static bool fail_next_realloc;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REALLOC_INJECTION 0
#else
#define REALLOC_INJECTION 1
void *__libc_realloc(void *p, size_t size);

void *realloc(void *p, size_t size)
{
    if (fail_next_realloc) {
        fail_next_realloc = false;
        return NULL;
    }
    return __libc_realloc(p, size);
}
#endif

typedef struct {
    int64_t at;       /* model: deadline in ns */
    uint64_t order;   /* model: when it was last (re)scheduled */
    bool live;
    tw_delayed_call *dc;
} model_call;

static model_call calls[CALLS];
static int fired[CALLS];
static int nfired;
static int64_t fake_now;

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static int record(void *arg)
{
    fired[nfired++] = (int)(intptr_t)arg;
    return 0;
}

static int by_deadline_then_order(const void *a, const void *b)
{
    const model_call *x = &calls[*(const int *)a], *y = &calls[*(const int *)b];
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Schedules, then mutates at random, then runs everything and compares with the model. */
static void run_model(uint64_t first_seq)
{
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    fake_now = 1000000000;
    tw_reactor_set_clock(r, fake_clock, NULL);
    tw__timers_set_next_seq(r, first_seq);
    srand(7);
    uint64_t order = 0;
    nfired = 0;
    for (int i = 0; i < CALLS; i++) {
        int ms = rand() % 50;  /* few distinct deadlines: many ties */
        calls[i] = (model_call){fake_now + ms * 1000000LL, order++, true, NULL};
        calls[i].dc = tw_call_later(r, ms / 1000.0, record, (void *)(intptr_t)i, NULL);
        assert_non_null(calls[i].dc);
        tw_delayed_call_ref(calls[i].dc);
    }
    for (int i = 0; i < CALLS; i++) {
        int what = rand() % 4, ms = rand() % 50;
        if (what == 0) {
            assert_int_equal(tw_delayed_call_cancel(calls[i].dc), 0);
            calls[i].live = false;
        } else if (what == 1) {
            assert_int_equal(tw_delayed_call_reset(calls[i].dc, ms / 1000.0), 0);
            calls[i].at = fake_now + ms * 1000000LL;
            calls[i].order = order++;
        } else if (what == 2) {
            assert_int_equal(tw_delayed_call_delay(calls[i].dc, ms / 1000.0), 0);
            calls[i].at += ms * 1000000LL;
            calls[i].order = order++;
        }
    }
    int expect[CALLS], nexpect = 0;
    for (int i = 0; i < CALLS; i++)
        if (calls[i].live)
            expect[nexpect++] = i;
    qsort(expect, (size_t)nexpect, sizeof expect[0], by_deadline_then_order);
    fake_now += 200 * 1000000LL;
    tw_reactor_iterate(r, 0);
    assert_int_equal(nfired, nexpect);
    for (int i = 0; i < nexpect; i++)
        assert_int_equal(fired[i], expect[i]);
    assert_int_equal(tw_reactor_pending_calls(r), 0);
    for (int i = 0; i < CALLS; i++)
        tw_delayed_call_unref(calls[i].dc);
    tw_reactor_free(r);
}

static void test_random_operations_match_model(void **state)
{
    (void)state;
    run_model(0);
}

static void test_order_survives_sequence_wrap(void **state)
{
    (void)state;
    run_model(UINT32_MAX - CALLS);  /* the wrap falls in the middle of the schedules */
}

/* A due call reset from an earlier callback of its turn while the heap is full and cannot grow: the
 * reset fails with -ENOMEM and leaves the call as it was, due, so it still runs in this turn. */
typedef struct {
    tw_reactor *r;
    tw_delayed_call *victim;
    int reset_result;
} reset_when_full;

static int fill_then_reset(void *arg)
{
    reset_when_full *ctx = arg;
    for (int i = 0; i < 2; i++)  /* refill the heap to its capacity */
        assert_non_null(tw_call_later(ctx->r, 1.0, record, (void *)(intptr_t)(1000 + i), NULL));
    fail_next_realloc = true;
    ctx->reset_result = tw_delayed_call_reset(ctx->victim, 0.5);
    fail_next_realloc = false;
    return 0;
}

static void test_reset_without_memory_changes_nothing(void **state)
{
    (void)state;
    if (!REALLOC_INJECTION)
        skip();
    tw_reactor *r = tw_reactor_new(NULL);
    assert_non_null(r);
    fake_now = 1000000000;
    tw_reactor_set_clock(r, fake_clock, NULL);
    nfired = 0;
    reset_when_full ctx = {r, NULL, 0};
    assert_non_null(tw_call_later(r, 0.001, fill_then_reset, &ctx, NULL));
    ctx.victim = tw_delayed_call_ref(tw_call_later(r, 0.001, record, (void *)(intptr_t)1, NULL));
    for (int i = 0; i < 62; i++)  /* 64 entries: the heap's first capacity */
        assert_non_null(tw_call_later(r, 1.0, record, (void *)(intptr_t)(100 + i), NULL));
    fake_now += 1000000;
    assert_int_equal(tw_reactor_iterate(r, 0), 2);
    assert_int_equal(ctx.reset_result, -ENOMEM);
    assert_int_equal(nfired, 1);
    assert_int_equal(fired[0], 1);
    assert_true(tw_delayed_call_called(ctx.victim));
    assert_int_equal(tw_reactor_pending_calls(r), 64);
    tw_delayed_call_unref(ctx.victim);
    tw_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_operations_match_model),
        cmocka_unit_test(test_order_survives_sequence_wrap),
        cmocka_unit_test(test_reset_without_memory_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
