/* Load generator for twine's echo benchmark: drives any TCP echo server on 127.0.0.1 in one of three
 * modes (ping-pong, connection churn, idle connections), checks every echoed byte, samples the
 * server's CPU time and memory from /proc, and prints one RESULT line (bench/lib/bench.h format). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "bench.h"

#define LOADGEN_MSG_MAX (1u << 20)          /* largest message, bytes */
#define LOADGEN_CONNS_MAX 100000            /* most connections in any mode */
#define LOADGEN_SAMPLES_MAX (8u << 20)      /* round trips whose latency is kept */
#define LOADGEN_EVENTS 256                  /* epoll events per wait */
#define LOADGEN_IDLE_BURST 100              /* idle mode: connections opened at once (--burst) */
#define LOADGEN_SETTLE_NS 200000000         /* idle mode: let the server finish its work */
#define LOADGEN_SOURCE_ADDRS 64             /* client addresses 127.0.0.2 .. 127.0.0.65 */

typedef enum { MODE_PINGPONG, MODE_CHURN, MODE_IDLE } loadgen_mode;

typedef struct {
    loadgen_mode mode;
    uint16_t port;
    size_t conns;      /* ping-pong and idle: connections; churn: concurrent slots */
    size_t size;       /* message bytes */
    size_t burst;      /* idle: connections opened at once, each batch echoed before the next */
    double seconds;    /* measured window */
    double warmup;     /* seconds before the window opens */
    uint64_t count;    /* stop after this many round trips instead (0: time decides) */
    pid_t pid;         /* server, for /proc sampling (0: none) */
    const char *lib, *ver, *tag;
} loadgen_opts;

/* One client connection: which message it is on and how much of the echo has come back. */
typedef struct {
    int fd;
    bool connecting;
    uint64_t seq;
    size_t sent, got;
    int64_t opened_at, sent_at;
} conn;

typedef struct {
    const loadgen_opts *o;
    int ep;
    conn *conns;
    char *msg;         /* the message; its first 8 bytes are overwritten with each conn's seq */
    char *rbuf;
    uint32_t *samples; /* round-trip nanoseconds inside the window */
    size_t nsamples;
    uint64_t done;     /* round trips (or connections, in churn) completed inside the window */
    bool in_window;
} loadgen;

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen pingpong|churn|idle --port P [--conns N] [--size BYTES] [--seconds T]\n"
            "               [--warmup T] [--count N] [--burst N] [--pid SERVER_PID] [--lib NAME]\n"
            "               [--ver V] [--tag K=V,...]\n");
    exit(2);
}

static unsigned long long parse_num(const char *s, unsigned long long max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || v > max)
        bench_fail("bad number '%s'", s);
    return v;
}

static double parse_seconds(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || v < 0 || v > 3600)
        bench_fail("bad duration '%s'", s);
    return v;
}

static loadgen_opts parse_args(int argc, char **argv)
{
    loadgen_opts o = {.conns = 1, .size = 64, .seconds = 1, .warmup = 0.2, .lib = "?",
                      .ver = "-", .tag = NULL, .burst = LOADGEN_IDLE_BURST};
    if (argc < 2)
        usage();
    if (!strcmp(argv[1], "pingpong"))
        o.mode = MODE_PINGPONG;
    else if (!strcmp(argv[1], "churn"))
        o.mode = MODE_CHURN;
    else if (!strcmp(argv[1], "idle"))
        o.mode = MODE_IDLE;
    else
        usage();
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc)
            usage();
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port"))
            o.port = (uint16_t)parse_num(v, 65535);
        else if (!strcmp(k, "--conns"))
            o.conns = parse_num(v, LOADGEN_CONNS_MAX);
        else if (!strcmp(k, "--size"))
            o.size = parse_num(v, LOADGEN_MSG_MAX);
        else if (!strcmp(k, "--seconds"))
            o.seconds = parse_seconds(v);
        else if (!strcmp(k, "--warmup"))
            o.warmup = parse_seconds(v);
        else if (!strcmp(k, "--count"))
            o.count = parse_num(v, UINT64_MAX);
        else if (!strcmp(k, "--burst"))
            o.burst = parse_num(v, LOADGEN_CONNS_MAX);
        else if (!strcmp(k, "--pid"))
            o.pid = (pid_t)parse_num(v, INT32_MAX);
        else if (!strcmp(k, "--lib"))
            o.lib = v;
        else if (!strcmp(k, "--ver"))
            o.ver = v;
        else if (!strcmp(k, "--tag"))
            o.tag = v;
        else
            usage();
    }
    if (o.port == 0 || o.conns == 0 || o.burst == 0 || o.size < sizeof(uint64_t))
        bench_fail("need --port, --conns >= 1, --burst >= 1 and --size >= 8");
    return o;
}

