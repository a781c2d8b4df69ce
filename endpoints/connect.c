/* One connect of a client endpoint, from the call to its deferred firing: the deferred and its
 * canceller, the overall timeout, the resolution (given addresses skip it), and the hand-over of
 * the winning socket to a stream transport. The race between addresses is in race.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/internal.h"

/* ---- lifetime ----------------------------------------------------------------------------------
 * Every entry point (a timer, a writable socket, a resolver callback, the canceller, the shutdown)
 * holds the run while it works, so a run that finishes inside one is freed only when it returns. */

static void run_free(tw__connect_run *run)
{
    if (run->net)
        tw__net_release(run->net);
    free(run->attempts);
    free(run->name);
    free(run->host);
    free(run);
}

void tw__run_hold(tw__connect_run *run)
{
    run->holds++;
}

void tw__run_release(tw__connect_run *run)
{
    if (--run->holds == 0 && run->phase == TW__RUN_DONE)
        run_free(run);
}

double tw__run_elapsed(const tw__connect_run *run)
{
    return (double)(tw_reactor_now(run->r) - run->began_ns) / 1e9;
}

void tw__run_trace(tw__connect_run *run, const tw__attempt *a, tw_attempt_event event)
{
    if (!run->on_attempt)
        return;
    tw_attempt_info info = {.event = event, .index = a->index, .count = run->count,
                            .address = &a->address, .error = a->error,
                            .elapsed = tw__run_elapsed(run)};
    run->on_attempt(run->on_attempt_ctx, &info);
}

static void cancel_call(tw_delayed_call **dc)
{
    if (*dc)
        tw_delayed_call_cancel(*dc);
    *dc = NULL;
}

/* Abandons the resolution: the resolver's deferred fires at once when cancelled, and its late
 * answer, if any, is dropped by the resolver. */
static void stop_resolving(tw__connect_run *run)
{
    tw_deferred *res = run->resolving;
    run->resolving = NULL;
    if (res) {
        tw_deferred_cancel(res);
        tw_deferred_unref(res);
    }
}

/* Fires the deferred (once) and drops our reference to it. */
static void settle(tw__connect_run *run, tw_protocol *p, tw_failure *reason)
{
    tw_deferred *d = run->d;
    run->d = NULL;
    if (!d) {
        if (reason)
            tw_failure_unref(reason);
        return;
    }
    if (p)
        tw_deferred_callback(d, p, NULL);
    else if (!tw_deferred_called(d))
        tw_deferred_errback(d, reason);
    else if (reason)
        tw_failure_unref(reason); /* cancelled from inside connection_made: that result stands */
    tw_deferred_unref(d);
}

void tw__run_fail(tw__connect_run *run, tw_failure *reason)
{
    if (run->phase == TW__RUN_DONE) {
        if (reason)
            tw_failure_unref(reason);
        return;
    }
    run->phase = TW__RUN_DONE;
    cancel_call(&run->timeout_call);
    stop_resolving(run);
    tw__race_stop(run);
    tw__net_unregister(&run->closer);
    if (run->factory_started)
        tw_factory_do_stop(run->factory);
    settle(run, NULL, reason);
}

/* ---- the deferred's canceller and the timeout ------------------------------------------------ */

static void cancel_run(tw_deferred *d, void *arg)
{
    (void)d;
    tw__connect_run *run = arg;
    tw_failure *why = tw_failure_new(TW_CONNECTING_CANCELLED_ERROR, -ECANCELED,
                                     "Connecting to %s was cancelled", run->name);
    tw__run_hold(run);
    if (run->phase == TW__RUN_HANDING_OVER) /* from inside connection_made: made() aborts it */
        tw_deferred_errback(d, why);
    else
        tw__run_fail(run, why);
    tw__run_release(run);
}

/* The reactor shuts down (or is freed) while the connect is in progress. */
static void shutdown_fired(tw_net_closer *closer)
{
    tw__connect_run *run = tw__container_of(closer, tw__connect_run, closer);
    tw__run_hold(run);
    tw__run_fail(run, tw_failure_new(TW_CONNECTION_LOST, 0,
                                     "Connection to the other side was lost: reactor shutdown "
                                     "while connecting to %s", run->name));
    tw__run_release(run);
}

