/* Tests for tw_transport_write_file over real loopback TCP sockets: whole files and regions in
 * order with writes around them, a 64 MiB file queued to a peer that does not read (counted, not
 * held in memory), release exactly once however the region ends, error returns, a file shorter
 * than promised, empty regions, back-pressure on a streaming producer, the string transport, and
 * a kernel that refuses sendfile. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"
#include "support/syscalls.h"

typedef struct {
    tw_test_net_env net; /* reactor, captured log, server and client factories, the port */
    int client;          /* the peer: a plain non-blocking socket the test reads or not */
    tw_test_peer *server;
} fixture;

static bool server_made(void *arg)
{
    return tw_test_factory_made(arg) > 0;
}

/* Listens, connects a plain client socket and waits for the server's protocol. */
static int setup(void **state)
{
    if (tw_test_net_fixture_setup(state, sizeof(fixture)) < 0)
        return -1;
    fixture *f = *state;
    int err = 0;
    f->net.port = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(f->net.port);
    f->client = tw_test_tcp_client(tw_test_port_number(f->net.port));
    assert_true(f->client >= 0);
    tw_test_set_nonblocking(f->client);
    assert_true(tw_test_run_until(f->net.r, server_made, &f->net.server, 5));
    f->server = f->net.server.peers[0];
    return 0;
}

static bool server_lost(void *arg)
{
    return ((tw_test_peer *)arg)->lost > 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close(f->client);
    if (f->server->transport)
        tw_transport_abort_connection(f->server->transport);
    assert_true(tw_test_run_until(f->net.r, server_lost, f->server, 5));
    return tw_test_net_fixture_teardown(state);
}

/* Never 0: a reader skips the zeros that filled the kernel's buffers up to the file's bytes. */
static unsigned char pattern(uint64_t i)
{
    return (unsigned char)(1 + (i * 7 + (i >> 9)) % 255);
}

/* An unlinked temporary file of size bytes: the pattern, or a hole (zeros) when sparse. */
static int temp_file(size_t size, bool sparse)
{
    char path[] = "/tmp/twine-test-file-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    if (sparse) {
        assert_int_equal(ftruncate(fd, (off_t)size), 0);
        return fd;
    }
    unsigned char buf[8192];
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof buf ? size - done : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(done + i);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        done += n;
    }
    return fd;
}

static void count_release(void *arg)
{
    (*(int *)arg)++;
}

static bool released_once(void *arg)
{
    return *(int *)arg == 1;
}

