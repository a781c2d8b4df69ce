/* tw_memory_reactor (testing_endpoints.h), Twisted's MemoryReactor at the endpoints' level: client
 * and server endpoints that record each connect and listen, and the calls with which a test makes a
 * recorded connect succeed (on a string transport) or fail, or hands a listener a connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "twine/testing_endpoints.h"

/* One recorded connect. Its deferred is referenced here until it fires. */
typedef struct connect_rec {
    tw_memory_reactor *mr;
    tw_factory *factory;
    char host[TW_MEMORY_HOST_MAX + 1];
    uint16_t port;
    tw_memory_connect_state state;
    tw_deferred *d; /* our reference while pending, NULL after */
} connect_rec;

typedef struct listen_rec {
    tw_factory *factory;
    uint16_t port;
} listen_rec;

/* The memory reactor lives until it is freed and its last endpoint is freed (refs), so an
 * endpoint that outlives it answers -ESHUTDOWN instead of touching freed memory. */
struct tw_memory_reactor {
    tw_reactor *r;
    unsigned refs;
    bool freed;
    connect_rec **connects;
    size_t nconnects, connects_cap;
    listen_rec *listens;
    size_t nlistens, listens_cap;
    tw_string_transport **transports;
    size_t ntransports, transports_cap;
};

typedef struct memory_client {
    tw_client_endpoint base;
    tw_memory_reactor *mr;
    uint16_t port;
    char host[TW_MEMORY_HOST_MAX + 1];
} memory_client;

typedef struct memory_server {
    tw_server_endpoint base;
    tw_memory_reactor *mr;
    uint16_t port;
} memory_server;

static void *set_err(int *err, int code)
{
    if (err)
        *err = code;
    return NULL;
}

/* Makes room for one more element of size in *arr (count n, capacity *cap): 0 or -ENOMEM. */
static int grow(void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t want = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, want * size);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = want;
    return 0;
}

static void release(tw_memory_reactor *mr)
{
    if (--mr->refs > 0)
        return;
    free(mr->connects);
    free(mr->listens);
    free(mr->transports);
    free(mr);
}

tw_memory_reactor *tw_memory_reactor_new(tw_reactor *r, int *err)
{
    if (!r)
        return set_err(err, -EINVAL);
    tw_memory_reactor *mr = calloc(1, sizeof *mr);
    if (!mr)
        return set_err(err, -ENOMEM);
    mr->r = r;
    mr->refs = 1;
    return mr;
}

/* Fires a pending connect's deferred with a failure, dropping our reference first so that a
 * callback which frees things sees a settled record. */
static void settle_failed(connect_rec *c, tw_memory_connect_state state, tw_failure *f)
{
    tw_deferred *d = c->d;
    c->d = NULL;
    c->state = state;
    tw_deferred_errback(d, f);
    tw_deferred_unref(d);
}

void tw_memory_reactor_free(tw_memory_reactor *mr)
{
    if (!mr || mr->freed)
        return;
    mr->freed = true;
    for (size_t i = 0; i < mr->nconnects; i++) {
        connect_rec *c = mr->connects[i];
        if (c->state == TW_MEMORY_CONNECT_PENDING)
            settle_failed(c, TW_MEMORY_CONNECT_LOST,
                          tw_failure_new(TW_CONNECTION_LOST, -ECONNABORTED,
                                         "Connecting to %s port %u: the memory reactor was freed",
                                         c->host, (unsigned)c->port));
    }
    for (size_t i = 0; i < mr->nconnects; i++)
        free(mr->connects[i]);
    mr->nconnects = 0;
    for (size_t i = 0; i < mr->ntransports; i++)
        tw_string_transport_free(mr->transports[i]);
    mr->ntransports = 0;
    release(mr);
}

/* A string transport for factory, kept by mr to be freed with it. NULL + *err. The room to keep
 * it is made first, so a transport once connected is never dropped for want of memory. */
static tw_string_transport *new_transport(tw_memory_reactor *mr, tw_factory *factory, int *err)
{
    if (grow((void **)&mr->transports, mr->ntransports, &mr->transports_cap,
             sizeof *mr->transports) < 0)
        return set_err(err, -ENOMEM);
    int e = 0;
    tw_string_transport *st = tw_string_transport_new(mr->r, factory, NULL, &e);
    if (!st)
        return set_err(err, e);
    mr->transports[mr->ntransports++] = st;
    return st;
}

