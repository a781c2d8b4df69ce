/* Tests for producers registered with stream transports, over real loopback sockets: a close or
 * half-close asked for while a producer is registered waits until it is unregistered (all of a
 * 4 MiB pull or push producer arrives, then the EOF), an empty write never wakes the writer, and
 * the ownership rule of every transport call that takes a callback or a buffer: an error return,
 * out-of-memory included, runs no callback and takes nothing over. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"

/* Out of memory on demand: the next malloc or calloc of this process fails once. AddressSanitizer
 * and ThreadSanitizer own malloc (and free), so under them the out-of-memory tests skip
 * themselves. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NOMEM_INJECTION 0
#else
#define NOMEM_INJECTION 1
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
#endif
static bool fail_next_allocation;

#if NOMEM_INJECTION
static bool allocation_fails(void)
{
    bool fail = fail_next_allocation;
    fail_next_allocation = false;
    return fail;
}

void *malloc(size_t size)
{
    return allocation_fails() ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    return allocation_fails() ? NULL : __libc_calloc(n, size);
}
#endif

typedef struct {
    tw_test_net_env net; /* reactor, captured log, server and client factories, the port */
    int client;          /* a raw loopback client of the port, non-blocking */
} fixture;

static int setup(void **state)
{
    return tw_test_net_fixture_setup(state, sizeof(fixture));
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->client > 0)
        close(f->client);
    return tw_test_net_fixture_teardown(state);
}

static bool server_made(void *arg)
{
    return tw_test_factory_made(arg) > 0;
}

/* Listens, connects a raw client and returns the server side's peer once connection_made ran. */
static tw_test_peer *accept_one(fixture *f)
{
    int err = 0;
    f->net.port = tw_listen_tcp(f->net.r, 0, "127.0.0.1", 0, &f->net.server.factory, &err);
    assert_non_null(f->net.port);
    f->client = tw_test_tcp_client(tw_test_port_number(f->net.port));
    assert_true(f->client > 0);
    tw_test_set_nonblocking(f->client);
    assert_true(tw_test_run_until(f->net.r, server_made, &f->net.server, 5));
    return f->net.server.peers[0];
}

/* Runs the reactor and reads the raw client, at most step bytes a turn, until the server's EOF (or
 * 20 s): the bytes read. */
static size_t read_until_eof(fixture *f, char *buf, size_t cap, size_t step)
{
    size_t n = 0;
    double deadline = tw_test_now() + 20;
    while (tw_test_now() < deadline) {
        tw_reactor_iterate(f->net.r, 0.001);
        ssize_t k = recv(f->client, buf + n, cap - n < step ? cap - n : step, MSG_DONTWAIT);
        if (k == 0)
            break;
        if (k > 0)
            n += (size_t)k;
        assert_true(n < cap); /* more than the producer wrote */
    }
    return n;
}

/* The server's connection ends, with a reason of this type. */
static void assert_server_lost(fixture *f, const char *type)
{
    assert_true(tw_test_run_until(f->net.r, tw_test_all_lost, &f->net.server, 5));
    assert_string_equal(f->net.server.peers[0]->reason_type, type);
}

/* ---- a producer of a fixed payload ----------------------------------------------------------- */

#define PAYLOAD (4u << 20)
#define PIECE 16384

/* Writes a payload PIECE bytes at a time: a pull producer writes one piece per resume_producing, a
 * push producer writes on every turn of the loop until it is paused. Once everything is written it
 * unregisters itself (as Twisted's FileSender), which is what lets a pending close proceed. */
typedef struct {
    tw_transport *t;
    char *data;
    size_t sent;
    bool streaming, paused, unregistered;
    int resumes, pauses, stops;
    tw_delayed_call *tick;
} source;

static void source_write_piece(source *s)
{
    if (s->sent == PAYLOAD) {
        if (!s->unregistered)
            tw_transport_unregister_producer(s->t);
        s->unregistered = true;
        return;
    }
    size_t n = PAYLOAD - s->sent < PIECE ? PAYLOAD - s->sent : PIECE;
    assert_int_equal(tw_transport_write(s->t, s->data + s->sent, n), 0);
    s->sent += n;
}

