/* What every echo server of the benchmark shares: the command line (--version, or serve on an
 * ephemeral port of 127.0.0.1), the "listening on" line run.sh reads the port from (twined's format),
 * and a listening socket for the servers whose library does not make one. Header-only. */
#ifndef TWINE_BENCH_ECHO_SERVER_H
#define TWINE_BENCH_ECHO_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_BACKLOG 128          /* listen backlog of every peer server */
#define ECHO_READ_BUFFER 65536    /* the one read buffer of the servers that read themselves */

/* `prog --version` prints version and exits; anything else starts the server. SIGPIPE is ignored
 * because several libraries write with plain write(2). */
static inline void echo_server_init(int argc, char **argv, const char *version)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("%s\n", version);
        exit(0);
    }
    signal(SIGPIPE, SIG_IGN);
}

static inline void echo_server_announce(const char *name, unsigned port)
{
    fprintf(stderr, "%s: listening on tcp:127.0.0.1:%u\n", name, port);
    fflush(stderr);
}

static inline _Noreturn void echo_server_die(const char *what)
{
    perror(what);
    exit(1);
}

static inline void echo_server_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A non-blocking socket listening on an ephemeral port of 127.0.0.1; the port goes to *port. */
static inline int echo_server_listen(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, ECHO_BACKLOG) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        echo_server_die("listen");
    *port = ntohs(sa.sin_port);
    return fd;
}

#endif