static int timeout_fired(void *arg)
{
    tw__connect_run *run = arg;
    run->timeout_call = NULL;
    tw__run_hold(run);
    tw__run_fail(run, tw_failure_new(TW_TIMEOUT_ERROR, -ETIMEDOUT,
                                     "User timeout caused connection failure: connecting to %s "
                                     "took more than %g s%s",
                                     run->name, run->timeout,
                                     run->phase == TW__RUN_RESOLVING ? " (resolving the name)"
                                                                     : ""));
    tw__run_release(run);
    return 0;
}

/* ---- resolution ------------------------------------------------------------------------------ */

static int resolved(tw_deferred *res, tw_result *result, void *arg)
{
    (void)res;
    tw__connect_run *run = arg;
    tw_destructor destroy = NULL;
    tw_address_list *list = tw_result_take_value(result, &destroy);
    if (run->phase == TW__RUN_RESOLVING) {
        stop_resolving(run);
        if (list)
            tw__race_begin(run, list->addrs, list->count);
        else
            tw__race_begin(run, NULL, 0);
    }
    if (list && destroy)
        destroy(list);
    tw__run_release(run); /* the hold taken for this callback */
    return 0;
}

static int resolve_failed(tw_deferred *res, tw_result *result, void *arg)
{
    (void)res;
    tw__connect_run *run = arg;
    tw_failure *f = tw_result_take_failure(result);
    if (run->phase == TW__RUN_RESOLVING) {
        tw_failure *why = f;
        if (!tw_failure_check(f, TW_DNS_LOOKUP_ERROR)) {
            why = tw_failure_new(TW_DNS_LOOKUP_ERROR, tw_failure_code(f), "%s: %s", run->host,
                                 tw_failure_message(f));
            tw_failure_unref(f);
        }
        f = NULL;
        tw__run_fail(run, why);
    }
    if (f)
        tw_failure_unref(f);
    tw__run_release(run);
    return 0;
}

static void begin_resolving(tw__connect_run *run)
{
    int err = 0;
    tw_deferred *res = run->resolver->ops->resolve(run->resolver, run->r, run->host, run->port,
                                                   &err);
    if (!res) {
        tw__run_fail(run, tw_failure_new(TW_DNS_LOOKUP_ERROR, err, "%s: %s", run->host,
                                         tw_strerror(err)));
        return;
    }
    run->resolving = res;
    tw__run_hold(run); /* released by whichever callback runs */
    err = tw_deferred_add_callbacks(res, resolved, run, resolve_failed, run);
    if (err < 0) {
        tw__run_release(run);
        tw__run_fail(run, tw_failure_from_errno(err, "resolve"));
    }
}

/* ---- the hand-over --------------------------------------------------------------------------- */

/* Runs right after the winner's connection_made, inside the same dispatch. */
static void made(void *arg, tw_protocol *p, int err)
{
    tw__connect_run *run = arg;
    if (run->d && tw_deferred_called(run->d)) { /* cancelled from inside connection_made */
        tw_transport_abort_connection(p->transport);
        settle(run, NULL, NULL);
    } else if (err < 0) {
        settle(run, NULL, tw_failure_from_errno(err, "connection_made"));
    } else {
        settle(run, p, NULL);
    }
}

tw_failure *tw__build_failure(int rc)
{
    if (rc == -ECONNREFUSED)
        return tw_failure_new(TW_NO_PROTOCOL, rc, "the factory built no protocol");
    return tw_failure_from_errno(rc, "build_protocol");
}

void tw__run_hand_over(tw__connect_run *run, tw__attempt *winner)
{
    int fd = winner->fd;
    winner->fd = -1;
    winner->state = TW__ATTEMPT_WON;
    run->connecting--;
    run->phase = TW__RUN_HANDING_OVER;
    tw__race_stop(run);
    cancel_call(&run->timeout_call);
    tw__net_unregister(&run->closer);
    tw_reactor_remove_writer(run->r, fd);
    tw__run_trace(run, winner, TW_ATTEMPT_WON);
    int rc = 0;
    uint32_t flags = TW_T_CLIENT | (winner->address.type != TW_ADDRESS_UNIX ? TW_T_TCP : 0);
    tw_transport *t = tw__stream_new(run->net, fd, flags, &rc);
    if (!t)
        tw_reactor_close_fd(run->r, fd); /* refused before any protocol: the fd is still ours */
    else if ((rc = tw__stream_build(t, run->factory, &winner->address)) < 0)
        t = NULL; /* the transport is gone, and its fd closed */
    if (!t) {
        run->phase = TW__RUN_RACING; /* so that the failure runs its course */
        tw__run_fail(run, tw__build_failure(rc));
        return;
    }
    tw__stream_start_then(t, made, run);
    run->phase = TW__RUN_DONE; /* the transport has the factory's use now */
}

