/* twined connect: netcat over twine's endpoints. The hostname endpoint connects to HOST PORT (Happy
 * Eyeballs over every address HOST has, one timeout for all of it); once connected, the stdio
 * endpoint joins stdin and stdout to the socket through a relay: stdin's EOF half-closes the
 * socket, the peer's EOF ends the program once everything it sent is written out. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/relay.h"

typedef struct connect_run {
    tw_reactor *r;
    const char *host;
    uint16_t port;
    double timeout;
    bool verbose;
    twined_relay relay;
    int status;
} connect_run;

/* ---- arguments ------------------------------------------------------------------------------- */

static int connect_help(void)
{
    printf("usage: twined connect [-v] [--timeout SECONDS] HOST PORT\n"
           "\n"
           "Connects to HOST PORT and joins the connection to stdin and stdout (like netcat).\n"
           "HOST may be a name (every address it resolves to is tried, IPv6 and IPv4\n"
           "interleaved, a new attempt every 250 ms or as soon as one fails) or a numeric\n"
           "address. stdin's EOF half-closes the connection; twined exits once the peer has\n"
           "closed and everything it sent is written to stdout.\n"
           "\n"
           "options:\n"
           "  -v               say on stderr which address answered, how fast, and which\n"
           "                   attempt it was\n"
           "  --timeout SECONDS  for the name's resolution and every attempt together\n"
           "                   (default 30)\n"
           "  -h, --help       show this help and exit\n"
           "\n"
           "Status 0: the peer closed (or a signal). Status 1: the name does not resolve, the\n"
           "connection is refused or times out, or it breaks. Status 2: bad arguments.\n");
    return TWINED_EXIT_OK;
}

enum { OPT_VERBOSE, OPT_TIMEOUT, OPT_HELP };
static const twined_option connect_options[] = {
    [OPT_VERBOSE] = {"verbose", 'v', false},
    [OPT_TIMEOUT] = {"timeout", 0, true},
    [OPT_HELP] = {"help", 'h', false},
};

static int parse_timeout(connect_run *c, const char *value)
{
    char *end = NULL;
    double v = strtod(value, &end);
    if (!*value || *end || !(v > 0) || v > TW_ENDPOINT_TIMEOUT_MAX)
        return twined_usage_error("connect", "bad --timeout '%s' (expected seconds, more than 0 "
                                  "and at most %g)", twined_show(value).text,
                                  TW_ENDPOINT_TIMEOUT_MAX);
    c->timeout = v;
    return 0;
}

static int parse_port(connect_run *c, const char *value)
{
    char *end = NULL;
    long v = strtol(value, &end, 10);
    if (!*value || *end || v < 1 || v > 65535)
        return twined_usage_error("connect", "bad port '%s' (expected 1 to 65535)",
                                  twined_show(value).text);
    c->port = (uint16_t)v;
    return 0;
}

/* 0 to go on, or the exit status to stop with (--help is TWINED_EXIT_OK and stops). */
static int parse_connect_args(connect_run *c, int argc, char **argv, bool *stop)
{
    twined_args a;
    twined_args_init(&a, "connect", argc, argv);
    const char *value;
    const size_t n_options = sizeof connect_options / sizeof connect_options[0];
    int opt = 0, rc = 0;
    while (rc == 0 && (opt = twined_next_option(&a, connect_options, n_options, &value)) >= 0) {
        if (opt == OPT_HELP) {
            *stop = true;
            return connect_help();
        }
        if (opt == OPT_VERBOSE)
            c->verbose = true;
        else
            rc = parse_timeout(c, value);
    }
    if (rc != 0 || opt == TWINED_ARGS_ERROR)
        return TWINED_EXIT_USAGE;
    if (argc - a.next != 2)
        return twined_usage_error("connect", "%s (try 'twined connect --help')",
                                  argc - a.next < 2 ? "missing HOST and PORT"
                                                    : "too many arguments");
    c->host = argv[a.next];
    if (!*c->host || strlen(c->host) > TW_HOSTNAME_MAX)
        return twined_usage_error("connect", "bad host '%s'", twined_show(c->host).text);
    return parse_port(c, argv[a.next + 1]);
}

