/* Shared helpers for tests over real sockets: a recording protocol and its factory (what arrived,
 * which callbacks ran and with what reason), an echo factory, loopback client sockets, and a
 * bounded "run until" loop. Any test binary may use them. */
#ifndef TWINE_TESTS_NET_H
#define TWINE_TESTS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <twine/twine.h>

#include "reactor_test.h"

/* One connection's protocol, recorded. The factory copies its template into each new peer. */
typedef struct tw_test_peer tw_test_peer;
struct tw_test_peer {
    /* configuration */
    bool echo;               /* write back what arrives */
    bool half_close;         /* provide read/write_connection_lost (half-closeable) */
    bool record;             /* keep what arrives in data/len (default on) */
    size_t consume_at_most;  /* data_received consumes at most this many (0: everything) */
    size_t consume_min;      /* ... and nothing until at least this many are presented */
    int data_error;          /* data_received returns this (negative) instead */
    const void *send_on_made;
    size_t send_on_made_len;
    bool lose_on_made;       /* lose_connection right after send_on_made */
    bool abort_on_data;      /* abort_connection from data_received */
    void (*on_data)(tw_test_peer *p, const char *data, size_t len); /* extra hook */
    void (*on_read_lost)(tw_test_peer *p);
    /* record */
    tw_transport *transport; /* NULL after connection_lost */
    char *data;
    size_t len, cap;
    size_t calls;            /* data_received calls */
    size_t last_presented;   /* len argument of the last data_received */
    int made, lost, read_lost, write_lost, destroyed;
    bool lost_inside_data;   /* connection_lost ran while data_received was running */
    bool in_data;
    char reason_type[40];
    int reason_code;
    tw_address peer_addr;    /* as build_protocol saw it */
    void *user;
};

typedef struct {
    tw_factory factory;
    tw_test_peer template;
    tw_test_peer **peers;
    size_t npeers, cap;
    int refuse;              /* build_protocol returns this when negative */
    int started, stopped;    /* start_factory / stop_factory calls */
    int failed;              /* client_connection_failed calls */
    char fail_type[40];
    int fail_code;
} tw_test_factory;

/* A factory of recording peers (template.record on). Free with tw_test_factory_free once the
 * connections are gone. */
void tw_test_factory_init(tw_test_factory *f);
void tw_test_factory_free(tw_test_factory *f);
/* Peers whose connection_lost / connection_made ran. */
size_t tw_test_factory_lost(const tw_test_factory *f);
size_t tw_test_factory_made(const tw_test_factory *f);
tw_test_peer *tw_test_factory_last(const tw_test_factory *f);

/* What a socket test starts from: a reactor whose log is captured, a controllable clock (unused
 * unless a test installs it) and a server and a client factory of recording peers. A test file's
 * own fixture struct holds one as its first member, so the setup and teardown below serve any of
 * them. */
typedef struct {
    tw_reactor *r;
    tw_test_log log;
    tw_test_clock clock;
    tw_test_factory server, client;
    tw_port *port;           /* a port the test listens on, if any: the teardown frees it */
} tw_test_net_env;

/* A cmocka setup for a fixture struct of size bytes whose first member is a tw_test_net_env:
 * allocates it zeroed, makes the reactor and the two factories and stores it in *state. 0, or -1
 * (the test is reported as not set up) when the fixture or the reactor cannot be made. */
int tw_test_net_fixture_setup(void **state, size_t size);
/* The matching cmocka teardown: frees the env's port if one is set, asserts that no transport is
 * left open, then frees the reactor (which destroys what is left of the peers' protocols), the
 * factories, the log and the fixture. */
int tw_test_net_fixture_teardown(void **state);

/* Runs reactor turns until cond(arg) or timeout seconds of real time pass; returns cond(arg).
 * Each turn waits for events (at most 50 ms), so this never spins. */
bool tw_test_run_until(tw_reactor *r, bool (*cond)(void *arg), void *arg, double timeout);
/* Conditions for tw_test_run_until on a tw_test_factory. */
bool tw_test_all_lost(void *factory);       /* made > 0 and every made peer lost */
bool tw_test_failed(void *factory);         /* a client connection failed */
/* ... and on a count: at least want peers of factory made. */
typedef struct {
    tw_test_factory *factory;
    size_t want;
} tw_test_made_count;
bool tw_test_made_at_least(void *made_count);

/* Schedules tw_reactor_stop for the next turn and runs r until its shutdown is over: returns what
 * tw_reactor_run returned. */
int tw_test_run_to_shutdown(tw_reactor *r);

/* ---- a factory of protocol connections for end-to-end tests ---------------------------------- */

/* The factory gives every connection a protocol of its own: a fresh zeroed block of conn_size bytes
 * as the protocol's user, set up by init_conn(conn, user), fed by data_received and freed with the
 * protocol. A framing test puts its receiver first in the block and passes the receiver's protocol
 * adapter (tw_..._protocol_data_received), which finds the receiver in p->user. Connect it to a
 * string transport (testing.h) or listen with it. */
typedef struct {
    tw_factory factory;
    tw_protocol_ops protocol_ops; /* a test may add hooks such as connection_lost */
    size_t conn_size;
    void (*init_conn)(void *conn, void *user);
    void *user;
} tw_test_conn_factory;

void tw_test_conn_factory_init(tw_test_conn_factory *cf, size_t conn_size,
                               void (*init_conn)(void *conn, void *user),
                               ssize_t (*data_received)(tw_protocol *p, const char *data,
                                                        size_t len),
                               void *user);

/* A string transport with a protocol of cf, on r; fails the running test when it cannot be made. */
tw_string_transport *tw_test_conn_open(tw_reactor *r, tw_test_conn_factory *cf);
/* Feeds data to st one byte per call, as a peer trickling it would. Returns the bytes fed. */
size_t tw_test_feed_bytewise(tw_string_transport *st, const char *data, size_t len);
/* Is st's connection closed (its connection_lost has run)? */
bool tw_test_conn_closed(const tw_string_transport *st);

/* The port number a TCP port listens on. */
uint16_t tw_test_port_number(const tw_port *p);
/* A blocking loopback TCP client connected to port (127.0.0.1), or -errno. */
int tw_test_tcp_client(uint16_t port);
/* A loopback TCP port nobody listens on (bound, then closed). */
uint16_t tw_test_closed_port(void);
/* A listener on 127.0.0.1 whose backlog is full, so that a new connect to it stays in progress
 * (its SYNs are dropped): returns its port; the caller closes *listener and *filler. */
uint16_t tw_test_full_listener(int *listener, int *filler);
/* A blocking UNIX client connected to path, or -errno. */
int tw_test_unix_client(const char *path);
/* Reads exactly n bytes from a blocking fd into buf: n, or what arrived before EOF/error. */
size_t tw_test_read_full(int fd, void *buf, size_t n);
/* A unique path for a UNIX socket under /tmp (buf of at least 108 bytes). */
void tw_test_unix_path(char *buf, size_t size, const char *tag);
/* Skips the running test, saying why, when fds at or above limit cannot be had here. Call it before
 * setting anything up. */
void tw_test_skip_unless_fds_past(int limit);
/* Can a TCP socket bind ::1 here? Tests of IPv6 skip themselves when it cannot. */
bool tw_test_ipv6_loopback_available(void);
/* Fills buf with deterministic pseudo-random bytes. */
void tw_test_fill_random(void *buf, size_t n, uint32_t seed);

#endif
