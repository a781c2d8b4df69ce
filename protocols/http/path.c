/* Request paths to files beneath DIR. Decoding happens once, before dot segments are removed, so an
 * encoded dot is a dot and an encoded slash is refused rather than split on; opening goes through
 * openat2(RESOLVE_BENEATH) where the kernel has it, and otherwise (or for an absolute symlink,
 * which RESOLVE_BENEATH refuses even when it points inside) through a plain open whose descriptor's
 * real path is checked afterwards: the check is on the file actually opened, so no rename can race
 * it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "chars.h"
#include "path.h"

/* ---- decoding and dot segments --------------------------------------------------------------- */

/* Decodes the segment raw[0..len) to out; 0 or the status that refuses it. */
static int decode_segment(const char *raw, size_t len, char *out, size_t *out_len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            int hi = i + 2 < len ? tw__http_hex((unsigned char)raw[i + 1]) : -1;
            int lo = hi >= 0 ? tw__http_hex((unsigned char)raw[i + 2]) : -1;
            if (lo < 0)
                return 400;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0' || c == '/' || c == '\\')
            return 404;
        out[w++] = (char)c;
    }
    *out_len = w;
    return 0;
}

int tw__http_path_normalize(const char *raw, size_t raw_len, char *out, size_t out_cap,
                            size_t *out_len, bool *dir_slash)
{
    if (raw_len == 0 || raw[0] != '/')
        return 400;
    if (out_cap < raw_len + 1)
        return 414;
    size_t o = 0; /* out[0..o) is the path so far */
    bool slash = true;
    for (size_t i = 1; i <= raw_len;) {
        const char *seg = raw + i, *end = memchr(seg, '/', raw_len - i);
        size_t seg_len = end ? (size_t)(end - seg) : raw_len - i;
        size_t start = o ? o + 1 : 0, n;
        int status = decode_segment(seg, seg_len, out + start, &n);
        if (status)
            return status;
        i += seg_len + 1;
        slash = true;
        if (n == 0 || (n == 1 && out[start] == '.'))
            continue;
        if (n == 2 && out[start] == '.' && out[start + 1] == '.') {
            if (o == 0)
                return 403;
            char *up = memrchr(out, '/', o);
            o = up ? (size_t)(up - out) : 0;
            continue;
        }
        if (o)
            out[o] = '/';
        o = start + n;
        slash = false;
    }
    out[o] = '\0';
    *out_len = o;
    *dir_slash = slash;
    return 0;
}

/* ---- the served directory -------------------------------------------------------------------- */

int tw__http_root_open(tw__http_root *root, const char *dir)
{
    root->fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root->fd < 0)
        return -errno;
    root->real = realpath(dir, NULL);
    if (!root->real) {
        int err = -errno;
        close(root->fd);
        root->fd = -1;
        return err;
    }
    root->real_len = strlen(root->real);
    return 0;
}

void tw__http_root_close(tw__http_root *root)
{
    if (root->fd >= 0)
        close(root->fd);
    free(root->real);
    root->fd = -1;
    root->real = NULL;
}

/* Where the open file fd really is, as an absolute path without symlinks; false if unknown. */
static bool fd_path(int fd, char *buf, size_t cap)
{
#if defined(__linux__)
    char proc[40];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, buf, cap - 1);
    if (n < 0 || (size_t)n >= cap - 1)
        return false;
    buf[n] = '\0';
    return true;
#elif defined(F_GETPATH)
    return cap >= PATH_MAX && fcntl(fd, F_GETPATH, buf) == 0;
#else
    (void)fd, (void)buf, (void)cap;
    return false; /* no way to tell: refuse what RESOLVE_BENEATH could not vouch for */
#endif
}

/* Is the file open on fd DIR itself or beneath it (by whole path segments)? */
static bool fd_inside(const tw__http_root *root, int fd)
{
    char path[PATH_MAX + 1];
    if (!fd_path(fd, path, sizeof path))
        return false;
    size_t n = root->real_len;
    if (n == 1) /* DIR is "/" */
        return path[0] == '/';
    return strncmp(path, root->real, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int tw__http_root_open_file(const tw__http_root *root, const char *rel)
{
    const char *name = *rel ? rel : ".";
    int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
#ifdef SYS_openat2
    struct open_how how = {.flags = (uint64_t)flags,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    long r = syscall(SYS_openat2, root->fd, name, &how, sizeof how);
    if (r >= 0)
        return (int)r;
    /* EXDEV: outside, or an absolute symlink (checked below); ENOSYS, EPERM (a seccomp filter),
     * EAGAIN (a rename raced the walk): let the plain open decide. */
    if (errno != EXDEV && errno != ENOSYS && errno != EPERM && errno != EAGAIN)
        return -errno;
#endif
    int fd = openat(root->fd, name, flags);
    if (fd < 0)
        return -errno;
    if (!fd_inside(root, fd)) {
        close(fd);
        return -EXDEV;
    }
    return fd;
}

int tw__http_open_status(int err)
{
    switch (-err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
    case ELOOP:
    case EXDEV:
        return 403;
    default:
        return 500;
    }
}

/* ---- the contract's rule --------------------------------------------------------------------- */

static int refuse(tw__http_resolved *out, int fd, int status)
{
    if (fd >= 0)
        close(fd);
    out->kind = TW__HTTP_RES_ERROR;
    out->fd = -1;
    out->status = status;
    return status;
}

static int found(tw__http_resolved *out, tw__http_res_kind kind, int fd, int status)
{
    out->kind = kind;
    out->fd = fd;
    out->status = status;
    return status;
}

/* The directory open on dir_fd was named with its '/': its index.html, a listing, or 403. */
static int resolve_directory(const tw__http_root *root, int dir_fd, char *rel, bool listing,
                             tw__http_resolved *out)
{
    size_t n = out->rel_len;
    strcpy(rel + n, n ? "/index.html" : "index.html");
    int fd = tw__http_root_open_file(root, rel);
    rel[n] = '\0';
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            close(dir_fd);
            out->st = st;
            out->index = true;
            return found(out, TW__HTTP_RES_FILE, fd, 200);
        }
        close(fd);
    } else if (fd != -ENOENT && fd != -ENOTDIR) {
        return refuse(out, dir_fd, tw__http_open_status(fd));
    }
    if (!listing)
        return refuse(out, dir_fd, 403);
    return found(out, TW__HTTP_RES_LISTING, dir_fd, 200);
}

int tw__http_resolve(const tw__http_root *root, const char *raw, size_t raw_len, bool listing,
                     char *rel, size_t rel_cap, tw__http_resolved *out)
{
    memset(out, 0, sizeof *out);
    if (rel_cap < raw_len + sizeof "/index.html")
        return refuse(out, -1, 414);
    bool slash;
    int status = tw__http_path_normalize(raw, raw_len, rel, rel_cap, &out->rel_len, &slash);
    if (status)
        return refuse(out, -1, status);
    int fd = tw__http_root_open_file(root, rel);
    if (fd < 0)
        return refuse(out, -1, tw__http_open_status(fd));
    if (fstat(fd, &out->st) < 0)
        return refuse(out, fd, 500);
    if (S_ISREG(out->st.st_mode))
        return slash ? refuse(out, fd, 404) : found(out, TW__HTTP_RES_FILE, fd, 200);
    if (!S_ISDIR(out->st.st_mode))
        return refuse(out, fd, 404);
    if (!slash) {
        close(fd);
        return found(out, TW__HTTP_RES_REDIRECT, -1, 301);
    }
    return resolve_directory(root, fd, rel, listing, out);
}