static int source_tick(void *arg)
{
    source *s = arg;
    s->tick = NULL;
    if (s->paused || s->unregistered)
        return 0;
    source_write_piece(s);
    if (!s->unregistered)
        s->tick = tw_call_later(tw_transport_reactor(s->t), 0, source_tick, s, NULL);
    return 0;
}

static int source_pause(void *self)
{
    source *s = self;
    s->pauses++;
    s->paused = true;
    return 0;
}

static int source_resume(void *self)
{
    source *s = self;
    s->resumes++;
    s->paused = false;
    if (!s->streaming)
        source_write_piece(s);
    else if (!s->tick)
        source_tick(s);
    return 0;
}

static int source_stop(void *self)
{
    source *s = self;
    s->stops++;
    if (s->tick)
        tw_delayed_call_cancel(s->tick);
    s->tick = NULL;
    return 0;
}

static const tw_producer_ops source_ops = {source_pause, source_resume, source_stop};

static void source_start(source *s, tw_transport *t, bool streaming)
{
    *s = (source){.t = t, .streaming = streaming};
    s->data = malloc(PAYLOAD);
    assert_non_null(s->data);
    tw_test_fill_random(s->data, PAYLOAD, streaming ? 41 : 42);
    tw_producer p = {&source_ops, s};
    assert_int_equal(tw_transport_register_producer(t, &p, streaming), 0);
    if (streaming)
        source_tick(s);
}

/* The raw client receives the whole payload (reading at most step bytes a turn), then the EOF; the
 * producer was never stopped. */
static void assert_payload_then_eof(fixture *f, source *s, size_t step)
{
    char *got = malloc(PAYLOAD + 1);
    assert_non_null(got);
    size_t n = read_until_eof(f, got, PAYLOAD + 1, step);
    assert_int_equal(n, PAYLOAD);
    assert_memory_equal(got, s->data, PAYLOAD);
    assert_true(s->unregistered);
    assert_int_equal(s->stops, 0);
    free(got);
    free(s->data);
}

/* ---- lose_connection waits for the producer (issue 7, item 1) -------------------------------- */

static source pending_source;

static void register_pull_then_lose(tw_test_peer *p, const char *data, size_t len)
{
    (void)data;
    (void)len;
    source_start(&pending_source, p->transport, false);
    tw_transport_lose_connection(p->transport);
}

/* From inside a callback: the close waits for the pull producer, not for a moment of empty
 * queue. */
static void test_lose_waits_for_pull_producer_inside_callback(void **state)
{
    fixture *f = *state;
    f->net.server.template.record = false;
    f->net.server.template.on_data = register_pull_then_lose;
    accept_one(f);
    assert_int_equal(send(f->client, "go", 2, 0), 2);
    assert_payload_then_eof(f, &pending_source, PAYLOAD);
    assert_server_lost(f, TW_CONNECTION_DONE);
}

/* From outside any callback, with nothing queued at the time of the call. */
static void test_lose_waits_for_pull_producer(void **state)
{
    fixture *f = *state;
    tw_test_peer *s = accept_one(f);
    source src;
    source_start(&src, s->transport, false);
    tw_transport_lose_connection(s->transport);
    assert_payload_then_eof(f, &src, PAYLOAD);
    assert_server_lost(f, TW_CONNECTION_DONE);
}

/* A streaming producer holds the close as well, paused or not (Twisted's documented rule). */
static void test_lose_waits_for_push_producer(void **state)
{
    fixture *f = *state;
    tw_test_peer *s = accept_one(f);
    int small = 16384; /* the kernel holds little, so the write queue passes the high mark */
    assert_int_equal(setsockopt(tw_transport_fd(s->transport), SOL_SOCKET, SO_SNDBUF, &small,
                                sizeof small), 0);
    source src;
    source_start(&src, s->transport, true);
    tw_transport_lose_connection(s->transport);
    assert_payload_then_eof(f, &src, PIECE / 2); /* slower than the producer: it gets paused */
    assert_true(src.pauses > 0);
    assert_server_lost(f, TW_CONNECTION_DONE);
}

static bool got_one_byte(void *arg)
{
    return ((tw_test_peer *)arg)->len == 1;
}

