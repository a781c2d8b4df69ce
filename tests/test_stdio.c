/* Tests for the stdio endpoint and transport. Each runs in a forked child whose fds 0 and 1 are
 * replaced by pipes, regular files, /dev/null or a socket; the child's reactor drives both the
 * stdio connection (an echo protocol) and the test's own ends of those pipes. Checked: echo
 * through pipes with stdin's EOF as a read half-close and stdout's EOF after it, regular files
 * (always ready, never watched), /dev/null, a socket on both fds, back-pressure when stdout is not
 * read, a reader that goes away (EPIPE, no SIGPIPE), a protocol that is not half-closeable, one
 * stdio at a time, and the fds' flags restored at the end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <twine/twine.h>

#include "support/child.h"
#include "support/net.h"
#include "support/outcome.h"
#include "support/reactor_test.h"

#define INPUT_SIZE (3u << 20) /* more than any pipe or socket buffer */
/* A guard only: each case takes milliseconds. */
#define GUARD_SECONDS 10.0
/* Turns without progress feeding stdin that count as stalled. */
#define STALL_TURNS 20

/* ---- what a child reports -------------------------------------------------------------------- */

typedef struct {
    char failure[160];      /* empty when everything the child checked held */
    size_t echoed;          /* bytes that came back out of stdout */
    bool output_eof;        /* stdout reached EOF (its last writer let go) */
    int read_lost, write_lost, lost;
    char lost_type[40];
    size_t max_buffered;    /* the most the stdio transport held to write */
    bool flags_restored;    /* O_NONBLOCK back off on both original descriptions */
    bool released;          /* fds 0 and 1 now read and write /dev/null */
    int errors_logged;
    char host[16], peer[16], built_for[16]; /* the addresses, formatted */
} report;

#define CHILD_CHECK(r, cond)                                                                      \
    do {                                                                                         \
        if (!(cond) && !(r)->failure[0])                                                         \
            snprintf((r)->failure, sizeof(r)->failure, "line %d: %s", __LINE__, #cond);          \
    } while (0)

/* ---- the protocol on stdio: echo, recording what happens ------------------------------------- */

typedef struct {
    report *r;
    tw_transport *t;
    bool half_close;
} echo_state;

static ssize_t echo_data(tw_protocol *p, const char *data, size_t len)
{
    echo_state *s = p->user;
    tw_transport_write(p->transport, data, len);
    size_t held = tw_transport_write_buffer_size(p->transport);
    if (held > s->r->max_buffered)
        s->r->max_buffered = held;
    return (ssize_t)len;
}

static int echo_read_lost(tw_protocol *p)
{
    echo_state *s = p->user;
    s->r->read_lost++;
    tw_transport_lose_write_connection(p->transport);
    return 0;
}

static int echo_write_lost(tw_protocol *p)
{
    echo_state *s = p->user;
    s->r->write_lost++;
    tw_transport_lose_connection(p->transport);
    return 0;
}

static void format_address(int rc, const tw_address *a, char *text, size_t size)
{
    if (rc < 0 || tw_address_format(a, text, size) < 0)
        snprintf(text, size, "error %d", rc);
}

static int echo_made(tw_protocol *p)
{
    echo_state *s = p->user;
    s->t = p->transport;
    tw_address a;
    format_address(tw_transport_get_host(p->transport, &a), &a, s->r->host, sizeof s->r->host);
    format_address(tw_transport_get_peer(p->transport, &a), &a, s->r->peer, sizeof s->r->peer);
    return 0;
}

static void echo_lost(tw_protocol *p, const tw_failure *reason)
{
    echo_state *s = p->user;
    s->r->lost++;
    s->t = NULL;
    snprintf(s->r->lost_type, sizeof s->r->lost_type, "%s", tw_failure_type(reason));
}

static const tw_protocol_ops half_close_ops = {
    .connection_made = echo_made,
    .data_received = echo_data,
    .read_connection_lost = echo_read_lost,
    .write_connection_lost = echo_write_lost,
    .connection_lost = echo_lost,
};

static const tw_protocol_ops plain_ops = {
    .connection_made = echo_made,
    .data_received = echo_data,
    .connection_lost = echo_lost,
};

static int echo_build(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    echo_state *s = f->user;
    format_address(0, peer, s->r->built_for, sizeof s->r->built_for);
    out->ops = s->half_close ? &half_close_ops : &plain_ops;
    out->user = s;
    return 0;
}

static const tw_factory_ops echo_factory_ops = {.build_protocol = echo_build};

/* ---- the test's ends: feed stdin, drain stdout ----------------------------------------------- */

typedef struct {
    report *r;
    int feed;             /* writes into stdin, -1 when done */
    int drain;            /* reads stdout, -1 when done */
    size_t fed;
    const char *input;
    bool drain_paused;    /* not reading stdout for now */
    size_t drained_max;   /* stop reading after this many (0: no limit) */
} ends;

static int feed_writable(tw_reactor *r, int fd, void *arg)
{
    ends *e = arg;
    ssize_t n = write(fd, e->input + e->fed, INPUT_SIZE - e->fed);
    if (n > 0)
        e->fed += (size_t)n;
    if (e->fed == INPUT_SIZE || (n < 0 && errno != EAGAIN)) {
        shutdown(fd, SHUT_WR);      /* EOF on stdin (a socket's other copy stays open) */
        tw_reactor_close_fd(r, fd);
        e->feed = -1;
    }
    return 0;
}

static int drain_readable(tw_reactor *r, int fd, void *arg)
{
    ends *e = arg;
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0)
        e->r->echoed += (size_t)n;
    if (n == 0) {
        e->r->output_eof = true;
        tw_reactor_close_fd(r, fd);
        e->drain = -1;
    }
    if (e->drained_max && e->r->echoed >= e->drained_max) {
        tw_reactor_close_fd(r, fd); /* the reader goes away */
        e->drain = -1;
    }
    return 0;
}

