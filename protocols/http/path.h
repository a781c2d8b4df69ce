/* Private to protocols/http: from a request path to a file beneath the served directory (DIR). The
 * path is percent-decoded once and its dot segments removed on the decoded bytes; the result is
 * opened beneath DIR so that neither `..` nor a symlink can lead out of it. */
#ifndef TWINE_PROTOCOLS_HTTP_PATH_H
#define TWINE_PROTOCOLS_HTTP_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Decodes raw (a request path, percent-encoded, starting with '/') and removes "." and ".."
 * segments and empty ones. out gets the path relative to DIR: no leading '/', segments joined by
 * one '/', "" for DIR itself, NUL-terminated; raw_len + 1 bytes always suffice. *dir_slash is true
 * when the path names a directory by its form (it ends in '/', "." or ".."; "/" itself).
 * Returns 0, or the status that refuses it: 400 (a bad %-escape), 403 (a ".." that would climb
 * out of DIR), 404 (a name holding NUL, '\\' or an encoded '/', which no file served can have),
 * 414 (out_cap too small). */
int tw__http_path_normalize(const char *raw, size_t raw_len, char *out, size_t out_cap,
                            size_t *out_len, bool *dir_slash);

/* The served directory: an O_PATH descriptor and its real path. */
typedef struct tw__http_root {
    int fd;
    char *real; /* realpath(DIR), malloc'd */
    size_t real_len;
} tw__http_root;

/* 0, or a negative errno: -ENOTDIR when dir is not a directory, -ENOENT, -EACCES, -ENOMEM ... */
int tw__http_root_open(tw__http_root *root, const char *dir);
void tw__http_root_close(tw__http_root *root);

/* Opens rel (relative, as from tw__http_path_normalize; "" is DIR) read-only, non-blocking and
 * close-on-exec, following symlinks only while they stay within DIR. Returns the descriptor, or a
 * negative errno: -EXDEV when the file is outside DIR, else what open(2) said (-ENOENT, -ENOTDIR,
 * -EACCES, -ELOOP, -EMFILE ...). */
int tw__http_root_open_file(const tw__http_root *root, const char *rel);

/* What a request path names, once resolved (tw__http_resolve). */
typedef enum {
    TW__HTTP_RES_FILE = 1, /* a regular file: fd and st; name is its path relative to DIR */
    TW__HTTP_RES_LISTING,  /* a directory without index.html, listings on: fd is the directory */
    TW__HTTP_RES_REDIRECT, /* a directory named without its trailing '/': 301 to rel + "/" */
    TW__HTTP_RES_ERROR,    /* status says why: 400, 403, 404, 414, 500 */
} tw__http_res_kind;

typedef struct tw__http_resolved {
    tw__http_res_kind kind;
    int status; /* 200, 301, or the error */
    int fd;     /* FILE and LISTING; -1 otherwise. The caller closes it. */
    struct stat st;
    size_t rel_len; /* rel: the normalised path (in the caller's buffer), without "index.html" */
    bool index;     /* FILE is the directory's index.html */
} tw__http_resolved;

/* The whole rule of the contract: a directory named with its '/' serves its index.html, else a
 * listing when listing is true, else 403; a directory named without it is redirected; a file named
 * with a trailing '/', or anything neither file nor directory, is 404; outside DIR is 403.
 * rel is a buffer of rel_cap bytes (at least raw_len + sizeof "/index.html") for the normalised
 * path. Returns out->status. */
int tw__http_resolve(const tw__http_root *root, const char *raw, size_t raw_len, bool listing,
                     char *rel, size_t rel_cap, tw__http_resolved *out);

/* The status for a failed open: 404 for names that are not there, 403 for refused ones, 500 for
 * everything else. */
int tw__http_open_status(int err);

#endif
