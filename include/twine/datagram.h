/* twine datagram transport: UDP over IPv4 and IPv6 (Twisted's reactor.listenUDP, udp.Port and
 * DatagramProtocol, ConnectedDatagramProtocol's connectionRefused). A port is bound to an address
 * and may be connected to one peer. docs/datagrams.md explains the rules; docs/dns.md uses it.
 *
 * OWNERSHIP: a port belongs to its creator, who stops it with tw_datagram_port_stop (also allowed
 * from inside the port's own callbacks: it completes when they return). A reactor shutdown stops
 * every port still open, as it stops listening ports, and so does tw_reactor_free for what is
 * still open then (stop_protocol tells the owner). The protocol struct is copied; its user pointer
 * is the caller's and must stay valid until stop_protocol has run.
 *
 * ERRORS: the calls return 0 or a negative errno; tw_listen_udp returns NULL and sets *err. A call
 * that fails runs none of the protocol's callbacks. */
#ifndef TWINE_DATAGRAM_H
#define TWINE_DATAGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "error.h"
#include "failure.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Datagrams read per readiness event at most, so that one busy port cannot starve the others;
 * the rest are read on the next turns. */
#define TW_DATAGRAM_READS_PER_WAKE 32
/* Largest datagram read whole (the reactor's shared read buffer); a larger one is dropped. */
#define TW_DATAGRAM_MAX_SIZE 65535

typedef struct tw_datagram_port tw_datagram_port;

/* What a datagram protocol does; every op is optional and runs in the reactor thread.
 *
 * start_protocol: the port is bound and reading (Twisted's startProtocol). A negative return makes
 *   tw_listen_udp fail with that error; stop_protocol then does not run. A start_protocol that
 *   stops its own port (tw_datagram_port_stop) gets stop_protocol once it returns, and
 *   tw_listen_udp then returns NULL with -ECANCELED (or start_protocol's error): the port is gone.
 * datagram_received: one datagram of len bytes (0 is a valid, empty datagram, not an end of
 *   anything) from the address from. data is lent for this call only. A negative return is logged
 *   and reading goes on (Twisted logs an exception in datagramReceived).
 * connection_refused: on a connected port, the kernel reported an ICMP error for an earlier
 *   datagram (Twisted's connectionRefused): reason, borrowed, is ConnectionRefusedError for a port
 *   unreachable, NoRouteError for a host or network unreachable. The port stays open.
 * stop_protocol: the port is closed (tw_datagram_port_stop, the reactor's shutdown, or
 *   tw_reactor_free); runs once, and the port is freed right after it: an owner that keeps the
 *   port's pointer forgets it here, since after a shutdown it must not stop the port again. */
typedef struct tw_datagram_protocol_ops {
    int (*start_protocol)(tw_datagram_port *port);
    int (*datagram_received)(tw_datagram_port *port, const char *data, size_t len,
                             const struct sockaddr *from, socklen_t from_len);
    void (*connection_refused)(tw_datagram_port *port, const tw_failure *reason);
    void (*stop_protocol)(tw_datagram_port *port);
} tw_datagram_protocol_ops;

typedef struct tw_datagram_protocol {
    const tw_datagram_protocol_ops *ops;
    void *user;
} tw_datagram_protocol;

/* A port bound to interface:port. interface is a numeric IPv4 or IPv6 address ("127.0.0.1", "::1",
 * "fe80::1%eth0"), NULL for "0.0.0.0"; port 0 picks a free one (read it with tw_datagram_get_host).
 * Errors: -EINVAL (bad interface, no protocol), -EADDRINUSE, -EACCES, -EMFILE, -ENOMEM,
 * -ESHUTDOWN (the reactor is being freed), -ECANCELED (start_protocol stopped the port), or
 * start_protocol's error. */
TW_API tw_datagram_port *tw_listen_udp(tw_reactor *r, uint16_t port, const char *interface,
                                       const tw_datagram_protocol *proto, int *err);

/* Connects the port to one peer (numeric address, same family): from now on only its datagrams are
 * received, writes go to it, and ICMP errors come back as connection_refused. Once only.
 * Errors: -EISCONN (already connected), -EAFNOSUPPORT, -EINVAL, -EBADF (stopped), connect(2)'s. */
TW_API int tw_datagram_port_connect(tw_datagram_port *port, const struct sockaddr *peer,
                                    socklen_t len);

/* Sends one datagram: to a connected port's peer (to must be NULL), or to `to` on an unconnected
 * port. Nothing is queued: a datagram the kernel cannot take now is lost, as UDP allows.
 * Errors: -EDESTADDRREQ (unconnected, no address), -EISCONN (connected, an address given),
 * -EMSGSIZE (too large: Twisted's MessageLengthError), -EAGAIN, -ECONNREFUSED (a connected peer
 * refused an earlier datagram), -EBADF (stopped), other sendto(2) errors. */
TW_API int tw_datagram_write(tw_datagram_port *port, const void *data, size_t len,
                             const struct sockaddr *to, socklen_t to_len);

/* Stops reading, closes the socket and runs stop_protocol (after the current callback of this port
 * returns, when called from one). Twisted's stopListening. The port is freed afterwards. */
TW_API void tw_datagram_port_stop(tw_datagram_port *port);

/* The bound address (with the real port when 0 was asked). 0, or -EBADF once stopped. */
TW_API int tw_datagram_get_host(const tw_datagram_port *port, struct sockaddr_storage *out,
                                socklen_t *len);
/* The port's copy of its protocol. It may be changed: an owner about to free the state behind
 * user sets ops to NULL before tw_datagram_port_stop, so no callback reaches it afterwards. */
TW_API tw_datagram_protocol *tw_datagram_port_protocol(tw_datagram_port *port);
TW_API tw_reactor *tw_datagram_port_reactor(const tw_datagram_port *port);
TW_API bool tw_datagram_port_connected(const tw_datagram_port *port);

#ifdef __cplusplus
}
#endif
#endif