/* ---- /proc sampling of the server ------------------------------------------------------------- */

static FILE *proc_open(pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        bench_fail("server %d is gone (%s)", (int)pid, strerror(errno));
    return f;
}

/* utime + stime of every thread of pid, in clock ticks (fields 14 and 15 of /proc/PID/stat). */
static long long proc_cpu_ticks(pid_t pid)
{
    char buf[1024];
    FILE *f = proc_open(pid, "stat");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces; fields resume after ')' */
    long long utime, stime;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &utime, &stime) != 2)
        bench_fail("cannot parse /proc/%d/stat", (int)pid);
    return utime + stime;
}

static double proc_cpu_ns(pid_t pid)
{
    return pid ? (double)proc_cpu_ticks(pid) * 1e9 / (double)sysconf(_SC_CLK_TCK) : 0;
}

/* The same utime + stime sum, but exact to the nanosecond: the kernel's CPU clock of process pid.
 * /proc/PID/stat counts in clock ticks (10 ms), too coarse for a one-second window. */
static double server_cpu_ns(pid_t pid)
{
    clockid_t id;
    struct timespec ts;
    if (pid == 0)
        return 0;
    if (clock_getcpuclockid(pid, &id) != 0 || clock_gettime(id, &ts) != 0)
        return proc_cpu_ns(pid); /* no CPU clock for other processes here: ticks it is */
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct {
    double exact, ticks; /* server CPU ns: from its CPU clock, and from /proc/PID/stat */
} cpu_sample;

static cpu_sample sample_cpu(pid_t pid)
{
    return (cpu_sample){server_cpu_ns(pid), proc_cpu_ns(pid)};
}

static cpu_sample cpu_since(pid_t pid, cpu_sample start)
{
    cpu_sample now = sample_cpu(pid);
    return (cpu_sample){now.exact - start.exact, now.ticks - start.ticks};
}

/* VmRSS of pid in bytes. */
static long long proc_rss_bytes(pid_t pid)
{
    char line[256];
    FILE *f = proc_open(pid, "status");
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            break;
    fclose(f);
    if (kb < 0)
        bench_fail("no VmRSS in /proc/%d/status", (int)pid);
    return kb * 1024;
}

/* ---- sockets ------------------------------------------------------------------------------------ */

/* Connections come from 64 loopback addresses in turn. Churn leaves every closed connection in
 * TIME_WAIT on this side for a minute; from one address the ~28,000 ephemeral ports fill within a
 * second at churn rates and connect() then spends its time searching for a port, which made the
 * rate jump between two levels from run to run whatever the server. The port is still picked at
 * connect() time (IP_BIND_ADDRESS_NO_PORT), per address. */
static void pick_source(int fd)
{
    static unsigned next;
    int one = 1;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + next++ % LOADGEN_SOURCE_ADDRS);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
        bench_fail("bind to %s: %s", inet_ntoa(src.sin_addr), strerror(errno));
}

