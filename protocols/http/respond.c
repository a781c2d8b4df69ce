/* One request -> its response, into the server's batch: a cached file's body is referenced in
 * place, any other file follows the batch by tw_transport_write_file; status pages, redirects and
 * listings are written out whole. Each response is counted and logged here. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "conditional.h"
#include "head.h"
#include "listing.h"
#include "mime.h"
#include "range.h"
#include "server.h"

/* The normalised path, plus "/index.html" and the key's '/'. */
#define REL_CAP (TW_HTTP_REQUEST_LINE_MAX + sizeof "/index.html" + 1)

static const tw__http_str no_str;

static void log_response(tw_http_server *s, tw_transport *t, const tw__http_request *req,
                         int status, uint64_t bytes)
{
    s->requests++;
    if (s->log.fd < 0)
        return;
    tw__http_access_log_add(&s->log, t, req ? req->request_line : no_str, status, bytes,
                            req ? req->referer : no_str, req ? req->user_agent : no_str);
}

static bool head_only(const tw__http_request *req)
{
    return req && req->method == TW__HTTP_HEAD;
}

/* A status page with one extra field line (NULL: none). */
static void status_with(tw_http_server *s, tw_transport *t, const tw__http_request *req,
                        int status, bool keep_alive, const char *extra, size_t extra_len)
{
    tw__http_text *x = tw__http_batch_text(&s->batch);
    size_t body = tw__http_status_response(x, status, tw__http_server_date(s), keep_alive,
                                           head_only(req), extra, extra_len);
    tw__http_batch_text_done(&s->batch, t);
    log_response(s, t, req, status, head_only(req) ? 0 : body);
}

void tw__http_respond_status(tw_http_server *s, tw_transport *t, const tw__http_request *req,
                             int status, bool keep_alive)
{
    static const char allow[] = "Allow: GET, HEAD";
    if (status == 405)
        status_with(s, t, req, status, keep_alive, allow, sizeof allow - 1);
    else
        status_with(s, t, req, status, keep_alive, NULL, 0);
}

/* 301 to the directory's own name with its '/'. */
static void redirect(tw_http_server *s, tw_transport *t, const tw__http_request *req,
                     const char *rel, size_t rel_len)
{
    char buf[3 * REL_CAP + 16];
    tw__http_text loc;
    tw__http_text_init_fixed(&loc, buf, sizeof buf);
    tw__http_text_cstr(&loc, "Location: /");
    tw__http_text_uri(&loc, rel, rel_len, true);
    tw__http_text_add(&loc, "/", 1);
    status_with(s, t, req, 301, req->keep_alive, loc.p, loc.failed ? 0 : loc.len);
}

static void listing(tw_http_server *s, tw_transport *t, const tw__http_request *req, int dir_fd,
                    const char *rel, size_t rel_len)
{
    tw__http_text body;
    tw__http_text_init(&body);
    int rc = tw__http_listing(dir_fd, rel, rel_len, &body);
    close(dir_fd);
    if (rc < 0 || body.failed) {
        tw__http_text_free(&body);
        tw__http_respond_status(s, t, req, 500, req->keep_alive);
        return;
    }
    tw__http_text *x = tw__http_batch_text(&s->batch);
    tw__http_head_status(x, 200, tw__http_server_date(s));
    tw__http_text_cstr(x, "Content-Type: text/html; charset=utf-8\r\n");
    tw__http_head_field_u64(x, "Content-Length", body.len);
    tw__http_head_end(x, req->keep_alive);
    if (!head_only(req))
        tw__http_text_add(x, body.p, body.len);
    tw__http_batch_text_done(&s->batch, t);
    log_response(s, t, req, 200, head_only(req) ? 0 : body.len);
    tw__http_text_free(&body);
}

static void close_file(void *arg)
{
    close((int)(intptr_t)arg);
}

/* Sends len bytes of fd from first after the batch; takes fd over. */
static void send_file(tw_http_server *s, tw_transport *t, int fd, uint64_t first, uint64_t len)
{
    if (tw__http_batch_flush(&s->batch, t) < 0) {
        tw_transport_abort_connection(t);
        close(fd);
        return;
    }
    if (tw_transport_write_file(t, fd, first, len, close_file, (void *)(intptr_t)fd) < 0)
        close(fd);
}

/* Which part of the file to send: 0 (all of it), 206 with *first..*last, or 416. */
static int choose_range(const tw__http_request *req, const tw__http_file *f, uint64_t *first,
                        uint64_t *last)
{
    *first = 0;
    *last = f->size ? f->size - 1 : 0;
    tw__http_str etag = {f->etag, f->etag_len};
    if (!req->range.p || !tw__http_if_range_holds(req->if_range, f->mtime, etag))
        return 0;
    switch (tw__http_range_parse(req->range, f->size, first, last)) {
    case TW__HTTP_RANGE_PARTIAL: return 206;
    case TW__HTTP_RANGE_UNSATISFIABLE: return 416;
    default: *first = 0; *last = f->size ? f->size - 1 : 0; return 0;
    }
}

