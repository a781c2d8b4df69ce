/* A stand-in for a transport's consumed-bytes handling, to drive framing receivers directly.
 * See framing_feed.h. */
#include "framing_feed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void tw_test_feed_init(tw_test_feed *f, tw_test_feed_fn fn, void *receiver)
{
    memset(f, 0, sizeof *f);
    f->fn = fn;
    f->receiver = receiver;
}

ssize_t tw_test_feed_push(tw_test_feed *f, const char *chunk, size_t len)
{
    size_t total = f->tail_len + len;
    char *buf = malloc(total ? total : 1);
    if (!buf)
        return -ENOMEM;
    if (f->tail_len)
        memcpy(buf, f->tail, f->tail_len);
    if (len)
        memcpy(buf + f->tail_len, chunk, len);
    f->calls++;
    f->presented += total;
    ssize_t used = f->fn(f->receiver, buf, total);
    if (used < 0 || (size_t)used > total) {
        free(buf);
        return used < 0 ? used : -ERANGE;
    }
    free(f->tail);
    f->tail_len = total - (size_t)used;
    f->tail = NULL;
    if (f->tail_len) {
        f->tail = malloc(f->tail_len);
        if (!f->tail) {
            f->tail_len = 0;
            free(buf);
            return -ENOMEM;
        }
        memcpy(f->tail, buf + used, f->tail_len);
    }
    free(buf);
    return used;
}

ssize_t tw_test_feed_again(tw_test_feed *f)
{
    return tw_test_feed_push(f, NULL, 0);
}

void tw_test_feed_free(tw_test_feed *f)
{
    free(f->tail);
    f->tail = NULL;
    f->tail_len = 0;
}

bool tw_test_reader_ready(void *arg)
{
    tw_test_reader *c = arg;
    while (c->len < sizeof c->buf) {
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            c->eof = true;
        break;
    }
    return c->eof || (c->want && c->len >= c->want);
}
