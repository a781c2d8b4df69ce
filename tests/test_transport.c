/* Tests for stream transports over real loopback TCP and UNIX sockets: exact round trips from 1
 * byte to 8 MiB, many concurrent clients, the consumed-bytes rule, writes (copied, sequences,
 * lent), closing reasons (clean, reset, abort, protocol error), half-close, producers and
 * back-pressure against a peer that does not read, fd leaks, and the reactor shutdown closing
 * everything. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"
#include "transport/net.h" /* the tail's capacity and the limits on what is held */

typedef struct {
    tw_test_net_env net; /* reactor, captured log, server and client factories, the port */
    uint16_t portno;
} fixture;

static int setup(void **state)
{
    return tw_test_net_fixture_setup(state, sizeof(fixture));
}

static int teardown(void **state)
{
    return tw_test_net_fixture_teardown(state);
}

static void listen_tcp_backlog(fixture *f, int backlog)
{
    int err = 0;
    f->net.port = tw_listen_tcp(f->net.r, 0, "127.0.0.1", backlog, &f->net.server.factory, &err);
    assert_non_null(f->net.port);
    f->portno = tw_test_port_number(f->net.port);
    assert_true(f->portno > 0);
}

static void listen_tcp(fixture *f)
{
    listen_tcp_backlog(f, 0);
}

static void connect_client(fixture *f)
{
    int err = 0;
    assert_non_null(
        tw_connect_tcp(f->net.r, "127.0.0.1", f->portno, 5, &f->net.client.factory, &err));
}

static void close_all(fixture *f)
{
    for (size_t i = 0; i < f->net.server.npeers; i++)
        if (f->net.server.peers[i]->transport)
            tw_transport_lose_connection(f->net.server.peers[i]->transport);
    for (size_t i = 0; i < f->net.client.npeers; i++)
        if (f->net.client.peers[i]->transport)
            tw_transport_lose_connection(f->net.client.peers[i]->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    if (f->net.client.npeers)
        assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, 5));
}

/* ---- round trips ----------------------------------------------------------------------------- */

typedef struct {
    tw_test_peer *peer;
    size_t want;
} want_bytes;

static bool got_bytes(void *arg)
{
    want_bytes *w = arg;
    return w->peer && w->peer->len >= w->want;
}

/* data_received was last given at least want bytes (the tail and the new ones). */
static bool presented(void *arg)
{
    want_bytes *w = arg;
    return w->peer->last_presented >= w->want;
}

static bool client_made(void *arg)
{
    return tw_test_factory_made(arg) > 0;
}

static void release_count(void *arg)
{
    (*(int *)arg)++;
}

/* An echo server and a twine client that writes the payload (lent) and reads the echo back. */
static void round_trip(fixture *f, size_t size, uint32_t seed)
{
    char *payload = malloc(size);
    tw_test_fill_random(payload, size, seed);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.client, 5));
    tw_test_peer *c = tw_test_factory_last(&f->net.client);
    int released = 0;
    size_t before = c->len;
    assert_int_equal(tw_transport_write_lent(c->transport, payload, size, release_count, &released),
                     0);
    want_bytes w = {c, before + size};
    assert_true(tw_test_run_until(f->net.r, got_bytes, &w, 30));
    assert_int_equal(c->len, before + size);
    assert_memory_equal(c->data + before, payload, size);
    assert_int_equal(released, 1);
    free(payload);
}

static void test_round_trip_sizes(void **state)
{
    fixture *f = *state;
    f->net.server.template.echo = true;
    f->net.server.template.record = false;
    listen_tcp(f);
    connect_client(f);
    static const size_t sizes[] = {1, 2, 100, 4095, 65535, 65536, 65537, 300000, 1u << 20,
                                   8u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        round_trip(f, sizes[i], (uint32_t)i + 7);
    close_all(f);
    assert_int_equal(f->net.client.peers[0]->lost, 1);
    assert_string_equal(f->net.client.peers[0]->reason_type, TW_CONNECTION_DONE);
    assert_int_equal(f->net.server.peers[0]->lost, 1);
    assert_string_equal(f->net.server.peers[0]->reason_type, TW_CONNECTION_DONE);
}

static void test_round_trip_unix(void **state)
{
    fixture *f = *state;
    char path[108];
    tw_test_unix_path(path, sizeof path, "rt");
    f->net.server.template.echo = true;
    int err = 0;
    f->net.port = tw_listen_unix(f->net.r, path, 0, &f->net.server.factory, &err);
    assert_non_null(f->net.port);
    assert_non_null(tw_connect_unix(f->net.r, path, 5, &f->net.client.factory, &err));
    round_trip(f, 1, 1);
    round_trip(f, 1u << 20, 2);
    tw_test_peer *c = f->net.client.peers[0];
    assert_int_equal(tw_transport_set_tcp_nodelay(c->transport, true), -EOPNOTSUPP);
    tw_address a;
    assert_int_equal(tw_transport_get_peer(c->transport, &a), 0);
    assert_int_equal(a.type, TW_ADDRESS_UNIX);
    assert_string_equal(a.path, path);
    close_all(f);
    assert_int_equal(tw_port_stop_listening(f->net.port), 0);
    assert_int_equal(access(path, F_OK), -1); /* the socket file is removed */
}

/* Writes sent in several pieces arrive in order; write_sequence sends iovecs in order. */
static void test_write_sequence(void **state)
{
    fixture *f = *state;
    f->net.server.template.echo = true;
    listen_tcp(f);
    connect_client(f);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.client, 5));
    tw_test_peer *c = f->net.client.peers[0];
    struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
    assert_int_equal(tw_transport_write_sequence(c->transport, iov, 3), 0);
    assert_int_equal(tw_transport_write(c->transport, "g", 1), 0);
    assert_int_equal(tw_transport_write(c->transport, NULL, 0), 0);
    assert_int_equal(tw_transport_write(c->transport, NULL, 3), -EINVAL);
    assert_int_equal(tw_transport_write_sequence(c->transport, NULL, 2), -EINVAL);
    assert_int_equal(tw_transport_write_sequence(c->transport, iov, -1), -EINVAL);
    want_bytes w = {c, 7};
    assert_true(tw_test_run_until(f->net.r, got_bytes, &w, 5));
    assert_memory_equal(c->data, "abcdefg", 7);
    close_all(f);
}

