/* The test HTTP client of http_client.h. */
#include "http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "net.h"

#define WAIT_SECONDS 5.0

void tw_test_http_open(tw_test_http_client *c, tw_reactor *r, uint16_t port)
{
    memset(c, 0, sizeof *c);
    c->r = r;
    c->fd = tw_test_tcp_client(port);
    assert_true(c->fd >= 0);
    assert_int_equal(fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK), 0);
}

void tw_test_http_close(tw_test_http_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

/* One reactor turn, then whatever the socket has. Returns whether bytes (or EOF) came. */
static bool pump(tw_test_http_client *c)
{
    (void)tw_reactor_iterate(c->r, 0.002);
    bool got = false;
    for (;;) {
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 131072;
            c->buf = realloc(c->buf, c->cap + 1);
            assert_non_null(c->buf);
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            got = true;
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            got = got || !c->eof;
            c->eof = true;
        }
        return got;
    }
}

void tw_test_http_send(tw_test_http_client *c, const void *data, size_t len)
{
    const char *p = data;
    double end = tw_test_now() + WAIT_SECONDS;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        assert_true(tw_test_now() < end);
        (void)tw_reactor_iterate(c->r, 0.002);
    }
}

void tw_test_http_sends(tw_test_http_client *c, const char *s)
{
    tw_test_http_send(c, s, strlen(s));
}

static const char *find_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
            return buf + i + 4;
    return NULL;
}

int tw_test_http_status_of(const char *head)
{
    int status;
    return sscanf(head, "HTTP/1.%*d %d", &status) == 1 ? status : -1;
}

bool tw_test_http_head_value(const char *head, const char *name, char *value, size_t size)
{
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\n"); line; line = strstr(line + 1, "\n")) {
        if (strncasecmp(line + 1, name, n) != 0 || line[1 + n] != ':')
            continue;
        const char *v = line + 2 + n;
        while (*v == ' ')
            v++;
        size_t len = strcspn(v, "\r\n");
        snprintf(value, size, "%.*s", (int)len, v);
        return true;
    }
    return false;
}

const char *tw_test_http_header(const tw_test_http_response *r, const char *name)
{
    static char value[1024];
    return tw_test_http_head_value(r->head, name, value, sizeof value) ? value : NULL;
}

/* Takes the first n buffered bytes out as a NUL-terminated copy. */
static char *take(tw_test_http_client *c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, c->buf, n);
    s[n] = '\0';
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    return s;
}

bool tw_test_http_read(tw_test_http_client *c, tw_test_http_response *out, bool head_only)
{
    memset(out, 0, sizeof *out);
    double end = tw_test_now() + WAIT_SECONDS;
    const char *head_end;
    while (!(head_end = c->buf ? find_head_end(c->buf, c->len) : NULL)) {
        if ((c->eof && !pump(c)) || tw_test_now() > end)
            return false;
        pump(c);
    }
    out->head = take(c, (size_t)(head_end - c->buf));
    out->status = tw_test_http_status_of(out->head);
    const char *cl = tw_test_http_header(out, "Content-Length");
    size_t want = head_only || out->status == 304 || !cl ? 0 : strtoull(cl, NULL, 10);
    while (c->len < want) {
        if ((c->eof && !pump(c)) || tw_test_now() > end)
            return false;
        pump(c);
    }
    out->body = take(c, want);
    out->body_len = want;
    return true;
}

void tw_test_http_response_free(tw_test_http_response *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

bool tw_test_http_wait_closed(tw_test_http_client *c)
{
    double end = tw_test_now() + WAIT_SECONDS;
    while (!c->eof && tw_test_now() < end)
        pump(c);
    return c->eof;
}

bool tw_test_http_quiet(tw_test_http_client *c, int turns)
{
    size_t before = c->len;
    bool eof = c->eof;
    for (int i = 0; i < turns; i++)
        pump(c);
    return c->len == before && c->eof == eof;
}

bool tw_test_http_get(tw_test_http_client *c, const char *path, tw_test_http_response *out)
{
    char req[1024];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    tw_test_http_sends(c, req);
    return tw_test_http_read(c, out, false);
}
