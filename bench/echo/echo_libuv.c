/* libuv echo server, written the way a performance-minded libuv user would: every read lands in
 * one loop-wide buffer (alloc_cb), is sent at once with uv_try_write, and only what the kernel did
 * not take is copied into a uv_write request. */
#include <stdint.h>
#include <uv.h>

#include "echo_server.h"

typedef struct {
    uv_write_t req;
    uv_buf_t buf;
    char data[];
} write_req;

static char rbuf[ECHO_READ_BUFFER];

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_closed(uv_handle_t *h)
{
    free(h);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as a read error too */
    free(req);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread < 0) {
        uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
    int sent = nread ? uv_try_write(s, &out, 1) : 0;
    if (sent == UV_EAGAIN)
        sent = 0;
    if (sent < 0) {
        uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    if (sent < nread) {
        size_t rest = (size_t)nread - (size_t)sent;
        write_req *w = malloc(sizeof *w + rest);
        if (w == NULL)
            echo_server_die("malloc");
        memcpy(w->data, buf->base + sent, rest);
        w->buf = uv_buf_init(w->data, (unsigned)rest);
        if (uv_write(&w->req, s, &w->buf, 1, on_written) < 0) {
            free(w);
            uv_close((uv_handle_t *)s, on_closed);
        }
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *c = malloc(sizeof *c);
    if (c == NULL)
        echo_server_die("malloc");
    uv_tcp_init(server->loop, c);
    if (uv_accept(server, (uv_stream_t *)c) < 0) {
        uv_close((uv_handle_t *)c, on_closed);
        return;
    }
    uv_tcp_nodelay(c, 1);
    uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    echo_server_init(argc, argv, uv_version_string());
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(loop, &server);
    if (uv_tcp_bind(&server, (struct sockaddr *)&sa, 0) < 0 ||
        uv_listen((uv_stream_t *)&server, ECHO_BACKLOG, on_connection) < 0)
        echo_server_die("uv_listen");
    int len = sizeof sa;
    uv_tcp_getsockname(&server, (struct sockaddr *)&sa, &len);
    echo_server_announce("libuv", ntohs(sa.sin_port));
    return uv_run(loop, UV_RUN_DEFAULT);
}