/* ---- many clients ---------------------------------------------------------------------------- */

#define MANY_CLIENTS 200

static bool all_clients_got(void *arg)
{
    fixture *f = arg;
    if (f->net.client.npeers < MANY_CLIENTS)
        return false;
    for (size_t i = 0; i < f->net.client.npeers; i++)
        if (f->net.client.peers[i]->len < 64)
            return false;
    return true;
}

static void test_many_concurrent_clients(void **state)
{
    fixture *f = *state;
    f->net.server.template.echo = true;
    listen_tcp_backlog(f,
                       2 * MANY_CLIENTS); /* all connects at once: none may wait for a SYN retry */
    static char msg[MANY_CLIENTS][64];
    for (int i = 0; i < MANY_CLIENTS; i++) {
        tw_test_fill_random(msg[i], 64, (uint32_t)i + 100);
        connect_client(f);
    }
    /* each client sends its own message once connected */
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.client, 5));
    size_t sent = 0;
    for (int tries = 0; sent < MANY_CLIENTS && tries < 1000; tries++) {
        for (size_t i = sent; i < f->net.client.npeers; i++) {
            tw_test_peer *p = f->net.client.peers[i];
            if (!p->made)
                break;
            tw_transport_write(p->transport, msg[i], 64);
            sent = i + 1;
        }
        tw_reactor_iterate(f->net.r, 0.05);
    }
    assert_int_equal(sent, MANY_CLIENTS);
    assert_true(tw_test_run_until(f->net.r, all_clients_got, f, 10));
    for (int i = 0; i < MANY_CLIENTS; i++) {
        assert_int_equal(f->net.client.peers[i]->len, 64);
        assert_memory_equal(f->net.client.peers[i]->data, msg[i], 64);
    }
    assert_int_equal(tw_transport_count(f->net.r), 2 * MANY_CLIENTS);
    close_all(f);
    for (int i = 0; i < MANY_CLIENTS; i++) {
        assert_int_equal(f->net.server.peers[i]->lost, 1);
        assert_int_equal(f->net.server.peers[i]->destroyed, 1);
        assert_int_equal(f->net.client.peers[i]->lost, 1);
    }
}

/* ---- the consumed-bytes rule ----------------------------------------------------------------- */

static void test_unconsumed_tail_presented_again(void **state)
{
    fixture *f = *state;
    f->net.server.template.consume_min = 10; /* nothing until 10 bytes are there */
    f->net.server.template.consume_at_most = 4;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456", 7), 7);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    size_t calls = s->calls;
    while (s->calls == calls)
        tw_reactor_iterate(f->net.r, 0.05);
    assert_int_equal(s->last_presented, 7);
    assert_int_equal(s->len, 0);
    assert_int_equal(write(fd, "789ABC", 6), 6);
    want_bytes w = {s, 4};
    assert_true(tw_test_run_until(f->net.r, got_bytes, &w, 5));
    assert_int_equal(s->last_presented, 13); /* the 7 kept bytes in front of the 6 new ones */
    assert_memory_equal(s->data, "0123", 4);
    /* 9 left: below consume_min, so nothing more until more arrives */
    assert_int_equal(write(fd, "D", 1), 1);
    w.want = 8;
    assert_true(tw_test_run_until(f->net.r, got_bytes, &w, 5));
    assert_int_equal(s->last_presented, 10);
    assert_memory_equal(s->data, "01234567", 8);
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_string_equal(s->reason_type, TW_CONNECTION_DONE);
}

/* A tail longer than half the shared buffer is read into its own buffer and still presented
 * whole. */
