/* Tests for request paths: decoding once and removing dot segments (a table of hostile paths), then
 * resolution beneath a real directory built in a temporary dir, with symlinks that stay inside,
 * lead outside (relative, absolute, through a directory, as an index.html), dangle or loop, a
 * FIFO, index.html and listings; and the listing page itself (sorting, escaping, hidden names). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <twine/http.h>

#include "protocols/http/listing.h"
#include "protocols/http/path.h"
#include "protocols/http/text.h"
#include "support/files.h"

/* ---- normalisation --------------------------------------------------------------------------- */

typedef struct {
    const char *raw;
    int status;
    const char *rel; /* when status is 0 */
    bool slash;
} norm_case;

static const norm_case norm_cases[] = {
    {"/", 0, "", true},
    {"/a", 0, "a", false},
    {"/a/", 0, "a", true},
    {"//a//b//", 0, "a/b", true},
    {"/a/./b", 0, "a/b", false},
    {"/./", 0, "", true},
    {"/.", 0, "", true},
    {"/foo/bar/.", 0, "foo/bar", true},
    {"/foo/bar/..", 0, "foo", true},
    {"/foo/bar/../baz", 0, "foo/baz", false},
    {"/a/b/../../c", 0, "c", false},
    {"/...", 0, "...", false},
    {"/..a/a..", 0, "..a/a..", false},
    {"/a%20b", 0, "a b", false},
    {"/%41%42c", 0, "ABc", false},
    {"/caf%C3%A9", 0, "caf\xc3\xa9", false},
    /* decoded once: %25 is a literal '%', never decoded again */
    {"/%252e%252e/", 0, "%2e%2e", true},
    {"/%%32%65", 400, NULL, false},
    /* an overlong UTF-8 dot is a name, not a dot */
    {"/%c0%ae%c0%ae/", 0, "\xc0\xae\xc0\xae", true},
    {"/%02", 0, "\x02", false},
    /* climbing out of DIR */
    {"/..", 403, NULL, false},
    {"/../x", 403, NULL, false},
    {"/a/../../x", 403, NULL, false},
    {"/a/b/../../..", 403, NULL, false},
    {"/%2e%2e/etc/passwd", 403, NULL, false},
    {"/%2E%2e", 403, NULL, false},
    {"/.%2e/", 403, NULL, false},
    {"/%2e./x", 403, NULL, false},
    /* names no served file can have */
    {"/..%2f..%2fetc/passwd", 404, NULL, false},
    {"/a%2Fb", 404, NULL, false},
    {"/a%2fb", 404, NULL, false},
    {"/..%5c..%5c", 404, NULL, false},
    {"/a\\b", 404, NULL, false},
    {"/a%00.html", 404, NULL, false},
    {"/%00", 404, NULL, false},
    /* bad escapes and forms */
    {"/foo/bar%", 400, NULL, false},
    {"/foo/bar%1", 400, NULL, false},
    {"/%zz", 400, NULL, false},
    {"/%g0", 400, NULL, false},
    {"", 400, NULL, false},
    {"a/b", 400, NULL, false},
};

static void test_normalize_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
        const norm_case *c = &norm_cases[i];
        size_t len = strlen(c->raw), n = 99;
        char out[256];
        bool slash = !c->slash;
        int status = tw__http_path_normalize(c->raw, len, out, len + 1, &n, &slash);
        if (status != c->status || (status == 0 && (strcmp(out, c->rel) != 0 ||
                                                    n != strlen(c->rel) || slash != c->slash))) {
            fprintf(stderr, "%s: status %d out \"%s\" slash %d\n", c->raw, status,
                    status ? "" : out, slash);
            fail();
        }
    }
}

static void test_normalize_small_buffer(void **state)
{
    (void)state;
    char out[4];
    size_t n;
    bool slash;
    assert_int_equal(tw__http_path_normalize("/abcd", 5, out, sizeof out, &n, &slash), 414);
    assert_int_equal(tw__http_path_normalize("/abc", 4, out, 5, &n, &slash), 0);
}