/* ---- the child ------------------------------------------------------------------------------- */

typedef enum { PIPES, FILES, DEV_NULL, SOCKET } plumbing;

typedef struct {
    plumbing plumbing;
    bool half_close;
    bool stall_output;    /* do not read stdout until stdin is all written */
    size_t reader_quits_after;
    bool listen_twice;
} setup_spec;

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool nonblocking(int fd)
{
    return fcntl(fd, F_GETFL) & O_NONBLOCK;
}

static bool is_dev_null(int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 && a.st_rdev == b.st_rdev &&
           S_ISCHR(a.st_mode);
}

/* Makes fds 0 and 1 what the spec says; *feed and *drain are the test's ends (or -1), *keep the
 * originals' copies to check their flags afterwards. */
static void plumb(const setup_spec *spec, char *input, int *feed, int *drain, int keep[2])
{
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    *feed = *drain = -1;
    if (spec->plumbing == PIPES) {
        assert_int_equal(pipe(in), 0);
        assert_int_equal(pipe(out), 0);
        *feed = in[1];
        *drain = out[0];
    } else if (spec->plumbing == SOCKET) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, in), 0);
        out[1] = dup(in[0]);
        *feed = in[1];
        *drain = dup(in[1]);
    } else if (spec->plumbing == FILES) {
        char name[] = "/tmp/twine-stdio-XXXXXX";
        in[0] = mkstemp(name);
        unlink(name);
        assert_int_equal(write(in[0], input, INPUT_SIZE), INPUT_SIZE);
        lseek(in[0], 0, SEEK_SET);
        char outname[] = "/tmp/twine-stdio-XXXXXX";
        out[1] = mkstemp(outname);
        unlink(outname);
        *drain = dup(out[1]); /* read back at the end */
    } else {
        in[0] = open("/dev/null", O_RDONLY);
        out[1] = open("/dev/null", O_WRONLY);
    }
    dup2(in[0], 0);
    dup2(out[1], 1);
    keep[0] = dup(0);
    /* A copy of a pipe's write end would keep its reader from seeing EOF. */
    keep[1] = spec->plumbing == PIPES ? -1 : dup(1);
    close(in[0]);
    close(out[1]);
}

static size_t file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (size_t)st.st_size : 0;
}

static bool finished(void *arg)
{
    ends *e = arg;
    return e->r->lost > 0 && e->drain < 0 && e->feed < 0;
}

