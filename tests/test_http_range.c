/* Tests for byte ranges and conditional requests: the Range cases of nginx's and h2o's suites on a
 * 1000-byte file (clamping, suffixes, 416, invalid and several ranges ignored, overflow), empty
 * files; ETags; the precondition order of RFC 9110 13.2.2 (If-None-Match beats If-Modified-Since,
 * If-Match before If-Unmodified-Since, all three date forms, no 2038 wrap); If-Range. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocols/http/conditional.h"
#include "protocols/http/range.h"

static tw__http_str str(const char *s)
{
    return (tw__http_str){s, s ? strlen(s) : 0};
}

typedef struct {
    const char *value;
    uint64_t size;
    tw__http_range_kind kind;
    uint64_t first, last;
} range_case;

#define PART TW__HTTP_RANGE_PARTIAL
#define NONE TW__HTTP_RANGE_NONE
#define UNSAT TW__HTTP_RANGE_UNSATISFIABLE

static const range_case range_cases[] = {
    {"bytes=0-8", 1000, PART, 0, 8},
    {"bytes=0-0", 1000, PART, 0, 0},
    {"bytes=-10", 1000, PART, 990, 999},
    {"bytes=990-", 1000, PART, 990, 999},
    {"bytes=990-10000", 1000, PART, 990, 999},
    {"bytes=999-999", 1000, PART, 999, 999},
    {"bytes=-1000", 1000, PART, 0, 999},
    {"bytes=-5000", 1000, PART, 0, 999},
    {"BYTES=1-2", 1000, PART, 1, 2},
    {"bytes= 1-2 ", 1000, PART, 1, 2},
    {"bytes=1-2,", 1000, PART, 1, 2},
    {"bytes=, ,1-2, ,", 1000, PART, 1, 2},
    {"bytes=0-99999999999999999999999", 1000, PART, 0, 999},
    {"bytes=-99999999999999999999999", 1000, PART, 0, 999},
    {"bytes=0-18446744073709551615", 1000, PART, 0, 999},
    /* unsatisfiable: 416 */
    {"bytes=1000-", 1000, UNSAT, 0, 0},
    {"bytes=100000-", 1000, UNSAT, 0, 0},
    {"bytes=1000-2000", 1000, UNSAT, 0, 0},
    {"bytes=99999999999999999999999-", 1000, UNSAT, 0, 0},
    {"bytes=-0", 1000, UNSAT, 0, 0},
    {"bytes=0-", 0, UNSAT, 0, 0},
    {"bytes=-5", 0, UNSAT, 0, 0},
    {"bytes=0-0", 0, UNSAT, 0, 0},
    /* ignored: the whole file */
    {NULL, 1000, NONE, 0, 0},
    {"", 1000, NONE, 0, 0},
    {"bytes=", 1000, NONE, 0, 0},
    {"bytes=,", 1000, NONE, 0, 0},
    {"bytes=5-4", 1000, NONE, 0, 0},
    {"bytes=-", 1000, NONE, 0, 0},
    {"bytes=alpha", 1000, NONE, 0, 0},
    {"bytes=10", 1000, NONE, 0, 0},
    {"bytes=10-alpha", 1000, NONE, 0, 0},
    {"bytes=10-11 12-", 1000, NONE, 0, 0},
    {"bytes=+1-2", 1000, NONE, 0, 0},
    {"bytes=1--2", 1000, NONE, 0, 0},
    {"bytes=0x10-20", 1000, NONE, 0, 0},
    {"bytes = 1-2", 1000, NONE, 0, 0},
    {"items=0-1", 1000, NONE, 0, 0},
    {"bytes=0-10001, 0-0", 1000, NONE, 0, 0},
    {"bytes=0-1,2-3", 1000, NONE, 0, 0},
    {"bytes=0-,5-0,5-1,5-2,5-3", 1000, NONE, 0, 0},
    {"bytes=2000-,3000-", 1000, NONE, 0, 0},
};

static void test_range_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof range_cases / sizeof range_cases[0]; i++) {
        const range_case *c = &range_cases[i];
        uint64_t first = 77, last = 77;
        tw__http_range_kind kind = tw__http_range_parse(str(c->value), c->size, &first, &last);
        if (kind != c->kind || (kind == PART && (first != c->first || last != c->last))) {
            print_error("\"%s\" on %llu: kind %d %llu-%llu\n", c->value ? c->value : "(none)",
                        (unsigned long long)c->size, (int)kind, (unsigned long long)first,
                        (unsigned long long)last);
            fail();
        }
    }
}

static void test_etag(void **state)
{
    (void)state;
    char e[TW__HTTP_ETAG_MAX + 1];
    assert_int_equal(tw__http_etag_format(0x66f1a3b2, 1024, e), 14);
    assert_string_equal(e, "\"66f1a3b2-400\"");
    assert_int_equal(tw__http_etag_format(0, 0, e), 5);
    assert_string_equal(e, "\"0-0\"");
    assert_int_equal(tw__http_etag_format(-1, UINT64_MAX, e), TW__HTTP_ETAG_MAX - 1);
}

#define MTIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define ETAG "\"2ebc98a1-3e8\""