/* ---- a directory to serve -------------------------------------------------------------------- */

typedef struct {
    char base[64]; /* the temporary dir: holds outside.txt and root/ */
    char root_path[96];
    tw__http_root root;
} tree;

static void put_link(const char *dir, const char *name, const char *target)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(symlink(target, path), 0);
}

static void put_dir(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(mkdir(path, 0755), 0);
}

static int tree_setup(void **state)
{
    tree *t = calloc(1, sizeof *t);
    assert_non_null(t);
    strcpy(t->base, "/tmp/twine-http-path-XXXXXX");
    assert_non_null(mkdtemp(t->base));
    snprintf(t->root_path, sizeof t->root_path, "%s/root", t->base);
    tw_test_write_file(t->base, "outside.txt", "secret");
    put_dir(t->base, "root");
    const char *r = t->root_path;
    tw_test_write_file(r, "a.txt", "hello");
    tw_test_write_file(r, "%2e%2e", "literal name");
    tw_test_write_file(r, "sp ace.html", "x");
    put_dir(r, "dir");
    tw_test_write_file(r, "dir/index.html", "index");
    put_dir(r, "bare");
    tw_test_write_file(r, "bare/f.css", "css");
    put_dir(r, "bare/sub");
    put_dir(r, "indexdir");
    put_dir(r, "indexdir/index.html");
    put_dir(r, "evilindex");
    put_link(r, "evilindex/index.html", "../../outside.txt");
    put_link(r, "link_in", "a.txt");
    put_link(r, "link_in_deep", "dir/../bare/f.css");
    char abs_in[256];
    snprintf(abs_in, sizeof abs_in, "%s/a.txt", r);
    put_link(r, "link_abs_in", abs_in);
    put_link(r, "link_out", "../outside.txt");
    put_link(r, "link_abs_out", "/etc/passwd");
    put_link(r, "link_dangling", "nowhere");
    put_link(r, "link_loop", "link_loop");
    put_link(r, "dir_out", "..");
    put_link(r, "dir_in", "dir");
    put_link(r, "dir_abs_out", "/etc");
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/fifo", r);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(tw__http_root_open(&t->root, r), 0);
    *state = t;
    return 0;
}

static int tree_teardown(void **state)
{
    tree *t = *state;
    tw__http_root_close(&t->root);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->base);
    assert_int_equal(system(cmd), 0);
    free(t);
    return 0;
}

/* ---- resolution ------------------------------------------------------------------------------ */

typedef struct {
    const char *raw;
    bool listing;
    int status;
    tw__http_res_kind kind;
    const char *content; /* FILE: the first bytes of the file served */
} resolve_case;