/* Reads want bytes at the client, running the reactor meanwhile; returns them (malloc'd). */
static unsigned char *read_at_client(fixture *f, size_t want)
{
    unsigned char *got = malloc(want ? want : 1);
    assert_non_null(got);
    size_t have = 0;
    for (int i = 0; i < 200000 && have < want; i++) {
        ssize_t n = recv(f->client, got + have, want - have, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
        else
            tw_reactor_iterate(f->net.r, 0.01);
    }
    assert_int_equal(have, want);
    return got;
}

/* Reads and checks want bytes of zeros without holding them all. */
static void read_zeros_at_client(fixture *f, size_t want)
{
    static unsigned char buf[1 << 16];
    size_t have = 0;
    for (int i = 0; i < 200000 && have < want; i++) {
        size_t ask = want - have < sizeof buf ? want - have : sizeof buf;
        ssize_t n = recv(f->client, buf, ask, MSG_DONTWAIT);
        if (n <= 0) {
            tw_reactor_iterate(f->net.r, 0.01);
            continue;
        }
        for (ssize_t k = 0; k < n; k++)
            assert_int_equal(buf[k], 0);
        have += (size_t)n;
    }
    assert_int_equal(have, want);
}

static void assert_pattern(const unsigned char *got, uint64_t from, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (got[i] != pattern(from + i))
            fail_msg("byte %zu: %u, want %u", i, got[i], pattern(from + i));
}

/* Writes until the kernel's buffers are full and the transport queues. */
static void fill_kernel(fixture *f)
{
    static char chunk[1 << 16];
    while (tw_transport_write_buffer_size(f->server->transport) == 0)
        assert_int_equal(tw_transport_write(f->server->transport, chunk, sizeof chunk), 0);
}

/* Reads (at the client) the zeros fill_kernel wrote, up to the first byte that is not 0. */
static void skip_zeros(fixture *f)
{
    static unsigned char buf[1 << 16];
    for (int i = 0; i < 200000; i++) {
        ssize_t n = recv(f->client, buf, sizeof buf, MSG_DONTWAIT | MSG_PEEK);
        if (n <= 0) {
            tw_reactor_iterate(f->net.r, 0.01);
            continue;
        }
        size_t k = 0;
        while (k < (size_t)n && buf[k] == 0)
            k++;
        if (k > 0)
            assert_int_equal(recv(f->client, buf, k, MSG_DONTWAIT), (ssize_t)k);
        if (k < (size_t)n)
            return;
    }
    fail_msg("no byte but zeros arrived");
}

static size_t filled(fixture *f)
{
    return tw_transport_write_buffer_size(f->server->transport);
}

/* ---- bytes and order ------------------------------------------------------------------------- */

static void test_whole_file(void **state)
{
    fixture *f = *state;
    const size_t size = 3 * 1000 * 1000 + 17;
    int fd = temp_file(size, false);
    int released = 0;
    assert_int_equal(tw_transport_write_file(f->server->transport, fd, 0, size, count_release,
                                             &released),
                     0);
    unsigned char *got = read_at_client(f, size);
    assert_pattern(got, 0, size);
    free(got);
    for (int i = 0; i < 100 && !released; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(released, 1);
    assert_int_equal(filled(f), 0);
    close(fd);
}

/* A region between two writes, also once the queue holds bytes: everything arrives in order. */
static void test_region_in_order(void **state)
{
    fixture *f = *state;
    int fd = temp_file(100000, false);
    tw_transport *t = f->server->transport;
    int released = 0;
    for (int round = 0; round < 2; round++) {
        if (round)
            fill_kernel(f);
        size_t queued = filled(f);
        assert_int_equal(tw_transport_write(t, "head", 4), 0);
        assert_int_equal(tw_transport_write_file(t, fd, 1000, 5000, count_release, &released), 0);
        assert_int_equal(tw_transport_write(t, "tail", 4), 0);
        if (round) {
            assert_int_equal(filled(f), queued + 4 + 5000 + 4);
            assert_int_equal(released, round); /* still queued */
            skip_zeros(f);
        }
        unsigned char *got = read_at_client(f, 4 + 5000 + 4);
        assert_memory_equal(got, "head", 4);
        assert_pattern(got + 4, 1000, 5000);
        assert_memory_equal(got + 5004, "tail", 4);
        free(got);
        for (int i = 0; i < 100 && released <= round; i++)
            tw_reactor_iterate(f->net.r, 0.01);
        assert_int_equal(released, round + 1);
    }
    close(fd);
}

/* 64 MiB queued to a peer that does not read: counted in the write buffer, not held in memory; the
 * peer then gets every byte. */
static void test_big_file_costs_no_memory(void **state)
{
    fixture *f = *state;
    const size_t size = (size_t)64 << 20;
    int fd = temp_file(size, true);
    int released = 0;
    struct mallinfo2 before = mallinfo2();
    assert_int_equal(tw_transport_write_file(f->server->transport, fd, 0, size, count_release,
                                             &released),
                     0);
    for (int i = 0; i < 10; i++)
        tw_reactor_iterate(f->net.r, 0);
    struct mallinfo2 after = mallinfo2();
    assert_true(after.uordblks < before.uordblks + (1u << 20));
    assert_true(filled(f) > size / 2); /* the kernel holds a few MiB at most */
    assert_int_equal(released, 0);
    read_zeros_at_client(f, size);
    for (int i = 0; i < 100 && !released; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(released, 1);
    assert_int_equal(filled(f), 0);
    close(fd);
}

/* ---- release, exactly once ------------------------------------------------------------------- */

static void test_release_after_lose_connection(void **state)
{
    fixture *f = *state;
    int fd = temp_file(200000, false);
    fill_kernel(f);
    int released = 0;
    tw_transport *t = f->server->transport;
    assert_int_equal(tw_transport_write_file(t, fd, 0, 200000, count_release, &released), 0);
    tw_transport_lose_connection(t);
    assert_int_equal(released, 0);
    skip_zeros(f);
    unsigned char *got = read_at_client(f, 200000);
    assert_pattern(got, 0, 200000);
    free(got);
    assert_true(tw_test_run_until(f->net.r, server_lost, f->server, 5));
    assert_string_equal(f->server->reason_type, TW_CONNECTION_DONE);
    assert_int_equal(released, 1);
    close(fd);
}

static void test_release_on_abort(void **state)
{
    fixture *f = *state;
    int fd = temp_file((size_t)16 << 20, true);
    int released = 0;
    tw_transport *t = f->server->transport;
    assert_int_equal(tw_transport_write_file(t, fd, 0, (size_t)16 << 20, count_release, &released),
                     0);
    assert_true(filled(f) > 0);
    tw_transport_abort_connection(t);
    assert_true(tw_test_run_until(f->net.r, server_lost, f->server, 5));
    assert_string_equal(f->server->reason_type, TW_CONNECTION_ABORTED);
    assert_int_equal(released, 1);
    close(fd);
}

/* An empty region is ignored as an empty write_lent is: nothing sent, release runs at once. */
static void test_empty_region(void **state)
{
    fixture *f = *state;
    int fd = temp_file(10, false);
    int released = 0;
    assert_int_equal(
        tw_transport_write_file(f->server->transport, fd, 5, 0, count_release, &released), 0);
    assert_int_equal(released, 1);
    assert_int_equal(filled(f), 0);
    assert_int_equal(tw_transport_write_file(f->server->transport, fd, 5, 0, NULL, NULL), 0);
    close(fd);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void test_error_returns(void **state)
{
    fixture *f = *state;
    int fd = temp_file(10, false);
    int released = 0;
    tw_transport *t = f->server->transport;
    assert_int_equal(tw_transport_write_file(NULL, fd, 0, 10, count_release, &released), -EINVAL);
    assert_int_equal(tw_transport_write_file(t, -1, 0, 10, count_release, &released), -EINVAL);
    assert_int_equal(tw_transport_write_file(t, fd, UINT64_MAX - 5, 10, count_release, &released),
                     -EINVAL);
    /* the write side shut by a half-close: refused */
    f->server->half_close = true;
    tw_transport_lose_write_connection(t);
    for (int i = 0; i < 10; i++)
        tw_reactor_iterate(f->net.r, 0);
    assert_int_equal(tw_transport_write_file(t, fd, 0, 10, count_release, &released), -ENOTCONN);
    /* aborted: refused */
    tw_transport_abort_connection(t);
    assert_int_equal(tw_transport_write_file(t, fd, 0, 10, count_release, &released), -ENOTCONN);
    assert_true(tw_test_run_until(f->net.r, server_lost, f->server, 5));
    assert_int_equal(released, 0);
    close(fd);
}

/* The file ends before the region: the connection is lost with -EIO once the end is reached. */
static void test_file_shorter_than_region(void **state)
{
    fixture *f = *state;
    int fd = temp_file((size_t)4 << 20, false);
    fill_kernel(f);
    int released = 0;
    tw_transport *t = f->server->transport;
    assert_int_equal(tw_transport_write_file(t, fd, 0, (size_t)4 << 20, count_release, &released),
                     0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0);
    static char sink[1 << 16];
    for (int i = 0; i < 100000 && !f->server->lost; i++)
        if (recv(f->client, sink, sizeof sink, MSG_DONTWAIT) <= 0)
            tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(f->server->lost, 1);
    assert_string_equal(f->server->reason_type, TW_CONNECTION_LOST);
    assert_int_equal(f->server->reason_code, -EIO);
    assert_int_equal(released, 1);
    close(fd);
}

/* With nothing queued the file is sent at once: a region past its end fails at once. */
static void test_region_past_end(void **state)
{
    fixture *f = *state;
    int fd = temp_file(100, false);
    int released = 0;
    assert_int_equal(
        tw_transport_write_file(f->server->transport, fd, 50, 100, count_release, &released), 0);
    assert_int_equal(released, 1); /* dropped by the close */
    assert_true(tw_test_run_until(f->net.r, server_lost, f->server, 5));
    assert_string_equal(f->server->reason_type, TW_CONNECTION_LOST);
    assert_int_equal(f->server->reason_code, -EIO);
    close(fd);
}

/* ---- back-pressure --------------------------------------------------------------------------- */

typedef struct {
    int pauses, resumes, stops;
} producer_log;

static int prod_pause(void *self)
{
    ((producer_log *)self)->pauses++;
    return 0;
}

static int prod_resume(void *self)
{
    ((producer_log *)self)->resumes++;
    return 0;
}

static int prod_stop(void *self)
{
    ((producer_log *)self)->stops++;
    return 0;
}

static const tw_producer_ops prod_ops = {prod_pause, prod_resume, prod_stop};

static void test_streaming_producer_paused(void **state)
{
    fixture *f = *state;
    tw_transport *t = f->server->transport;
    int fd = temp_file((size_t)16 << 20, true);
    producer_log pl = {0};
    tw_producer p = {&prod_ops, &pl};
    assert_int_equal(tw_transport_set_water_marks(t, 100000, 50000), 0);
    assert_int_equal(tw_transport_register_producer(t, &p, true), 0);
    int released = 0;
    assert_int_equal(tw_transport_write_file(t, fd, 0, (size_t)16 << 20, count_release, &released),
                     0);
    assert_int_equal(pl.pauses, 1);
    assert_int_equal(pl.resumes, 0);
    read_zeros_at_client(f, (size_t)16 << 20);
    assert_int_equal(pl.resumes, 1);
    assert_int_equal(released, 1);
    tw_transport_unregister_producer(t);
    assert_int_equal(pl.stops, 0);
    close(fd);
}

/* ---- the string transport -------------------------------------------------------------------- */

static void test_string_transport_records_file(void **state)
{
    fixture *f = *state;
    const size_t size = 100000;
    int fd = temp_file(size, false);
    int err = 0;
    tw_string_transport *st = tw_string_transport_new(f->net.r, &f->net.server.factory, NULL, &err);
    assert_non_null(st);
    tw_transport *t = tw_string_transport_transport(st);
    int released = 0;
    assert_int_equal(tw_transport_write(t, "<", 1), 0);
    assert_int_equal(tw_transport_write_file(t, fd, 10, size - 10, count_release, &released), 0);
    assert_int_equal(released, 1);
    size_t len = 0;
    const unsigned char *v = (const unsigned char *)tw_string_transport_value(st, &len);
    assert_int_equal(len, 1 + size - 10);
    assert_int_equal(v[0], '<');
    assert_pattern(v + 1, 10, size - 10);
    /* a region past the file's end: lost with -EIO, as on a socket */
    assert_int_equal(tw_transport_write_file(t, fd, size - 1, 2, count_release, &released), 0);
    assert_int_equal(released, 2);
    for (int i = 0; i < 10; i++)
        tw_reactor_iterate(f->net.r, 0);
    const tw_failure *reason = tw_string_transport_reason(st);
    assert_non_null(reason);
    assert_string_equal(tw_failure_type(reason), TW_CONNECTION_LOST);
    assert_int_equal(tw_failure_code(reason), -EIO);
    assert_int_equal(tw_transport_write_file(t, fd, 0, 1, count_release, &released), -ENOTCONN);
    assert_int_equal(released, 2);
    tw_string_transport_free(st);
    close(fd);
}

/* ---- without sendfile ------------------------------------------------------------------------ */

/* Where sendfile is refused (EINVAL: a file system or descriptor that cannot splice), the region
 * goes out read piece by piece instead, all of it and in order. */
static void test_read_when_sendfile_refused(void **state)
{
    fixture *f = *state;
    const size_t size = 1000 * 1000 + 3;
    int fd = temp_file(size, false);
    int released = 0;
    tw_test_refuse_sendfile(EINVAL);
    long tried = tw_test_sendfile_calls_now();
    assert_int_equal(tw_transport_write(f->server->transport, "<", 1), 0);
    assert_int_equal(tw_transport_write_file(f->server->transport, fd, 5, size - 5, count_release,
                                             &released),
                     0);
    unsigned char *got = read_at_client(f, 1 + size - 5);
    tw_test_refuse_sendfile(0);
    assert_int_equal(got[0], '<');
    assert_pattern(got + 1, 5, size - 5);
    free(got);
    assert_true(tw_test_run_until(f->net.r, released_once, &released, 5));
    assert_int_equal(filled(f), 0);
#ifdef __linux__
    assert_true(tw_test_sendfile_calls_now() > tried);
#else
    (void)tried;
#endif
    close(fd);
}

/* Any other refusal is the connection's end: lost with that error, the file released once. */
static void test_sendfile_error_loses_connection(void **state)
{
#ifndef __linux__
    skip();
#endif
    fixture *f = *state;
    int fd = temp_file(100000, false);
    int released = 0;
    tw_test_refuse_sendfile(EIO);
    assert_int_equal(
        tw_transport_write_file(f->server->transport, fd, 0, 100000, count_release, &released), 0);
    tw_test_refuse_sendfile(0);
    assert_true(tw_test_run_until(f->net.r, server_lost, f->server, 5));
    assert_string_equal(f->server->reason_type, TW_CONNECTION_LOST);
    assert_int_equal(f->server->reason_code, -EIO);
    assert_int_equal(released, 1);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whole_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_region_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_file_costs_no_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_after_lose_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_on_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_shorter_than_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_region_past_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming_producer_paused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_transport_records_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_when_sendfile_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendfile_error_loses_connection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
