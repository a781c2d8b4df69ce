/* Unconsumed tails: a short one is copied back in front of the next read, a long one (a big partial
 * frame) is read into directly, its buffer doubling as it grows, so holding n bytes costs O(n)
 * copying. Long tails are counted and listed, oldest first, for the reactor-wide bound. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/tail.h"

static void link_newest(tw_tails *all, tw_tail *tail)
{
    tail->older = all->newest;
    tail->newer = NULL;
    if (all->newest)
        all->newest->newer = tail;
    else
        all->oldest = tail;
    all->newest = tail;
}

static void unlink_tail(tw_tails *all, tw_tail *tail)
{
    if (tail->older)
        tail->older->newer = tail->newer;
    else
        all->oldest = tail->newer;
    if (tail->newer)
        tail->newer->older = tail->older;
    else
        all->newest = tail->older;
    tail->older = tail->newer = NULL;
}

/* Sets the length, keeping the count of long tails and their list right. */
static void set_len(tw_tails *all, tw_tail *tail, size_t n)
{
    bool was_long = tail->len > TW_TAIL_SHORT_MAX, is_long = n > TW_TAIL_SHORT_MAX;
    if (was_long)
        all->held -= tail->len;
    if (is_long)
        all->held += n;
    if (is_long && !was_long)
        link_newest(all, tail);
    else if (was_long && !is_long)
        unlink_tail(all, tail);
    tail->len = n;
}

void tw__tail_free(tw_tails *all, tw_tail *tail)
{
    set_len(all, tail, 0);
    free(tail->buf);
    tail->buf = NULL;
    tail->cap = 0;
}

/* Room for need bytes: exactly that for a short tail; doubling for a long one, up to the most a
 * connection may hold plus half a read. */
static int reserve(tw_tails *all, tw_tail *tail, size_t need)
{
    if (need <= tail->cap)
        return 0;
    size_t cap = need;
    if (need > TW_TAIL_SHORT_MAX) {
        size_t most = all->max + TW_TAIL_SHORT_MAX;
        cap = tail->cap < most / 2 ? 2 * tail->cap : most;
        if (cap < need)
            cap = need;
    }
    char *b = realloc(tail->buf, cap);
    if (!b)
        return -ENOMEM;
    tail->buf = b;
    tail->cap = cap;
    return 0;
}

static void shrink(tw_tail *tail)
{
    if (tail->cap <= TW_TAIL_SHORT_MAX || tail->len > TW_TAIL_SHORT_MAX)
        return;
    char *b = realloc(tail->buf, tail->len);
    if (b) {
        tail->buf = b;
        tail->cap = tail->len;
    }
}

int tw__tail_keep(tw_tails *all, tw_tail *tail, const char *rest, size_t n, bool in_own)
{
    if (n == 0) {
        tw__tail_free(all, tail);
        return 0;
    }
    if (n > all->max)
        return -EMSGSIZE;
    if (!in_own) {
        int rc = reserve(all, tail, n);
        if (rc < 0)
            return rc;
        memcpy(tail->buf, rest, n);
    } else if (rest != tail->buf) { /* fits: it is inside already */
        memmove(tail->buf, rest, n);
    }
    set_len(all, tail, n);
    shrink(tail);
    return 0;
}

char *tw__tail_read_target(tw_tails *all, tw_tail *tail, char *shared, size_t *pre, size_t *room)
{
    *pre = tail ? tail->len : 0;
    if (*pre <= TW_TAIL_SHORT_MAX) {
        if (*pre)
            memcpy(shared, tail->buf, *pre);
        *room = TW_TRANSPORT_READ_BUFFER_SIZE - *pre;
        return shared;
    }
    if (reserve(all, tail, *pre + TW_TAIL_SHORT_MAX) < 0)
        return NULL;
    *room = tail->cap - *pre;
    return tail->buf;
}