/* The half-close waits too, and writes made while it waits are sent before the EOF (Twisted sends
 * what was written until the write side is actually shut). */
static void test_lose_write_waits_for_pull_producer(void **state)
{
    fixture *f = *state;
    f->net.server.template.half_close = true;
    tw_test_peer *s = accept_one(f);
    source src;
    source_start(&src, s->transport, false);
    tw_transport_lose_write_connection(s->transport);
    assert_payload_then_eof(f, &src, PAYLOAD);
    assert_int_equal(s->write_lost, 1);
    assert_int_equal(s->lost, 0);
    assert_int_equal(tw_transport_write(s->transport, "late", 4), -ENOTCONN); /* now it is shut */
    assert_int_equal(send(f->client, "x", 1, 0), 1); /* reading goes on */
    assert_true(tw_test_run_until(f->net.r, got_one_byte, s, 5));
    assert_int_equal(s->lost, 0);
    tw_transport_lose_connection(s->transport);
    assert_server_lost(f, TW_CONNECTION_DONE);
}

/* A close that the peer causes does not wait: the producer is told to stop. */
static void test_peer_close_stops_waiting_producer(void **state)
{
    fixture *f = *state;
    tw_test_peer *s = accept_one(f);
    source src;
    source_start(&src, s->transport, true);
    tw_transport_lose_connection(s->transport);
    close(f->client);
    f->client = -1;
    assert_server_lost(f, TW_CONNECTION_LOST);
    assert_int_equal(src.stops, 1);
    free(src.data);
}

/* ---- empty writes (issue 7, item 8) ---------------------------------------------------------- */

static int empty_resumes, empty_released;

static void count_release(void *arg)
{
    (*(int *)arg)++;
}

/* A pull producer with nothing to say yet: it writes nothing, in every form. */
static int write_nothing(void *self)
{
    tw_transport *t = self;
    empty_resumes++;
    struct iovec iov[2] = {{"", 0}, {NULL, 0}};
    assert_int_equal(tw_transport_write(t, "", 0), 0);
    assert_int_equal(tw_transport_write_sequence(t, iov, 2), 0);
    assert_int_equal(tw_transport_write_sequence(t, NULL, 0), 0);
    assert_int_equal(tw_transport_write_lent(t, "", 0, count_release, &empty_released), 0);
    return 0;
}

static const tw_producer_ops empty_ops = {.resume_producing = write_nothing};

/* An empty write is ignored (as Twisted's): it does not wait for writability, so the producer is
 * not asked again and again (a busy loop). */
