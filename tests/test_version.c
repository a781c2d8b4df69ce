/* Tests for the version: the library reports the release its headers name, in both forms, and that
 * release is the Makefile's VERSION (passed to this file as TW_BUILD_VERSION). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <twine/twine.h>

static void test_library_matches_headers(void **state)
{
    (void)state;
    assert_int_equal(tw_version(), TW_VERSION_HEX);
    assert_string_equal(tw_version_string(), TW_VERSION_STRING);
}

static void test_string_and_number_agree(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%u.%u.%u", tw_version() >> 16, (tw_version() >> 8) & 0xff,
             tw_version() & 0xff);
    assert_string_equal(tw_version_string(), want);
    assert_int_equal(TW_VERSION_HEX >> 16, TW_VERSION_MAJOR);
    assert_int_equal((TW_VERSION_HEX >> 8) & 0xff, TW_VERSION_MINOR);
    assert_int_equal(TW_VERSION_HEX & 0xff, TW_VERSION_PATCH);
}

static void test_matches_makefile(void **state)
{
    (void)state;
#ifdef TW_BUILD_VERSION
    assert_string_equal(tw_version_string(), TW_BUILD_VERSION);
#else
    fail_msg("built without the Makefile's VERSION (TW_BUILD_VERSION)");
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_matches_headers),
        cmocka_unit_test(test_string_and_number_agree),
        cmocka_unit_test(test_matches_makefile),
    };
    return cmocka_run_group_tests_name("version", tests, NULL, NULL);
}
