/* A small DNS server for tests, on twine's own datagram transport (and a TCP port on the same port
 * number for truncated answers), on 127.0.0.1. What it answers depends on the first label of the
 * name asked:
 *   nx.*        NXDOMAIN                    servfail.*  SERVFAIL        refused.* REFUSED
 *   silent.*    never answers               empty.*     NOERROR, no MX, an SOA in authority
 *   tc.*        UDP: TC set, no records; TCP: the MX records
 *   loop.*      first a reply whose answer holds a compression loop, then the good one
 *   wrongid.*   first a reply with another ID (exchange spoofed.invalid), then the good one
 *   wrongport.* first the good reply's twin from another port (spoofed.invalid), then the good one
 *   noedns.*    a query with an OPT record: FORMERR without one (a server that knows no EDNS),
 *               twice (a duplicated datagram); without: the MX records
 *   anything else: MX 20 mx2.NAME, MX 10 mx1.NAME (in that order on the wire).
 * Each answer is sent `delay` seconds after its query (0: at once). The server counts queries and
 * the most it ever held unanswered at once, and keeps the names asked over UDP, one per line. */
#ifndef TWINE_TESTS_DNS_SERVER_H
#define TWINE_TESTS_DNS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <twine/twine.h>

#define TW_TEST_DNS_ASKED_MAX 4096

typedef struct tw_test_dns_reply tw_test_dns_reply;

typedef struct tw_test_dns_server {
    tw_reactor *r;
    tw_datagram_port *udp;
    tw_datagram_port *spoof; /* a second socket, for replies from the wrong port */
    tw_port *tcp;
    tw_factory tcp_factory;
    tw_dns_server addr;      /* where to ask it */
    double delay;
    size_t udp_queries, tcp_queries;
    size_t edns_queries;         /* queries that carried an OPT record */
    size_t pending, max_pending; /* queries received and not answered yet (silent ones excluded) */
    char asked[TW_TEST_DNS_ASKED_MAX]; /* "name\n" per UDP query, while it fits */
    tw_test_dns_reply *replies;  /* scheduled replies */
} tw_test_dns_server;

/* Starts the server on 127.0.0.1 with a free port. 0 or a negative errno. */
int tw_test_dns_server_start(tw_test_dns_server *s, tw_reactor *r);
/* Stops it, dropping replies not yet sent. */
void tw_test_dns_server_stop(tw_test_dns_server *s);
/* For tw_test_run_until: true once the server (a tw_test_dns_server *) has had two UDP queries. */
bool tw_test_dns_server_two_queries(void *server);

#endif
