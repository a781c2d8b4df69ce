/* The per-reactor network context: one read buffer shared by every connection of a reactor, the
 * transports (allocated in chunks), the list of what is open (each port, connector and datagram
 * port registered with its own close, the connections with one for them all), and the "during
 * shutdown" trigger that closes it all (Twisted's disconnectAll). The reactor keeps it in its
 * network slot; references keep it while it is used. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/net.h"
#include "reactor/layers.h"

tw_net *tw__net_find(tw_reactor *r) { return tw__reactor_slot(r, TW_SLOT_NET); }

/* ---- transports live in chunks --------------------------------------------------------------- */

/* Transports live in chunks of this many: no malloc header per connection (an idle connection
 * costs what its struct does). Chunks are freed with the context, once no port, connector or
 * connection uses it. */
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

void tw__net_each_transport(tw_net *net, void (*fn)(tw_transport *t))
{
    /* Chunks are only ever added at the head and freed with the context: the walk from the head
     * taken now stays valid whatever fn frees or allocates. */
    for (tw_transport_chunk *c = net->chunks; c; c = c->next)
        for (int i = 0; i < TW_NET_CHUNK_TRANSPORTS; i++)
            if (c->items[i].net)
                fn(&c->items[i]);
}

/* ---- what is open ---------------------------------------------------------------------------- */

static void closer_unlink(tw_net_closer *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

void tw__net_register(tw_net *net, tw_net_closer *c, void (*close)(tw_net_closer *self))
{
    c->close = close;
    c->next = &net->open;
    c->prev = net->open.prev;
    net->open.prev->next = c;
    net->open.prev = c;
}

void tw__net_unregister(tw_net_closer *c)
{
    if (c->next)
        closer_unlink(c);
}

/* Closes what was open when called, oldest first. It moves to a list of its own first: a close may
 * unregister others (they leave that list), and what registers meanwhile stays for later. */
static void close_open(tw_net *net)
{
    tw_net_closer doomed;
    if (net->open.next == &net->open)
        return;
    doomed.next = net->open.next;
    doomed.prev = net->open.prev;
    doomed.next->prev = doomed.prev->next = &doomed;
    net->open.next = net->open.prev = &net->open;
    while (doomed.next != &doomed) {
        tw_net_closer *c = doomed.next;
        closer_unlink(c);
        c->close(c);
    }
}

/* ---- shutdown, creation and references ------------------------------------------------------- */

/* Reactor shutdown: ports stop listening, connects in progress fail, every connection is lost. */
static int net_on_shutdown(void *arg)
{
    tw_net *net = arg;
    net->trigger_id = 0;
    tw__net_hold(net); /* the last close must not free the context under this loop */
    close_open(net);
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
    net->open.next = net->open.prev = &net->open;
    net->tails.max = TW_TRANSPORT_UNCONSUMED_MAX;
    net->tails.total_max = TW_TRANSPORT_UNCONSUMED_TOTAL_MAX;
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
    tw__net_hold(net);
    return net;
}

void tw__net_hold(tw_net *net)
{
    net->refs++;
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

size_t tw_transport_count(tw_reactor *r)
{
    tw_net *net = r ? tw__net_find(r) : NULL;
    return net ? net->nconns + net->nmemory : 0;
}
