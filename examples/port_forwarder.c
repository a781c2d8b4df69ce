/* A port forwarder: each client of 127.0.0.1:PORT is relayed to a connection of its own to
 * CLIENT_ENDPOINT (tcp:HOST:PORT, unix:PATH). Ctrl-C stops it. */
#include <stdio.h>
#include <stdlib.h>
#include <twine/twine.h>

typedef struct { /* a client and its backend; freed with the side lost first */
    tw_protocol *side[2];    /* the client's connection, then the backend's */
    tw_deferred *connect;    /* the backend's connect */
} pair;

static ssize_t relay(tw_protocol *p, const char *data, size_t len)
{
    pair *pr = p->user; /* a side reads only while the other is there */
    tw_transport_write(pr->side[pr->side[0] == p]->transport, data, len);
    return (ssize_t)len;
}

static int close_client(tw_deferred *d, tw_result *res, void *client_transport)
{
    (void)d;
    tw_transport_lose_connection(client_transport); /* only this client; the forwarder goes on */
    tw_result_set_value(res, NULL, NULL);           /* the backend's failure is handled */
    return 0;
}

static int connection_made(tw_protocol *p)
{
    pair *pr = p->user;
    int err = 0;
    if (!pr->side[0]) { /* the client's: connect to the backend, with the same ops */
        pr->side[0] = p;
        tw_transport_pause_producing(p->transport); /* no reading until there is a backend */
        tw_protocol backend_side = {.ops = p->ops, .user = pr};
        pr->connect = tw_connect_protocol(p->factory->user, &backend_side, &err);
        return pr->connect ? tw_deferred_add_errback(pr->connect, close_client, p->transport) : err;
    }
    pr->side[1] = p; /* the backend's: each side pauses the other when its own buffer is full */
    for (int i = 0; i < 2; i++) {
        tw_producer producer = tw_transport_as_producer(pr->side[i]->transport);
        tw_transport_register_producer(pr->side[!i]->transport, &producer, true);
    }
    tw_transport_resume_producing(pr->side[0]->transport);
    return 0;
}

static void connection_lost(tw_protocol *p, const tw_failure *reason)
{
    (void)reason; /* one side gone: the other is closed once what it has queued is written */
    pair *pr = p->user;
    if (!pr)
        return; /* the other side went first */
    tw_protocol *other = pr->side[pr->side[0] == p];
    if (other) {
        other->user = NULL;
        tw_transport_unregister_producer(other->transport); /* p produces no more */
        tw_transport_lose_connection(other->transport);
    }
    tw_deferred_cancel(pr->connect); /* a connect still in progress is abandoned */
    tw_deferred_unref(pr->connect);
}

static void destroy(tw_protocol *p) { free(p->user); }

static const tw_protocol_ops relay_ops = {.connection_made = connection_made,
    .data_received = relay, .connection_lost = connection_lost, .destroy = destroy};

static int build_client(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f, (void)peer;
    out->ops = &relay_ops;
    out->user = calloc(1, sizeof(pair));
    return out->user ? 0 : -ENOMEM;
}

int main(int argc, char **argv)
{
    tw_client_description to;
    int err = -EINVAL; /* bad arguments, unless something else fails */
    tw_factory factory = {.ops = &(const tw_factory_ops){.build_protocol = build_client}};
    bool args_ok = argc == 3 && tw_client_from_string(argv[2], &to, NULL, 0) == 0;
    tw_reactor *r = args_ok ? tw_reactor_new(&err) : NULL;
    factory.user = r ? tw_client_endpoint_from_description(r, &to, &err) : NULL; /* the backend */
    tw_port *port = factory.user ? tw_listen_tcp(r, (uint16_t)atoi(argv[1]), "127.0.0.1", 0,
                                            &factory, &err) : NULL;
    tw_address at;
    if (!port || tw_port_get_host(port, &at) < 0 || tw_reactor_install_signal_handlers(r) < 0) {
        fprintf(stderr, "port_forwarder PORT CLIENT_ENDPOINT: %s\n", tw_strerror(err));
        return 1;
    }
    fprintf(stderr, "forwarding on 127.0.0.1 port %u to %s\n", at.port, argv[2]);
    tw_reactor_run(r);
    tw_port_free(port); /* stopped by the shutdown; ours to release */
    tw_client_endpoint_free(factory.user);
    tw_reactor_free(r);
    return 0;
}
