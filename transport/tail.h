/* The unconsumed tail of a stream transport (what its protocol left to see again with the next
 * bytes), and the accounting of long tails across the connections of a reactor. It knows memory,
 * nothing of transports: the transport decides which connection to drop when the total is over. */
#ifndef TWINE_TRANSPORT_TAIL_H
#define TWINE_TRANSPORT_TAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "twine/transport.h"

/* Tails up to this long are short: copied into the shared read buffer in front of the next read,
 * and part of a connection's ordinary cost. Longer ones are read into directly (their buffer grows
 * by doubling) and counted towards the reactor's total. */
#define TW_TAIL_SHORT_MAX (TW_TRANSPORT_READ_BUFFER_SIZE / 2)

typedef struct tw_tail tw_tail;
struct tw_tail {
    char *buf;
    size_t len, cap;
    tw_tail *older, *newer; /* in the reactor's list of long tails, oldest first */
    void *owner;            /* whose tail this is (the transport) */
};

/* The long tails of a reactor's connections. */
typedef struct tw_tails {
    tw_tail *oldest, *newest;
    size_t held;      /* bytes in long tails */
    size_t max;       /* most one connection may hold (TW_TRANSPORT_UNCONSUMED_MAX) */
    size_t total_max; /* most all may hold in long tails (TW_TRANSPORT_UNCONSUMED_TOTAL_MAX) */
} tw_tails;

/* Keeps n bytes from rest as the tail (in_own: rest lies inside tail->buf already). 0, -EMSGSIZE
 * (more than all->max) or -ENOMEM. A long buffer left holding a short tail gives its memory
 * back. */
int tw__tail_keep(tw_tails *all, tw_tail *tail, const char *rest, size_t n,
                  bool in_own) TW__MUST_CHECK;
/* Where to read next, after the tail's pre bytes: the shared buffer (the short tail copied in
 * front) or the tail's own buffer, with room for at least half a read buffer. NULL when out of
 * memory. */
char *tw__tail_read_target(tw_tails *all, tw_tail *tail, char *shared, size_t *pre, size_t *room);
/* Frees the buffer; the tail is empty. */
void tw__tail_free(tw_tails *all, tw_tail *tail);
/* Is the reactor's total over its bound? Then drop tails from all->oldest on. */
static inline bool tw__tails_over(const tw_tails *all)
{
    return all->held > all->total_max;
}

#endif
