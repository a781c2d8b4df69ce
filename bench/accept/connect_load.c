/* Load generator for bench/accept: opens TCP connections to 127.0.0.1:PORT as fast as it can with
 * non-blocking connects, keeps at most WINDOW of them in flight per thread, and closes each one with
 * a reset (SO_LINGER 0) once the server has closed it, so no TIME_WAIT piles up on either side. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "bench.h"

#define LOAD_THREADS_MAX 64
#define LOAD_WINDOW_MAX 4096   /* connections in flight per thread; keep total below the backlog */
#define LOAD_EVENTS 256        /* epoll events per wait */
#define LOAD_WAIT_MS 100       /* longest wait, so the deadline is noticed if the server stalls */
#define LOAD_STALL_NS 5000000000LL /* no completion for this long: the server is broken */

/* burst: open WINDOW connections, wait until every one is done, open WINDOW again: the server
 * finds many connections pending per readiness event. steady: refill the window after every
 * wait, so connections arrive one by one as others finish. */
typedef enum { REFILL_BURST, REFILL_STEADY } refill_mode;

typedef struct {
    uint16_t port;
    unsigned window, threads;
    refill_mode refill;
    double seconds;
} load_opts;

typedef struct {
    const load_opts *o;
    pthread_t thread;
    uint64_t done, errors;
    int first_errno;
} load_worker;

/* A non-blocking connect already in progress (or made) and watched for the server's close. */
static int open_one(int ep, const struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (connect(fd, (const struct sockaddr *)sin, sizeof *sin) < 0 && errno != EINPROGRESS) {
        int err = -errno;
        close(fd);
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return 0;
}

/* The server's close arrived (or an error): 0 for a clean EOF, else a negative errno. */
static int finish_one(int fd, uint32_t events)
{
    int err = 0;
    if (events & EPOLLERR) {
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        err = -(err ? err : EIO);
    } else {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n > 0)
            err = -EPROTO; /* the server closes without writing */
        else if (n < 0)
            err = -errno;
    }
    close(fd); /* SO_LINGER 0: a reset, which also frees the server's FIN_WAIT2 socket */
    return err;
}

static void record_error(load_worker *w, int err)
{
    if (w->errors++ == 0)
        w->first_errno = -err;
}

static void *worker_main(void *arg)
{
    load_worker *w = arg;
    const load_opts *o = w->o;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(o->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        record_error(w, -errno);
        return NULL;
    }
    struct epoll_event evs[LOAD_EVENTS];
    int64_t deadline = bench_wall_ns() + (int64_t)(o->seconds * 1e9);
    int64_t last_done = bench_wall_ns();
    unsigned in_flight = 0;
    bool stopping = false;
    while (!stopping || in_flight > 0) {
        bool refill = o->refill == REFILL_STEADY || in_flight == 0;
        while (refill && !stopping && in_flight < o->window) {
            int rc = open_one(ep, &sin);
            if (rc < 0) {
                record_error(w, rc);
                break;
            }
            in_flight++;
        }
        int n = epoll_wait(ep, evs, LOAD_EVENTS, LOAD_WAIT_MS);
        int64_t now = bench_wall_ns();
        for (int i = 0; i < n; i++) {
            int rc = finish_one(evs[i].data.fd, evs[i].events);
            in_flight--;
            if (rc < 0)
                record_error(w, rc);
            else
                w->done++;
            last_done = now;
        }
        stopping = stopping || now >= deadline || w->errors > 0;
        if (now - last_done > LOAD_STALL_NS) {
            record_error(w, -ETIMEDOUT);
            break; /* the connections still open are closed by exit */
        }
    }
    close(ep);
    return NULL;
}

static void parse_args(int argc, char **argv, load_opts *o)
{
    *o = (load_opts){.window = 64, .threads = 1, .refill = REFILL_BURST, .seconds = 1.5};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--port") == 0)
            o->port = (uint16_t)atoi(v);
        else if (strcmp(k, "--window") == 0)
            o->window = (unsigned)atoi(v);
        else if (strcmp(k, "--threads") == 0)
            o->threads = (unsigned)atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            o->seconds = atof(v);
        else if (strcmp(k, "--refill") == 0 && strcmp(v, "burst") == 0)
            o->refill = REFILL_BURST;
        else if (strcmp(k, "--refill") == 0 && strcmp(v, "steady") == 0)
            o->refill = REFILL_STEADY;
        else
            bench_fail("connect_load: bad option %s %s", k, v);
    }
    if (argc % 2 == 0 || o->port == 0 || o->window == 0 || o->window > LOAD_WINDOW_MAX ||
        o->threads == 0 || o->threads > LOAD_THREADS_MAX || !(o->seconds > 0))
        bench_fail("usage: connect_load --port P [--window 1..%d] [--threads 1..%d] "
                   "[--refill burst|steady] [--seconds S]", LOAD_WINDOW_MAX, LOAD_THREADS_MAX);
}

int main(int argc, char **argv)
{
    load_opts o;
    parse_args(argc, argv, &o);
    load_worker workers[LOAD_THREADS_MAX] = {0};
    for (unsigned i = 0; i < o.threads; i++) {
        workers[i].o = &o;
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            bench_fail("connect_load: cannot start thread %u", i);
    }
    uint64_t done = 0, errors = 0;
    int first_errno = 0;
    for (unsigned i = 0; i < o.threads; i++) {
        pthread_join(workers[i].thread, NULL);
        done += workers[i].done;
        errors += workers[i].errors;
        if (!first_errno)
            first_errno = workers[i].first_errno;
    }
    /* Our CPU seconds let run.sh tell how much of the machine something else used meanwhile. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    fprintf(stderr, "connect_load: %llu connections, %llu errors%s%s, cpu_s=%.3f\n",
            (unsigned long long)done, (unsigned long long)errors, errors ? ", first: " : "",
            errors ? strerror(first_errno) : "", cpu_s);
    return errors ? 1 : 0;
}
