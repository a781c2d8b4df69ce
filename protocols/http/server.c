/* tw_http_server: the options, the server's life (root directory, cache, batch, access log), its
 * factory and counters. The protocol its connections run is in connection.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

void tw_http_options_init(tw_http_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->access_log_fd = -1;
    o->head_timeout = TW_HTTP_HEAD_TIMEOUT;
    o->idle_timeout = TW_HTTP_IDLE_TIMEOUT;
    o->max_connections = TW_HTTP_CONNECTIONS_MAX;
    o->cache_file_max = TW_HTTP_CACHE_FILE_MAX;
    o->cache_total = TW_HTTP_CACHE_TOTAL;
}

static int build_protocol(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    tw__http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->s = f->user;
    out->ops = &tw__http_conn_ops;
    out->user = c;
    return 0;
}

static const tw_factory_ops server_factory_ops = {
    .build_protocol = build_protocol,
};

static bool options_valid(const tw_http_options *o)
{
    /* written so that NaN fails too */
    return o->root && o->head_timeout > 0 && o->idle_timeout > 0 && o->max_connections > 0;
}

static tw_http_server *fail(int *err, int code)
{
    if (err)
        *err = code;
    return NULL;
}

tw_http_server *tw_http_server_new(tw_reactor *r, const tw_http_options *o, int *err)
{
    if (!r || !o || !options_valid(o))
        return fail(err, -EINVAL);
    tw_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return fail(err, -ENOMEM);
    int rc = tw__http_root_open(&s->root, o->root);
    if (rc < 0) {
        free(s);
        return fail(err, rc);
    }
    s->r = r;
    s->opt = *o;
    s->opt.root = s->root.real;
    s->factory = (tw_factory){.ops = &server_factory_ops, .user = s};
    s->date_second = -1;
    tw__http_cache_init(&s->cache, o->cache_file_max, o->cache_total);
    tw__http_batch_init(&s->batch);
    tw__http_access_log_init(&s->log, o->access_log_fd);
    return s;
}

tw_factory *tw_http_server_factory(tw_http_server *s)
{
    return s ? &s->factory : NULL;
}

size_t tw_http_server_connections(const tw_http_server *s)
{
    return s ? s->connections : 0;
}

uint64_t tw_http_server_requests(const tw_http_server *s)
{
    return s ? s->requests : 0;
}

const char *tw__http_server_date(tw_http_server *s)
{
    time_t now = time(NULL);
    if ((int64_t)now != s->date_second) {
        tw__http_date_format((int64_t)now, s->date);
        s->date_second = (int64_t)now;
    }
    return s->date;
}

void tw_http_server_free(tw_http_server *s)
{
    if (!s)
        return;
    /* The connections outlive the server until their transports close: they forget it. */
    while (s->conns) {
        tw__http_conn *c = s->conns;
        s->conns = c->next;
        c->s = NULL;
        c->prev = c->next = NULL;
        if (c->timer)
            (void)tw_delayed_call_cancel(c->timer);
        c->timer = NULL;
        tw_transport_abort_connection(c->t);
    }
    tw__http_access_log_free(&s->log);
    tw__http_batch_free(&s->batch);
    tw__http_cache_free(&s->cache);
    tw__http_root_close(&s->root);
    free(s);
}
