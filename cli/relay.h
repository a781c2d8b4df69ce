/* twined's relay: two connections joined so that each one's bytes are written to the other
 * (Twisted's portforward ProxyServer/ProxyClient), with back-pressure both ways (each transport is
 * the other's streaming producer: a slow side pauses the other) and half-close passed on. Used by
 * twined forward (a client and its backend) and twined connect (stdio and a socket). */
#ifndef TWINED_RELAY_H
#define TWINED_RELAY_H

#include <stdbool.h>

#include "cli/cli.h"

typedef struct twined_relay twined_relay;

/* One of the two connections. */
typedef struct twined_side {
    twined_relay *relay;
    struct twined_side *peer;
    tw_transport *t;       /* while connected */
    bool made;             /* it was connected */
    bool read_done;        /* it sent EOF */
    bool write_done;       /* we shut its write side (its peer sent EOF) */
    bool lost;             /* connection_lost ran */
    char lost_type[40];    /* with this reason */
    int lost_code;
    char lost_message[160];
} twined_side;

struct twined_relay {
    twined_side a, b;
    tw_factory factory_a, factory_b;  /* build a side's protocol: give them to listen / connect */
    tw_deferred *connecting;          /* b's connect while it is out (cancelled if a goes first) */
    /* twined connect: once b has sent EOF and all of it is written to a, both sides end (stdin may
     * still be open; the peer has nothing more to say). */
    bool end_when_b_is_written;
    void (*on_b_connected)(twined_relay *relay); /* b is up (twined connect then opens stdio) */
    void (*on_end)(twined_relay *relay); /* both sides and the connect are over */
    void *user;
    unsigned holds;
};

/* Sets relay up (zeroing it); on_end runs once nothing of it is in use any more. */
void twined_relay_init(twined_relay *relay, void (*on_end)(twined_relay *relay), void *user);

/* Connects side b through ep: the relay holds the deferred, and a connect failure or a cancel ends
 * side a. Side a must be connected (or the relay is for a side a that will come later). Returns 0,
 * or a negative error after which side a is being closed. */
int twined_relay_connect_b(twined_relay *relay, tw_client_endpoint *ep);

/* A hold of the caller's own (released with twined_relay_release), so that on_end does not run
 * while the caller still uses the relay. */
void twined_relay_hold(twined_relay *relay);
void twined_relay_release(twined_relay *relay);

#endif
