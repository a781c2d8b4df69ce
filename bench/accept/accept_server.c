/* The twine side of bench/accept: a TCP port on 127.0.0.1 whose protocol closes every connection in
 * connection_made, so that what a connection costs the server is little more than accepting it.
 * It measures itself over a window and prints one RESULT line (bench/lib/bench.h format). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <twine/twine.h>

#include "bench.h"

/* Longest a turn may wait: the window's end is checked between turns even if the load stalls. */
#define SERVER_TURN_MAX_S 0.05
/* A run whose load never arrives is broken, not slow. */
#define SERVER_FIRST_CONN_MAX_S 10.0

typedef struct {
    unsigned max_accepts; /* 0: the port's default (adaptive, up to TW_PORT_ACCEPTS_MAX) */
    int backlog;
    double warmup, seconds;
    const char *load, *pin;
} server_opts;

/* Counters at one instant; the RESULT line is the difference of two of these. */
typedef struct {
    int64_t wall_ns, cpu_ns;
    uint64_t accepted, wakes;
} server_snap;

static int close_at_once(tw_protocol *p)
{
    tw_transport_lose_connection(p->transport);
    return 0;
}

static const tw_protocol_ops closer_ops = {.connection_made = close_at_once};

static int build_closer(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    (void)peer;
    out->ops = &closer_ops;
    return 0;
}

static const tw_factory_ops closer_factory_ops = {.build_protocol = build_closer};

static double arg_seconds(const char *s, const char *name)
{
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || !(v > 0))
        bench_fail("accept_server: %s must be a positive number of seconds, not '%s'", name, s);
    return v;
}

static void parse_args(int argc, char **argv, server_opts *o)
{
    *o = (server_opts){.backlog = 4096, .warmup = 0.2, .seconds = 1.0, .load = "-", .pin = "-"};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--max-accepts") == 0)
            o->max_accepts = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(k, "--backlog") == 0)
            o->backlog = atoi(v);
        else if (strcmp(k, "--warmup") == 0)
            o->warmup = arg_seconds(v, k);
        else if (strcmp(k, "--seconds") == 0)
            o->seconds = arg_seconds(v, k);
        else if (strcmp(k, "--load") == 0)
            o->load = v;
        else if (strcmp(k, "--pin") == 0)
            o->pin = v;
        else
            bench_fail("accept_server: unknown option %s", k);
    }
    if (argc % 2 == 0)
        bench_fail("accept_server: options come in pairs (--name value)");
}

/* One turn; counts it as a wake-up of the port when it accepted something. With this protocol no
 * connection stays watched (the signal pipe fires only at the end), and a backend reports the
 * listening socket at most once per wait, so the turns that accepted are exactly the readiness
 * events the port handled. */
static void turn(tw_reactor *r, tw_port *port, server_snap *s)
{
    uint64_t before = tw_port_accepted(port);
    if (tw_reactor_iterate(r, SERVER_TURN_MAX_S) < 0)
        bench_fail("accept_server: tw_reactor_iterate failed");
    if (tw_reactor_exit_signal(r))
        bench_fail("accept_server: signalled before the measured window closed");
    uint64_t after = tw_port_accepted(port);
    if (after != before)
        s->wakes++;
    s->accepted = after;
}

static void snap_times(server_snap *s)
{
    s->wall_ns = bench_wall_ns();
    s->cpu_ns = bench_cpu_ns();
}

static void run_until(tw_reactor *r, tw_port *port, server_snap *s, int64_t deadline_ns)
{
    while (bench_wall_ns() < deadline_ns)
        turn(r, port, s);
    snap_times(s);
}

static void report(const server_opts *o, const server_snap *a, const server_snap *b)
{
    double secs = (double)(b->wall_ns - a->wall_ns) / 1e9;
    double conns = (double)(b->accepted - a->accepted);
    double wakes = (double)(b->wakes - a->wakes);
    if (conns <= 0)
        bench_fail("accept_server: no connection accepted in the measured window");
    bench_result_begin(o->max_accepts == 1 ? "one" : "adaptive", tw_reactor_backend());
    bench_result_str("load", o->load);
    bench_result_str("pin", o->pin);
    bench_result_num("conns_s", conns / secs);
    bench_result_num("cpu_ns", (double)(b->cpu_ns - a->cpu_ns) / conns);
    bench_result_num("per_wake", wakes > 0 ? conns / wakes : 0);
    bench_result_num("wakes_s", wakes / secs);
    bench_result_num("conns", conns);
    bench_result_end();
}

int main(int argc, char **argv)
{
    server_opts o;
    parse_args(argc, argv, &o);
    int err = 0;
    tw_reactor *r = tw_reactor_new(&err);
    if (!r)
        bench_fail("accept_server: tw_reactor_new: %s", tw_strerror(err));
    tw_factory factory = {.ops = &closer_factory_ops};
    tw_port *port = tw_listen_tcp(r, 0, "127.0.0.1", o.backlog, &factory, &err);
    if (!port)
        bench_fail("accept_server: tw_listen_tcp: %s", tw_strerror(err));
    if (o.max_accepts && tw_port_set_max_accepts(port, o.max_accepts) < 0)
        bench_fail("accept_server: tw_port_set_max_accepts(%u) refused", o.max_accepts);
    if ((err = tw_reactor_install_signal_handlers(r)) < 0)
        bench_fail("accept_server: signal handlers: %s", tw_strerror(err));
    tw_address host;
    tw_port_get_host(port, &host);
    printf("PORT %u\n", (unsigned)host.port);
    fflush(stdout);

    server_snap s = {0};
    int64_t give_up = bench_wall_ns() + (int64_t)(SERVER_FIRST_CONN_MAX_S * 1e9);
    while (s.accepted == 0 && bench_wall_ns() < give_up)
        turn(r, port, &s);
    if (s.accepted == 0)
        bench_fail("accept_server: no client connected within %g s", SERVER_FIRST_CONN_MAX_S);
    run_until(r, port, &s, bench_wall_ns() + (int64_t)(o.warmup * 1e9));
    server_snap start = s;
    run_until(r, port, &s, start.wall_ns + (int64_t)(o.seconds * 1e9));
    report(&o, &start, &s);
    /* Serve on until SIGTERM, so the client never meets a closed port: a refusal it sees is real. */
    if (tw_reactor_run(r) < 0)
        bench_fail("accept_server: tw_reactor_run failed");
    tw_port_free(port);
    tw_reactor_free(r);
    return 0;
}
