/* Private interface of the DNS client (client.c: the resolver, queries and their UDP attempts;
 * client_tcp.c: the TCP retry of a truncated answer). */
#ifndef TWINE_DNS_CLIENT_H
#define TWINE_DNS_CLIENT_H

#include <twine/datagram.h>
#include <twine/dns.h>
#include <twine/transport.h>

/* Attempts one query makes at most: one per server per timeout. */
#define TW_DNS_ATTEMPTS_LIMIT (TW_DNS_TIMEOUTS_MAX * TW_DNS_NAMESERVERS_MAX)

typedef struct tw_dns_pending tw_dns_pending;
typedef struct tw_dns_tcp tw_dns_tcp;

/* One UDP attempt: its socket, and the server it asked. */
typedef struct tw_dns_attempt {
    tw_dns_pending *q;
    tw_datagram_port *port;
    size_t server;
    bool edns; /* sent with an OPT record */
} tw_dns_attempt;

struct tw_dns_resolver {
    tw_reactor *r;
    tw_dns_server servers[TW_DNS_NAMESERVERS_MAX];
    size_t nservers;
    double timeouts[TW_DNS_TIMEOUTS_MAX];
    size_t ntimeouts;
    double tcp_timeout;
    bool edns;               /* queries carry an OPT record */
    tw_dns_pending *queries; /* running, through next/prev */
    size_t in_flight;
};

struct tw_dns_pending {
    tw_dns_resolver *res;
    tw_dns_pending *next, *prev;
    tw_deferred *d; /* our reference until the query ends */
    char *name;
    uint16_t type;
    bool edns;                      /* the packet carries an OPT record */
    uint8_t packet[TW_DNS_QUERY_SIZE_MAX];
    size_t len;
    size_t next_attempt;            /* index into the schedule: server k % n, timeout k / n */
    tw_dns_attempt attempts[TW_DNS_ATTEMPTS_LIMIT];
    size_t nattempts;
    bool struck[TW_DNS_NAMESERVERS_MAX]; /* servers that refused or failed this query */
    tw_delayed_call *timer;
    tw_dns_tcp *tcp;                /* the TCP retry, once TC was seen */
    const char *last_type;          /* the last server error, for when every server is struck */
    int last_code;
    char last_why[64];
};

/* Hands one received message to its query: checks it answers the query and acts on EDNS, TC and
 * the rcode. server: the index of the server that sent it; udp: the attempt it came on, or NULL
 * over TCP. */
void tw__dns_query_reply(tw_dns_pending *q, size_t server, const uint8_t *data, size_t len,
                         const tw_dns_attempt *udp);
/* Ends the query with a failure of this type (message "NAME: why"). */
void tw__dns_query_fail(tw_dns_pending *q, const char *type, int code, const char *why);

/* Asks the query's question of this server over TCP. 0 or a negative errno (nothing started). */
int tw__dns_tcp_start(tw_dns_pending *q, size_t server) TW__MUST_CHECK;
/* Detaches the TCP retry from its query (which is ending) and closes it. */
void tw__dns_tcp_stop(tw_dns_tcp *tcp);

#endif
