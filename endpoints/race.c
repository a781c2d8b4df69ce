/* Happy Eyeballs (RFC 8305, section 5) over a connect's addresses: keep the resolver's order,
 * interleave the families starting with the first address's, start one attempt at once and each
 * next one after the attempt delay or as soon as the attempt in progress fails (never two within
 * the minimum spacing), and let the first socket to connect win; the others are closed at once. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/internal.h"
#include "transport/net.h"

#define SPACING_NS ((int64_t)(TW_HAPPY_EYEBALLS_SPACING_MIN * 1e9 + 0.5))

static void start_next(tw__connect_run *run);

/* ---- the order ------------------------------------------------------------------------------- */

static bool wanted(const tw__connect_run *run, const tw_address *a)
{
    if (a->type == TW_ADDRESS_UNIX)
        return true;
    int family = a->type == TW_ADDRESS_TCP4 ? AF_INET : AF_INET6;
    if (run->family != AF_UNSPEC && run->family != family)
        return false;
    return run->bind_len == 0 || run->bind.ss_family == family;
}

/* RFC 8305 section 4, First Address Family Count 1: alternate the families, starting with the
 * family of the first address, each family in the resolver's order. */
static void interleave(tw__connect_run *run, const tw_address *addrs, size_t count)
{
    size_t n = 0;
    for (size_t i = 0; i < count && n < TW_HOSTNAME_ADDRESSES_MAX; i++)
        if (wanted(run, &addrs[i]))
            run->attempts[n++].address = addrs[i];
    if (n == 0)
        return;
    tw__attempt *kept = malloc(n * sizeof *kept);
    if (!kept) {
        run->count = n; /* out of memory: the resolver's order, which is still a fair order */
        return;
    }
    memcpy(kept, run->attempts, n * sizeof *kept);
    tw_address_type first = kept[0].address.type;
    size_t next_first = 0, next_other = 0, out = 0;
    while (out < n) {
        bool want_first = out % 2 == 0;
        size_t *cursor = want_first ? &next_first : &next_other;
        while (*cursor < n && (kept[*cursor].address.type == first) != want_first)
            (*cursor)++;
        if (*cursor == n) { /* this family is exhausted: the rest come from the other one */
            cursor = want_first ? &next_other : &next_first;
            while ((kept[*cursor].address.type == first) == want_first)
                (*cursor)++;
        }
        run->attempts[out++].address = kept[(*cursor)++].address;
    }
    free(kept);
    run->count = n;
}

/* ---- timers ---------------------------------------------------------------------------------- */

static void cancel_call(tw_delayed_call **dc)
{
    if (*dc)
        tw_delayed_call_cancel(*dc);
    *dc = NULL;
}

static int next_fired(void *arg)
{
    tw__connect_run *run = arg;
    run->next_call = NULL;
    tw__run_hold(run);
    if (run->phase == TW__RUN_RACING && run->started < run->count)
        start_next(run);
    tw__run_release(run);
    return 0;
}

static void schedule_next(tw__connect_run *run, double delay)
{
    int err = 0;
    cancel_call(&run->next_call);
    run->next_call = tw_call_later(run->r, delay, next_fired, run, &err);
    if (!run->next_call)
        tw__run_fail(run, tw_failure_from_errno(err, "connect"));
}

/* "At once", but never two starts within the minimum spacing. */
static void start_soon(tw__connect_run *run)
{
    int64_t earliest = run->last_start_ns + SPACING_NS;
    int64_t now = tw_reactor_now(run->r);
    if (now >= earliest)
        start_next(run);
    else /* timers round up to a whole ns: half a ns less lands exactly on earliest */
        schedule_next(run, ((double)(earliest - now) - 0.5) / 1e9);
}

/* ---- failures -------------------------------------------------------------------------------- */

static void close_attempt(tw__connect_run *run, tw__attempt *a)
{
    if (a->fd >= 0)
        tw_reactor_close_fd(run->r, a->fd);
    a->fd = -1;
}