/* A non-blocking connect to the server; *connecting says whether it is still in progress. */
static int open_conn(const loadgen_opts *o, bool *connecting)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        bench_fail("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pick_source(fd);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(o->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *connecting = false;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno != EINPROGRESS)
            bench_fail("connect to port %u: %s", o->port, strerror(errno));
        *connecting = true;
    }
    return fd;
}

static void watch(loadgen *g, int op, conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(g->ep, op, c->fd, &ev) < 0)
        bench_fail("epoll_ctl: %s", strerror(errno));
}

static int connect_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err;
}

/* ---- one message on one connection -------------------------------------------------------------- */

static void stamp(loadgen *g, conn *c)
{
    memcpy(g->msg, &c->seq, sizeof c->seq);
}

/* Sends (the rest of) c's current message; true once it is all written. */
static bool send_some(loadgen *g, conn *c)
{
    stamp(g, c);
    while (c->sent < g->o->size) {
        ssize_t n = send(c->fd, g->msg + c->sent, g->o->size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return false;
            bench_fail("%s: send: %s", g->o->lib, strerror(errno));
        }
        c->sent += (size_t)n;
    }
    return true;
}

static void start_message(loadgen *g, conn *c)
{
    c->seq++;
    c->sent = c->got = 0;
    c->sent_at = bench_wall_ns();
    if (!send_some(g, c))
        watch(g, EPOLL_CTL_MOD, c, EPOLLIN | EPOLLOUT);
}

/* Opens c and sends its first message as soon as it is connected. */
static void conn_open(loadgen *g, conn *c)
{
    c->fd = open_conn(g->o, &c->connecting);
    c->opened_at = bench_wall_ns();
    watch(g, EPOLL_CTL_ADD, c, c->connecting ? EPOLLOUT : EPOLLIN);
    if (!c->connecting)
        start_message(g, c);
}

/* Reads what the server echoed; returns true when the whole message is back, checking each byte. */
static bool receive_some(loadgen *g, conn *c)
{
    size_t want = g->o->size - c->got;
    ssize_t n = recv(c->fd, g->rbuf, want, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return false;
        bench_fail("%s: recv: %s", g->o->lib, strerror(errno));
    }
    if (n == 0)
        bench_fail("%s: server closed a connection mid-message", g->o->lib);
    if (c->got + (size_t)n > c->sent)
        bench_fail("%s: server echoed bytes it was never sent", g->o->lib);
    stamp(g, c);
    if (memcmp(g->rbuf, g->msg + c->got, (size_t)n) != 0)
        bench_fail("%s: echo differs from what was sent", g->o->lib);
    c->got += (size_t)n;
    return c->got == g->o->size;
}

static void record(loadgen *g, int64_t rtt_ns)
{
    if (!g->in_window)
        return;
    g->done++;
    if (g->nsamples < LOADGEN_SAMPLES_MAX)
        g->samples[g->nsamples++] = rtt_ns > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_ns;
}

/* ---- the event loop shared by every mode -------------------------------------------------------- */

typedef struct {
    /* Called when c's whole message has come back. */
    void (*echoed)(loadgen *g, conn *c);
} mode_ops;

static void on_event(loadgen *g, conn *c, uint32_t events, const mode_ops *ops)
{
    if (c->connecting) {
        int err = connect_error(c->fd);
        if (err)
            bench_fail("%s: connect: %s", g->o->lib, strerror(err));
        c->connecting = false;
        watch(g, EPOLL_CTL_MOD, c, EPOLLIN);
        start_message(g, c);
        return;
    }
    if ((events & EPOLLOUT) && c->sent < g->o->size && send_some(g, c))
        watch(g, EPOLL_CTL_MOD, c, EPOLLIN);
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && receive_some(g, c))
        ops->echoed(g, c);
}

/* Runs the loop until the time (or count) is up. The window opens after the warm-up; the server's
 * CPU is sampled at its edges. Returns the window's wall-clock length in ns; cpu gets the server's. */
