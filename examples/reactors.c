/* One reactor per core: N threads, each running a reactor of its own with an echo server on the
 * same TCP port (reusePort=1: SO_REUSEPORT, the kernel spreads the connections). A client thread
 * then makes connections itself, and once all are echoed every reactor is stopped and joined.
 *   ./reactors [N]   (default 4) */
#define _POSIX_C_SOURCE 200809L /* sockets for the client, in a program built as plain C11 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <twine/twine.h>

#define REACTORS_MAX 64
#define CONNECTIONS 32

typedef struct {
    tw_reactor *r;
    tw_factory factory; /* one per reactor: a factory belongs to one thread */
    tw_port *port;
    unsigned accepted;  /* touched by this reactor's thread only */
    pthread_t thread;
} worker;

static ssize_t echo_data_received(tw_protocol *p, const char *data, size_t len)
{
    tw_transport_write(p->transport, data, len);
    return (ssize_t)len;
}

static const tw_protocol_ops echo_ops = {.data_received = echo_data_received};

static int build_echo(tw_factory *f, const tw_address *peer, tw_protocol *out)
{
    (void)peer;
    ((worker *)f->user)->accepted++;
    out->ops = &echo_ops;
    return 0;
}

static const tw_factory_ops echo_factory_ops = {.build_protocol = build_echo};

/* Listens on tcp:PORT with reusePort=1; port 0 lets the first reactor pick one for everyone. */
static int listen_on(worker *w, unsigned port)
{
    char text[96], why[TW_ENDPOINT_ERROR_MAX];
    tw_server_description d;
    snprintf(text, sizeof text, "tcp:%u:interface=127.0.0.1:reusePort=1", port);
    int err = tw_server_from_string(text, &d, why, sizeof why);
    if (err == 0)
        w->port = tw_server_listen(w->r, &d, &w->factory, &err);
    return err;
}

static void *run_reactor(void *arg)
{
    tw_reactor_run(((worker *)arg)->r);
    return NULL;
}

/* Runs in the reactor's own thread: tw_call_from_thread is the one call another thread may make. */
static int stop_reactor(void *arg)
{
    return tw_reactor_stop(arg);
}

/* A plain blocking client: connects, sends a line, reads its echo. 1 if it came back whole. */
static unsigned echo_once(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char got[8] = {0};
    size_t have = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        write(fd, "hello\n", 6) != 6) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    ssize_t k;
    while (have < 6 && (k = read(fd, got + have, 6 - have)) > 0)
        have += (size_t)k;
    close(fd);
    return have == 6 && memcmp(got, "hello\n", 6) == 0;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 4, port = 0;
    if (n < 1 || n > REACTORS_MAX) {
        fprintf(stderr, "usage: reactors [N]   (1 to %d)\n", REACTORS_MAX);
        return 2;
    }
    static worker workers[REACTORS_MAX];
    for (unsigned i = 0; i < n; i++) {
        worker *w = &workers[i];
        int err = 0;
        w->factory = (tw_factory){.ops = &echo_factory_ops, .user = w};
        if (!(w->r = tw_reactor_new(&err)) || (err = listen_on(w, port)) < 0) {
            fprintf(stderr, "reactor %u: %s\n", i, tw_strerror(err));
            return 1;
        }
        tw_address where;
        tw_port_get_host(w->port, &where);
        port = where.port; /* the others bind the port the first one got */
    }
    printf("%u reactors on 127.0.0.1 port %u\n", n, port);
    for (unsigned i = 0; i < n; i++)
        pthread_create(&workers[i].thread, NULL, run_reactor, &workers[i]);

    unsigned echoed = 0;
    for (int i = 0; i < CONNECTIONS; i++)
        echoed += echo_once((uint16_t)port);

    unsigned accepted = 0;
    for (unsigned i = 0; i < n; i++)
        tw_call_from_thread(workers[i].r, stop_reactor, workers[i].r);
    for (unsigned i = 0; i < n; i++) {
        pthread_join(workers[i].thread, NULL); /* its reactor is this thread's again */
        printf("reactor %u accepted %u connections\n", i, workers[i].accepted);
        accepted += workers[i].accepted;
        tw_port_free(workers[i].port);
        tw_reactor_free(workers[i].r);
    }
    printf("%u of %d connections echoed, %u accepted in all\n", echoed, CONNECTIONS, accepted);
    return echoed == CONNECTIONS && accepted == CONNECTIONS ? 0 : 1;
}
