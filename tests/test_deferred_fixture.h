/* The fixture shared by the deferred test files: a reactor on a controllable clock whose log is
 * captured, so tests can drive timers and check what was reported as unhandled; and a small-stack
 * thread for the tests that prove long chains and queues are handled without C recursion. */
#ifndef TWINE_TEST_DEFERRED_FIXTURE_H
#define TWINE_TEST_DEFERRED_FIXTURE_H

#include <pthread.h>
#include <stdlib.h>

#include <twine/deferred.h>

#include "support/reactor_test.h"

typedef struct {
    tw_reactor *r;
    tw_test_clock clock;
    tw_test_log log;
} fixture;

static inline int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->r = tw_reactor_new(NULL);
    if (!f->r) {
        free(f);
        return -1;
    }
    tw_test_clock_install(f->r, &f->clock);
    tw_test_log_install(f->r, &f->log);
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    fixture *f = *state;
    tw_reactor_free(f->r);
    tw_test_log_destroy(&f->log);
    free(f);
    return 0;
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
