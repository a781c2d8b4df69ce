/* Tests for the Content-Type table: known extensions in any case, the last dot deciding, names
 * without an extension, dot files, directories with dots, over-long and non-ASCII extensions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocols/http/mime.h"

static const char *type(const char *name)
{
    return tw__http_mime_type(name, strlen(name));
}

static void test_known(void **state)
{
    (void)state;
    assert_string_equal(type("index.html"), "text/html");
    assert_string_equal(type("INDEX.HTM"), "text/html");
    assert_string_equal(type("a/b/style.Css"), "text/css");
    assert_string_equal(type("app.js"), "text/javascript");
    assert_string_equal(type("data.json"), "application/json");
    assert_string_equal(type("photo.JPG"), "image/jpeg");
    assert_string_equal(type("logo.svg"), "image/svg+xml");
    assert_string_equal(type("font.woff2"), "font/woff2");
    assert_string_equal(type("doc.pdf"), "application/pdf");
    assert_string_equal(type("notes.txt"), "text/plain");
    assert_string_equal(type("archive.tar.gz"), "application/gzip");
    assert_string_equal(type("site.webmanifest"), "application/manifest+json");
    assert_string_equal(type("7z.7z"), "application/x-7z-compressed");
    assert_string_equal(type("zz.zst"), "application/zstd");
}

static void test_unknown(void **state)
{
    (void)state;
    const char *octet = "application/octet-stream";
    assert_string_equal(type(""), octet);
    assert_string_equal(type("README"), octet);
    assert_string_equal(type("file."), octet);
    assert_string_equal(type("file.unknownext"), octet);
    assert_string_equal(type("file.averyveryverylongextension"), octet);
    assert_string_equal(type("dir.html/README"), octet);
    assert_string_equal(type(".bashrc"), octet);
    assert_string_equal(type("x.html\xff"), octet);
    /* only the len bytes given count */
    assert_string_equal(tw__http_mime_type("a.html.txt", 6), "text/html");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known),
        cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