static void unsatisfiable(tw_http_server *s, tw_transport *t, const tw__http_request *req,
                          uint64_t size)
{
    char buf[64];
    tw__http_text x;
    tw__http_text_init_fixed(&x, buf, sizeof buf);
    tw__http_text_cstr(&x, "Content-Range: bytes */");
    tw__http_text_u64(&x, size);
    status_with(s, t, req, 416, req->keep_alive, x.p, x.len);
}

/* A file: from the cache entry e, or else from fd (taken over; -1 with e). */
static void serve_file(tw_http_server *s, tw_transport *t, const tw__http_request *req,
                       const tw__http_file *f, tw__http_entry *e, int fd)
{
    tw__http_str etag = {f->etag, f->etag_len};
    int status = tw__http_preconditions(req, f->mtime, etag);
    uint64_t first = 0, last = 0;
    if (status == 0) {
        status = choose_range(req, f, &first, &last);
        status = status ? status : 200;
    }
    if (status == 412 || status == 416) {
        if (status == 412)
            tw__http_respond_status(s, t, req, 412, req->keep_alive);
        else
            unsatisfiable(s, t, req, f->size);
        if (fd >= 0)
            close(fd);
        return;
    }
    tw__http_file_head head = {.status = status, .content_type = f->type, .first = first,
                               .last = last, .size = f->size, .last_modified = f->last_modified,
                               .etag = f->etag, .etag_len = f->etag_len};
    tw__http_file_head_write(tw__http_batch_text(&s->batch), &head, tw__http_server_date(s),
                             req->keep_alive);
    tw__http_batch_text_done(&s->batch, t);
    uint64_t len = status == 304 || head_only(req) || !f->size ? 0 : last - first + 1;
    log_response(s, t, req, status, len);
    if (len && e)
        tw__http_batch_body(&s->batch, t, e, (size_t)first, (size_t)len);
    else if (len && fd >= 0)
        send_file(s, t, fd, first, len), fd = -1;
    if (fd >= 0)
        close(fd);
}

/* The validators and type of a file. name: its path (the type is by its last segment). */
static void describe(tw__http_file *f, const struct stat *st, const char *name, size_t len)
{
    const char *slash = memrchr(name, '/', len);
    const char *base = slash ? slash + 1 : name;
    f->type = tw__http_mime_type(base, len - (size_t)(base - name));
    f->size = (uint64_t)st->st_size;
    f->mtime = (int64_t)st->st_mtim.tv_sec;
    tw__http_date_format(f->mtime, f->last_modified);
    f->etag_len = tw__http_etag_format(f->mtime, f->size, f->etag);
}

/* A file found by tw__http_resolve: cached on the way when small enough. */
static void serve_resolved(tw_http_server *s, tw_transport *t, const tw__http_request *req,
                           const tw__http_resolved *res, char *rel, const char *key,
                           size_t key_len)
{
    size_t n = res->rel_len;
    if (res->index)
        strcpy(rel + n, n ? "/index.html" : "index.html");
    tw__http_file f;
    describe(&f, &res->st, rel, strlen(rel));
    tw__http_entry *e = NULL;
    if (s->cache.file_max && (uint64_t)res->st.st_size <= s->cache.file_max)
        e = tw__http_cache_put(&s->cache, key, key_len, rel, res->fd, &res->st, &f,
                               tw_reactor_seconds(s->r));
    if (e) {
        close(res->fd);
        serve_file(s, t, req, &e->file, e, -1);
    } else {
        serve_file(s, t, req, &f, NULL, res->fd);
    }
}

/* GET or HEAD of a path. */
static void serve_path(tw_http_server *s, tw_transport *t, const tw__http_request *req)
{
    char rel[REL_CAP], key[REL_CAP];
    size_t key_len = 0;
    bool slash;
    if (req->path.len < TW_HTTP_REQUEST_LINE_MAX &&
        tw__http_path_normalize(req->path.p, req->path.len, key, sizeof key, &key_len,
                                &slash) == 0) {
        if (slash)
            key[key_len++] = '/'; /* "dir/" (its index) is not "dir" (a redirect) */
        tw__http_entry *e = s->cache.file_max
                                ? tw__http_cache_get(&s->cache, s->root.fd, key, key_len,
                                                     tw_reactor_seconds(s->r))
                                : NULL;
        if (e) {
            serve_file(s, t, req, &e->file, e, -1);
            return;
        }
    }
    tw__http_resolved res;
    tw__http_resolve(&s->root, req->path.p, req->path.len, s->opt.listing, rel, sizeof rel, &res);
    switch (res.kind) {
    case TW__HTTP_RES_FILE: serve_resolved(s, t, req, &res, rel, key, key_len); break;
    case TW__HTTP_RES_LISTING: listing(s, t, req, res.fd, rel, res.rel_len); break;
    case TW__HTTP_RES_REDIRECT: redirect(s, t, req, rel, res.rel_len); break;
    default: tw__http_respond_status(s, t, req, res.status, req->keep_alive); break;
    }
}

bool tw__http_respond(tw_http_server *s, tw_transport *t, const tw__http_request *req)
{
    if (req->status)
        tw__http_respond_status(s, t, req, req->status, req->keep_alive);
    else
        serve_path(s, t, req);
    return req->keep_alive;
}
