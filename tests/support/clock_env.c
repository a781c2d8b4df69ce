/* The tw_clock fixture; see clock_env.h. */
#include "clock_env.h"

#include <stdlib.h>

int tw_test_clock_fixture_setup(void **state, size_t size)
{
    /* The fixture's first member is its env, so the fixture's address is the env's. */
    tw_test_clock_env *env = calloc(1, size);
    if (!env || !(env->clock = tw_clock_new(NULL))) {
        free(env);
        return -1;
    }
    env->r = tw_clock_reactor(env->clock);
    tw_test_log_install(env->r, &env->log);
    *state = env;
    return 0;
}

int tw_test_clock_fixture_setup_default(void **state)
{
    return tw_test_clock_fixture_setup(state, sizeof(tw_test_clock_env));
}

int tw_test_clock_fixture_teardown(void **state)
{
    tw_test_clock_env *env = *state;
    tw_clock_free(env->clock);
    tw_test_log_destroy(&env->log);
    free(env);
    return 0;
}