static void test_empty_write_does_not_wake_writer(void **state)
{
    fixture *f = *state;
    tw_test_peer *s = accept_one(f);
    empty_resumes = empty_released = 0;
    tw_producer p = {&empty_ops, s->transport};
    assert_int_equal(tw_transport_register_producer(s->transport, &p, false), 0);
    assert_int_equal(empty_resumes, 1);
    assert_int_equal(empty_released, 1); /* an empty lent buffer is handed back at once */
    for (int i = 0; i < 10; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(empty_resumes, 1);
    /* a real write still gets the producer asked again once it has gone out */
    assert_int_equal(tw_transport_write(s->transport, "x", 1), 0);
    for (int i = 0; i < 100 && empty_resumes < 2; i++)
        tw_reactor_iterate(f->net.r, 0.01);
    assert_int_equal(empty_resumes, 2);
    tw_transport_unregister_producer(s->transport);
    tw_transport_lose_connection(s->transport);
    assert_server_lost(f, TW_CONNECTION_DONE);
}

/* ---- an error return runs nothing and takes nothing over (issue 8) --------------------------- */

typedef struct {
    int released, pauses, resumes, stops;
} calls;

static void note_release(void *arg)
{
    ((calls *)arg)->released++;
}

static int note_pause(void *self)
{
    ((calls *)self)->pauses++;
    return 0;
}

static int note_resume(void *self)
{
    ((calls *)self)->resumes++;
    return 0;
}

static int note_stop(void *self)
{
    ((calls *)self)->stops++;
    return 0;
}

static const tw_producer_ops note_ops = {note_pause, note_resume, note_stop};

static void assert_no_calls(const calls *c)
{
    assert_int_equal(c->released + c->pauses + c->resumes + c->stops, 0);
}

static void test_errors_take_nothing_over(void **state)
{
    fixture *f = *state;
    tw_test_peer *s = accept_one(f);
    tw_transport *t = s->transport;
    calls c = {0}, busy = {0};
    static const char buf[] = "buffer";
    struct iovec iov = {(void *)buf, 6};
    tw_producer p = {&note_ops, &c}, no_ops = {NULL, &c};
    /* -EINVAL */
    assert_int_equal(tw_transport_write(NULL, buf, 6), -EINVAL);
    assert_int_equal(tw_transport_write(t, NULL, 6), -EINVAL);
    assert_int_equal(tw_transport_write_sequence(NULL, &iov, 1), -EINVAL);
    assert_int_equal(tw_transport_write_sequence(t, NULL, 1), -EINVAL);
    assert_int_equal(tw_transport_write_sequence(t, &iov, -1), -EINVAL);
    assert_int_equal(tw_transport_write_lent(NULL, buf, 6, note_release, &c), -EINVAL);
    assert_int_equal(tw_transport_write_lent(t, NULL, 6, note_release, &c), -EINVAL);
    assert_int_equal(tw_transport_register_producer(NULL, &p, true), -EINVAL);
    assert_int_equal(tw_transport_register_producer(t, NULL, true), -EINVAL);
    assert_int_equal(tw_transport_register_producer(t, &no_ops, false), -EINVAL);
    assert_no_calls(&c);
    /* -EBUSY: the second producer is not touched */
    tw_producer first = {&note_ops, &busy};
    assert_int_equal(tw_transport_register_producer(t, &first, true), 0);
    assert_int_equal(tw_transport_register_producer(t, &p, false), -EBUSY);
    assert_no_calls(&c);
    tw_transport_unregister_producer(t);
    /* -ENOTCONN: closing (an abort completes on a later turn) */
    tw_transport_abort_connection(t);
    assert_int_equal(tw_transport_write(t, buf, 6), -ENOTCONN);
    assert_int_equal(tw_transport_write_sequence(t, &iov, 1), -ENOTCONN);
    assert_int_equal(tw_transport_write_lent(t, buf, 6, note_release, &c), -ENOTCONN);
    assert_int_equal(tw_transport_register_producer(t, &p, true), -ENOTCONN);
    assert_no_calls(&c);
    assert_server_lost(f, TW_CONNECTION_ABORTED);
    assert_no_calls(&c);
    assert_int_equal(busy.stops, 0); /* it was unregistered before the close */
}

/* -ENOMEM: nothing is taken over either; a write that cannot be queued closes the connection (the
 * stream would have a hole), but the lent buffer stays the caller's. */
static void test_out_of_memory_takes_nothing_over(void **state)
{
    if (!NOMEM_INJECTION)
        skip();
    fixture *f = *state;
    tw_test_peer *s = accept_one(f);
    tw_transport *t = s->transport;
    calls c = {0};
    tw_producer p = {&note_ops, &c};
    fail_next_allocation = true; /* the transport's extension, for the producer */
    assert_int_equal(tw_transport_register_producer(t, &p, false), -ENOMEM);
    assert_no_calls(&c);
    static char chunk[1 << 20];
    while (tw_transport_write_buffer_size(t) == 0) /* from now on writes are queued */
        assert_int_equal(tw_transport_write(t, chunk, sizeof chunk), 0);
    fail_next_allocation = true; /* the queue entry of the lent buffer */
    assert_int_equal(tw_transport_write_lent(t, "lent", 4, note_release, &c), -ENOMEM);
    assert_no_calls(&c);
    assert_server_lost(f, TW_CONNECTION_LOST);
    assert_int_equal(s->reason_code, -ENOMEM);
    assert_no_calls(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lose_waits_for_pull_producer_inside_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lose_waits_for_pull_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lose_waits_for_push_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lose_write_waits_for_pull_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_close_stops_waiting_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_write_does_not_wake_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_take_nothing_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory_takes_nothing_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
