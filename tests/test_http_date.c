/* Tests for HTTP-date: formatting (the epoch, leap days, 2038 and beyond, clamping), parsing of the
 * three forms with the cases conditional GETs meet (RFC 850 two-digit years, asctime's padded day,
 * 2038-01-19 03:14:07 and :08), refusal of malformed dates, and round trips over a wide range. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "protocols/http/date.h"

static void assert_formats(int64_t t, const char *want)
{
    char out[TW__HTTP_DATE_LEN + 1];
    memset(out, 'x', sizeof out);
    tw__http_date_format(t, out);
    assert_string_equal(out, want);
}

static void test_format(void **state)
{
    (void)state;
    assert_formats(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_formats(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_formats(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_formats(2147483647, "Tue, 19 Jan 2038 03:14:07 GMT");
    assert_formats(2147483648, "Tue, 19 Jan 2038 03:14:08 GMT");
    assert_formats(4102444800, "Fri, 01 Jan 2100 00:00:00 GMT");
    assert_formats(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
    assert_formats(-2208988800, "Mon, 01 Jan 1900 00:00:00 GMT");
    assert_formats(INT64_MAX, "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_formats(INT64_MIN, "Sat, 01 Jan 0000 00:00:00 GMT");
}

/* Agrees with the C library wherever the C library can tell. */
static void test_format_matches_gmtime(void **state)
{
    (void)state;
    for (int64_t t = -4000000000; t < 8000000000; t += 7777777) {
        time_t tt = (time_t)t;
        struct tm tm;
        assert_non_null(gmtime_r(&tt, &tm));
        char want[64], got[TW__HTTP_DATE_LEN + 1];
        strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        tw__http_date_format(t, got);
        assert_string_equal(got, want);
    }
}

static int64_t parse(const char *s)
{
    int64_t t = -12345;
    assert_true(tw__http_date_parse(s, strlen(s), &t));
    return t;
}

static void test_parse_forms(void **state)
{
    (void)state;
    assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    assert_int_equal(parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    assert_int_equal(parse("Sun Nov  6 08:49:37 1994"), 784111777);
    assert_int_equal(parse("Sun Nov 16 08:49:37 1994"), 784111777 + 10 * 86400);
    assert_int_equal(parse("Tue, 19 Jan 2038 03:14:07 GMT"), 2147483647);
    assert_int_equal(parse("Tue, 19 Jan 2038 03:14:08 GMT"), 2147483648);
    assert_int_equal(parse("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
    assert_int_equal(parse("Monday, 01-Jan-69 00:00:00 GMT"), 3124224000); /* 2069 */
    assert_int_equal(parse("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
    assert_int_equal(parse("Thu, 31 Dec 1998 23:59:60 GMT"), 915148800); /* a leap second */
    /* the day name is not checked against the date */
    assert_int_equal(parse("Mon, 06 Nov 1994 08:49:37 GMT"), 784111777);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 32 Oct 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, +6 Nov 1994 08:49:37 GMT",
        "784111777",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        if (tw__http_date_parse(bad[i], strlen(bad[i]), &t)) {
            print_error("accepted: \"%s\"\n", bad[i]);
            fail();
        }
    }
    int64_t t;
    /* a prefix of a good date is not a date */
    assert_false(tw__http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 20, &t));
}

static void test_round_trip(void **state)
{
    (void)state;
    for (int64_t t = -62167219200; t < 253402300799; t += 86400 * 397 + 3607) {
        char text[TW__HTTP_DATE_LEN + 1];
        tw__http_date_format(t, text);
        int64_t back;
        assert_true(tw__http_date_parse(text, TW__HTTP_DATE_LEN, &back));
        assert_int_equal(back, t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_matches_gmtime),
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