/* ---- client endpoints ------------------------------------------------------------------------ */

static void connect_cancel(tw_deferred *d, void *arg)
{
    (void)d;
    connect_rec *c = arg;
    settle_failed(c, TW_MEMORY_CONNECT_CANCELLED,
                  tw_failure_new(TW_CONNECTING_CANCELLED_ERROR, -ECANCELED,
                                 "Connecting to %s port %u was cancelled", c->host,
                                 (unsigned)c->port));
}

static tw_deferred *client_connect(tw_client_endpoint *ep, tw_factory *factory, int *err)
{
    memory_client *mc = (memory_client *)ep;
    tw_memory_reactor *mr = mc->mr;
    if (mr->freed)
        return set_err(err, -ESHUTDOWN);
    if (grow((void **)&mr->connects, mr->nconnects, &mr->connects_cap, sizeof *mr->connects) < 0)
        return set_err(err, -ENOMEM);
    connect_rec *c = calloc(1, sizeof *c);
    if (!c)
        return set_err(err, -ENOMEM);
    c->d = tw_deferred_new_with_canceller(mr->r, connect_cancel, c, err);
    if (!c->d) {
        free(c);
        return NULL;
    }
    c->mr = mr;
    c->factory = factory;
    memcpy(c->host, mc->host, sizeof c->host);
    c->port = mc->port;
    c->state = TW_MEMORY_CONNECT_PENDING;
    mr->connects[mr->nconnects++] = c;
    return tw_deferred_ref(c->d);
}

static void client_free(tw_client_endpoint *ep)
{
    memory_client *mc = (memory_client *)ep;
    release(mc->mr);
    free(mc);
}

static const tw_client_endpoint_ops client_ops = {.connect = client_connect, .free = client_free};

tw_client_endpoint *tw_memory_client_endpoint(tw_memory_reactor *mr, const char *host,
                                              uint16_t port, int *err)
{
    if (!mr || mr->freed || !host || !host[0] || strlen(host) > TW_MEMORY_HOST_MAX)
        return set_err(err, -EINVAL);
    memory_client *mc = calloc(1, sizeof *mc);
    if (!mc)
        return set_err(err, -ENOMEM);
    mc->base.ops = &client_ops;
    mc->base.reactor = mr->r;
    mc->mr = mr;
    mc->port = port;
    strcpy(mc->host, host);
    mr->refs++;
    return &mc->base;
}

/* ---- server endpoints ------------------------------------------------------------------------ */

static tw_deferred *server_listen(tw_server_endpoint *ep, tw_factory *factory, int *err)
{
    memory_server *ms = (memory_server *)ep;
    tw_memory_reactor *mr = ms->mr;
    if (mr->freed)
        return set_err(err, -ESHUTDOWN);
    if (grow((void **)&mr->listens, mr->nlistens, &mr->listens_cap, sizeof *mr->listens) < 0)
        return set_err(err, -ENOMEM);
    tw_deferred *d = tw_succeed(mr->r, NULL, NULL, err);
    if (!d)
        return NULL;
    mr->listens[mr->nlistens++] = (listen_rec){.factory = factory, .port = ms->port};
    return d;
}

static void server_free(tw_server_endpoint *ep)
{
    memory_server *ms = (memory_server *)ep;
    release(ms->mr);
    free(ms);
}

static const tw_server_endpoint_ops server_ops = {.listen = server_listen, .free = server_free};

tw_server_endpoint *tw_memory_server_endpoint(tw_memory_reactor *mr, uint16_t port, int *err)
{
    if (!mr || mr->freed)
        return set_err(err, -EINVAL);
    memory_server *ms = calloc(1, sizeof *ms);
    if (!ms)
        return set_err(err, -ENOMEM);
    ms->base.ops = &server_ops;
    ms->base.reactor = mr->r;
    ms->mr = mr;
    ms->port = port;
    mr->refs++;
    return &ms->base;
}

/* ---- connects -------------------------------------------------------------------------------- */

static connect_rec *connect_at(const tw_memory_reactor *mr, size_t i)
{
    return mr && !mr->freed && i < mr->nconnects ? mr->connects[i] : NULL;
}

size_t tw_memory_connect_count(const tw_memory_reactor *mr)
{
    return mr ? mr->nconnects : 0;
}

