/* The run every server subcommand shares: --reactors N reactors, each listening on every --listen
 * endpoint (SO_REUSEPORT spreads the connections when N > 1), the main thread's with the signal
 * handlers, the others on threads of their own; and a shutdown in order across all of them. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

typedef struct serve_run serve_run;

/* One reactor and what it serves. The main thread sets it up and tears it down; in between it
 * belongs to its own thread, except the fields marked "main thread". */
typedef struct worker {
    serve_run *run;
    unsigned index;
    tw_reactor *r;
    tw_factory factory, stdio_factory; /* copies of the templates */
    tw_factory *accepting;             /* the factory its ports build with */
    tw_port *ports[TWINED_LISTEN_MAX];
    bool set_up;                       /* the setup hook ran: the teardown hook is owed */
    pthread_t thread;
    bool started;                      /* main thread: the thread runs */
    int run_error;                     /* what tw_reactor_run returned */
    bool ended, quiet;                 /* main thread: its run is over; it stopped accepting */
} worker;

struct serve_run {
    twined_listeners *l;
    unsigned n;
    worker *workers; /* workers[0] is the main thread's */
    int status;
    bool stopping;   /* main thread: the shutdown has begun */
    unsigned unquiet; /* main thread: reactors still accepting during the shutdown, plus one */
};

/* ---- listening ---------------------------------------------------------------------------------- */

static void stop_listening(worker *w)
{
    for (size_t i = 0; i < w->run->l->count; i++) {
        tw_port_free(w->ports[i]); /* stops it first if the shutdown has not */
        w->ports[i] = NULL;
    }
}

/* The port the main reactor got for endpoint i, so that a port 0 is the same port everywhere. */
static uint16_t first_port(const serve_run *s, size_t i)
{
    tw_address host;
    return tw_port_get_host(s->workers[0].ports[i], &host) == 0 ? host.port : 0;
}

static int start_listening(worker *w)
{
    twined_listeners *l = w->run->l;
    for (size_t i = 0; i < l->count; i++) {
        tw_server_description d = l->endpoints[i];
        bool stdio = d.type == TW_ENDPOINT_STDIO;
        if (w->run->n > 1) {
            d.reuse_port = true;
            if (w->index > 0 && d.port == 0)
                d.port = first_port(w->run, i);
        }
        int status = twined_listen(w->r, &d, l->text[i], stdio ? &w->stdio_factory : w->accepting,
                                   &w->ports[i]);
        if (status != 0)
            return status;
    }
    return 0;
}

/* unix: and stdio: have one socket file and one stdin: they cannot be bound once per reactor. */
static int check_sharing(const twined_listeners *l)
{
    for (size_t i = 0; i < l->count && l->reactors > 1; i++)
        if (l->endpoints[i].type == TW_ENDPOINT_UNIX || l->endpoints[i].type == TW_ENDPOINT_STDIO)
            return twined_usage_error(l->command, "--listen '%s' can't be shared by --reactors %u "
                                      "(only tcp: and tcp6: can)", twined_show(l->text[i]).text,
                                      l->reactors);
    return 0;
}

/* ---- the shutdown, in order ---------------------------------------------------------------------
 * The main reactor's "before shutdown" trigger holds its shutdown, closes its ports and asks every
 * other reactor to close its ports; once each has said so (or its run is over), every other
 * reactor is stopped (its connections close) and the hold is released. So no reactor accepts a
 * connection while another is closing its own. */

static int worker_stop(void *arg)
{
    worker *w = arg;
    tw_reactor_stop(w->r); /* not running (any more) is fine */
    return 0;
}

static void stop_workers(serve_run *s)
{
    for (unsigned i = 1; i < s->n; i++)
        if (s->workers[i].started && !s->workers[i].ended)
            tw_call_from_thread(s->workers[i].r, worker_stop, &s->workers[i]);
}

/* Main thread: one reactor fewer accepts; the last one lets the connections be closed. */
static void settle(serve_run *s)
{
    if (--s->unquiet > 0)
        return;
    stop_workers(s);
    tw_reactor_release_shutdown(s->workers[0].r);
}

static void became_quiet(worker *w)
{
    if (w->run->stopping && !w->quiet) {
        w->quiet = true;
        settle(w->run);
    }
}

static int worker_accepting_stopped(void *arg)
{
    became_quiet(arg);
    return 0;
}

static int worker_stop_accepting(void *arg)
{
    worker *w = arg;
    stop_listening(w);
    if (tw_call_from_thread(w->run->workers[0].r, worker_accepting_stopped, w) < 0)
        tw_reactor_stop(w->r); /* the main thread will not hear of it: stop now rather than hang */
    return 0;
}

static int main_before_shutdown(void *arg)
{
    serve_run *s = arg;
    worker *main_worker = &s->workers[0];
    s->stopping = true;
    stop_listening(main_worker);
    tw_reactor_hold_shutdown(main_worker->r);
    s->unquiet = 1; /* this trigger's own: no answer settles it before all are asked */
    for (unsigned i = 1; i < s->n; i++) {
        worker *w = &s->workers[i];
        if (!w->started || w->ended) {
            w->quiet = true;
            continue;
        }
        s->unquiet++;
        if (tw_call_from_thread(w->r, worker_stop_accepting, w) < 0)
            became_quiet(w);
    }
    settle(s);
    return 0;
}