static const resolve_case resolve_cases[] = {
    {"/a.txt", false, 200, TW__HTTP_RES_FILE, "hello"},
    {"/./a.txt", false, 200, TW__HTTP_RES_FILE, "hello"},
    {"/dir/../a.txt", false, 200, TW__HTTP_RES_FILE, "hello"},
    {"/sp%20ace.html", false, 200, TW__HTTP_RES_FILE, "x"},
    {"/%252e%252e", false, 200, TW__HTTP_RES_FILE, "literal name"},
    {"/a.txt/", false, 404, TW__HTTP_RES_ERROR, NULL},
    {"/a.txt/.", false, 404, TW__HTTP_RES_ERROR, NULL},
    {"/missing", false, 404, TW__HTTP_RES_ERROR, NULL},
    {"/a.txt/x", false, 404, TW__HTTP_RES_ERROR, NULL},
    {"/../outside.txt", false, 403, TW__HTTP_RES_ERROR, NULL},
    {"/%2e%2e/outside.txt", false, 403, TW__HTTP_RES_ERROR, NULL},
    {"/..%2foutside.txt", false, 404, TW__HTTP_RES_ERROR, NULL},
    /* directories */
    {"/", false, 403, TW__HTTP_RES_ERROR, NULL},
    {"/", true, 200, TW__HTTP_RES_LISTING, NULL},
    {"/dir/", false, 200, TW__HTTP_RES_FILE, "index"},
    {"/dir", false, 301, TW__HTTP_RES_REDIRECT, NULL},
    {"/dir/.", false, 200, TW__HTTP_RES_FILE, "index"},
    {"/bare/", false, 403, TW__HTTP_RES_ERROR, NULL},
    {"/bare/", true, 200, TW__HTTP_RES_LISTING, NULL},
    {"/bare", true, 301, TW__HTTP_RES_REDIRECT, NULL},
    {"/nodir/", false, 404, TW__HTTP_RES_ERROR, NULL},
    {"/indexdir/", false, 403, TW__HTTP_RES_ERROR, NULL},
    {"/indexdir/", true, 200, TW__HTTP_RES_LISTING, NULL},
    {"/evilindex/", true, 403, TW__HTTP_RES_ERROR, NULL},
    /* symlinks */
    {"/link_in", false, 200, TW__HTTP_RES_FILE, "hello"},
    {"/link_in_deep", false, 200, TW__HTTP_RES_FILE, "css"},
    {"/link_abs_in", false, 200, TW__HTTP_RES_FILE, "hello"},
    {"/link_out", false, 403, TW__HTTP_RES_ERROR, NULL},
    {"/link_abs_out", false, 403, TW__HTTP_RES_ERROR, NULL},
    {"/link_dangling", false, 404, TW__HTTP_RES_ERROR, NULL},
    {"/link_loop", false, 403, TW__HTTP_RES_ERROR, NULL},
    {"/dir_out/outside.txt", false, 403, TW__HTTP_RES_ERROR, NULL},
    {"/dir_out/root/a.txt", false, 200, TW__HTTP_RES_FILE, "hello"},
    {"/dir_out/", true, 403, TW__HTTP_RES_ERROR, NULL},
    {"/dir_in/", false, 200, TW__HTTP_RES_FILE, "index"},
    {"/dir_in", false, 301, TW__HTTP_RES_REDIRECT, NULL},
    {"/dir_abs_out/passwd", false, 403, TW__HTTP_RES_ERROR, NULL},
    /* neither file nor directory: never opened for reading in a way that blocks */
    {"/fifo", false, 404, TW__HTTP_RES_ERROR, NULL},
};

static void test_resolve_table(void **state)
{
    tree *t = *state;
    for (size_t i = 0; i < sizeof resolve_cases / sizeof resolve_cases[0]; i++) {
        const resolve_case *c = &resolve_cases[i];
        char rel[256];
        tw__http_resolved res;
        int status = tw__http_resolve(&t->root, c->raw, strlen(c->raw), c->listing, rel,
                                      sizeof rel, &res);
        bool ok = status == c->status && res.status == status && res.kind == c->kind;
        if (ok && c->content) {
            char buf[64] = "";
            ssize_t n = read(res.fd, buf, sizeof buf - 1);
            ok = n >= 0 && strncmp(buf, c->content, strlen(c->content)) == 0 &&
                 S_ISREG(res.st.st_mode);
        }
        if (ok && (c->kind == TW__HTTP_RES_FILE || c->kind == TW__HTTP_RES_LISTING))
            ok = res.fd >= 0;
        else if (ok)
            ok = res.fd == -1;
        if (!ok) {
            fprintf(stderr, "%s (listing %d): status %d kind %d\n", c->raw, c->listing, status,
                    res.kind);
            fail();
        }
        if (res.fd >= 0)
            close(res.fd);
    }
}