static void test_long_unconsumed_tail(void **state)
{
    fixture *f = *state;
    f->net.server.template.consume_min = 200000;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    char *buf = malloc(200000);
    tw_test_fill_random(buf, 200000, 5);
    size_t off = 0;
    while (off < 200000) {
        ssize_t n = write(fd, buf + off, 200000 - off < 30000 ? 200000 - off : 30000);
        assert_true(n > 0);
        off += (size_t)n;
        tw_reactor_iterate(f->net.r, 0.01);
    }
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    want_bytes w = {f->net.server.peers[0], 200000};
    assert_true(tw_test_run_until(f->net.r, got_bytes, &w, 5));
    assert_memory_equal(f->net.server.peers[0]->data, buf, 200000);
    free(buf);
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

/* Sends n bytes of 'x' from a raw client, running the server's reactor while the kernel pushes back
 * (until the server closes); calls watch(arg) after every turn. */
static void send_running(fixture *f, int fd, size_t n, void (*watch)(void *), void *arg)
{
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (size_t sent = 0; sent < n;) {
        size_t want = n - sent < sizeof chunk ? n - sent : sizeof chunk;
        ssize_t k = send(fd, chunk, want, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && errno != EAGAIN)
            break;
        if (k > 0)
            sent += (size_t)k;
        tw_reactor_iterate(f->net.r, k > 0 ? 0 : 0.01);
        if (watch)
            watch(arg);
    }
}

typedef struct {
    tw_test_peer *peer;
    size_t last_cap;
    int growths;
} cap_watch;

static void count_growth(void *arg)
{
    cap_watch *w = arg;
    tw_transport *t = w->peer->transport;
    size_t cap = t && t->ext ? t->ext->tail.cap : 0;
    if (cap > w->last_cap)
        w->growths++;
    w->last_cap = cap;
}

/* An 8 MiB partial frame: the tail's buffer grows by doubling, not by a read's worth each time
 * (which copied the whole tail again at every read: quadratic). */
static void test_unconsumed_tail_grows_geometrically(void **state)
{
    fixture *f = *state;
    f->net.server.template.consume_min = 16u << 20; /* nothing is consumed */
    f->net.server.template.record = false;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    cap_watch w = {f->net.server.peers[0], 0, 0};
    send_running(f, fd, 8u << 20, count_growth, &w);
    want_bytes p = {w.peer, 8u << 20};
    assert_true(tw_test_run_until(f->net.r, presented, &p, 5));
    count_growth(&w);
    assert_true(w.last_cap >= 8u << 20);
    assert_true(w.growths <= 12); /* 32 KiB doubled up to 8 MiB: 8 steps; +32 KiB a read: 256 */
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

/* The reactor-wide bound on held input: over it, the connection that has held a long tail the
 * longest is dropped first; the per-connection bound still holds. */
static void test_unconsumed_total_drops_oldest(void **state)
{
    fixture *f = *state;
    f->net.server.template.consume_min = 16u << 20;
    f->net.server.template.record = false;
    listen_tcp(f);
    tw_net *net = tw__net_find(f->net.r);
    net->tails.total_max = 1u << 20;
    int fds[3];
    const size_t sizes[3] = {300u << 10, 300u << 10, 500u << 10};
    for (int i = 0; i < 3; i++) { /* each held before the next starts: A is the oldest */
        fds[i] = tw_test_tcp_client(f->portno);
        assert_true(fds[i] >= 0);
        for (int k = 0; k < 500 && f->net.server.npeers <= (size_t)i; k++)
            tw_reactor_iterate(f->net.r, 0.01);
        send_running(f, fds[i], sizes[i], NULL, NULL);
        want_bytes p = {f->net.server.peers[i], sizes[i]};
        if (i < 2)
            assert_true(tw_test_run_until(f->net.r, presented, &p, 5));
    }
    tw_test_peer *a = f->net.server.peers[0], *b = f->net.server.peers[1],
                 *c = f->net.server.peers[2];
    want_bytes p = {c, sizes[2]};
    assert_true(tw_test_run_until(f->net.r, presented, &p, 5)); /* C still reads: A made room */
    assert_int_equal(a->lost, 1);
    assert_string_equal(a->reason_type, TW_VALUE_ERROR);
    assert_int_equal(a->reason_code, -ENOBUFS);
    assert_int_equal(b->lost + c->lost, 0);
    /* the per-connection bound: C may not hold more than it */
    net->tails.max = 600u << 10;
    send_running(f, fds[2], 200u << 10, NULL, NULL);
    for (int i = 0; i < 100 && !c->lost; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(c->lost, 1);
    assert_string_equal(c->reason_type, TW_VALUE_ERROR);
    assert_int_equal(c->reason_code, -EMSGSIZE);
    assert_int_equal(b->lost, 0);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

static void test_data_received_error_closes(void **state)
{
    fixture *f = *state;
    f->net.server.template.data_error = -EPROTO;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_int_equal(write(fd, "x", 1), 1);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    assert_int_equal(s->reason_code, -EPROTO);
    assert_int_equal(s->lost, 1);
    assert_true(tw_test_log_contains(&f->net.log, "data_received"));
    char c;
    assert_int_equal(read(fd, &c, 1), 0); /* an orderly close: the peer sees EOF */
    close(fd);
}

/* ---- closing --------------------------------------------------------------------------------- */

/* Twisted's rule: writes after lose_connection are still sent, then ConnectionDone. */
static void test_write_after_lose_connection(void **state)
{
    fixture *f = *state;
    f->net.server.template.send_on_made = "aaaaaaaaaa";
    f->net.server.template.send_on_made_len = 10;
    f->net.server.template.lose_on_made = true;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    char buf[32];
    assert_int_equal(tw_test_read_full(fd, buf, sizeof buf), 10);
    assert_string_equal(s->reason_type, TW_CONNECTION_DONE);
    close(fd);
}

static void lose_then_write(tw_test_peer *p, const char *data, size_t len)
{
    (void)data;
    (void)len;
    tw_transport_write(p->transport, "aaaaaaaaaa", 10);
    tw_transport_lose_connection(p->transport);
    assert_int_equal(tw_transport_write(p->transport, "AFTER", 5), 0);
    tw_transport_lose_connection(p->transport); /* idempotent */
}

static void test_write_after_lose_inside_callback(void **state)
{
    fixture *f = *state;
    f->net.server.template.on_data = lose_then_write;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_int_equal(write(fd, "go", 2), 2);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    char buf[32];
    assert_int_equal(tw_test_read_full(fd, buf, sizeof buf), 15);
    assert_memory_equal(buf, "aaaaaaaaaaAFTER", 15);
    tw_test_peer *s = f->net.server.peers[0];
    assert_string_equal(s->reason_type, TW_CONNECTION_DONE);
    assert_false(s->lost_inside_data);
    assert_int_equal(tw_transport_write(NULL, "x", 1), -EINVAL);
    close(fd);
}

static void test_lose_from_outside_flushes_then_closes(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    size_t big = 4u << 20; /* more than the socket buffers hold: most of it is queued */
    char *buf = malloc(big);
    tw_test_fill_random(buf, big, 9);
    tw_transport_write(s->transport, buf, big);
    assert_true(tw_transport_write_buffer_size(s->transport) > 0);
    tw_transport_lose_connection(s->transport);
    assert_int_equal(s->lost, 0); /* never from inside the call */
    assert_int_equal(tw_transport_write(s->transport, "!", 1), 0);
    char *got = malloc(big + 1);
    size_t n = 0;
    while (n < big + 1) {
        tw_reactor_iterate(f->net.r, 0);
        ssize_t k = recv(fd, got + n, big + 1 - n, MSG_DONTWAIT);
        if (k > 0)
            n += (size_t)k;
        else if (k == 0)
            break;
    }
    assert_int_equal(n, big + 1);
    assert_memory_equal(got, buf, big);
    assert_int_equal(got[big], '!');
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_string_equal(s->reason_type, TW_CONNECTION_DONE);
    free(buf);
    free(got);
    close(fd);
}

static void test_peer_reset(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    assert_string_equal(s->reason_type, TW_CONNECTION_LOST);
    assert_int_equal(s->reason_code, -ECONNRESET);
    assert_int_equal(s->lost, 1);
    assert_int_equal(s->destroyed, 1);
}

static void test_abort_connection(void **state)
{
    fixture *f = *state;
    f->net.server.template.abort_on_data = true;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_int_equal(write(fd, "x", 1), 1);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    assert_false(s->lost_inside_data);
    assert_string_equal(s->reason_type, TW_CONNECTION_ABORTED);
    assert_int_equal(s->lost, 1);
    char c;
    assert_int_equal(read(fd, &c, 1), -1); /* the peer gets a reset, not an EOF */
    assert_int_equal(errno, ECONNRESET);
    close(fd);
}

/* abort from outside: a later turn, dropping the queue; abort + lose + abort are safe. */
static void test_abort_drops_queue_later_turn(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    size_t big = 8u << 20;
    char *buf = malloc(big);
    memset(buf, 'z', big);
    int released = 0;
    tw_transport_write_lent(s->transport, buf, big, release_count, &released);
    assert_int_equal(released, 0);
    tw_transport_abort_connection(s->transport);
    assert_int_equal(released, 1); /* the queue is dropped at once */
    tw_transport_lose_connection(s->transport);
    tw_transport_abort_connection(s->transport);
    assert_int_equal(tw_transport_write(s->transport, "x", 1), -ENOTCONN);
    assert_int_equal(s->lost, 0);
    tw_reactor_iterate(f->net.r, 0);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_int_equal(s->lost, 1);
    assert_string_equal(s->reason_type, TW_CONNECTION_ABORTED);
    free(buf);
    close(fd);
}

/* A lent buffer's release runs while the queue is being written; aborting from it drops the rest of
 * the queue under the writer's feet, which must then stop cleanly. */
typedef struct {
    tw_transport *t;
    int released;
} abort_on_release;

static void release_and_abort(void *arg)
{
    abort_on_release *a = arg;
    a->released++;
    tw_transport_abort_connection(a->t);
}

static void test_abort_from_release_while_writing(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    tw_test_set_nonblocking(fd);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    static char chunk[1 << 20];
    while (tw_transport_write_buffer_size(s->transport) == 0)
        tw_transport_write(s->transport, chunk, sizeof chunk);
    abort_on_release a = {s->transport, 0};
    int released = 0;
    static const char first[] = "first", second[] = "second";
    tw_transport_write_lent(s->transport, first, 5, release_and_abort, &a);
    tw_transport_write_lent(s->transport, second, 6, release_count, &released);
    static char sink[65536];
    for (int i = 0; i < 10000 && !a.released; i++) {
        recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        tw_reactor_iterate(f->net.r, 0.001);
    }
    assert_int_equal(a.released, 1);
    assert_int_equal(released, 1);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_string_equal(s->reason_type, TW_CONNECTION_ABORTED);
    close(fd);
}

/* ---- half-close ------------------------------------------------------------------------------ */

static void reply_and_half_close(tw_test_peer *p)
{
    tw_transport_write(p->transport, "bye", 3);
    tw_transport_lose_write_connection(p->transport);
}

static void test_half_close(void **state)
{
    fixture *f = *state;
    f->net.server.template.half_close = true;
    f->net.server.template.on_read_lost = reply_and_half_close;
    f->net.client.template.half_close = true;
    listen_tcp(f);
    connect_client(f);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.client, 5));
    tw_test_peer *c = f->net.client.peers[0];
    tw_transport_write(c->transport, "hello", 5);
    tw_transport_lose_write_connection(c->transport);
    /* until the write side is shut, writes are still sent (as Twisted's) */
    assert_int_equal(tw_transport_write(c->transport, " again", 6), 0);
    want_bytes w = {c, 3};
    assert_true(tw_test_run_until(f->net.r, got_bytes, &w, 5));
    tw_test_peer *s = f->net.server.peers[0];
    assert_int_equal(s->len, 11);
    assert_memory_equal(s->data, "hello again", 11);
    assert_int_equal(s->read_lost, 1);
    assert_memory_equal(c->data, "bye", 3);
    assert_int_equal(c->write_lost, 1);
    assert_int_equal(tw_transport_write(c->transport, "dropped", 7), -ENOTCONN);
    /* both sides half-closed: nothing closes on its own (as Twisted) */
    for (int i = 0; i < 5; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(c->read_lost, 1);
    assert_int_equal(s->write_lost, 1);
    assert_int_equal(c->lost + s->lost, 0);
    tw_transport_lose_connection(c->transport);
    tw_transport_lose_connection(s->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, 5));
    assert_string_equal(c->reason_type, TW_CONNECTION_DONE);
    assert_string_equal(s->reason_type, TW_CONNECTION_DONE);
}

/* A protocol that is not half-closeable sees the peer's EOF as ConnectionDone. */
static void test_peer_eof_not_half_closeable(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_int_equal(write(fd, "abc", 3), 3);
    shutdown(fd, SHUT_WR);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    assert_int_equal(s->len, 3);
    assert_string_equal(s->reason_type, TW_CONNECTION_DONE);
    assert_int_equal(s->read_lost, 0);
    close(fd);
}

/* ---- back-pressure --------------------------------------------------------------------------- */

static long rss_kib(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (fp)
        fclose(fp);
    return kib;
}

/* An echo server and a client that writes 64 MiB but reads only a little at a time: the server's
 * write buffer never exceeds the high-water mark plus one read, and RSS stays flat. */
static void test_slow_reader_bounded(void **state)
{
    fixture *f = *state;
    f->net.server.template.echo = true;
    f->net.server.template.record = false;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    tw_test_set_nonblocking(fd);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_transport *st = f->net.server.peers[0]->transport;
    const size_t total = 64u << 20, bound = TW_TRANSPORT_HIGH_WATER_DEFAULT +
                                           TW_TRANSPORT_READ_BUFFER_SIZE;
    static char out[65536], in[8192];
    memset(out, 'q', sizeof out);
    size_t sent = 0, got = 0, max_queued = 0;
    long rss0 = rss_kib();
    int stalls = 0;
    while (got < total) {
        ssize_t n = sent < total
                        ? send(fd, out, sizeof out < total - sent ? sizeof out : total - sent,
                               MSG_DONTWAIT | MSG_NOSIGNAL)
                        : 0;
        if (n > 0)
            sent += (size_t)n;
        tw_reactor_iterate(f->net.r, 0);
        size_t q = tw_transport_write_buffer_size(st);
        if (q > max_queued)
            max_queued = q;
        ssize_t k = recv(fd, in, sizeof in, MSG_DONTWAIT); /* the slow reader: 8 KiB per round */
        if (k > 0)
            got += (size_t)k;
        if (n <= 0 && k <= 0 && ++stalls > 1000000)
            break;
    }
    long rss1 = rss_kib();
    assert_int_equal(got, total);
    assert_true(max_queued > 0);
    assert_true(max_queued <= bound);
    assert_true(rss1 - rss0 < 8 * 1024); /* 64 MiB went through; less than 8 MiB of growth */
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

typedef struct {
    int pauses, resumes, stops;
    tw_transport *t;
    bool write_on_resume;
} producer_log;

static int prod_pause(void *self)
{
    ((producer_log *)self)->pauses++;
    return 0;
}

static int prod_resume(void *self)
{
    producer_log *p = self;
    p->resumes++;
    if (p->write_on_resume && p->resumes < 3)
        tw_transport_write(p->t, "pull", 4);
    return 0;
}

static int prod_stop(void *self)
{
    ((producer_log *)self)->stops++;
    return -EIO; /* an error from a producer is logged, nothing more */
}

static const tw_producer_ops prod_ops = {prod_pause, prod_resume, prod_stop};

static void test_streaming_producer_water_marks(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    tw_test_set_nonblocking(fd);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_transport *st = f->net.server.peers[0]->transport;
    producer_log pl = {0};
    tw_producer p = {&prod_ops, &pl};
    assert_int_equal(tw_transport_set_water_marks(st, 100000, 50000), 0);
    assert_int_equal(tw_transport_set_water_marks(st, 10, 20), -EINVAL);
    assert_int_equal(tw_transport_set_water_marks(st, 0, 0), -EINVAL);
    assert_int_equal(tw_transport_register_producer(st, &p, true), 0);
    assert_int_equal(tw_transport_register_producer(st, &p, true), -EBUSY);
    assert_int_equal(tw_transport_register_producer(st, NULL, true), -EINVAL);
    static char chunk[30000];
    /* fill the kernel buffers first so what follows stays queued */
    while (tw_transport_write_buffer_size(st) == 0)
        tw_transport_write(st, chunk, sizeof chunk);
    size_t q0 = tw_transport_write_buffer_size(st);
    while (tw_transport_write_buffer_size(st) <= 100000)
        tw_transport_write(st, chunk, sizeof chunk);
    assert_int_equal(pl.pauses, 1);
    tw_transport_write(st, chunk, sizeof chunk);
    assert_int_equal(pl.pauses, 1); /* once per crossing, not per write */
    assert_int_equal(pl.resumes, 0);
    (void)q0;
    static char sink[65536];
    while (pl.resumes == 0) {
        recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        tw_reactor_iterate(f->net.r, 0.01);
        if (pl.resumes == 0)
            assert_true(tw_transport_write_buffer_size(st) > 50000);
    }
    assert_true(tw_transport_write_buffer_size(st) <= 50000);
    tw_transport_unregister_producer(st);
    tw_transport_unregister_producer(st);
    assert_int_equal(pl.stops, 0);
    /* registered again, then the connection closes: the producer is told to stop */
    assert_int_equal(tw_transport_register_producer(st, &p, true), 0);
    tw_transport_abort_connection(st);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_int_equal(pl.stops, 1);
    close(fd);
}

/* A pull producer is asked for more each time what it wrote has gone out, also when the kernel took
 * its write at once (nothing was ever queued), as Twisted asks at every drain of the buffer. */
static void test_pull_producer(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_transport *st = f->net.server.peers[0]->transport;
    producer_log pl = {.t = st, .write_on_resume = true};
    tw_producer p = {&prod_ops, &pl};
    assert_int_equal(tw_transport_register_producer(st, &p, false), 0);
    assert_int_equal(pl.resumes, 1); /* asked at once */
    char buf[8];
    assert_int_equal(tw_test_read_full(fd, buf, 4), 4);
    /* the write went out at once; the producer is asked again on a later turn, never inside it */
    assert_int_equal(tw_transport_write_buffer_size(st), 0);
    for (int i = 0; i < 100 && pl.resumes < 3; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(pl.resumes, 3); /* it wrote twice; the third ask found it done */
    assert_int_equal(tw_test_read_full(fd, buf, 4), 4);
    assert_memory_equal(buf, "pull", 4);
    for (int i = 0; i < 5; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(pl.resumes, 3); /* a producer that writes nothing is not asked again */
    /* a write that had to wait for the peer: asked again once it has drained */
    static char chunk[1 << 20];
    while (tw_transport_write_buffer_size(st) == 0)
        tw_transport_write(st, chunk, sizeof chunk);
    tw_test_set_nonblocking(fd);
    static char sink[65536];
    while (pl.resumes < 4) {
        recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        tw_reactor_iterate(f->net.r, 0.01);
    }
    assert_int_equal(tw_transport_write_buffer_size(st), 0);
    tw_transport_unregister_producer(st);
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_int_equal(pl.stops, 0);
}

/* A transport as another's producer: pausing it stops its reading. */
static void test_transport_pause_resume_reading(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    tw_producer p = tw_transport_as_producer(s->transport);
    p.ops->pause_producing(p.self);
    assert_int_equal(write(fd, "abc", 3), 3);
    for (int i = 0; i < 5; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(s->len, 0);
    p.ops->resume_producing(p.self);
    want_bytes w = {s, 3};
    assert_true(tw_test_run_until(f->net.r, got_bytes, &w, 5));
    p.ops->stop_producing(p.self); /* = lose_connection */
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_string_equal(s->reason_type, TW_CONNECTION_DONE);
    close(fd);
}

static void pause_after_first_data(tw_test_peer *p, const char *data, size_t len)
{
    (void)data;
    (void)len;
    if (p->calls == 1)
        tw_transport_pause_producing(p->transport);
}

/* A protocol that pauses with bytes left unconsumed gets them again after resume_producing, even
 * though the peer sends nothing more (a paused line receiver's held lines must not stall). */
static void test_resume_presents_held_tail(void **state)
{
    fixture *f = *state;
    f->net.server.template.consume_at_most = 4;
    f->net.server.template.on_data = pause_after_first_data;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_int_equal(write(fd, "0123456789AB", 12), 12);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    want_bytes w = {s, 4};
    assert_true(tw_test_run_until(f->net.r, got_bytes, &w, 5));
    for (int i = 0; i < 5; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(s->calls, 1); /* paused: the 8 held bytes wait */
    tw_transport_resume_producing(s->transport);
    w.want = 8;
    assert_true(tw_test_run_until(f->net.r, got_bytes, &w, 5));
    assert_int_equal(s->last_presented, 8);
    assert_memory_equal(s->data, "01234567", 8);
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

/* A pipelining server: it pauses, answers a request with a reply larger than the high mark (so the
 * transport also pauses its own reading until the reply drains), then resumes. */
static size_t big_reply_len;

static void answer_request(tw_test_peer *p, const char *data, size_t len)
{
    (void)len;
    if (data[0] == 'b') {
        tw_transport_write(p->transport, "B", 1);
        return;
    }
    static char chunk[16384];
    memset(chunk, 'A', sizeof chunk);
    int small = 16384; /* the kernel takes little: most of the reply is queued */
    setsockopt(tw_transport_fd(p->transport), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    tw_transport_pause_producing(p->transport);
    while (tw_transport_write_buffer_size(p->transport) <= TW_TRANSPORT_HIGH_WATER_DEFAULT) {
        tw_transport_write(p->transport, chunk, sizeof chunk);
        big_reply_len += sizeof chunk;
    }
    tw_transport_resume_producing(p->transport);
}

/* "a\nb\n" arrives at once; "b" is held while the write buffer is full and must be presented once
 * it drains, although the peer sends nothing more. */
static void test_held_tail_presented_when_write_pause_clears(void **state)
{
    fixture *f = *state;
    f->net.server.template.consume_at_most = 2; /* one request per call */
    f->net.server.template.on_data = answer_request;
    big_reply_len = 0;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    tw_test_set_nonblocking(fd);
    assert_int_equal(send(fd, "a\nb\n", 4, 0), 4);
    static char got[1u << 20];
    size_t n = 0;
    for (int i = 0; i < 5000 && (n == 0 || n < big_reply_len + 1); i++) {
        tw_reactor_iterate(f->net.r, 0.001);
        ssize_t k = recv(fd, got + n, sizeof got - n, MSG_DONTWAIT);
        if (k > 0)
            n += (size_t)k;
    }
    assert_true(big_reply_len > TW_TRANSPORT_HIGH_WATER_DEFAULT);
    assert_int_equal(n, big_reply_len + 1);
    assert_int_equal(got[n - 1], 'B');
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

static void test_disconnecting(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    assert_false(tw_transport_disconnecting(s->transport));
    assert_false(tw_transport_disconnecting(NULL));
    tw_transport_lose_connection(s->transport);
    assert_true(tw_transport_disconnecting(s->transport));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    close(fd);
}

/* ---- options, addresses, leaks, shutdown ----------------------------------------------------- */

static void test_addresses_and_options(void **state)
{
    fixture *f = *state;
    listen_tcp(f);
    int fd = tw_test_tcp_client(f->portno);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.server, 5));
    tw_test_peer *s = f->net.server.peers[0];
    tw_transport *t = s->transport;
    int v = 0;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(tw_transport_fd(t), IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    assert_true(v != 0); /* on by default */
    assert_int_equal(tw_transport_set_tcp_keepalive(t, true), 0);
    assert_int_equal(getsockopt(tw_transport_fd(t), SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
    assert_true(v != 0);
    assert_int_equal(tw_transport_set_tcp_nodelay(t, false), 0);
    tw_address host, peer;
    assert_int_equal(tw_transport_get_host(t, &host), 0);
    assert_int_equal(tw_transport_get_peer(t, &peer), 0);
    assert_int_equal(host.type, TW_ADDRESS_TCP4);
    assert_int_equal(host.port, f->portno);
    assert_string_equal(peer.host, "127.0.0.1");
    assert_int_equal(peer.port, s->peer_addr.port);
    char text[80], want[80];
    snprintf(want, sizeof want, "tcp:127.0.0.1:%u", (unsigned)f->portno);
    assert_int_equal(tw_address_format(&host, text, sizeof text), (int)strlen(want));
    assert_string_equal(text, want);
    assert_ptr_equal(tw_transport_protocol(t)->user, s);
    assert_ptr_equal(tw_transport_reactor(t), f->net.r);
    assert_int_equal(tw_transport_get_host(t, NULL), -EINVAL);
    close(fd);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
}

static void test_address_format(void **state)
{
    (void)state;
    tw_address a = {.type = TW_ADDRESS_TCP6, .port = 8080};
    strcpy(a.host, "::1");
    char buf[80];
    tw_address_format(&a, buf, sizeof buf);
    assert_string_equal(buf, "tcp6:[::1]:8080");
    a.type = TW_ADDRESS_UNIX;
    strcpy(a.path, "/run/x.sock");
    tw_address_format(&a, buf, sizeof buf);
    assert_string_equal(buf, "unix:/run/x.sock");
    assert_int_equal(tw_address_format(&a, buf, 4), (int)strlen("unix:/run/x.sock"));
    assert_string_equal(buf, "uni");
    a.type = 0;
    assert_true(tw_address_format(&a, buf, sizeof buf) < 0);
    struct sockaddr sa = {.sa_family = AF_APPLETALK};
    assert_int_equal(tw_address_from_sockaddr(&a, &sa, sizeof sa), -EAFNOSUPPORT);
    assert_int_equal(tw_address_from_sockaddr(NULL, &sa, sizeof sa), -EINVAL);
}

static bool server_count_at_least(void *arg)
{
    fixture *f = arg;
    return f->net.server.npeers >= 1000 && tw_test_factory_lost(&f->net.server) >= 1000;
}

static void test_thousand_short_connections_no_fd_leak(void **state)
{
    fixture *f = *state;
    f->net.server.template.echo = true;
    f->net.server.template.record = false;
    f->net.client.template.send_on_made = "ping";
    f->net.client.template.send_on_made_len = 4;
    listen_tcp(f);
    /* warm up: the first connection creates lazily allocated state */
    connect_client(f);
    assert_true(tw_test_run_until(f->net.r, client_made, &f->net.client, 5));
    int fds0 = tw_test_count_open_fds();
    for (int batch = 0; batch < 20; batch++) {
        size_t first = f->net.client.npeers;
        for (int i = 0; i < 50; i++)
            connect_client(f);
        for (int tries = 0; tries < 2000; tries++) {
            size_t done = 0;
            for (size_t i = first; i < f->net.client.npeers; i++) {
                tw_test_peer *p = f->net.client.peers[i];
                if (p->len >= 4 && p->transport)
                    tw_transport_lose_connection(p->transport);
                done += p->lost > 0;
            }
            if (done == 50)
                break;
            tw_reactor_iterate(f->net.r, 0.05);
        }
    }
    tw_transport_lose_connection(f->net.client.peers[0]->transport);
    assert_true(tw_test_run_until(f->net.r, server_count_at_least, f, 10));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, 10));
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 10));
    assert_int_equal(f->net.client.npeers, 1001);
    for (size_t i = 0; i < f->net.client.npeers; i++) {
        assert_int_equal(f->net.client.peers[i]->lost, 1);
        assert_int_equal(f->net.client.peers[i]->destroyed, 1);
        assert_memory_equal(f->net.client.peers[i]->data, "ping", 4);
    }
    assert_int_equal(tw_transport_count(f->net.r), 0);
    assert_true(tw_test_count_open_fds() <= fds0 - 2); /* the warm-up pair is gone too */
    /* the warm-up connection overlapped every other one: the factory started and stopped once */
    assert_int_equal(f->net.client.started, 1);
    assert_int_equal(f->net.client.stopped, 1);
    assert_int_equal(f->net.client.factory.num_ports, 0);
}

/* Freeing a reactor that never shut down closes what is still open, like a shutdown would. */
static void test_free_closes_everything(void **state)
{
    fixture *f = *state;
    f->net.server.template.echo = true;
    listen_tcp(f);
    connect_client(f);
    while (tw_test_factory_made(&f->net.server) < 1 || tw_test_factory_made(&f->net.client) < 1)
        tw_reactor_iterate(f->net.r, 0.05);
    int fds0 = tw_test_count_open_fds();
    tw_reactor_free(f->net.r);
    f->net.r = tw_reactor_new(NULL); /* for the fixture's teardown */
    assert_int_equal(f->net.server.peers[0]->lost, 1);
    assert_string_equal(f->net.server.peers[0]->reason_type, TW_CONNECTION_LOST);
    assert_int_equal(f->net.client.peers[0]->lost, 1);
    assert_int_equal(f->net.server.stopped, 1);
    assert_true(tw_test_count_open_fds() <= fds0 - 3); /* 2 connection ends and the listener */
}

static void test_shutdown_closes_everything(void **state)
{
    fixture *f = *state;
    f->net.server.template.echo = true;
    listen_tcp(f);
    for (int i = 0; i < 3; i++)
        connect_client(f);
    while (tw_test_factory_made(&f->net.server) < 3 || tw_test_factory_made(&f->net.client) < 3)
        tw_reactor_iterate(f->net.r, 0.05);
    int fds0 = tw_test_count_open_fds();
    assert_int_equal(tw_test_run_to_shutdown(f->net.r), 0);
    assert_int_equal(tw_port_stop_listening(f->net.port), -ENOTCONN); /* stopped by the shutdown */
    assert_int_equal(tw_transport_count(f->net.r), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->net.server.peers[i]->lost, 1);
        assert_string_equal(f->net.server.peers[i]->reason_type, TW_CONNECTION_LOST);
        assert_int_equal(f->net.client.peers[i]->lost, 1);
    }
    assert_int_equal(f->net.server.stopped, 1);
    assert_true(tw_test_count_open_fds() <= fds0 - 7); /* 6 connection ends and the listener */
}

static bool made_count(fixture *f, size_t n)
{
    return tw_test_factory_made(&f->net.server) >= n && tw_test_factory_made(&f->net.client) >= n;
}

static bool server_lost_one(void *arg)
{
    return tw_test_factory_lost(arg) >= 1;
}

/* The connections share one closer, registered while any is open: it is dropped when the last one
 * closes and registered again by the next, and it reaches the connections of every chunk (more
 * than TW_NET_CHUNK_TRANSPORTS, 64, transports here), each lost exactly once. */
static void test_shutdown_closes_connections_of_every_chunk(void **state)
{
    enum { N = 40 }; /* 2N transports: two chunks */
    fixture *f = *state;
    listen_tcp(f);
    connect_client(f);
    while (!made_count(f, 1))
        tw_reactor_iterate(f->net.r, 0.05);
    tw_transport_lose_connection(f->net.server.peers[0]->transport);
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.client, 5));
    assert_true(tw_test_run_until(f->net.r, server_lost_one, &f->net.server, 5));
    assert_int_equal(tw_transport_count(f->net.r), 0);
    for (int i = 0; i < N; i++)
        connect_client(f);
    while (!made_count(f, N + 1))
        tw_reactor_iterate(f->net.r, 0.05);
    int fds0 = tw_test_count_open_fds();
    assert_int_equal(tw_test_run_to_shutdown(f->net.r), 0);
    assert_int_equal(tw_transport_count(f->net.r), 0);
    for (size_t i = 1; i <= N; i++) {
        assert_int_equal(f->net.server.peers[i]->lost, 1);
        assert_int_equal(f->net.server.peers[i]->destroyed, 1);
        assert_string_equal(f->net.server.peers[i]->reason_type, TW_CONNECTION_LOST);
        assert_int_equal(f->net.client.peers[i]->lost, 1);
    }
    assert_true(tw_test_count_open_fds() <= fds0 - 2 * N - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_unix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_concurrent_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unconsumed_tail_presented_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_unconsumed_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unconsumed_tail_grows_geometrically, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unconsumed_total_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_received_error_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_after_lose_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_after_lose_inside_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lose_from_outside_flushes_then_closes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_peer_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_drops_queue_later_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_from_release_while_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_eof_not_half_closeable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming_producer_water_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_pause_resume_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_presents_held_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_tail_presented_when_write_pause_clears, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_disconnecting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_addresses_and_options, setup, teardown),
        cmocka_unit_test(test_address_format),
        cmocka_unit_test_setup_teardown(test_thousand_short_connections_no_fd_leak, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_closes_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_closes_connections_of_every_chunk, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_closes_everything, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
