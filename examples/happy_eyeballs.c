/* A Happy Eyeballs client (RFC 8305): connects to HOST PORT through a hostname endpoint, which
 * resolves HOST and races its IPv6 and IPv4 addresses, reporting each attempt; then sends MESSAGE
 * as a line, prints the reply's first line, and closes.   ./happy_eyeballs localhost 8000 hi */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <twine/twine.h>

static const char *message;

/* Told of every connection attempt as it starts and ends. */
static void on_attempt(void *ctx, const tw_attempt_info *a)
{
    (void)ctx;
    static const char *what[] = {"", "trying", "failed", "abandoned", "connected to"};
    printf("%.3fs: %s %s port %u (attempt %zu of %zu)%s%s\n", a->elapsed, what[a->event],
           a->address->host, a->address->port, a->index + 1, a->count,
           a->event == TW_ATTEMPT_FAILED ? ": " : "",
           a->event == TW_ATTEMPT_FAILED ? tw_strerror(a->error) : "");
}

static int connection_made(tw_protocol *p)
{
    struct iovec line[2] = {{(void *)message, strlen(message)}, {"\n", 1}};
    return tw_transport_write_sequence(p->transport, line, 2);
}

static ssize_t data_received(tw_protocol *p, const char *data, size_t len)
{
    const char *end = memchr(data, '\n', len);
    if (!end)
        return 0; /* not a whole line yet: the transport keeps it and shows it again */
    printf("reply: %.*s\n", (int)(end - data), data);
    tw_transport_lose_connection(p->transport);
    return (ssize_t)len;
}

static void connection_lost(tw_protocol *p, const tw_failure *reason)
{
    printf("closed: %s\n", tw_failure_type(reason));
    tw_reactor_stop(tw_transport_reactor(p->transport));
}

static int connect_failed(tw_deferred *d, tw_result *res, void *status)
{
    char why[512];
    printf("could not connect: %s\n", tw_failure_describe(tw_result_failure(res), why, 512));
    tw_result_set_value(res, NULL, NULL); /* handled */
    *(int *)status = 1;
    tw_reactor_stop(tw_deferred_reactor(d)); /* not running any more after Ctrl-C: no matter */
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: happy_eyeballs HOST PORT [MESSAGE]\n");
        return 2;
    }
    message = argc > 3 ? argv[3] : "hello";
    setvbuf(stdout, NULL, _IOLBF, 0);
    int err = 0, status = 0;
    tw_reactor *r = tw_reactor_new(&err);
    tw_hostname_options options = {.timeout = 10, .on_attempt = on_attempt};
    tw_client_endpoint *ep = r ? tw_hostname_endpoint_new(r, argv[1], (uint16_t)atoi(argv[2]),
                                                          &options, &err) : NULL;
    static const tw_protocol_ops ops = {.connection_made = connection_made,
                                        .data_received = data_received,
                                        .connection_lost = connection_lost};
    tw_protocol proto = {.ops = &ops};
    tw_deferred *d = ep ? tw_connect_protocol(ep, &proto, &err) : NULL;
    if (!d || tw_deferred_add_errback(d, connect_failed, &status) < 0) {
        fprintf(stderr, "happy_eyeballs: %s\n", tw_strerror(err));
        return 1;
    }
    tw_deferred_unref(d); /* the connect goes on; its errback stops the reactor if it fails */
    tw_reactor_install_signal_handlers(r);
    tw_reactor_run(r);
    tw_client_endpoint_free(ep);
    tw_reactor_free(r);
    return status;
}
