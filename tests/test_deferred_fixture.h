/* The fixture shared by the deferred test files: a reactor on a controllable clock whose log is
 * captured, so tests can drive timers and check what was reported as unhandled; and a small-stack
 * thread for the tests that prove long chains and queues are handled without C recursion. */
#ifndef TWINE_TEST_DEFERRED_FIXTURE_H
#define TWINE_TEST_DEFERRED_FIXTURE_H

#include <pthread.h>

#include <twine/deferred.h>

#include "support/reactor_test.h"

typedef struct {
    tw_test_env env; /* a reactor on the controllable clock, its log captured */
} fixture;

static inline int fixture_setup(void **state)
{
    return tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_CONTROLLED_CLOCK);
}

static inline int fixture_teardown(void **state)
{
    return tw_test_fixture_teardown(state);
}

/* Runs fn on a thread with a deliberately small stack; fn returns non-NULL on success. Recursion
 * per link of a 10,000-long chain or queue would overflow it. */
#define TW_TEST_SMALL_STACK (256 * 1024)

static inline void run_on_small_stack(void *(*fn)(void *))
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, TW_TEST_SMALL_STACK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, &attr, fn, NULL), 0);
    void *ok = NULL;
    pthread_join(th, &ok);
    pthread_attr_destroy(&attr);
    assert_non_null(ok);
}

#endif
