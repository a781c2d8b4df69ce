/* Directory listings. The directory is read through its own duplicate descriptor (readdir owns the
 * one it is given), names are collected and sorted before anything is written, and every byte that
 * came from the file system is escaped for where it lands: href or text. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <twine/http.h>

#include "date.h"
#include "listing.h"

typedef struct {
    char *name;
    bool is_dir;
    bool has_stat;
    uint64_t size;
    int64_t mtime;
} entry;

typedef struct {
    entry *items;
    size_t count, cap;
    size_t left_out; /* entries beyond TW_HTTP_LISTING_ENTRIES_MAX */
} entries;

static void entries_free(entries *e)
{
    for (size_t i = 0; i < e->count; i++)
        free(e->items[i].name);
    free(e->items);
}

static int add_entry(entries *e, DIR *d, const char *name)
{
    if (e->count == TW_HTTP_LISTING_ENTRIES_MAX) {
        e->left_out++;
        return 0;
    }
    if (e->count == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        entry *items = realloc(e->items, cap * sizeof *items);
        if (!items)
            return -ENOMEM;
        e->items = items;
        e->cap = cap;
    }
    entry *it = &e->items[e->count];
    memset(it, 0, sizeof *it);
    if (!(it->name = strdup(name)))
        return -ENOMEM;
    struct stat st;
    /* Follow symlinks to show what a click gets; a dangling one still shows, without details. */
    if (fstatat(dirfd(d), name, &st, 0) == 0 ||
        fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        it->has_stat = true;
        it->is_dir = S_ISDIR(st.st_mode);
        it->size = (uint64_t)st.st_size;
        it->mtime = (int64_t)st.st_mtim.tv_sec;
    }
    e->count++;
    return 0;
}

static int read_entries(int dir_fd, entries *e)
{
    int fd = dup(dir_fd);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = -errno;
        close(fd);
        return err;
    }
    rewinddir(d); /* a duplicate shares the offset with dir_fd: start from the top */
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.')
            rc = add_entry(e, d, de->d_name);
        errno = 0;
    }
    if (rc == 0 && errno)
        rc = -errno;
    closedir(d);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static void write_row(tw__http_text *t, const entry *it)
{
    size_t n = strlen(it->name);
    tw__http_text_cstr(t, "<tr><td><a href=\"");
    tw__http_text_uri(t, it->name, n, false);
    tw__http_text_cstr(t, it->is_dir ? "/\">" : "\">");
    tw__http_text_html(t, it->name, n);
    tw__http_text_cstr(t, it->is_dir ? "/</a></td><td>" : "</a></td><td>");
    if (it->has_stat) {
        char date[TW__HTTP_DATE_LEN + 1];
        tw__http_date_format(it->mtime, date);
        tw__http_text_add(t, date, TW__HTTP_DATE_LEN);
    }
    tw__http_text_cstr(t, "</td><td>");
    if (it->has_stat && !it->is_dir)
        tw__http_text_u64(t, it->size);
    else
        tw__http_text_add(t, "-", 1);
    tw__http_text_cstr(t, "</td></tr>\n");
}

static void write_page(tw__http_text *t, const char *rel, size_t rel_len, const entries *e)
{
    tw__http_text_cstr(t, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of /");
    tw__http_text_html(t, rel, rel_len);
    tw__http_text_cstr(t, rel_len ? "/</title></head>\n<body><h1>Index of /"
                                  : "</title></head>\n<body><h1>Index of /");
    tw__http_text_html(t, rel, rel_len);
    tw__http_text_cstr(t, rel_len ? "/</h1>\n<table>\n" : "</h1>\n<table>\n");
    tw__http_text_cstr(t, "<tr><th>Name</th><th>Last modified</th><th>Size</th></tr>\n");
    if (rel_len)
        tw__http_text_cstr(t, "<tr><td><a href=\"../\">../</a></td><td></td><td>-</td></tr>\n");
    for (size_t i = 0; i < e->count; i++)
        write_row(t, &e->items[i]);
    tw__http_text_cstr(t, "</table>\n");
    if (e->left_out) {
        tw__http_text_cstr(t, "<p>");
        tw__http_text_u64(t, e->left_out);
        tw__http_text_cstr(t, " more entries not shown.</p>\n");
    }
    tw__http_text_cstr(t, "</body></html>\n");
}

int tw__http_listing(int dir_fd, const char *rel, size_t rel_len, tw__http_text *body)
{
    entries e = {0};
    int rc = read_entries(dir_fd, &e);
    if (rc == 0) {
        if (e.count)
            qsort(e.items, e.count, sizeof *e.items, by_name);
        write_page(body, rel, rel_len, &e);
        if (body->failed)
            rc = -ENOMEM;
    }
    entries_free(&e);
    return rc;
}
