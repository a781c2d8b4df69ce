/* twined forward: Twisted's portforward. Every connection accepted on a --listen endpoint gets a
 * connection of its own to the --connect endpoint, and a relay between the two: bytes both ways
 * with back-pressure (a slow side pauses the other, so memory stays bounded), half-close passed
 * on, a backend that refuses or dies closing only its client, a client that leaves first
 * cancelling its backend's connect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/relay.h"

typedef struct forward_server {
    tw_reactor *r;
    tw_factory factory;       /* builds a relay for each accepted connection */
    tw_factory stdio_factory; /* the same for stdio, whose end is twined's end */
    twined_listeners listeners;
    const char *connect;
    tw_client_description backend;
    tw_client_endpoint *backend_ep;
} forward_server;

/* ---- one relay per client -------------------------------------------------------------------- */

static void relay_ended(twined_relay *relay)
{
    free(relay);
}

static void stdio_relay_ended(twined_relay *relay)
{
    forward_server *s = relay->user;
    free(relay);
    tw_reactor_stop(s->r);
}

/* The client's side of a new relay, whose backend connect starts at once. */
static int build_client(forward_server *s, bool stdio, const tw_address *peer, tw_protocol *out)
{
    twined_relay *relay = malloc(sizeof *relay);
    if (!relay)
        return -ENOMEM;
    twined_relay_init(relay, stdio ? stdio_relay_ended : relay_ended, s);
    twined_relay_hold(relay); /* until the backend connect is under way */
    int rc = relay->factory_a.ops->build_protocol(&relay->factory_a, peer, out);
    if (rc == 0)
        twined_relay_connect_b(relay, s->backend_ep);
    twined_relay_release(relay);
    return rc;
}

static int build_accepted(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    return build_client(f->user, false, peer, out);
}

static int build_stdio(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    return build_client(f->user, true, peer, out);
}

static const tw_factory_ops forward_factory_ops = {.build_protocol = build_accepted};
static const tw_factory_ops forward_stdio_factory_ops = {.build_protocol = build_stdio};

/* ---- arguments ------------------------------------------------------------------------------- */

static int forward_help(void)
{
    printf("usage: twined forward --listen ENDPOINT [--listen ENDPOINT ...] --connect ENDPOINT\n"
           "\n"
           "Port forwarder: each connection accepted on a --listen endpoint gets its own\n"
           "connection to the --connect endpoint, and bytes flow both ways. A slow side pauses\n"
           "the other; EOF is passed on; a backend that refuses or dies closes only its client.\n"
           "\n"
           "options:\n"
           "  --listen ENDPOINT   where to listen (tcp:PORT, tcp6:PORT, unix:PATH, stdio:);\n"
           "                      may be repeated (at most %d)\n"
           "  --connect ENDPOINT  where to connect: tcp:HOST:PORT (every address of HOST, Happy\n"
           "                      Eyeballs), tcp6:HOST:PORT, unix:PATH; timeout=SECONDS allowed\n"
           "  -h, --help          show this help and exit\n"
           "\n"
           "Prints 'twined: listening on ADDRESS' on stderr for each endpoint; stops on SIGINT or\n"
           "SIGTERM with status 0 (with stdio:, when stdin's connection ends). Status 1: could\n"
           "not listen. Status 2: bad arguments.\n",
           TWINED_LISTEN_MAX);
    return TWINED_EXIT_OK;
}

enum { OPT_LISTEN, OPT_CONNECT, OPT_HELP };
static const twined_option forward_options[] = {
    [OPT_LISTEN] = {"listen", 0, true},
    [OPT_CONNECT] = {"connect", 0, true},
    [OPT_HELP] = {"help", 'h', false},
};

static int set_connect(forward_server *s, const char *description)
{
    char why[TW_ENDPOINT_ERROR_MAX];
    if (s->connect)
        return twined_usage_error("forward", "--connect given twice");
    if (tw_client_from_string(description, &s->backend, why, sizeof why) < 0)
        return twined_usage_error("forward", "--connect '%s': %s", twined_show(description).text,
                                  why);
    s->connect = description;
    return 0;
}

static int take_forward_option(void *arg, int opt, const char *value)
{
    forward_server *s = arg;
    return opt == OPT_LISTEN ? twined_listeners_add(&s->listeners, value) : set_connect(s, value);
}

/* 0 to go on, or the exit status to stop with (--help is TWINED_EXIT_OK and stops). */
static int parse_forward_args(forward_server *s, int argc, char **argv, bool *stop)
{
    int rc = twined_parse_options(argc, argv, "forward", forward_options,
                                  sizeof forward_options / sizeof forward_options[0], OPT_HELP,
                                  forward_help, take_forward_option, s, stop);
    if (rc != 0 || *stop)
        return rc;
    if (s->listeners.count == 0 || !s->connect)
        return twined_usage_error("forward", "missing required option %s (try 'twined forward "
                                  "--help')", s->listeners.count == 0 ? "--listen" : "--connect");
    return 0;
}

/* ---- running --------------------------------------------------------------------------------- */

/* The backend's endpoint, made once with the reactor: each relay connects through it. */
static int make_backend(void *arg, tw_reactor *r, unsigned index, tw_factory **factory)
{
    (void)index; /* forward runs one reactor */
    (void)factory;
    forward_server *s = arg;
    int err = 0;
    s->r = r;
    s->backend_ep = tw_client_endpoint_from_description(r, &s->backend, &err);
    if (s->backend_ep)
        return 0;
    twined_note("cannot set up the reactor: %s", tw_strerror(err));
    return TWINED_EXIT_FAILURE;
}

static int run_forward(int argc, char **argv)
{
    forward_server s = {0};
    s.factory = (tw_factory){.ops = &forward_factory_ops, .user = &s};
    s.stdio_factory = (tw_factory){.ops = &forward_stdio_factory_ops, .user = &s};
    s.listeners = (twined_listeners){.command = "forward", .factory = &s.factory,
                                     .stdio_factory = &s.stdio_factory, .setup = make_backend,
                                     .arg = &s};
    bool stop = false;
    int status = parse_forward_args(&s, argc, argv, &stop);
    if (status != 0 || stop)
        return status;
    status = twined_serve(&s.listeners);
    tw_client_endpoint_free(s.backend_ep); /* the relays that used it ended with the reactor */
    return status;
}

const twined_command twined_forward_command = {
    .name = "forward",
    .summary = "port forwarder: each client gets its own connection to a backend",
    .run = run_forward,
};
