/* Listening for twined's servers: --listen values parsed, each opened through its endpoint (so
 * every server subcommand takes every server string, stdio: too), announced, and closed first at
 * shutdown; and the reactor's set-up and run that every server subcommand shares. */
#include <stdio.h>

#include "cli/cli.h"

typedef struct {
    tw_port *port;
    int error; /* 0, or the failure's code */
} listened;

static int listen_done(tw_deferred *d, tw_result *result, void *arg)
{
    (void)d;
    listened *l = arg;
    if (tw_result_is_failure(result)) {
        tw_failure *f = tw_result_take_failure(result);
        l->error = tw_failure_code(f) ? tw_failure_code(f) : TW_ECALLBACK;
        tw_failure_unref(f);
    } else {
        l->port = tw_result_value(result);
    }
    return 0;
}

int twined_listen(tw_reactor *r, const tw_server_description *d, const char *text,
                  tw_factory *factory, tw_port **port)
{
    int err = 0;
    listened l = {0};
    tw_server_endpoint *ep = tw_server_endpoint_from_description(r, d, &err);
    tw_deferred *done = ep ? tw_server_endpoint_listen(ep, factory, &err) : NULL;
    tw_server_endpoint_free(ep);
    if (!done || (err = tw_deferred_add_both(done, listen_done, &l)) < 0)
        l.error = err;
    if (done)
        tw_deferred_unref(done); /* listening is done at once: the pair has run */
    if (l.error) {
        char reason[TWINED_SHOWN_MAX + 64];
        twined_note("couldn't listen on '%s': %s", twined_show(text).text,
                    twined_listen_reason(d, l.error, reason, sizeof reason));
        return TWINED_EXIT_FAILURE;
    }
    *port = l.port;
    return 0;
}

void twined_announce(const tw_port *port)
{
    tw_address host;
    char text[TW_ADDRESS_HOST_MAX + TW_ADDRESS_PATH_MAX + 16];
    if (port && tw_port_get_host(port, &host) == 0 &&
        tw_address_format(&host, text, sizeof text) >= 0)
        twined_note("listening on %s", text);
}

/* ---- a server subcommand's listeners --------------------------------------------------------- */

int twined_listeners_add(twined_listeners *l, const char *description)
{
    if (l->count == TWINED_LISTEN_MAX)
        return twined_usage_error(l->command, "too many --listen options (at most %d)",
                                  TWINED_LISTEN_MAX);
    char why[TW_ENDPOINT_ERROR_MAX];
    tw_server_description *d = &l->endpoints[l->count];
    char hint[TWINED_SHOWN_MAX];
    if (tw_server_from_string(description, d, why, sizeof why) < 0) {
        if (twined_colon_hint(description, hint, sizeof hint))
            return twined_usage_error(l->command,
                                      "--listen '%s': %s (escape colons in a value: %s)",
                                      twined_show(description).text, why, hint);
        return twined_usage_error(l->command, "--listen '%s': %s", twined_show(description).text,
                                  why);
    }
    for (size_t i = 0; i < l->count && d->type == TW_ENDPOINT_STDIO; i++)
        if (l->endpoints[i].type == TW_ENDPOINT_STDIO)
            return twined_usage_error(l->command,
                                      "--listen stdio: given twice (there is one stdin)");
    l->text[l->count++] = description;
    return 0;
}

static void stop_listening(twined_listeners *l)
{
    for (size_t i = 0; i < l->count; i++) {
        tw_port_free(l->ports[i]); /* stops it first if the shutdown has not */
        l->ports[i] = NULL;
    }
}

/* Before shutdown: stop accepting (and remove UNIX socket files) before the reactor closes the
 * connections. */
static int stop_listening_trigger(void *arg)
{
    stop_listening(arg);
    return 0;
}

static int start_listening(twined_listeners *l, tw_reactor *r)
{
    for (size_t i = 0; i < l->count; i++) {
        bool stdio = l->endpoints[i].type == TW_ENDPOINT_STDIO;
        int status = twined_listen(r, &l->endpoints[i], l->text[i],
                                   stdio ? l->stdio_factory : l->factory, &l->ports[i]);
        if (status != 0)
            return status;
    }
    for (size_t i = 0; i < l->count; i++)
        twined_announce(l->ports[i]);
    return 0;
}

/* Signals are caught before the first "listening" line, so that a SIGTERM sent as soon as it is
 * read already stops twined in order. */
static int prepare(twined_listeners *l, tw_reactor *r, int (*setup)(void *arg, tw_reactor *r),
                   void *arg)
{
    int err = twined_reactor_setup(r); /* the log (twined says why it stops), --debug */
    if (err == 0)
        err = tw_reactor_install_signal_handlers(r);
    if (err == 0) {
        long id = tw_reactor_add_trigger(r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN,
                                         stop_listening_trigger, l);
        err = id < 0 ? (int)id : 0;
    }
    if (err == 0 && setup)
        err = setup(arg, r);
    if (err < 0) {
        twined_note("cannot set up the reactor: %s", tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    return start_listening(l, r);
}

int twined_serve(twined_listeners *l, int (*setup)(void *arg, tw_reactor *r), void *arg)
{
    int err = 0;
    tw_reactor *r = tw_reactor_new(&err);
    if (!r) {
        twined_note("cannot start the reactor: %s", tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    int status = prepare(l, r, setup, arg);
    if (status == 0 && (err = tw_reactor_run(r)) < 0) {
        twined_note("%s: %s", l->command, tw_strerror(err));
        status = TWINED_EXIT_FAILURE;
    }
    tw_reactor_uninstall_signal_handlers(r);
    stop_listening(l);
    twined_reactor_teardown(r);
    tw_reactor_free(r); /* closes what is still open */
    return status;
}
