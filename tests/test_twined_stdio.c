/* End-to-end tests of twined's stdio: `twined echo --listen stdio:` echoes stdin to stdout through
 * pipes (more than any pipe holds) and exits 0 once stdin has ended and all is written, also with
 * a TCP listener open beside it; stdin at EOF at once gives an empty echo. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"
#include "support/twined_child.h"

#define WAIT_SECONDS 10.0
#define ECHO_SIZE (4u << 20)

typedef struct {
    tw_test_env env;
    tw_test_twined twined;
} fixture;

static int setup(void **state)
{
    return tw_test_fixture_setup(state, sizeof(fixture), TW_TEST_REAL_CLOCK);
}

static int teardown(void **state)
{
    fixture *f = *state;
    tw_test_twined_free(&f->twined);
    return tw_test_fixture_teardown(state);
}

static void echo(fixture *f, const char *const *args, const char *input, size_t len)
{
    tw_test_twined_start(&f->twined, f->env.r, args, input, len, true);
    assert_true(tw_test_run_until(f->env.r, tw_test_twined_finished, &f->twined, WAIT_SECONDS));
    assert_int_equal(f->twined.status, 0);
    assert_int_equal(f->twined.output_len, len);
    if (len)
        assert_memory_equal(f->twined.output, input, len);
}

static void test_echo_through_pipes(void **state)
{
    char *input = malloc(ECHO_SIZE);
    tw_test_fill_random(input, ECHO_SIZE, 9);
    const char *args[] = {"echo", "--listen", "stdio:", NULL};
    echo(*state, args, input, ECHO_SIZE);
    free(input);
}

static void test_echo_ends_with_stdin_beside_a_listener(void **state)
{
    fixture *f = *state;
    const char *args[] = {"echo", "--listen", "tcp:0:interface=127.0.0.1", "--listen", "stdio:",
                          NULL};
    echo(f, args, "one line\n", 9);
    assert_non_null(strstr(f->twined.err_text, "listening on tcp:127.0.0.1:"));
    assert_null(strstr(f->twined.err_text, "stdio")); /* nothing is said of stdio */
}

static void test_empty_stdin(void **state)
{
    const char *args[] = {"echo", "--listen", "stdio:", NULL};
    echo(*state, args, NULL, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_echo_through_pipes),
        T(test_echo_ends_with_stdin_beside_a_listener),
        T(test_empty_stdin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
