/* The per-reactor network context: one read buffer shared by every connection of a reactor, the
 * transports (allocated in chunks), the lists of ports and connectors, and the "during shutdown"
 * trigger that closes them all (Twisted's disconnectAll). The reactor keeps it in its network slot. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/net.h"
#include "reactor/layers.h"

tw_net *tw__net_find(tw_reactor *r) { return tw__reactor_slot(r, TW_SLOT_NET); }

/* Transports live in chunks of this many: no malloc header per connection (an idle connection
 * costs what its struct does), and the chunks are also the list of open ones the shutdown walks.
 * Chunks are freed with the context, once no port, connector or connection uses it. */
#define TW_NET_CHUNK_TRANSPORTS 64

struct tw_transport_chunk {
    tw_transport_chunk *next;
    tw_transport items[TW_NET_CHUNK_TRANSPORTS];
};

tw_transport *tw__net_transport_alloc(tw_net *net)
{
    if (!net->free_transports) {
        tw_transport_chunk *c = malloc(sizeof *c);
        if (!c)
            return NULL;
        c->next = net->chunks;
        net->chunks = c;
        for (int i = TW_NET_CHUNK_TRANSPORTS - 1; i >= 0; i--)
            tw__net_transport_free(net, &c->items[i]);
    }
    tw_transport *t = net->free_transports;
    net->free_transports = t->next_free;
    memset(t, 0, sizeof *t);
    return t;
}

void tw__net_transport_free(tw_net *net, tw_transport *t)
{
    t->net = NULL;
    t->next_free = net->free_transports;
    net->free_transports = t;
}

static bool transport_open(const tw_transport *t)
{
    return t->net && (t->flags & TW_T_CONNECTED) && !(t->flags & TW_T_CLOSED);
}

static void close_all_transports(tw_net *net)
{
    for (tw_transport_chunk *c = net->chunks; c; c = c->next)
        for (int i = 0; i < TW_NET_CHUNK_TRANSPORTS; i++)
            if (transport_open(&c->items[i]))
                tw__stream_close_now(&c->items[i], TW_CLOSE_LOST, 0, "reactor shutdown");
}

/* Reactor shutdown: stop listening, fail connects in progress, lose every connection. */
static int net_on_shutdown(void *arg)
{
    tw_net *net = arg;
    net->trigger_id = 0;
    net->refs++; /* closing the last connection must not free the context under this loop */
    tw__port_stop_all(net);
    tw__connector_fail_all(net);
    close_all_transports(net);
    tw__net_release(net);
    return 0;
}

/* The reactor is freed without having shut down (or with things opened since): close them now,
 * refusing what their callbacks would start (a client that reconnects whenever it fails, say). */
static void net_on_reactor_free(void *arg)
{
    tw_net *net = arg;
    net->closing = true;
    if (net->trigger_id > 0)
        tw_reactor_remove_trigger(net->r, net->trigger_id);
    net_on_shutdown(net);
}

static tw_net *net_create(tw_reactor *r, int *err)
{
    tw_net *net = calloc(1, sizeof *net);
    if (net)
        net->rbuf = malloc(TW_TRANSPORT_READ_BUFFER_SIZE);
    if (!net || !net->rbuf) {
        if (net)
            free(net);
        *err = -ENOMEM;
        return NULL;
    }
    net->r = r;
    net->tail_max = TW_TRANSPORT_UNCONSUMED_MAX;
    net->tail_total_max = TW_TRANSPORT_UNCONSUMED_TOTAL_MAX;
    long id = tw_reactor_add_trigger(r, TW_PHASE_DURING, TW_EVENT_SHUTDOWN, net_on_shutdown, net);
    if (id < 0) {
        free(net->rbuf);
        free(net);
        *err = (int)id;
        return NULL;
    }
    net->trigger_id = id;
    return net;
}

tw_net *tw__net_acquire(tw_reactor *r, int *err)
{
    int dummy;
    tw_net *net = tw__net_find(r);
    if (net && net->closing) {
        *(err ? err : &dummy) = -ESHUTDOWN;
        return NULL;
    }
    if (!net) {
        net = net_create(r, err ? err : &dummy);
        if (!net)
            return NULL;
        tw__reactor_set_slot(r, TW_SLOT_NET, net, net_on_reactor_free);
    }
    net->refs++;
    return net;
}

void tw__net_release(tw_net *net)
{
    if (--net->refs > 0)
        return;
    tw__reactor_set_slot(net->r, TW_SLOT_NET, NULL, NULL);
    if (net->trigger_id > 0)
        tw_reactor_remove_trigger(net->r, net->trigger_id);
    while (net->chunks) {
        tw_transport_chunk *next = net->chunks->next;
        free(net->chunks);
        net->chunks = next;
    }
    free(net->rbuf);
    free(net);
}

void tw__net_add_conn(tw_net *net)
{
    net->nconns++;
    net->refs++;
}

void tw__net_remove_conn(tw_net *net)
{
    net->nconns--;
    tw__net_release(net);
}

size_t tw_transport_count(tw_reactor *r)
{
    tw_net *net = r ? tw__net_find(r) : NULL;
    return net ? net->nconns : 0;
}
