/* Tests for response heads and the text buffer they are written into: the status line and common
 * fields, file heads for 200, 206 and 304, whole status responses (HEAD without a body, an extra
 * field), a fixed buffer that overflows (sticky failure, nothing written past it), numbers, and
 * the URI and HTML escapes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/http/date.h"
#include "protocols/http/head.h"
#include "protocols/http/text.h"

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"
#define LASTMOD "Sat, 05 Nov 1994 08:49:37 GMT"

/* The text as a C string (the caller frees it). */
static char *cstr(tw__http_text *t)
{
    assert_false(t->failed);
    char *s = strndup(t->p, t->len);
    assert_non_null(s);
    tw__http_text_free(t);
    return s;
}

static void test_file_heads(void **state)
{
    (void)state;
    tw__http_text t;
    tw__http_file_head f = {.status = 200, .content_type = "text/html", .size = 1000,
                            .last_modified = LASTMOD, .etag = "\"e\"", .etag_len = 3};
    tw__http_text_init(&t);
    tw__http_file_head_write(&t, &f, DATE, true);
    char *s = cstr(&t);
    assert_string_equal(s, "HTTP/1.1 200 OK\r\nServer: twined\r\nDate: " DATE "\r\n"
                           "Content-Type: text/html\r\nContent-Length: 1000\r\n"
                           "Last-Modified: " LASTMOD
                           "\r\nETag: \"e\"\r\nAccept-Ranges: bytes\r\n\r\n");
    free(s);
    f.status = 206;
    f.first = 990;
    f.last = 999;
    tw__http_text_init(&t);
    tw__http_file_head_write(&t, &f, DATE, false);
    s = cstr(&t);
    assert_string_equal(s, "HTTP/1.1 206 Partial Content\r\nServer: twined\r\nDate: " DATE "\r\n"
                           "Content-Type: text/html\r\nContent-Length: 10\r\n"
                           "Content-Range: bytes 990-999/1000\r\n"
                           "Last-Modified: " LASTMOD "\r\nETag: \"e\"\r\nAccept-Ranges: bytes\r\n"
                           "Connection: close\r\n\r\n");
    free(s);
    f.status = 304;
    tw__http_text_init(&t);
    tw__http_file_head_write(&t, &f, DATE, true);
    s = cstr(&t);
    assert_string_equal(s, "HTTP/1.1 304 Not Modified\r\nServer: twined\r\nDate: " DATE "\r\n"
                           "Last-Modified: " LASTMOD "\r\nETag: \"e\"\r\n\r\n");
    free(s);
}

static void test_status_responses(void **state)
{
    (void)state;
    tw__http_text t;
    tw__http_text_init(&t);
    tw__http_status_response(&t, 404, DATE, true, false, NULL, 0);
    char *s = cstr(&t);
    const char *page = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
                       "<body><h1>404 Not Found</h1></body></html>\n";
    char want[1024];
    snprintf(want, sizeof want,
             "HTTP/1.1 404 Not Found\r\nServer: twined\r\nDate: " DATE "\r\n"
             "Content-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(page), page);
    assert_string_equal(s, want);
    free(s);
    /* HEAD: the same head, no body; an extra field; closing */
    tw__http_text_init(&t);
    tw__http_status_response(&t, 405, DATE, false, true, "Allow: GET, HEAD", 16);
    s = cstr(&t);
    assert_non_null(strstr(s, "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(s, "\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n"));
    snprintf(want, sizeof want, "Content-Length: %zu\r\n",
             strlen(page) + 2 * (strlen("405 Method Not Allowed") - strlen("404 Not Found")));
    assert_non_null(strstr(s, want));
    assert_true(strstr(s, "\r\n\r\n")[4] == '\0');
    free(s);
    const int statuses[] = {301, 400, 403, 412, 413, 414, 416, 431, 500, 501, 505};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        assert_string_not_equal(tw__http_reason(statuses[i]), "Unknown");
    assert_string_equal(tw__http_reason(299), "Unknown");
}

static void test_fixed_text_overflow(void **state)
{
    (void)state;
    char buf[16];
    memset(buf, '#', sizeof buf);
    tw__http_text t;
    tw__http_text_init_fixed(&t, buf, 10);
    tw__http_text_cstr(&t, "12345");
    tw__http_text_cstr(&t, "67890");
    assert_false(t.failed);
    tw__http_text_add(&t, "x", 1);
    assert_true(t.failed);
    assert_int_equal(t.len, 10);
    tw__http_text_cstr(&t, ""); /* still failed */
    assert_true(t.failed);
    assert_int_equal(buf[10], '#');
    tw__http_text_free(&t); /* nothing to free */
    assert_null(t.p);
}

static void test_numbers_and_escapes(void **state)
{
    (void)state;
    tw__http_text t;
    tw__http_text_init(&t);
    tw__http_text_u64(&t, 0);
    tw__http_text_add(&t, " ", 1);
    tw__http_text_u64(&t, UINT64_MAX);
    char *s = cstr(&t);
    assert_string_equal(s, "0 18446744073709551615");
    free(s);
    tw__http_text_init(&t);
    static const char raw[] = "a b/c?d#e%f\"'<>&~._-\xc3\xa9\x01";
    tw__http_text_uri(&t, raw, sizeof raw - 1, true);
    s = cstr(&t);
    assert_string_equal(s, "a%20b/c%3Fd%23e%25f%22%27%3C%3E%26~._-%C3%A9%01");
    free(s);
    tw__http_text_init(&t);
    tw__http_text_uri(&t, "a/b", 3, false);
    s = cstr(&t);
    assert_string_equal(s, "a%2Fb");
    free(s);
    tw__http_text_init(&t);
    tw__http_text_html(&t, "<a href=\"x\">&'</a>", 18);
    s = cstr(&t);
    assert_string_equal(s, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    free(s);
    /* a long text grows */
    tw__http_text_init(&t);
    for (int i = 0; i < 10000; i++)
        tw__http_text_cstr(&t, "0123456789");
    assert_int_equal(t.len, 100000);
    assert_false(t.failed);
    tw__http_text_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_heads),
        cmocka_unit_test(test_status_responses),
        cmocka_unit_test(test_fixed_text_overflow),
        cmocka_unit_test(test_numbers_and_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