/* Every attempt failed: one failure naming each address's error, of the type of the last one. */
static void all_failed(tw__connect_run *run)
{
    char list[TW__FAILURE_TEXT_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < run->count && used < sizeof list; i++) {
        const tw__attempt *a = &run->attempts[i];
        int n = snprintf(list + used, sizeof list - used, "%s%s: %s", i ? "; " : "",
                         tw__address_text(&a->address), tw_strerror(a->error));
        used += n > 0 ? (size_t)n : 0;
    }
    int code = run->attempts[run->last_failed].error;
    if (run->count == 1 && !run->resolve)
        tw__run_fail(run, tw__connect_failure(code, "Couldn't connect to %s: %s", run->name,
                                              tw_strerror(code)));
    else
        tw__run_fail(run,
                     tw__connect_failure(code, "Couldn't connect to %s (%s)", run->name, list));
}

static void attempt_failed(tw__connect_run *run, tw__attempt *a, int err)
{
    close_attempt(run, a);
    a->state = TW__ATTEMPT_FAILED;
    a->error = err;
    run->connecting--;
    run->last_failed = a->index;
    tw__run_trace(run, a, TW_ATTEMPT_FAILED);
    if (run->phase != TW__RUN_RACING)
        return;
    bool latest = a->index + 1 == run->started;
    if (run->started < run->count) {
        if (latest || run->connecting == 0)
            start_soon(run);
    } else if (run->connecting == 0) {
        all_failed(run);
    }
}

/* Errors connect() gave at once are told on a later turn, as a connector does. */
static int soon_fired(void *arg)
{
    tw__connect_run *run = arg;
    run->soon_call = NULL;
    tw__run_hold(run);
    for (size_t i = 0; i < run->started && run->phase == TW__RUN_RACING; i++) {
        tw__attempt *a = &run->attempts[i];
        if (a->state == TW__ATTEMPT_CONNECTING && a->error)
            attempt_failed(run, a, a->error);
    }
    tw__run_release(run);
    return 0;
}

/* ---- completion ------------------------------------------------------------------------------ */

static int socket_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    return err;
}

/* Has this attempt connected by now, though the reactor has not said so yet? */
static bool connected_now(const tw__attempt *a)
{
    struct pollfd p = {.fd = a->fd, .events = POLLOUT};
    return a->state == TW__ATTEMPT_CONNECTING && !a->error && poll(&p, 1, 0) == 1 &&
           (p.revents & POLLOUT) && socket_error(a->fd) == 0;
}

/* a connected: the earliest attempt in the order that has connected too wins, so that among
 * completions told in one turn the order decides, not the kernel's list of ready sockets. */
static void completed(tw__connect_run *run, tw__attempt *a)
{
    tw__attempt *winner = a;
    for (size_t i = 0; i < a->index; i++) {
        if (connected_now(&run->attempts[i])) {
            winner = &run->attempts[i];
            break;
        }
    }
    tw__run_hand_over(run, winner);
}

static int on_writable(tw_reactor *r, int fd, void *arg)
{
    (void)r;
    tw__attempt *a = arg;
    tw__connect_run *run = a->run;
    int err = socket_error(fd);
    if (err == EINPROGRESS || err == EALREADY || err == EINTR)
        return 0;
    tw__run_hold(run);
    if (err)
        attempt_failed(run, a, -err);
    else
        completed(run, a);
    tw__run_release(run);
    return 0;
}

/* ---- starting -------------------------------------------------------------------------------- */

static int address_to_sockaddr(const tw_address *a, struct sockaddr_storage *ss, socklen_t *len)
{
    if (a->type == TW_ADDRESS_UNIX)
        return tw__sock_parse_unix(a->path, ss, len);
    return tw__sock_parse_ip(a->type == TW_ADDRESS_TCP4 ? AF_INET : AF_INET6, a->host, a->port, ss,
                             len);
}