static void test_resolve_reports_index_and_rel(void **state)
{
    tree *t = *state;
    char rel[256];
    tw__http_resolved res;
    assert_int_equal(tw__http_resolve(&t->root, "/dir/", 5, false, rel, sizeof rel, &res), 200);
    assert_true(res.index);
    assert_string_equal(rel, "dir");
    assert_int_equal(res.rel_len, 3);
    close(res.fd);
    assert_int_equal(tw__http_resolve(&t->root, "/dir", 4, false, rel, sizeof rel, &res), 301);
    assert_string_equal(rel, "dir");
    assert_int_equal(tw__http_resolve(&t->root, "/a.txt", 6, false, rel, sizeof rel, &res), 200);
    assert_false(res.index);
    assert_int_equal(res.st.st_size, 5);
    close(res.fd);
    /* a buffer too small for the path and "/index.html" */
    assert_int_equal(tw__http_resolve(&t->root, "/a.txt", 6, false, rel, 8, &res), 414);
}

static void test_open_file_errors(void **state)
{
    tree *t = *state;
    assert_int_equal(tw__http_root_open_file(&t->root, "missing"), -ENOENT);
    assert_int_equal(tw__http_root_open_file(&t->root, "link_out"), -EXDEV);
    assert_int_equal(tw__http_root_open_file(&t->root, "link_abs_out"), -EXDEV);
    assert_int_equal(tw__http_open_status(-ENOENT), 404);
    assert_int_equal(tw__http_open_status(-ENOTDIR), 404);
    assert_int_equal(tw__http_open_status(-ENAMETOOLONG), 404);
    assert_int_equal(tw__http_open_status(-EACCES), 403);
    assert_int_equal(tw__http_open_status(-ELOOP), 403);
    assert_int_equal(tw__http_open_status(-EXDEV), 403);
    assert_int_equal(tw__http_open_status(-EMFILE), 500);
    int fd = tw__http_root_open_file(&t->root, "");
    assert_true(fd >= 0);
    close(fd);
    tw__http_root bad;
    assert_int_equal(tw__http_root_open(&bad, "/nonexistent/twine"), -ENOENT);
    char file[256];
    snprintf(file, sizeof file, "%s/a.txt", t->root_path);
    assert_int_equal(tw__http_root_open(&bad, file), -ENOTDIR);
}

/* DIR given through a symlink, and as "/": paths are compared by whole segments. */
static void test_root_through_symlink(void **state)
{
    tree *t = *state;
    char link[256];
    snprintf(link, sizeof link, "%s/rootlink", t->base);
    assert_int_equal(symlink("root", link), 0);
    tw__http_root r;
    assert_int_equal(tw__http_root_open(&r, link), 0);
    char rel[256];
    tw__http_resolved res;
    assert_int_equal(tw__http_resolve(&r, "/link_abs_in", 12, false, rel, sizeof rel, &res), 200);
    close(res.fd);
    assert_int_equal(tw__http_resolve(&r, "/link_out", 9, false, rel, sizeof rel, &res), 403);
    tw__http_root_close(&r);
    /* a sibling whose name starts with DIR's ("root2") is outside */
    char sibling[256];
    snprintf(sibling, sizeof sibling, "%s/root2", t->base);
    assert_int_equal(mkdir(sibling, 0755), 0);
    tw_test_write_file(sibling, "s.txt", "sibling");
    char target[300];
    snprintf(target, sizeof target, "%s/s.txt", sibling);
    put_link(t->root_path, "link_sibling", target);
    assert_int_equal(tw__http_resolve(&t->root, "/link_sibling", 13, false, rel, sizeof rel, &res),
                     403);
    tw__http_root slash;
    assert_int_equal(tw__http_root_open(&slash, "/"), 0);
    assert_int_equal(tw__http_resolve(&slash, "/etc/passwd", 11, false, rel, sizeof rel, &res),
                     200);
    close(res.fd);
    tw__http_root_close(&slash);
}