static int64_t run_window(loadgen *g, const mode_ops *ops, cpu_sample *cpu)
{
    const loadgen_opts *o = g->o;
    struct epoll_event evs[LOADGEN_EVENTS];
    int64_t start = bench_wall_ns();
    int64_t open_at = start + (int64_t)(o->warmup * 1e9);
    int64_t close_at = open_at + (int64_t)(o->seconds * 1e9);
    cpu_sample cpu0 = {0, 0};
    if (o->warmup == 0) {
        g->in_window = true;
        cpu0 = sample_cpu(o->pid);
    }
    for (;;) {
        int n = epoll_wait(g->ep, evs, LOADGEN_EVENTS, 100);
        if (n < 0 && errno != EINTR)
            bench_fail("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++)
            on_event(g, evs[i].data.ptr, evs[i].events, ops);
        int64_t now = bench_wall_ns();
        if (!g->in_window && now >= open_at) {
            g->in_window = true;
            open_at = now;
            close_at = now + (int64_t)(o->seconds * 1e9);
            cpu0 = sample_cpu(o->pid);
        }
        bool finished = o->count ? g->done >= o->count : now >= close_at;
        if (g->in_window && finished) {
            *cpu = cpu_since(o->pid, cpu0);
            return now - open_at;
        }
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double percentile_us(uint32_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i] / 1000.0;
}

static void result_head(const loadgen *g, const char *mode)
{
    bench_result_begin(g->o->lib, g->o->ver);
    bench_result_str("mode", mode);
    if (g->o->tag) {
        /* --tag a=1,b=2 becomes " a=1 b=2": the run's coordinates, for the tables */
        char tags[256];
        snprintf(tags, sizeof tags, "%s", g->o->tag);
        for (char *p = strtok(tags, ","); p; p = strtok(NULL, ","))
            printf(" %s", p);
    }
}

/* Closes the connections and prints the window's figures: rate (rate_key, per second), latency
 * percentiles in microseconds, and the server's CPU ns per round trip (exact and from ticks). */
static void report_window(loadgen *g, const char *mode, const char *rate_key, int64_t wall_ns,
                          cpu_sample cpu)
{
    for (size_t i = 0; i < g->o->conns; i++)
        close(g->conns[i].fd);
    qsort(g->samples, g->nsamples, sizeof *g->samples, cmp_u32);
    double done = g->done ? (double)g->done : 1;
    result_head(g, mode);
    bench_result_num(rate_key, (double)g->done * 1e9 / (double)wall_ns);
    bench_result_num("p50", percentile_us(g->samples, g->nsamples, 0.50));
    bench_result_num("p99", percentile_us(g->samples, g->nsamples, 0.99));
    bench_result_num("cpu", cpu.exact / done);
    bench_result_num("cpu_ticks", cpu.ticks / done);
    bench_result_num("n", (double)g->done);
    bench_result_end();
}

/* ---- ping-pong ---------------------------------------------------------------------------------- */

static void pingpong_echoed(loadgen *g, conn *c)
{
    record(g, bench_wall_ns() - c->sent_at);
    start_message(g, c);
}

static void run_pingpong(loadgen *g)
{
    const loadgen_opts *o = g->o;
    static const mode_ops ops = {pingpong_echoed};
    for (size_t i = 0; i < o->conns; i++)
        conn_open(g, &g->conns[i]);
    cpu_sample cpu;
    int64_t wall = run_window(g, &ops, &cpu);
    report_window(g, "pingpong", "msgs", wall, cpu);
}

/* ---- churn: connect, one echo, close, again --------------------------------------------------- */

static void churn_echoed(loadgen *g, conn *c)
{
    record(g, bench_wall_ns() - c->opened_at);
    close(c->fd); /* also drops it from the epoll set */
    conn_open(g, c);
}

static void run_churn(loadgen *g)
{
    static const mode_ops ops = {churn_echoed};
    for (size_t i = 0; i < g->o->conns; i++)
        conn_open(g, &g->conns[i]);
    cpu_sample cpu;
    int64_t wall = run_window(g, &ops, &cpu);
    report_window(g, "churn", "conns_s", wall, cpu);
}

/* ---- idle: K connections that each echoed once, then sit still ------------------------------------ */

static void idle_echoed(loadgen *g, conn *c)
{
    watch(g, EPOLL_CTL_DEL, c, 0);
    g->done++;
}

/* Opens conns[from..to), each echoing one message, and waits until all have echoed. */
static void idle_open_batch(loadgen *g, size_t from, size_t to)
{
    static const mode_ops ops = {idle_echoed};
    struct epoll_event evs[LOADGEN_EVENTS];
    for (size_t i = from; i < to; i++)
        conn_open(g, &g->conns[i]);
    int64_t deadline = bench_wall_ns() + 10 * (int64_t)1000000000;
    while (g->done < to) {
        int n = epoll_wait(g->ep, evs, LOADGEN_EVENTS, 100);
        for (int i = 0; i < n; i++)
            on_event(g, evs[i].data.ptr, evs[i].events, &ops);
        if (bench_wall_ns() > deadline)
            bench_fail("%s: connections %zu..%zu not echoed within 10 s", g->o->lib, from, to);
    }
}

static void settle(void)
{
    struct timespec ts = {0, LOADGEN_SETTLE_NS};
    nanosleep(&ts, NULL);
}

static void run_idle(loadgen *g)
{
    const loadgen_opts *o = g->o;
    if (o->pid == 0)
        bench_fail("idle mode needs --pid");
    /* One connection first so that lazily allocated read buffers exist before the baseline. */
    idle_open_batch(g, 0, 1);
    close(g->conns[0].fd);
    g->done = 0;
    settle();
    long long before = proc_rss_bytes(o->pid);
    g->in_window = true;
    int64_t setup_start = bench_wall_ns();
    for (size_t i = 0; i < o->conns; i += o->burst) {
        size_t to = i + o->burst < o->conns ? i + o->burst : o->conns;
        idle_open_batch(g, i, to);
    }
    double setup_s = (double)(bench_wall_ns() - setup_start) / 1e9;
    settle();
    long long after = proc_rss_bytes(o->pid);
    for (size_t i = 0; i < o->conns; i++)
        close(g->conns[i].fd);
    result_head(g, "idle");
    bench_result_num("rss_before_kb", (double)before / 1024);
    bench_result_num("rss_after_kb", (double)after / 1024);
    bench_result_num("rss_per_conn", (double)(after - before) / (double)o->conns);
    bench_result_num("setup_s", setup_s);
    bench_result_num("burst", (double)o->burst);
    bench_result_end();
}

int main(int argc, char **argv)
{
    loadgen_opts o = parse_args(argc, argv);
    loadgen g = {.o = &o};
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    g.conns = calloc(o.conns, sizeof *g.conns);
    g.msg = malloc(o.size);
    g.rbuf = malloc(o.size);
    g.samples = o.mode == MODE_IDLE ? NULL : malloc(LOADGEN_SAMPLES_MAX * sizeof *g.samples);
    if (g.ep < 0 || !g.conns || !g.msg || !g.rbuf || (o.mode != MODE_IDLE && !g.samples))
        bench_fail("out of memory or descriptors");
    bench_rng rng;
    bench_rng_seed(&rng);
    for (size_t i = 0; i < o.size; i++)
        g.msg[i] = (char)bench_rng_next(&rng);
    if (o.mode == MODE_PINGPONG)
        run_pingpong(&g);
    else if (o.mode == MODE_CHURN)
        run_churn(&g);
    else
        run_idle(&g);
    free(g.samples);
    free(g.rbuf);
    free(g.msg);
    free(g.conns);
    close(g.ep);
    return 0;
}
