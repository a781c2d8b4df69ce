/* The stream transport and the reactor's watch of its socket.
 * Refused: the kernel refuses the watch at the start of the turn after connection_made (epoll's
 * ENOSPC at max_user_watches, kqueue's or poll's ENOMEM; select has no such limit, so there the
 * socket is closed behind the transport's back and refused with EBADF). The connection must close
 * with that reason: connection_lost runs, the peer sees the close and the fd is freed, instead of a
 * connection that never reads again.
 * Closed: closing a socket nothing else holds costs no epoll_ctl (the kernel drops the watch with
 * the last descriptor); one whose number was handed out by tw_transport_fd may have been dup'ed, so
 * its watch is taken back first, or it would outlive the close. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/net.h"
#include "support/reactor_test.h"
#include "support/syscalls.h"

/* What happened to the one connection of a test. */
typedef struct {
    int made, lost;
    int fd;
    int expected;  /* the error the refusal should give, as the test arranged it */
    int reason_code;
    char reason_type[40];
    int watched_after_close; /* tw_test_epoll_watches(fd) once it was closed, reactor alive */
} conn_record;

static int refuse_watch_on_made(tw_protocol *p)
{
    conn_record *c = p->factory->user;
    c->made++;
    c->fd = tw_transport_fd(p->transport);
    c->expected = tw_test_refuse_next_watch(c->fd);
    if (!c->expected) { /* select: its only refusal is a closed fd */
        close(c->fd);
        c->expected = -EBADF;
    }
    return 0;
}

static void record_lost(tw_protocol *p, const tw_failure *reason)
{
    conn_record *c = p->factory->user;
    c->lost++;
    c->reason_code = tw_failure_code(reason);
    strncpy(c->reason_type, tw_failure_type(reason), sizeof c->reason_type - 1);
}

static const tw_protocol_ops refused_ops = {
    .connection_made = refuse_watch_on_made,
    .connection_lost = record_lost,
};

static int build_refused(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    (void)peer;
    out->ops = &refused_ops;
    return 0;
}

static const tw_factory_ops refused_factory_ops = {.build_protocol = build_refused};

static bool lost_once(void *arg)
{
    return ((conn_record *)arg)->lost > 0;
}

#define LOW_FDS_HELD 128

/* Takes every free fd number below 100, so that the next sockets get numbers above them: the poll
 * backend's fd map then has to grow for the accepted one (tw_test_refuse_next_watch). */
static int hold_low_fds(int held[LOW_FDS_HELD])
{
    int n = 0;
    for (int fd; n < LOW_FDS_HELD && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0; n++) {
        held[n] = fd;
        if (fd >= 100)
            return n + 1;
    }
    return n;
}

static void test_refused_watch_closes_the_connection(void **state)
{
    (void)state;
    int fds_before = tw_test_count_open_fds();
    tw_test_log log;
    tw_reactor *r = tw_test_reactor_new(&log);
    assert_non_null(r);
    conn_record c = {.fd = -1};
    tw_factory factory = {.ops = &refused_factory_ops, .user = &c};
    int err = 0;
    tw_port *port = tw_listen_tcp(r, 0, "127.0.0.1", 0, &factory, &err);
    assert_non_null(port);
    tw_reactor_iterate(r, 0); /* the port's registration reaches the kernel first */
    int held[LOW_FDS_HELD];
    int nheld = hold_low_fds(held);
    int client = tw_test_tcp_client(tw_test_port_number(port));
    assert_true(client >= 0);
    assert_true(tw_test_run_until(r, lost_once, &c, 5));
    assert_int_equal(c.made, 1);
    assert_int_equal(c.lost, 1);
    assert_string_equal(c.reason_type, TW_CONNECTION_LOST);
    assert_int_equal(c.reason_code, c.expected);
    assert_int_equal(tw_transport_count(r), 0);
    assert_true(tw_test_log_contains(&log, tw_strerror(c.expected)));
    /* The server side is closed: the peer reads the end of the stream. */
    struct pollfd pfd = {.fd = client, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    char byte;
    assert_int_equal(read(client, &byte, 1), 0);
    close(client);
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    tw_port_free(port);
    tw_test_reactor_free(r, &log);
    assert_int_equal(tw_test_count_open_fds(), fds_before);
}

/* ---- a connection attempt whose watch is refused --------------------------------------------- */

typedef struct {
    int made, failed;
    int fail_code;
} attempt_record;

static int attempt_made(tw_protocol *p)
{
    ((attempt_record *)p->factory->user)->made++;
    return 0;
}

static const tw_protocol_ops attempt_ops = {.connection_made = attempt_made};

static int build_attempt(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)f;
    (void)peer;
    out->ops = &attempt_ops;
    return 0;
}

static void attempt_failed(tw_factory *f, tw_connector *connector, const tw_failure *reason)
{
    (void)connector;
    attempt_record *a = f->user;
    a->failed++;
    a->fail_code = tw_failure_code(reason);
}

static const tw_factory_ops attempt_factory_ops = {.build_protocol = build_attempt,
                                                   .client_connection_failed = attempt_failed};

static bool attempt_over(void *arg)
{
    attempt_record *a = arg;
    return a->made + a->failed > 0;
}

/* A connect that stays in progress (the listener's queue is full: its SYN goes unanswered) whose
 * writer the kernel refuses: the attempt fails with that reason, and is never taken for a
 * connection (a socket still connecting has no error to tell). */
