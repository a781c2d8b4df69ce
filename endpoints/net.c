/* The per-reactor network context: one read buffer shared by every connection of a reactor, the
 * table of open transports (by fd), the lists of ports and connectors, and the "during shutdown"
 * trigger that closes them all (Twisted's disconnectAll). The reactor keeps it in its network slot. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/net.h"
#include "reactor/layers.h"

tw_net *tw_net_find(tw_reactor *r) { return tw_reactor_slot(r, TW_SLOT_NET); }

static void close_all_transports(tw_net *net)
{
    for (int fd = 0; fd < net->conns_cap; fd++) {
        tw_transport *t = net->conns[fd];
        if (t)
            tw_stream_close_now(t, TW_CLOSE_LOST, 0, "reactor shutdown");
    }
}

/* Reactor shutdown: stop listening, fail connects in progress, lose every connection. */
static int net_on_shutdown(void *arg)
{
    tw_net *net = arg;
    net->trigger_id = 0;
    net->refs++; /* closing the last connection must not free the context under this loop */
    tw_port_stop_all(net);
    tw_connector_fail_all(net);
    close_all_transports(net);
    tw_net_release(net);
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

tw_net *tw_net_acquire(tw_reactor *r, int *err)
{
    int dummy;
    tw_net *net = tw_net_find(r);
    if (net && net->closing) {
        *(err ? err : &dummy) = -ESHUTDOWN;
        return NULL;
    }
    if (!net) {
        net = net_create(r, err ? err : &dummy);
        if (!net)
            return NULL;
        tw_reactor_set_slot(r, TW_SLOT_NET, net, net_on_reactor_free);
    }
    net->refs++;
    return net;
}

void tw_net_release(tw_net *net)
{
    if (--net->refs > 0)
        return;
    tw_reactor_set_slot(net->r, TW_SLOT_NET, NULL, NULL);
    if (net->trigger_id > 0)
        tw_reactor_remove_trigger(net->r, net->trigger_id);
    free(net->conns);
    free(net->rbuf);
    free(net);
}

int tw_net_add_conn(tw_net *net, tw_transport *t, int fd)
{
    if (fd >= net->conns_cap) {
        int cap = tw_fd_table_size(fd);
        tw_transport **c = realloc(net->conns, (size_t)cap * sizeof *c);
        if (!c)
            return -ENOMEM;
        memset(c + net->conns_cap, 0, (size_t)(cap - net->conns_cap) * sizeof *c);
        net->conns = c;
        net->conns_cap = cap;
    }
    net->conns[fd] = t;
    net->nconns++;
    net->refs++;
    return 0;
}

void tw_net_remove_conn(tw_net *net, int fd)
{
    if (fd < 0 || fd >= net->conns_cap || !net->conns[fd])
        return;
    net->conns[fd] = NULL;
    net->nconns--;
    tw_net_release(net);
}

size_t tw_transport_count(tw_reactor *r)
{
    tw_net *net = r ? tw_net_find(r) : NULL;
    return net ? net->nconns : 0;
}
