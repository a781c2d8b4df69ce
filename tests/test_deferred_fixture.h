/* The fixture shared by the deferred test files: a reactor on a controllable clock whose log is
 * captured, so tests can drive timers and check what was reported as unhandled. */
#ifndef TWINE_TEST_DEFERRED_FIXTURE_H
#define TWINE_TEST_DEFERRED_FIXTURE_H

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

#endif