/* ---- listings -------------------------------------------------------------------------------- */

static char *list(tree *t, const char *rel)
{
    int fd = tw__http_root_open_file(&t->root, rel);
    assert_true(fd >= 0);
    tw__http_text body;
    tw__http_text_init(&body);
    assert_int_equal(tw__http_listing(fd, rel, strlen(rel), &body), 0);
    close(fd);
    tw__http_text_add(&body, "", 1);
    assert_false(body.failed);
    return body.p;
}

static void test_listing_page(void **state)
{
    tree *t = *state;
    tw_test_write_file(t->root_path, "bare/<b>&\"'.txt", "x");
    tw_test_write_file(t->root_path, "bare/.hidden", "x");
    tw_test_write_file(t->root_path, "bare/a b?c#d%e.txt", "x");
    char *page = list(t, "bare");
    assert_non_null(strstr(page, "<title>Index of /bare/</title>"));
    assert_non_null(strstr(page, "<a href=\"../\">../</a>"));
    assert_non_null(strstr(page, "<a href=\"sub/\">sub/</a>"));
    assert_non_null(strstr(page, "<a href=\"f.css\">f.css</a></td><td>"));
    assert_non_null(strstr(page, "<td>3</td>")); /* the size of f.css */
    assert_non_null(
        strstr(page, "<a href=\"%3Cb%3E%26%22%27.txt\">&lt;b&gt;&amp;&quot;&#39;.txt</a>"));
    assert_non_null(strstr(page, "<a href=\"a%20b%3Fc%23d%25e.txt\">a b?c#d%e.txt</a>"));
    assert_null(strstr(page, "hidden"));
    assert_null(strstr(page, "<b>"));
    /* sorted by name */
    assert_true(strstr(page, "%3Cb") < strstr(page, "a%20b"));
    assert_true(strstr(page, "a%20b") < strstr(page, "f.css"));
    assert_true(strstr(page, "f.css") < strstr(page, "sub/"));
    free(page);
    page = list(t, "");
    assert_non_null(strstr(page, "<title>Index of /</title>"));
    assert_null(strstr(page, "href=\"../\""));
    assert_non_null(strstr(page, "<a href=\"dir/\">dir/</a>"));
    assert_non_null(
        strstr(page, "<a href=\"link_dangling\">link_dangling</a></td><td>")); /* lstat */
    free(page);
}

static void test_listing_escapes_directory_name(void **state)
{
    tree *t = *state;
    put_dir(t->root_path, "<script>");
    char *page = list(t, "<script>");
    assert_non_null(strstr(page, "<title>Index of /&lt;script&gt;/</title>"));
    assert_null(strstr(page, "<script>"));
    free(page);
}

static void test_listing_limit(void **state)
{
    tree *t = *state;
    put_dir(t->root_path, "many");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/many", t->root_path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    for (int i = 0; i < TW_HTTP_LISTING_ENTRIES_MAX + 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%05d", i);
        int fd = openat(dfd, name, O_CREAT | O_WRONLY, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    close(dfd);
    char *page = list(t, "many");
    assert_non_null(strstr(page, "<p>3 more entries not shown.</p>"));
    size_t rows = 0;
    for (const char *p = page; (p = strstr(p, "<tr><td><a href=\"f")) != NULL; p++)
        rows++;
    assert_int_equal(rows, TW_HTTP_LISTING_ENTRIES_MAX);
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_table),
        cmocka_unit_test(test_normalize_small_buffer),
        cmocka_unit_test_setup_teardown(test_resolve_table, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_resolve_reports_index_and_rel, tree_setup,
                                        tree_teardown),
        cmocka_unit_test_setup_teardown(test_open_file_errors, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_root_through_symlink, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_listing_page, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_listing_escapes_directory_name, tree_setup,
                                        tree_teardown),
        cmocka_unit_test_setup_teardown(test_listing_limit, tree_setup, tree_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
