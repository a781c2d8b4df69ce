/* twined echo: everything a client sends is sent back. Back-pressure comes from the transport (it
 * stops reading while its write buffer is above the high-water mark, so a client that does not read
 * is not read from); half-close is honoured: a client's EOF gets the rest of its echo, then EOF. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* --listen may be given at most this many times. */
#define TWINED_ECHO_LISTEN_MAX 16

typedef struct echo_server {
    tw_reactor *r;
    tw_factory factory;
    const char *listen[TWINED_ECHO_LISTEN_MAX];
    tw_server_description endpoints[TWINED_ECHO_LISTEN_MAX];
    tw_port *ports[TWINED_ECHO_LISTEN_MAX];
    size_t count;
} echo_server;

/* ---- the protocol -------------------------------------------------------------------------------- */

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

/* ---- arguments ----------------------------------------------------------------------------------- */

static int echo_help(void)
{
    printf("usage: twined echo --listen ENDPOINT [--listen ENDPOINT ...]\n"
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
           "  -h, --help         show this help and exit\n"
           "\n"
           "Prints 'twined: listening on ADDRESS' on stderr for each endpoint; stops on SIGINT or\n"
           "SIGTERM with status 0. Status 1: could not listen. Status 2: bad arguments.\n",
           TWINED_ECHO_LISTEN_MAX);
    return TWINED_EXIT_OK;
}

enum { OPT_LISTEN, OPT_HELP };
static const twined_option echo_options[] = {
    [OPT_LISTEN] = {"listen", 0, true},
    [OPT_HELP] = {"help", 'h', false},
};

static int add_endpoint(echo_server *s, const char *description)
{
    if (s->count == TWINED_ECHO_LISTEN_MAX)
        return twined_usage_error("echo", "too many --listen options (at most %d)",
                                  TWINED_ECHO_LISTEN_MAX);
    char why[TW_ENDPOINT_ERROR_MAX];
    tw_server_description *d = &s->endpoints[s->count];
    char hint[TWINED_SHOWN_MAX];
    if (tw_server_from_string(description, d, why, sizeof why) < 0) {
        if (twined_colon_hint(description, hint, sizeof hint))
            return twined_usage_error("echo", "--listen '%s': %s (escape colons in a value: %s)",
                                      twined_show(description).text, why, hint);
        return twined_usage_error("echo", "--listen '%s': %s", twined_show(description).text, why);
    }
    if (d->type == TW_ENDPOINT_STDIO)
        return twined_usage_error("echo", "--listen '%s': stdio endpoints are not supported yet",
                                  twined_show(description).text);
    s->listen[s->count++] = description;
    return 0;
}

/* 0 to go on, or the exit status to stop with (--help is TWINED_EXIT_OK and stops). */
static int parse_echo_args(echo_server *s, int argc, char **argv, bool *stop)
{
    twined_args a;
    twined_args_init(&a, "echo", argc, argv);
    const size_t n_options = sizeof echo_options / sizeof echo_options[0];
    const char *value;
    int opt;
    while ((opt = twined_next_option(&a, echo_options, n_options, &value)) >= 0) {
        if (opt == OPT_HELP) {
            *stop = true;
            return echo_help();
        }
        int rc = add_endpoint(s, value);
        if (rc != 0)
            return rc;
    }
    if (opt == TWINED_ARGS_ERROR)
        return TWINED_EXIT_USAGE;
    if (a.next < argc)
        return twined_usage_error("echo", "unexpected argument '%s' (try 'twined echo --help')",
                                  twined_show(argv[a.next]).text);
    if (s->count == 0)
        return twined_usage_error("echo", "missing required option --listen "
                                  "(try 'twined echo --help')");
    return 0;
}

/* ---- running ------------------------------------------------------------------------------------- */

/* Each port once: the shutdown may have stopped them already (-ENOTCONN then, harmless). */
static void stop_listening(echo_server *s)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->ports[i])
            tw_port_stop_listening(s->ports[i]);
}

static void free_ports(echo_server *s)
{
    for (size_t i = 0; i < s->count; i++) {
        tw_port_free(s->ports[i]);
        s->ports[i] = NULL;
    }
}

/* Before shutdown: stop accepting (and remove UNIX socket files) before the reactor closes the
 * connections. */
static int stop_listening_trigger(void *arg)
{
    stop_listening(arg);
    return 0;
}

static void announce(tw_port *port)
{
    tw_address host;
    char text[TW_ADDRESS_HOST_MAX + TW_ADDRESS_PATH_MAX + 16];
    if (tw_port_get_host(port, &host) == 0 && tw_address_format(&host, text, sizeof text) >= 0)
        twined_note("listening on %s", text);
}

static int start_listening(echo_server *s)
{
    for (size_t i = 0; i < s->count; i++) {
        int err = 0;
        s->ports[i] = tw_server_listen(s->r, &s->endpoints[i], &s->factory, &err);
        if (!s->ports[i]) {
            char reason[TWINED_SHOWN_MAX + 64];
            twined_note("couldn't listen on '%s': %s", twined_show(s->listen[i]).text,
                        twined_listen_reason(&s->endpoints[i], err, reason, sizeof reason));
            return TWINED_EXIT_FAILURE;
        }
    }
    for (size_t i = 0; i < s->count; i++)
        announce(s->ports[i]);
    return 0;
}

/* Signals are caught before the first "listening" line, so that a SIGTERM sent as soon as it is
 * read already stops twined in order. */
static int prepare(echo_server *s)
{
    int err = twined_reactor_setup(s->r);
    if (err == 0)
        err = tw_reactor_install_signal_handlers(s->r);
    if (err == 0)
        err = (int)tw_reactor_add_trigger(s->r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN,
                                          stop_listening_trigger, s);
    if (err < 0) {
        twined_note("cannot set up the reactor: %s", tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    return start_listening(s);
}

static int serve(echo_server *s)
{
    int err = 0;
    s->r = tw_reactor_new(&err);
    if (!s->r) {
        twined_note("cannot start the reactor: %s", tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    int status = prepare(s);
    if (status == 0 && (err = tw_reactor_run(s->r)) < 0) {
        twined_note("echo: %s", tw_strerror(err));
        status = TWINED_EXIT_FAILURE;
    }
    tw_reactor_uninstall_signal_handlers(s->r);
    free_ports(s);
    twined_reactor_teardown(s->r);
    tw_reactor_free(s->r);
    return status;
}

static int run_echo(int argc, char **argv)
{
    echo_server s = {.factory = {.ops = &echo_factory_ops}};
    bool stop = false;
    int status = parse_echo_args(&s, argc, argv, &stop);
    if (status != 0 || stop)
        return status;
    return serve(&s);
}

const twined_command twined_echo_command = {
    .name = "echo",
    .summary = "echo server: sends back what each client sends",
    .run = run_echo,
};