static int pre(const char *im, const char *ius, const char *inm, const char *ims)
{
    tw__http_request req;
    memset(&req, 0, sizeof req);
    req.if_match = str(im);
    req.if_unmodified_since = str(ius);
    req.if_none_match = str(inm);
    req.if_modified_since = str(ims);
    return tw__http_preconditions(&req, MTIME, str(ETAG));
}

static void test_if_modified_since(void **state)
{
    (void)state;
    assert_int_equal(pre(NULL, NULL, NULL, NULL), 0);
    assert_int_equal(pre(NULL, NULL, NULL, "Sun, 06 Nov 1994 08:49:37 GMT"), 304);
    assert_int_equal(pre(NULL, NULL, NULL, "Sunday, 06-Nov-94 08:49:37 GMT"), 304);
    assert_int_equal(pre(NULL, NULL, NULL, "Sun Nov  6 08:49:37 1994"), 304);
    assert_int_equal(pre(NULL, NULL, NULL, "Sun, 06 Nov 1994 08:49:38 GMT"), 304);
    assert_int_equal(pre(NULL, NULL, NULL, "Sun, 06 Nov 1994 08:49:36 GMT"), 0);
    assert_int_equal(pre(NULL, NULL, NULL, "Tue, 19 Jan 2038 03:14:07 GMT"), 304);
    assert_int_equal(pre(NULL, NULL, NULL, "Tue, 19 Jan 2038 03:14:08 GMT"), 304);
    assert_int_equal(pre(NULL, NULL, NULL, "yesterday"), 0);
}

static void test_if_none_match(void **state)
{
    (void)state;
    assert_int_equal(pre(NULL, NULL, ETAG, NULL), 304);
    assert_int_equal(pre(NULL, NULL, "*", NULL), 304);
    assert_int_equal(pre(NULL, NULL, "W/" ETAG, NULL), 304);
    assert_int_equal(pre(NULL, NULL, "\"x\", W/\"y\" ," ETAG, NULL), 304);
    assert_int_equal(pre(NULL, NULL, "\"a,b\", " ETAG, NULL), 304);
    assert_int_equal(pre(NULL, NULL, "\"x\"", NULL), 0);
    assert_int_equal(pre(NULL, NULL, "2ebc98a1-3e8", NULL), 0); /* unquoted: not a tag */
    assert_int_equal(pre(NULL, NULL, "\"x\" garbage " ETAG, NULL), 0);
    /* If-None-Match wins over If-Modified-Since, both ways */
    assert_int_equal(pre(NULL, NULL, "\"x\"", "Sun, 06 Nov 1994 08:49:37 GMT"), 0);
    assert_int_equal(pre(NULL, NULL, ETAG, "Sun, 06 Nov 1994 08:49:36 GMT"), 304);
}

static void test_if_match_and_unmodified_since(void **state)
{
    (void)state;
    assert_int_equal(pre(ETAG, NULL, NULL, NULL), 0);
    assert_int_equal(pre("*", NULL, NULL, NULL), 0);
    assert_int_equal(pre("\"x\", " ETAG, NULL, NULL, NULL), 0);
    assert_int_equal(pre("\"x\"", NULL, NULL, NULL), 412);
    assert_int_equal(pre("W/" ETAG, NULL, NULL, NULL), 412); /* strong comparison */
    assert_int_equal(pre(NULL, "Sun, 06 Nov 1994 08:49:37 GMT", NULL, NULL), 0);
    assert_int_equal(pre(NULL, "Sun, 06 Nov 1994 08:49:36 GMT", NULL, NULL), 412);
    assert_int_equal(pre(NULL, "not a date", NULL, NULL), 0);
    /* If-Match decides, If-Unmodified-Since is then not looked at */
    assert_int_equal(pre(ETAG, "Sun, 06 Nov 1994 08:49:36 GMT", NULL, NULL), 0);
    /* 412 comes before 304 */
    assert_int_equal(pre("\"x\"", NULL, ETAG, NULL), 412);
    assert_int_equal(pre(ETAG, NULL, ETAG, NULL), 304);
}

static void test_if_range(void **state)
{
    (void)state;
    tw__http_str e = str(ETAG);
    assert_true(tw__http_if_range_holds(str(NULL), MTIME, e));
    assert_true(tw__http_if_range_holds(str(ETAG), MTIME, e));
    assert_false(tw__http_if_range_holds(str("W/" ETAG), MTIME, e));
    assert_false(tw__http_if_range_holds(str("\"other\""), MTIME, e));
    assert_true(tw__http_if_range_holds(str("Sun, 06 Nov 1994 08:49:37 GMT"), MTIME, e));
    assert_false(tw__http_if_range_holds(str("Sun, 06 Nov 1994 08:49:38 GMT"), MTIME, e));
    assert_false(tw__http_if_range_holds(str("Sun, 06 Nov 1994 08:49:36 GMT"), MTIME, e));
    assert_false(tw__http_if_range_holds(str("garbage"), MTIME, e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_table),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_if_modified_since),
        cmocka_unit_test(test_if_none_match),
        cmocka_unit_test(test_if_match_and_unmodified_since),
        cmocka_unit_test(test_if_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
