/* Listening for twined's servers: --listen and --reactors values parsed, and each endpoint opened
 * through its endpoint object (so every server subcommand takes every server string, stdio: too)
 * and announced. serve.c runs them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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

int twined_listeners_set_reactors(twined_listeners *l, const char *value)
{
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (errno || end == value || *end || n < 1 || n > TWINED_REACTORS_MAX)
        return twined_usage_error(l->command, "--reactors: bad count '%s' (expected 1 to %d)",
                                  twined_show(value).text, TWINED_REACTORS_MAX);
    l->reactors = (unsigned)n;
    return 0;
}