/* ---- starting -------------------------------------------------------------------------------- */

static char *copy_text(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    *ok = *ok && c;
    return c;
}

static tw__connect_run *run_new(const tw__connect_spec *spec, tw_factory *factory)
{
    tw__connect_run *run = calloc(1, sizeof *run);
    if (!run)
        return NULL;
    bool ok = true;
    run->name = copy_text(spec->name, &ok);
    run->host = copy_text(spec->host, &ok);
    if (!ok) {
        run_free(run);
        return NULL;
    }
    run->r = spec->r;
    run->factory = factory;
    run->port = spec->port;
    run->family = spec->family;
    run->timeout = spec->timeout;
    run->attempt_delay = spec->attempt_delay;
    if (spec->bind) {
        memcpy(&run->bind, spec->bind, spec->bind_len);
        run->bind_len = spec->bind_len;
    }
    run->resolver = spec->resolver;
    run->on_attempt = spec->on_attempt;
    run->on_attempt_ctx = spec->on_attempt_ctx;
    run->opener = spec->opener ? spec->opener : tw__open_connecting;
    run->opener_ctx = spec->opener_ctx;
    run->began_ns = tw_reactor_now(spec->r);
    run->resolve = spec->resolve;
    run->phase = spec->resolve ? TW__RUN_RESOLVING : TW__RUN_RACING;
    return run;
}

/* The first steps, with the run held: the factory's start, the timeout, resolving or racing. */
static void run_begin(tw__connect_run *run, const tw__connect_spec *spec)
{
    int rc = tw_factory_do_start(run->factory);
    if (rc < 0) {
        tw__run_fail(run, tw_failure_from_errno(rc, "start_factory"));
        return;
    }
    run->factory_started = true;
    if (run->timeout > 0 &&
        !(run->timeout_call = tw_call_later(run->r, run->timeout, timeout_fired, run, &rc))) {
        tw__run_fail(run, tw_failure_from_errno(rc, "connect"));
        return;
    }
    if (run->resolve)
        begin_resolving(run);
    else
        tw__race_begin(run, spec->addresses, spec->count);
}

tw_deferred *tw__connect_start(const tw__connect_spec *spec, tw_factory *factory, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    tw__connect_run *run = run_new(spec, factory);
    if (!run) {
        *err = -ENOMEM;
        return NULL;
    }
    int rc = 0;
    if (!(run->net = tw__net_acquire(spec->r, &rc)) ||
        !(run->d = tw_deferred_new_with_canceller(spec->r, cancel_run, run, &rc))) {
        run_free(run);
        *err = rc;
        return NULL;
    }
    tw__net_register(run->net, &run->closer, shutdown_fired);
    tw_deferred *d = tw_deferred_ref(run->d); /* the caller's */
    tw__run_hold(run);
    run_begin(run, spec);
    tw__run_release(run);
    return d;
}

/* ---- helpers --------------------------------------------------------------------------------- */

tw_failure *tw__connect_failure(int code, const char *fmt, ...)
{
    tw_failure *named = tw_failure_from_errno(code, NULL);
    const char *type = named ? tw_failure_type(named) : TW_CONNECT_ERROR;
    if (strcmp(type, "OSError") == 0)
        type = TW_CONNECT_ERROR; /* as Twisted's getConnectError */
    char text[TW__FAILURE_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    tw_failure *f = tw_failure_new(type, code, "%s", text);
    if (named)
        tw_failure_unref(named);
    return f;
}

tw_deferred *tw__failed(tw_reactor *r, tw_failure *f, int *err)
{
    tw_deferred *d = tw_fail(r, f, err);
    if (!d && f)
        tw_failure_unref(f);
    return d;
}

const char *tw__address_text(const tw_address *a)
{
    return a->type == TW_ADDRESS_UNIX ? a->path : a->host;
}