static void run_stdio(const void *arg, void *out)
{
    const setup_spec *spec = arg;
    report *r = out;
    memset(r, 0, sizeof *r);
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the child: the transport must not raise one */
    char *input = malloc(INPUT_SIZE);
    tw_test_fill_random(input, INPUT_SIZE, 7);
    ends e = {.r = r, .input = input};
    int keep[2];
    plumb(spec, input, &e.feed, &e.drain, keep);
    tw_test_log log;
    tw_reactor *reactor = tw_test_reactor_new(&log);
    echo_state state = {.r = r, .half_close = spec->half_close};
    tw_factory factory = {.ops = &echo_factory_ops, .user = &state};
    int err = 0;
    tw_server_endpoint *ep = tw_stdio_endpoint_new(reactor, &err);
    tw_test_outcome o;
    tw_test_outcome_expect(tw_server_endpoint_listen(ep, &factory, &err), &o);
    CHILD_CHECK(r, o.fired == 1 && tw_test_outcome_ok(&o) && o.value == NULL);
    if (spec->listen_twice) {
        tw_test_outcome again;
        tw_test_outcome_expect(tw_server_endpoint_listen(ep, &factory, &err), &again);
        CHILD_CHECK(r, !tw_test_outcome_ok(&again) && again.code == -EBUSY);
        CHILD_CHECK(r, strcmp(again.type, TW_CANNOT_LISTEN_ERROR) == 0);
    }
    e.drained_max = spec->reader_quits_after;
    if (e.feed >= 0) {
        fcntl(e.feed, F_SETFL, O_NONBLOCK);
        CHILD_CHECK(r, tw_reactor_add_writer(reactor, e.feed, feed_writable, &e) == 0);
    }
    if (e.drain >= 0 && spec->plumbing != FILES) {
        fcntl(e.drain, F_SETFL, O_NONBLOCK);
        if (!spec->stall_output)
            CHILD_CHECK(r, tw_reactor_add_reader(reactor, e.drain, drain_readable, &e) == 0);
    }
    bool stalled = spec->stall_output;
    size_t last_fed = 0;
    int still = 0;
    double give_up = monotonic_seconds() + GUARD_SECONDS;
    while (!finished(&e) && monotonic_seconds() < give_up) {
        tw_reactor_iterate(reactor, 0.01);
        /* Stalled: nobody reads stdout. Once feeding stdin makes no progress (the echo stopped
         * reading it), let stdout be read. */
        still = e.fed == last_fed ? still + 1 : 0;
        last_fed = e.fed;
        if (stalled && still >= STALL_TURNS) {
            stalled = false;
            CHILD_CHECK(r, tw_reactor_add_reader(reactor, e.drain, drain_readable, &e) == 0);
        }
        if (spec->plumbing == FILES && r->lost && e.drain >= 0) {
            r->echoed = file_size(e.drain);
            close(e.drain);
            e.drain = -1;
            r->output_eof = true;
        }
    }
    r->flags_restored = !nonblocking(keep[0]) && (keep[1] < 0 || !nonblocking(keep[1]));
    r->released = is_dev_null(0) && is_dev_null(1);
    r->errors_logged = tw_test_log_errors(&log);
    tw_server_endpoint_free(ep);
    tw_test_reactor_free(reactor, &log);
    close(keep[0]);
    if (keep[1] >= 0)
        close(keep[1]);
    free(input);
}

static report run(const setup_spec *spec)
{
    report r;
    tw_test_run_in_child(run_stdio, spec, &r, sizeof r);
    if (r.failure[0])
        fail_msg("in the child: %s", r.failure);
    return r;
}

/* ---- the tests ------------------------------------------------------------------------------- */

static void test_pipes_echo_with_half_close(void **state)
{
    (void)state;
    setup_spec spec = {.plumbing = PIPES, .half_close = true};
    report r = run(&spec);
    assert_int_equal(r.echoed, INPUT_SIZE);
    assert_int_equal(r.read_lost, 1);  /* stdin's EOF: a read half-close */
    assert_int_equal(r.write_lost, 1); /* then stdout was closed for us */
    assert_true(r.output_eof);
    assert_int_equal(r.lost, 1);
    assert_string_equal(r.lost_type, TW_CONNECTION_DONE);
    assert_true(r.flags_restored);
    assert_true(r.released);
    assert_int_equal(r.errors_logged, 0);
    /* Twisted's PipeAddress: stdio's ends have no socket address */
    assert_string_equal(r.built_for, "stdio:");
    assert_string_equal(r.host, "stdio:");
    assert_string_equal(r.peer, "stdio:");
}

