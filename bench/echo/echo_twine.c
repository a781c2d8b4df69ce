/* twine echo server on the public API, used when build/<backend>/twined is not there yet (or with
 * ECHO_TWINE=api): data_received writes everything back and consumes it. ECHO_MAX_ACCEPTS=1 turns
 * the port's multi-accept off, to measure what accepting several connections per wake-up gains. */
#include <twine/twine.h>

#include "echo_server.h"

static ssize_t echo_data(tw_protocol *p, const char *data, size_t len)
{
    tw_transport_write(p->transport, data, len);
    return (ssize_t)len;
}

static const tw_protocol_ops echo_ops = {.data_received = echo_data};

static int echo_build(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    (void)peer;
    out->ops = &echo_ops;
    return 0;
}

static const tw_factory_ops echo_factory_ops = {.build_protocol = echo_build};

int main(int argc, char **argv)
{
    echo_server_init(argc, argv, "api");
    int err = 0;
    tw_reactor *r = tw_reactor_new(&err);
    tw_factory factory = {.ops = &echo_factory_ops};
    tw_port *port = r ? tw_listen_tcp(r, 0, "127.0.0.1", ECHO_BACKLOG, &factory, &err) : NULL;
    tw_address host;
    if (port == NULL || tw_port_get_host(port, &host) < 0) {
        fprintf(stderr, "twine: cannot listen: %s\n", strerror(-err));
        return 1;
    }
    const char *max_accepts = getenv("ECHO_MAX_ACCEPTS");
    if (max_accepts && tw_port_set_max_accepts(port, (unsigned)atoi(max_accepts)) < 0) {
        fprintf(stderr, "twine: bad ECHO_MAX_ACCEPTS=%s\n", max_accepts);
        return 1;
    }
    echo_server_announce("twine", host.port);
    return tw_reactor_run(r) < 0;
}
