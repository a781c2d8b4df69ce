/* bench/web's idle keep-alive probe: opens K connections to an HTTP server, each doing one GET and
 * then staying open, and reports the growth of the server's resident memory per connection.
 * Usage: idle --port P --pid PID [--pid PID...] [--conns K] [--burst B] [--url /1k.bin]
 *             [--lib NAME] [--ver V]
 * Prints "RESULT lib=NAME ver=V mode=idle conns=K rss_before_kb=.. rss_after_kb=.. rss_per_conn=..
 * setup_s=.. closed=..": closed counts the connections the server had dropped at the end. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_PIDS 16

static int port;
static const char *url = "/1k.bin";
static int pids[MAX_PIDS];
static int npids;

/* The sum of VmRSS over the server's processes, in KiB. */
static long server_rss_kb(void)
{
    long total = 0;
    for (int i = 0; i < npids; i++) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", pids[i]);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            bench_fail("idle: server process %d is gone", pids[i]);
        long kb = -1;
        while (fgets(line, sizeof line, f) != NULL)
            if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                break;
        fclose(f);
        if (kb < 0)
            bench_fail("idle: no VmRSS for process %d", pids[i]);
        total += kb;
    }
    return total;
}

/* A blocking connection to 127.0.0.1:port whose reads give up after 10 s (a server that never
 * answers fails the run instead of hanging it). */
static int open_connection(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 10};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        bench_fail("idle: connect: %s", strerror(errno));
    return fd;
}

static void send_get(int fd)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", url, port);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        bench_fail("idle: send: %s", strerror(errno));
}

/* The Content-Length of a response head (NUL-terminated), or -1. */
static long content_length(const char *head)
{
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, "Content-Length:", 15) == 0)
            return strtol(p + 17, NULL, 10);
    return -1;
}

/* Reads one whole 200 response, head and body, and leaves the connection open. */
static void read_response(int fd)
{
    char head[8192];
    size_t got = 0;
    char *end = NULL;
    while (end == NULL) {
        if (got == sizeof head - 1)
            bench_fail("idle: response head over %zu bytes", sizeof head);
        ssize_t n = recv(fd, head + got, sizeof head - 1 - got, 0);
        if (n <= 0)
            bench_fail("idle: %s before a whole response head", n == 0 ? "EOF" : strerror(errno));
        got += (size_t)n;
        head[got] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (strncmp(head, "HTTP/1.1 200", 12) != 0 && strncmp(head, "HTTP/1.0 200", 12) != 0)
        bench_fail("idle: GET %s answered: %.40s", url, head);
    long body = content_length(head);
    if (body < 0)
        bench_fail("idle: response without Content-Length");
    long left = body - (long)(got - (size_t)(end + 4 - head));
    char buf[65536];
    while (left > 0) {
        ssize_t n = recv(fd, buf, left < (long)sizeof buf ? (size_t)left : sizeof buf, 0);
        if (n <= 0)
            bench_fail("idle: %s in a response body", n == 0 ? "EOF" : strerror(errno));
        left -= n;
    }
    if (left < 0)
        bench_fail("idle: %ld bytes more than Content-Length", -left);
}

/* How many of the connections the server has closed (or reset) by now. */
static int count_closed(const int *fds, int n)
{
    int closed = 0;
    for (int i = 0; i < n; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN | POLLRDHUP};
        if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLIN)))
            closed++;
    }
    return closed;
}

int main(int argc, char **argv)
{
    int conns = 2000, burst = 100;
    const char *lib = "?", *ver = "?";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--pid") == 0 && npids < MAX_PIDS)
            pids[npids++] = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--conns") == 0)
            conns = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--burst") == 0)
            burst = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--url") == 0)
            url = argv[i + 1];
        else if (strcmp(argv[i], "--lib") == 0)
            lib = argv[i + 1];
        else if (strcmp(argv[i], "--ver") == 0)
            ver = argv[i + 1];
        else
            bench_fail("idle: unknown option %s", argv[i]);
    }
    if (port <= 0 || npids == 0 || conns <= 0 || burst <= 0)
        bench_fail("idle: --port and --pid are required, --conns and --burst positive");
    int *fds = malloc(sizeof *fds * (size_t)conns);
    if (fds == NULL)
        bench_fail("idle: out of memory");

    /* One request first, so that what a server allocates on its first request (buffers, a file
     * cache entry, a date string) is in "before" and not spread over the idle connections. */
    int warm = open_connection();
    send_get(warm);
    read_response(warm);
    struct timespec settle = {.tv_nsec = 200 * 1000 * 1000};
    nanosleep(&settle, NULL);
    long before = server_rss_kb();

    int64_t t0 = bench_wall_ns();
    for (int done = 0; done < conns;) {
        int batch = conns - done < burst ? conns - done : burst;
        for (int i = 0; i < batch; i++) {
            fds[done + i] = open_connection();
            send_get(fds[done + i]);
        }
        for (int i = 0; i < batch; i++)
            read_response(fds[done + i]);
        done += batch;
    }
    double setup_s = (double)(bench_wall_ns() - t0) / 1e9;
    nanosleep(&settle, NULL);
    long after = server_rss_kb();
    int closed = count_closed(fds, conns);

    char count_text[16];
    snprintf(count_text, sizeof count_text, "%d", conns);
    bench_result_begin(lib, ver);
    bench_result_str("mode", "idle");
    bench_result_str("conns", count_text);
    bench_result_num("rss_before_kb", (double)before);
    bench_result_num("rss_after_kb", (double)after);
    bench_result_num("rss_per_conn", (double)(after - before) * 1024.0 / conns);
    bench_result_num("setup_s", setup_s);
    snprintf(count_text, sizeof count_text, "%d", closed);
    bench_result_str("closed", count_text);
    bench_result_end();
    for (int i = 0; i < conns; i++)
        close(fds[i]);
    close(warm);
    free(fds);
    return closed == 0 ? 0 : 1;
}