static void test_regular_files_are_always_ready(void **state)
{
    (void)state;
    setup_spec spec = {.plumbing = FILES, .half_close = true};
    report r = run(&spec);
    assert_int_equal(r.echoed, INPUT_SIZE);
    assert_int_equal(r.read_lost, 1);
    assert_int_equal(r.lost, 1);
    assert_true(r.flags_restored);
    assert_int_equal(r.errors_logged, 0); /* epoll's EPERM never came up */
}

static void test_dev_null(void **state)
{
    (void)state;
    setup_spec spec = {.plumbing = DEV_NULL, .half_close = true};
    report r = run(&spec);
    assert_int_equal(r.read_lost, 1);
    assert_int_equal(r.lost, 1);
    assert_int_equal(r.errors_logged, 0);
}

static void test_a_socket_on_both_fds(void **state)
{
    (void)state;
    setup_spec spec = {.plumbing = SOCKET, .half_close = true};
    report r = run(&spec);
    assert_int_equal(r.echoed, INPUT_SIZE);
    assert_true(r.output_eof); /* the write side was shut down: the peer saw EOF */
    assert_int_equal(r.lost, 1);
    assert_true(r.flags_restored);
    assert_string_equal(r.peer, "stdio:"); /* a socket on the fds changes nothing */
}

/* stdout is not read while stdin is fed: the echo stops reading stdin, so what it holds to write
 * stays near the high-water mark instead of growing with the input. */
static void test_back_pressure_when_stdout_is_not_read(void **state)
{
    (void)state;
    setup_spec spec = {.plumbing = PIPES, .half_close = true, .stall_output = true};
    report r = run(&spec);
    assert_int_equal(r.echoed, INPUT_SIZE);
    assert_true(r.max_buffered > 0);
    assert_true(r.max_buffered <= TW_TRANSPORT_HIGH_WATER_DEFAULT + 65536);
}

static void test_reader_going_away_is_epipe_not_sigpipe(void **state)
{
    (void)state;
    setup_spec spec = {.plumbing = PIPES, .half_close = true, .reader_quits_after = 100000};
    report r = run(&spec); /* the child survived: no SIGPIPE */
    assert_int_equal(r.lost, 1);
    assert_string_equal(r.lost_type, TW_CONNECTION_LOST);
    assert_true(r.flags_restored);
}

static void test_not_half_closeable_closes_at_eof(void **state)
{
    (void)state;
    setup_spec spec = {.plumbing = DEV_NULL, .half_close = false};
    report r = run(&spec);
    assert_int_equal(r.read_lost, 0);
    assert_int_equal(r.lost, 1);
    assert_string_equal(r.lost_type, TW_CONNECTION_DONE);
}

static void test_one_stdio_at_a_time(void **state)
{
    (void)state;
    setup_spec spec = {.plumbing = DEV_NULL, .half_close = true, .listen_twice = true};
    report r = run(&spec);
    assert_int_equal(r.lost, 1);
}

static void test_server_string(void **state)
{
    (void)state;
    tw_server_description d;
    assert_int_equal(tw_server_from_string("stdio:", &d, NULL, 0), 0);
    int err = 0;
    tw_test_log log;
    tw_reactor *r = tw_test_reactor_new(&log);
    tw_server_endpoint *ep = tw_server_endpoint_from_description(r, &d, &err);
    assert_non_null(ep);
    tw_server_endpoint_free(ep);
    assert_null(tw_stdio_endpoint_new(NULL, &err));
    assert_int_equal(err, -EINVAL);
    tw_test_reactor_free(r, &log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipes_echo_with_half_close),
        cmocka_unit_test(test_regular_files_are_always_ready),
        cmocka_unit_test(test_dev_null),
        cmocka_unit_test(test_a_socket_on_both_fds),
        cmocka_unit_test(test_back_pressure_when_stdout_is_not_read),
        cmocka_unit_test(test_reader_going_away_is_epipe_not_sigpipe),
        cmocka_unit_test(test_not_half_closeable_closes_at_eof),
        cmocka_unit_test(test_one_stdio_at_a_time),
        cmocka_unit_test(test_server_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