/* Main thread: another reactor's run is over, by its shutdown or by a failure of its own. */
static int worker_ended(void *arg)
{
    worker *w = arg;
    serve_run *s = w->run;
    w->ended = true;
    if (w->run_error < 0) {
        twined_note("reactor %u of %u: %s", w->index + 1, s->n, tw_strerror(w->run_error));
        s->status = TWINED_EXIT_FAILURE;
    }
    if (!s->stopping)
        tw_reactor_stop(s->workers[0].r); /* one reactor down takes the server down */
    became_quiet(w);
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    w->run_error = tw_reactor_run(w->r);
    /* The main thread frees this reactor only after joining this thread, and frees its own
     * after joining every thread: both reactors outlive this call. */
    tw_call_from_thread(w->run->workers[0].r, worker_ended, w);
    return NULL;
}

/* ---- setting up and tearing down ----------------------------------------------------------------- */

/* Signals are caught before the first "listening" line, so that a SIGTERM sent as soon as it is
 * read already stops twined in order. */
static int prepare_main(serve_run *s, tw_reactor *r)
{
    int err = twined_reactor_setup(r); /* the log (twined says why it stops), --debug */
    if (err == 0)
        err = tw_reactor_install_signal_handlers(r);
    if (err == 0) {
        long id = tw_reactor_add_trigger(r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN,
                                         main_before_shutdown, s);
        err = id < 0 ? (int)id : 0;
    }
    return err;
}

/* A reactor stopped other than through the main one still stops accepting first. */
static int worker_before_shutdown(void *arg)
{
    stop_listening(arg);
    return 0;
}

static int prepare_worker(worker *w)
{
    int err = twined_reactor_setup_worker(w->r);
    if (err == 0) {
        long id = tw_reactor_add_trigger(w->r, TW_PHASE_BEFORE, TW_EVENT_SHUTDOWN,
                                         worker_before_shutdown, w);
        err = id < 0 ? (int)id : 0;
    }
    return err;
}

static int open_worker(serve_run *s, worker *w)
{
    twined_listeners *l = s->l;
    int err = 0;
    w->r = tw_reactor_new(&err);
    if (!w->r) {
        twined_note("cannot start the reactor: %s", tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    if (l->factory)
        w->factory = (tw_factory){.ops = l->factory->ops, .user = l->factory->user};
    if (l->stdio_factory)
        w->stdio_factory = (tw_factory){.ops = l->stdio_factory->ops,
                                        .user = l->stdio_factory->user};
    w->accepting = &w->factory;
    err = w->index == 0 ? prepare_main(s, w->r) : prepare_worker(w);
    if (err < 0) {
        twined_note("cannot set up the reactor: %s", tw_strerror(err));
        return TWINED_EXIT_FAILURE;
    }
    w->set_up = true;
    int status = l->setup ? l->setup(l->arg, w->r, w->index, &w->accepting) : 0;
    return status != 0 ? status : start_listening(w);
}

static void close_worker(serve_run *s, worker *w)
{
    if (!w->r)
        return;
    if (w->index == 0)
        tw_reactor_uninstall_signal_handlers(w->r);
    stop_listening(w);
    if (w->set_up && s->l->teardown)
        s->l->teardown(s->l->arg, w->r, w->index);
    if (w->index == 0)
        twined_reactor_teardown(w->r);
    tw_reactor_free(w->r); /* closes what is still open */
    w->r = NULL;
}

/* The other reactors' threads, with the signals the main reactor handles blocked: they reach it
 * through its self-pipe whichever thread takes them, but a blocked thread is never interrupted. */
static int start_threads(serve_run *s)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = 0;
    for (unsigned i = 1; i < s->n && rc == 0; i++) {
        rc = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
        s->workers[i].started = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        twined_note("cannot start a reactor's thread: %s", tw_strerror(-rc));
        return TWINED_EXIT_FAILURE;
    }
    return 0;
}

static void join_threads(serve_run *s)
{
    stop_workers(s); /* they normally are already; a failed start or run stops them here */
    for (unsigned i = 1; i < s->n; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].thread, NULL);
}

static int open_all(serve_run *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        int status = open_worker(s, &s->workers[i]);
        if (status != 0)
            return status;
    }
    return 0;
}

/* Once every reactor's thread runs, so that a "listening" line means served. */
static void announce(serve_run *s)
{
    for (size_t i = 0; i < s->l->count; i++)
        twined_announce(s->workers[0].ports[i]); /* the others listen on the same addresses */
}

int twined_serve(twined_listeners *l)
{
    int status = check_sharing(l);
    if (status != 0)
        return status;
    serve_run s = {.l = l, .n = l->reactors ? l->reactors : 1};
    s.workers = calloc(s.n, sizeof *s.workers);
    if (!s.workers) {
        twined_note("cannot start: %s", tw_strerror(-ENOMEM));
        return TWINED_EXIT_FAILURE;
    }
    for (unsigned i = 0; i < s.n; i++)
        s.workers[i] = (worker){.run = &s, .index = i};
    status = open_all(&s);
    if (status == 0)
        status = start_threads(&s);
    if (status == 0)
        announce(&s);
    int err;
    if (status == 0 && (err = tw_reactor_run(s.workers[0].r)) < 0) {
        twined_note("%s: %s", l->command, tw_strerror(err));
        status = TWINED_EXIT_FAILURE;
    }
    join_threads(&s);
    for (unsigned i = 0; i < s.n; i++)
        close_worker(&s, &s.workers[i]);
    free(s.workers);
    return status != 0 ? status : s.status;
}
