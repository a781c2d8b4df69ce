/* twined echo: everything a client sends is sent back. Back-pressure comes from the transport (it
 * stops reading while its write buffer is above the high-water mark, so a client that does not read
 * is not read from); half-close is honoured: a client's EOF gets the rest of its echo, then EOF. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct echo_server {
    tw_factory factory;
    tw_factory stdio_factory; /* stdio: one connection, and twined's whole life */
    twined_listeners listeners;
} echo_server;

/* ---- the protocol ---------------------------------------------------------------------------- */

static ssize_t echo_data_received(tw_protocol *p, const char *data, size_t len)
{
    /* A write after our own half-close is dropped; the bytes are consumed either way. */
    tw_transport_write(p->transport, data, len);
    return (ssize_t)len;
}

/* The client sent EOF: finish its echo, then send ours (Twisted's IHalfCloseableProtocol). */
static int echo_read_connection_lost(tw_protocol *p)
{
    tw_transport_lose_write_connection(p->transport);
    return 0;
}

/* Both directions are done now; a half-closed connection is not closed for us. */
static int echo_write_connection_lost(tw_protocol *p)
{
    tw_transport_lose_connection(p->transport);
    return 0;
}

static const tw_protocol_ops echo_protocol_ops = {
    .data_received = echo_data_received,
    .read_connection_lost = echo_read_connection_lost,
    .write_connection_lost = echo_write_connection_lost,
};

static int echo_build_protocol(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    (void)peer;
    out->ops = &echo_protocol_ops;
    out->user = NULL;
    return 0;
}

static const tw_factory_ops echo_factory_ops = {.build_protocol = echo_build_protocol};

/* With --listen stdio:, twined stops once stdin has ended and all its echo is written. */
static void echo_stdio_lost(tw_protocol *p, const tw_failure *reason)
{
    (void)reason;
    tw_reactor_stop(tw_transport_reactor(p->transport));
}

static const tw_protocol_ops echo_stdio_ops = {
    .data_received = echo_data_received,
    .read_connection_lost = echo_read_connection_lost,
    .write_connection_lost = echo_write_connection_lost,
    .connection_lost = echo_stdio_lost,
};

static int echo_build_stdio(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    (void)peer;
    out->ops = &echo_stdio_ops;
    out->user = NULL;
    return 0;
}

static const tw_factory_ops echo_stdio_factory_ops = {.build_protocol = echo_build_stdio};

/* ---- arguments ------------------------------------------------------------------------------- */

static int echo_help(void)
{
    printf("usage: twined echo --listen ENDPOINT [--listen ENDPOINT ...] [--reactors N]\n"
           "\n"
           "Echo server: everything a client sends is sent back to it. A client that does not\n"
           "read is not read from; a client's EOF gets the rest of its echo, then EOF.\n"
           "\n"
           "options:\n"
           "  --listen ENDPOINT  where to listen; may be repeated (at most %d). Examples:\n"
           "                       tcp:8080                    all IPv4 addresses, port 8080\n"
           "                       tcp:0:interface=127.0.0.1   a free port on 127.0.0.1\n"
           "                       tcp6:8080:interface=\\:\\:1   IPv6 (escape colons as \\:)\n"
           "                       unix:/tmp/echo.sock         a UNIX socket\n"
           "                       stdio:                      stdin to stdout; twined exits\n"
           "                                                   when stdin has ended\n"
           "  --reactors N       N reactors on N threads (1 to %d, default 1), each listening\n"
           "                     on every tcp: and tcp6: endpoint with SO_REUSEPORT, so the\n"
           "                     kernel spreads the connections; not with unix: or stdio:\n"
           "  -h, --help         show this help and exit\n"
           "\n"
           "Prints 'twined: listening on ADDRESS' on stderr for each endpoint; stops on SIGINT or\n"
           "SIGTERM with status 0. Status 1: could not listen. Status 2: bad arguments.\n",
           TWINED_LISTEN_MAX, TWINED_REACTORS_MAX);
    return TWINED_EXIT_OK;
}

enum { OPT_LISTEN, OPT_REACTORS, OPT_HELP };
static const twined_option echo_options[] = {
    [OPT_LISTEN] = {"listen", 0, true},
    [OPT_REACTORS] = {"reactors", 0, true},
    [OPT_HELP] = {"help", 'h', false},
};

static int take_echo_option(void *arg, int opt, const char *value)
{
    twined_listeners *l = arg;
    return opt == OPT_LISTEN ? twined_listeners_add(l, value)
                             : twined_listeners_set_reactors(l, value);
}

/* 0 to go on, or the exit status to stop with (--help is TWINED_EXIT_OK and stops). */
static int parse_echo_args(echo_server *s, int argc, char **argv, bool *stop)
{
    int rc = twined_parse_options(argc, argv, "echo", echo_options,
                                  sizeof echo_options / sizeof echo_options[0], OPT_HELP,
                                  echo_help, take_echo_option, &s->listeners, stop);
    if (rc != 0 || *stop)
        return rc;
    if (s->listeners.count == 0)
        return twined_usage_error("echo", "missing required option --listen "
                                  "(try 'twined echo --help')");
    return 0;
}

static int run_echo(int argc, char **argv)
{
    echo_server s = {.factory = {.ops = &echo_factory_ops},
                     .stdio_factory = {.ops = &echo_stdio_factory_ops}};
    s.listeners = (twined_listeners){.command = "echo", .factory = &s.factory,
                                     .stdio_factory = &s.stdio_factory};
    bool stop = false;
    int status = parse_echo_args(&s, argc, argv, &stop);
    if (status != 0 || stop)
        return status;
    return twined_serve(&s.listeners);
}

const twined_command twined_echo_command = {
    .name = "echo",
    .summary = "echo server: sends back what each client sends",
    .run = run_echo,
};
