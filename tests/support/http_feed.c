/* The stand-in connection of http_feed.h. */
#include "http_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <twine/error.h>

void tw_test_http_conn_init(tw_test_http_conn *c)
{
    memset(c, 0, sizeof *c);
}

void tw_test_http_conn_free(tw_test_http_conn *c)
{
    free(c->log);
    memset(c, 0, sizeof *c);
}

static void log_line(tw_test_http_conn *c, const char *line)
{
    size_t n = strlen(line);
    if (c->log_len + n + 2 > c->log_cap) {
        size_t cap = c->log_cap ? c->log_cap * 2 : 1024;
        while (cap < c->log_len + n + 2)
            cap *= 2;
        char *p = realloc(c->log, cap);
        if (!p)
            abort();
        c->log = p;
        c->log_cap = cap;
    }
    memcpy(c->log + c->log_len, line, n);
    c->log_len += n;
    c->log[c->log_len++] = '\n';
    c->log[c->log_len] = '\0';
    c->heads++;
}

/* Appends " name=[text]" for a span (printable bytes as they are, others as \xHH), or nothing. */
static void describe_span(char *out, size_t cap, size_t *o, const char *name, tw__http_str s)
{
    if (!s.p)
        return;
    *o += (size_t)snprintf(out + *o, *o < cap ? cap - *o : 0, " %s=[", name);
    for (size_t i = 0; i < s.len && *o < cap; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch >= 0x20 && ch < 0x7f)
            *o += (size_t)snprintf(out + *o, cap - *o, "%c", ch);
        else
            *o += (size_t)snprintf(out + *o, cap - *o, "\\x%02x", ch);
    }
    *o += (size_t)snprintf(out + *o, *o < cap ? cap - *o : 0, "]");
}

void tw_test_http_describe(ssize_t rc, const tw__http_request *req, char *out, size_t cap)
{
    size_t o = 0;
    if (rc < 0)
        o += (size_t)snprintf(out, cap, "ERR %d", req->status);
    else
        o += (size_t)snprintf(out, cap, "%zd %d m%d 1.%u %s body=%llu", rc, req->status,
                              (int)req->method, req->minor, req->keep_alive ? "ka" : "close",
                              (unsigned long long)req->body_len);
    if (rc < 0)
        return;
    const struct {
        const char *name;
        tw__http_str s;
    } spans[] = {
        {"line", req->request_line}, {"method", req->method_name}, {"target", req->target},
        {"path", req->path}, {"query", req->query}, {"host", req->host},
        {"ims", req->if_modified_since}, {"ius", req->if_unmodified_since},
        {"inm", req->if_none_match}, {"im", req->if_match}, {"range", req->range},
        {"if-range", req->if_range}, {"ua", req->user_agent}, {"referer", req->referer},
    };
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++)
        describe_span(out, cap, &o, spans[i].name, spans[i].s);
}

ssize_t tw_test_http_conn_feed(void *conn, const char *data, size_t len)
{
    tw_test_http_conn *c = conn;
    size_t pos = 0;
    while (!c->closed && pos < len) {
        if (c->body_left) {
            size_t take = len - pos < c->body_left ? len - pos : (size_t)c->body_left;
            c->body_left -= take;
            pos += take;
            continue;
        }
        tw__http_request req;
        ssize_t rc = tw__http_parse(&c->parser, data + pos, len - pos, &req);
        if (rc == 0)
            return (ssize_t)pos;
        if (c->on_head)
            c->on_head(c->user, rc, &req, data + pos);
        char line[4096];
        tw_test_http_describe(rc, &req, line, sizeof line);
        log_line(c, line);
        if (rc < 0) {
            c->closed = true;
            break;
        }
        pos += (size_t)rc;
        c->body_left = req.body_len;
        c->closed = !req.keep_alive;
    }
    return (ssize_t)len; /* closed: the rest is never read */
}