tw_factory *tw_memory_connect_factory(const tw_memory_reactor *mr, size_t i)
{
    connect_rec *c = connect_at(mr, i);
    return c ? c->factory : NULL;
}

const char *tw_memory_connect_host(const tw_memory_reactor *mr, size_t i)
{
    connect_rec *c = connect_at(mr, i);
    return c ? c->host : NULL;
}

uint16_t tw_memory_connect_port(const tw_memory_reactor *mr, size_t i)
{
    connect_rec *c = connect_at(mr, i);
    return c ? c->port : 0;
}

int tw_memory_connect_state_of(const tw_memory_reactor *mr, size_t i)
{
    connect_rec *c = connect_at(mr, i);
    return c ? (int)c->state : -EINVAL;
}

/* The failure of a connect whose factory built no protocol (error e), as endpoints.h says. */
static tw_failure *build_failure(const connect_rec *c, int e)
{
    if (e == -ECONNREFUSED)
        return tw_failure_new(TW_NO_PROTOCOL, e, "Connecting to %s port %u: no protocol",
                              c->host, (unsigned)c->port);
    return tw_failure_from_errno(e, "building the protocol");
}

tw_string_transport *tw_memory_connect_succeed(tw_memory_reactor *mr, size_t i, int *err)
{
    connect_rec *c = connect_at(mr, i);
    if (!c)
        return set_err(err, -EINVAL);
    if (c->state != TW_MEMORY_CONNECT_PENDING)
        return set_err(err, -EALREADY);
    int e = 0;
    tw_string_transport *st = new_transport(mr, c->factory, &e);
    if (!st) {
        if (e == -ENOMEM)
            return set_err(err, e); /* still pending: the test may try again */
        settle_failed(c, TW_MEMORY_CONNECT_FAILED, build_failure(c, e));
        return set_err(err, e);
    }
    /* Closed already: by the protocol itself (lose or abort inside connection_made, so the
     * connection was made and the connect succeeds, as on a socket), or by connection_made's
     * error, which the connect fails with. */
    const tw_failure *reason = tw_string_transport_reason(st);
    if (reason && !tw_failure_check(reason, TW_CONNECTION_DONE) &&
        !tw_failure_check(reason, TW_CONNECTION_ABORTED)) {
        settle_failed(c, TW_MEMORY_CONNECT_FAILED, tw_failure_ref(reason));
        return st;
    }
    tw_deferred *d = c->d;
    c->d = NULL;
    c->state = TW_MEMORY_CONNECT_SUCCEEDED;
    tw_deferred_callback(d, tw_string_transport_protocol(st), NULL);
    tw_deferred_unref(d);
    return st;
}

int tw_memory_connect_fail(tw_memory_reactor *mr, size_t i, tw_failure *reason)
{
    connect_rec *c = connect_at(mr, i);
    if (!c)
        return -EINVAL;
    if (c->state != TW_MEMORY_CONNECT_PENDING)
        return -EALREADY;
    if (!reason) {
        reason = tw_failure_new(TW_CONNECTION_REFUSED_ERROR, -ECONNREFUSED,
                                "Connection was refused by other side: %s port %u", c->host,
                                (unsigned)c->port);
        if (!reason)
            return -ENOMEM;
    }
    settle_failed(c, TW_MEMORY_CONNECT_FAILED, reason);
    return 0;
}

/* ---- listens --------------------------------------------------------------------------------- */

static const listen_rec *listen_at(const tw_memory_reactor *mr, size_t i)
{
    return mr && !mr->freed && i < mr->nlistens ? &mr->listens[i] : NULL;
}

size_t tw_memory_listen_count(const tw_memory_reactor *mr)
{
    return mr ? mr->nlistens : 0;
}

tw_factory *tw_memory_listen_factory(const tw_memory_reactor *mr, size_t i)
{
    const listen_rec *l = listen_at(mr, i);
    return l ? l->factory : NULL;
}

uint16_t tw_memory_listen_port(const tw_memory_reactor *mr, size_t i)
{
    const listen_rec *l = listen_at(mr, i);
    return l ? l->port : 0;
}

tw_string_transport *tw_memory_listen_accept(tw_memory_reactor *mr, size_t i, int *err)
{
    const listen_rec *l = listen_at(mr, i);
    if (!l)
        return set_err(err, -EINVAL);
    return new_transport(mr, l->factory, err);
}