static void test_refused_watch_fails_the_connection_attempt(void **state)
{
    (void)state;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    assert_int_equal(bind(listener, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(listener, 0), 0);
    assert_int_equal(getsockname(listener, (struct sockaddr *)&sin, &len), 0);
    int filler = tw_test_tcp_client(ntohs(sin.sin_port)); /* takes the one place in the queue */
    assert_true(filler >= 0);
    tw_test_log log;
    tw_reactor *r = tw_test_reactor_new(&log);
    assert_non_null(r);
    tw_reactor_iterate(r, 0); /* the reactor's own registrations reach the kernel first */
    int held[LOW_FDS_HELD];
    int nheld = hold_low_fds(held);
    int fd = tw_test_lowest_free_fd(); /* the connector's socket */
    attempt_record a = {0};
    tw_factory factory = {.ops = &attempt_factory_ops, .user = &a};
    int err = 0;
    assert_non_null(tw_connect_tcp(r, "127.0.0.1", ntohs(sin.sin_port), 30, &factory, &err));
    int expected = tw_test_refuse_next_watch(fd);
    if (!expected) { /* select: its only refusal is a closed fd */
        close(fd);
        expected = -EBADF;
    }
    assert_true(tw_test_run_until(r, attempt_over, &a, 5));
    assert_int_equal(a.made, 0);
    assert_int_equal(a.failed, 1);
    assert_int_equal(a.fail_code, expected);
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    tw_test_reactor_free(r, &log);
    close(filler);
    close(listener);
}

/* ---- what closing costs (epoll) -------------------------------------------------------------- */

static int dup_on_made(tw_protocol *p)
{
    conn_record *c = p->factory->user;
    c->made++;
    c->fd = tw_transport_fd(p->transport);
    c->expected = dup(c->fd); /* the copy a user may make of the number it was handed */
    return 0;
}

static int note_made(tw_protocol *p)
{
    conn_record *c = p->factory->user;
    c->made++; /* its fd is never asked for, so never handed out */
    return 0;
}

static const tw_protocol_ops note_ops = {.connection_made = note_made,
                                         .connection_lost = record_lost};
static const tw_protocol_ops dup_ops = {.connection_made = dup_on_made,
                                        .connection_lost = record_lost};

static int build_noted(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    conn_record *c = f->user;
    out->ops = c->fd == -2 ? &dup_ops : &note_ops;
    return 0;
}

static const tw_factory_ops noted_factory_ops = {.build_protocol = build_noted};

/* One connection from a plain client that sends a byte and closes; the server reads the end of the
 * stream and closes too. Returns the epoll_ctl calls its whole life cost; c->fd < 0 asks the
 * protocol to dup the fd it is handed (c->expected then holds the dup). */
static tw_test_epoll_counts one_connection(conn_record *c)
{
    tw_test_log log;
    tw_reactor *r = tw_test_reactor_new(&log);
    assert_non_null(r);
    tw_factory factory = {.ops = &noted_factory_ops, .user = c};
    int err = 0;
    tw_port *port = tw_listen_tcp(r, 0, "127.0.0.1", 0, &factory, &err);
    assert_non_null(port);
    tw_reactor_iterate(r, 0);
    tw_test_epoll_counts before = tw_test_epoll_counts_now();
    int client = tw_test_tcp_client(tw_test_port_number(port));
    assert_true(client >= 0);
    assert_int_equal(write(client, "x", 1), 1);
    shutdown(client, SHUT_WR);
    assert_true(tw_test_run_until(r, lost_once, c, 5));
    tw_test_epoll_counts after = tw_test_epoll_counts_now();
    c->watched_after_close = tw_test_epoll_watches(c->fd);
    assert_int_equal(c->made, 1);
    assert_string_equal(c->reason_type, TW_CONNECTION_DONE);
    close(client);
    tw_port_free(port);
    tw_test_reactor_free(r, &log);
    return (tw_test_epoll_counts){after.adds - before.adds, after.mods - before.mods,
                                  after.dels - before.dels};
}

static void skip_unless_epoll(void)
{
    if (strcmp(tw_reactor_backend(), "epoll") != 0) {
        print_message("counts epoll_ctl calls: skipped on %s\n", tw_reactor_backend());
        skip();
    }
}

static void test_closing_a_connection_costs_no_epoll_ctl(void **state)
{
    (void)state;
    skip_unless_epoll();
    conn_record c = {.fd = -1};
    tw_test_epoll_counts cost = one_connection(&c);
    assert_int_equal(cost.adds, 1); /* its reader */
    assert_int_equal(cost.mods, 0);
    assert_int_equal(cost.dels, 0);
}

static void test_handed_out_fd_is_taken_back_from_the_kernel(void **state)
{
    (void)state;
    skip_unless_epoll();
    conn_record c = {.fd = -2};
    tw_test_epoll_counts cost = one_connection(&c);
    assert_true(c.expected >= 0);
    assert_int_equal(cost.dels, 1);
    /* The dup kept the socket open: a watch left behind would still be in the reactor's set. */
    assert_int_equal(c.watched_after_close, 0);
    close(c.expected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_watch_closes_the_connection),
        cmocka_unit_test(test_refused_watch_fails_the_connection_attempt),
        cmocka_unit_test(test_closing_a_connection_costs_no_epoll_ctl),
        cmocka_unit_test(test_handed_out_fd_is_taken_back_from_the_kernel),
    };
    return cmocka_run_group_tests_name("transport_watch", tests, NULL, NULL);
}