/* ---- running --------------------------------------------------------------------------------- */

static void tell_attempt(void *ctx, const tw_attempt_info *info)
{
    (void)ctx;
    if (info->event == TW_ATTEMPT_WON)
        twined_note("connected to %s port %u in %.0f ms (attempt %zu of %zu)",
                    info->address->host, (unsigned)info->address->port, info->elapsed * 1000,
                    info->index + 1, info->count);
}

/* The socket is up: stdin and stdout join it. */
static void socket_connected(twined_relay *relay)
{
    connect_run *c = relay->user;
    tw_server_description stdio = {.type = TW_ENDPOINT_STDIO};
    tw_port *none;
    if (twined_listen(c->r, &stdio, "stdio:", &relay->factory_a, &none) != 0) {
        c->status = TWINED_EXIT_FAILURE;
        if (relay->b.t)
            tw_transport_abort_connection(relay->b.t);
    }
}

/* Everything is over: say why if it went wrong, and stop. */
static void relay_ended(twined_relay *relay)
{
    connect_run *c = relay->user;
    const twined_side *b = &relay->b;
    if (!b->made && c->status == 0) { /* the connect failed: refused, unresolvable, timed out */
        c->status = TWINED_EXIT_FAILURE;
        bool dns = strcmp(b->lost_type, TW_DNS_LOOKUP_ERROR) == 0;
        twined_note("%s%s", dns ? "DNS lookup failed: " : "", b->lost_message);
    } else if (b->made && strcmp(b->lost_type, TW_CONNECTION_DONE) != 0 && c->status == 0) {
        c->status = TWINED_EXIT_FAILURE;
        twined_note("connection to %s port %u lost: %s", twined_show(c->host).text,
                    (unsigned)c->port, b->lost_message);
    }
    tw_reactor_stop(c->r);
}

static int start_connecting(connect_run *c)
{
    tw_hostname_options options = {.timeout = c->timeout,
                                   .on_attempt = c->verbose ? tell_attempt : NULL};
    int err = 0;
    tw_client_endpoint *ep = tw_hostname_endpoint_new(c->r, c->host, c->port, &options, &err);
    if (!ep)
        return twined_usage_error("connect", "bad host '%s'", twined_show(c->host).text);
    twined_relay_init(&c->relay, relay_ended, c);
    c->relay.on_b_connected = socket_connected;
    c->relay.end_when_b_is_written = true;
    err = twined_relay_connect_b(&c->relay, ep);
    tw_client_endpoint_free(ep);
    if (err < 0) {
        twined_note("cannot connect: %s", tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    return 0;
}

static int run_connect_loop(connect_run *c)
{
    int err = 0;
    c->r = tw_reactor_new(&err);
    if (!c->r) {
        twined_note("cannot start the reactor: %s", tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    err = twined_reactor_setup(c->r);
    if (err == 0)
        err = tw_reactor_install_signal_handlers(c->r);
    int status = err < 0 ? TWINED_EXIT_FAILURE : 0;
    if (status)
        twined_note("cannot set up the reactor: %s", tw_strerror(err));
    if (status == 0)
        status = start_connecting(c);
    if (status == 0 && (err = tw_reactor_run(c->r)) < 0) {
        twined_note("connect: %s", tw_strerror(err));
        c->status = TWINED_EXIT_FAILURE;
    }
    if (status == 0)
        status = tw_reactor_exit_signal(c->r) ? TWINED_EXIT_OK : c->status;
    tw_reactor_uninstall_signal_handlers(c->r);
    twined_reactor_teardown(c->r);
    tw_reactor_free(c->r);
    return status;
}

static int run_connect(int argc, char **argv)
{
    connect_run c = {.timeout = 0};
    bool stop = false;
    int status = parse_connect_args(&c, argc, argv, &stop);
    if (status != 0 || stop)
        return status;
    return run_connect_loop(&c);
}

const twined_command twined_connect_command = {
    .name = "connect",
    .summary = "netcat-like client: stdin to HOST PORT, the answer to stdout",
    .run = run_connect,
};
