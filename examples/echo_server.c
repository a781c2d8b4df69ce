/* The smallest twine server: echo on 127.0.0.1:PORT until Ctrl-C (PORT 0, the default, picks a
 * free port). A protocol is an ops table; a factory builds one per connection; a port accepts.
 *   ./echo_server 8000 & printf 'hi\n' | nc -N 127.0.0.1 8000 */
#include <stdio.h>
#include <stdlib.h>
#include <twine/twine.h>

/* Everything that arrives is written back, and all of it counts as consumed. */
static ssize_t echo_data_received(tw_protocol *p, const char *data, size_t len)
{
    tw_transport_write(p->transport, data, len);
    return (ssize_t)len;
}

/* The client sent EOF: finish its echo, then send ours (a half-closeable protocol). */
static int echo_read_connection_lost(tw_protocol *p)
{
    tw_transport_lose_connection(p->transport); /* flushes what is queued, then closes */
    return 0;
}

static const tw_protocol_ops echo_ops = {
    .data_received = echo_data_received,
    .read_connection_lost = echo_read_connection_lost,
};

static int build_echo(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    printf("connection from %s\n", peer->host);
    fflush(stdout);
    out->ops = &echo_ops;
    return 0;
}

static const tw_factory_ops echo_factory_ops = {.build_protocol = build_echo};

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int err = 0;
    tw_reactor *r = tw_reactor_new(&err);
    if (!r) {
        fprintf(stderr, "reactor: %s\n", tw_strerror(err));
        return 1;
    }
    tw_factory factory = {.ops = &echo_factory_ops};
    tw_port *listener = tw_listen_tcp(r, (uint16_t)port, "127.0.0.1", 0, &factory, &err);
    if (!listener) {
        fprintf(stderr, "listen: %s\n", tw_strerror(err));
        tw_reactor_free(r);
        return 1;
    }
    tw_address where;
    tw_port_get_host(listener, &where); /* the real port, when 0 was asked */
    tw_reactor_install_signal_handlers(r); /* Ctrl-C: orderly stop, connections closed */
    printf("echoing on 127.0.0.1 port %u\n", where.port);
    fflush(stdout);
    tw_reactor_run(r); /* the shutdown stops the port and closes every connection */
    tw_port_free(listener); /* the port is ours to release, stopped or not */
    tw_reactor_free(r);
    return 0;
}