static int open_attempt(tw__connect_run *run, tw__attempt *a)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = address_to_sockaddr(&a->address, &ss, &len);
    if (rc == 0)
        rc = run->opener(run->opener_ctx, (struct sockaddr *)&ss, len,
                         run->bind_len ? (struct sockaddr *)&run->bind : NULL, run->bind_len,
                         &a->fd);
    if (rc == 0)
        rc = tw_reactor_add_writer(run->r, a->fd, on_writable, a);
    return rc;
}

static void start_next(tw__connect_run *run)
{
    cancel_call(&run->next_call);
    tw__attempt *a = &run->attempts[run->started++];
    run->last_start_ns = tw_reactor_now(run->r);
    a->state = TW__ATTEMPT_CONNECTING;
    run->connecting++;
    tw__run_trace(run, a, TW_ATTEMPT_STARTED);
    int rc = open_attempt(run, a);
    if (rc < 0) {
        close_attempt(run, a);
        a->error = rc;
        int err = 0;
        if (!run->soon_call)
            run->soon_call = tw_call_later(run->r, 0, soon_fired, run, &err);
        if (!run->soon_call) {
            tw__run_fail(run, tw_failure_from_errno(err, "connect"));
            return;
        }
    }
    if (run->started < run->count)
        schedule_next(run, run->attempt_delay);
}

void tw__race_begin(tw__connect_run *run, const tw_address *addrs, size_t count)
{
    size_t room = count < TW_HOSTNAME_ADDRESSES_MAX ? count : TW_HOSTNAME_ADDRESSES_MAX;
    run->attempts = room ? calloc(room, sizeof *run->attempts) : NULL;
    if (room && !run->attempts) {
        tw__run_fail(run, tw_failure_nomem());
        return;
    }
    interleave(run, addrs, count);
    if (run->count == 0) {
        const char *only = run->family == AF_INET ? " (IPv4 only)"
                           : run->family == AF_INET6 ? " (IPv6 only)" : "";
        tw__run_fail(run, tw_failure_new(TW_DNS_LOOKUP_ERROR, 0,
                                         "no results for hostname lookup: %s%s", run->host,
                                         run->bind_len ? " (of the bind address's family)" : only));
        return;
    }
    for (size_t i = 0; i < run->count; i++) {
        run->attempts[i].fd = -1;
        run->attempts[i].index = i;
        run->attempts[i].run = run;
    }
    run->phase = TW__RUN_RACING;
    start_next(run);
}

void tw__race_stop(tw__connect_run *run)
{
    cancel_call(&run->next_call);
    cancel_call(&run->soon_call);
    for (size_t i = 0; i < run->started; i++) {
        tw__attempt *a = &run->attempts[i];
        if (a->state != TW__ATTEMPT_CONNECTING)
            continue;
        close_attempt(run, a);
        a->state = TW__ATTEMPT_ABANDONED;
        run->connecting--;
        tw__run_trace(run, a, TW_ATTEMPT_ABANDONED);
    }
}

/* ---- the default opener ---------------------------------------------------------------------- */

int tw__open_connecting(void *ctx, const struct sockaddr *dest, socklen_t len,
                        const struct sockaddr *bind_to, socklen_t bind_len, int *fd)
{
    (void)ctx;
    *fd = tw__sock_stream(dest->sa_family);
    if (*fd < 0) {
        int err = *fd;
        *fd = -1;
        return err;
    }
    if (dest->sa_family != AF_UNIX)
        tw__sock_nodelay(*fd);
    if (bind_to && bind(*fd, bind_to, bind_len) < 0)
        return -errno;
    int rc;
    do
        rc = connect(*fd, dest, len);
    while (rc < 0 && errno == EINTR);
    return rc < 0 && errno != EINPROGRESS ? -errno : 0;
}
