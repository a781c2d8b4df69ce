/* tw_loopback (testing.h), Twisted's iosim: two string transports whose protocols talk to each
 * other when the test pumps, with TCP's order of things: a side's bytes, then its EOF (a close or a
 * shut write side) or its reset (an abort). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/memory.h"

enum { SERVER, CLIENT };

struct tw_loopback {
    tw_reactor *r;
    tw_string_transport *side[2];
    bool ended[2]; /* the side's EOF or reset has reached the other */
};

tw_loopback *tw_loopback_new(tw_reactor *r, tw_factory *server, tw_factory *client, int *err)
{
    int dummy;
    err = err ? err : &dummy;
    tw_loopback *lb = calloc(1, sizeof *lb);
    if (!lb) {
        *err = -ENOMEM;
        return NULL;
    }
    lb->r = r;
    lb->side[SERVER] = tw_string_transport_new(r, server, NULL, err);
    if (lb->side[SERVER]) {
        tw_string_transport_options mirrored = {.host = &lb->side[SERVER]->peer,
                                                .peer = &lb->side[SERVER]->host};
        lb->side[CLIENT] = tw_string_transport_new(r, client, &mirrored, err);
    }
    if (!lb->side[CLIENT]) {
        tw_loopback_free(lb);
        return NULL;
    }
    return lb;
}

void tw_loopback_free(tw_loopback *lb)
{
    if (!lb)
        return;
    tw_string_transport_free(lb->side[CLIENT]);
    tw_string_transport_free(lb->side[SERVER]);
    free(lb);
}

tw_string_transport *tw_loopback_server(tw_loopback *lb)
{
    return lb ? lb->side[SERVER] : NULL;
}

tw_string_transport *tw_loopback_client(tw_loopback *lb)
{
    return lb ? lb->side[CLIENT] : NULL;
}

/* A pull producer is asked for more whenever its consumer's buffer drains, which for a string
 * transport is every round (iosim's _checkProducer). */
static void ask_pull_producer(tw_string_transport *st)
{
    const uint32_t closing = TW_T_CLOSED | TW_T_ABORTING | TW_T_CLOSE_PENDING;
    if ((st->state & (TW_STRING_PRODUCER | TW_STRING_STREAMING)) != TW_STRING_PRODUCER ||
        (st->t.flags & closing) || !st->producer.ops->resume_producing)
        return;
    int rc = st->producer.ops->resume_producing(st->producer.self);
    if (rc < 0)
        tw_reactor_log(st->r, TW_LOG_ERROR, "resume_producing failed: %s", tw_strerror(rc));
}

/* Feeds what side from wrote to the other side: the bytes moved, or -ENOMEM. Bytes for a side that
 * is closed are dropped, as a closed socket's are. */
static long move_bytes(tw_loopback *lb, int from)
{
    size_t len;
    const char *data = tw_string_transport_value(lb->side[from], &len);
    if (len == 0)
        return 0;
    char *copy = malloc(len);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, data, len);
    tw_string_transport_clear(lb->side[from]);
    int rc = tw_string_transport_data_received(lb->side[!from], copy, len);
    free(copy);
    return rc < 0 && rc != -ENOTCONN ? rc : (long)len;
}

/* Once side from has closed or shut its write side and its bytes have moved, the other side reads
 * EOF, or a reset after an abort. True when that happened in this call. */
static bool pass_end(tw_loopback *lb, int from)
{
    tw_string_transport *a = lb->side[from], *b = lb->side[!from];
    bool closed = a->t.flags & TW_T_CLOSED;
    if (lb->ended[from] || a->out_len || !(closed || (a->t.flags & TW_T_WRITE_SHUT)))
        return false;
    lb->ended[from] = true;
    if (closed && a->close_kind == TW_CLOSE_ABORTED)
        tw_string_transport_fail(b, -ECONNRESET);
    else
        tw_string_transport_receive_eof(b);
    return true;
}

/* One round: what a round changed (bytes moved, an end passed on, a callback run) counts in
 * *busy. */
static long pump_round(tw_loopback *lb, bool *busy)
{
    ask_pull_producer(lb->side[SERVER]);
    ask_pull_producer(lb->side[CLIENT]);
    long to_server = move_bytes(lb, CLIENT);
    long to_client = move_bytes(lb, SERVER);
    if (to_server < 0 || to_client < 0)
        return to_server < 0 ? to_server : to_client;
    bool ended = pass_end(lb, CLIENT);
    ended = pass_end(lb, SERVER) || ended;
    /* Last: the later turns that what was just done (and the test before the pump) asked for. */
    int ran = tw_reactor_iterate(lb->r, 0);
    if (ran < 0)
        return ran;
    *busy = to_server || to_client || ended || ran;
    return to_server + to_client;
}

long tw_loopback_pump(tw_loopback *lb)
{
    if (!lb)
        return -EINVAL;
    long moved = 0;
    for (int round = 0; round < TW_LOOPBACK_PUMP_ROUNDS_MAX; round++) {
        bool busy = false;
        long n = pump_round(lb, &busy);
        if (n < 0)
            return n;
        moved += n;
        if (!busy)
            return moved;
    }
    return -ELOOP;
}
