/* The fixture for tests that run on testing.h's tw_clock: the clock, its reactor, and the reactor's
 * log captured (reactor_test.h). A test file's fixture struct holds one as its first member, so the
 * cmocka setup and teardown below serve any of them. */
#ifndef TWINE_TESTS_CLOCK_ENV_H
#define TWINE_TESTS_CLOCK_ENV_H

#include <stddef.h>

#include <twine/testing.h>

#include "reactor_test.h"

typedef struct {
    tw_clock *clock;
    tw_reactor *r; /* the clock's */
    tw_test_log log;
} tw_test_clock_env;

/* Allocates a zeroed fixture of size bytes whose first member is a tw_test_clock_env, opens the
 * env and stores the fixture in *state. 0, or -1 when either cannot be made. */
int tw_test_clock_fixture_setup(void **state, size_t size);
/* The setup for a test whose fixture is the env alone. */
int tw_test_clock_fixture_setup_default(void **state);
/* Frees the clock (and its reactor), then the log, then the fixture. */
int tw_test_clock_fixture_teardown(void **state);

#endif
