/* twine protocols and factories: what a connection does with its bytes (Twisted's IProtocol and
 * Factory / ClientFactory), as plain data: an ops table, a transport pointer and user state.
 * The transports that drive them are in transport.h; docs/transports.md explains the rules. */
#ifndef TWINE_PROTOCOL_H
#define TWINE_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "failure.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_protocol tw_protocol;
typedef struct tw_factory tw_factory;
typedef struct tw_transport tw_transport;
typedef struct tw_address tw_address;

/* What a protocol does. Every op is optional (NULL = nothing to do), and all run in the reactor
 * thread, never re-entrantly for one connection (a close requested from inside an op completes
 * after that op returns).
 *
 * connection_made: the transport is connected and p->transport is set. A negative return is logged
 *   and the connection is closed with that error as the reason.
 * data_received: bytes arrived. data points into a buffer the transport lends for this call only
 *   (one read buffer shared by every connection of the reactor). Return how many bytes were
 * consumed
 *   (0..len); the transport keeps the unconsumed tail and presents it again, in front of the next
 *   bytes, at the next call. A negative return is an error: it is logged and the connection is
 *   closed with it as the reason (Twisted's exception in dataReceived). NULL = discard everything.
 * read_connection_lost / write_connection_lost: half-close (Twisted's IHalfCloseableProtocol). A
 *   protocol with read_connection_lost set is half-closeable: a peer's EOF calls it and the
 * transport
 *   stays open for writing, instead of closing with ConnectionDone. write_connection_lost runs once
 *   tw_transport_lose_write_connection() has flushed and shut the write side. A negative return
 *   closes the connection with that error.
 * connection_lost: the connection is gone; runs exactly once per connection_made. reason is
 * borrowed:
 *   TW_CONNECTION_DONE for a clean close (either side), TW_CONNECTION_LOST for an error or a
 * reactor
 *   shutdown, TW_CONNECTION_ABORTED after tw_transport_abort_connection(), or the error an op
 *   returned; tw_failure_ref(reason) keeps it past the call. p->transport is still valid during the
 *   call but must not be used afterwards.
 * destroy: runs right after connection_lost (or instead of connection_made if the connection never
 *   got that far), so whoever owns p->user can free it. The transport frees itself afterwards. */
typedef struct tw_protocol_ops {
    int (*connection_made)(tw_protocol *p);
    ssize_t (*data_received)(tw_protocol *p, const char *data, size_t len);
    int (*read_connection_lost)(tw_protocol *p);
    int (*write_connection_lost)(tw_protocol *p);
    void (*connection_lost)(tw_protocol *p, const tw_failure *reason);
    void (*destroy)(tw_protocol *p);
} tw_protocol_ops;

/* A protocol instance. The transport embeds it (no allocation of its own), so it stays at one
 * address for the life of the connection; user is the protocol's state (NULL for a stateless one
 * such as echo). A protocol may also be driven without a transport (a framing receiver fed by a
 * test, say): then transport is NULL. */
struct tw_protocol {
    const tw_protocol_ops *ops;
    tw_transport *transport;
    void *user;
    tw_factory *factory;
};

/* What a factory does (Twisted's Factory and ClientFactory).
 *
 * start_factory / stop_factory: Twisted's startFactory/stopFactory, called through doStart/doStop:
 *   start when the first port or outgoing connection starts using the factory, stop when the last
 *   one is done (a counter in the factory). A negative start_factory return makes the listen or
 *   connect fail with that error.
 * build_protocol: fill *out (ops and user; transport and factory are set by twine) for a new
 *   connection from or to peer. Return 0, or a negative error to refuse the connection (it is
 * closed
 *   at once, like Twisted's buildProtocol returning None). NULL refuses every connection.
 * client_connection_failed: an outgoing connection could not be made. reason is borrowed: the
 *   errno failure from tw_failure_from_errno() (ConnectionRefusedError, NoRouteError,
 *   TCPTimedOutError, ConnectError), TW_TIMEOUT_ERROR for the connect timeout,
 *   TW_CONNECTING_CANCELLED_ERROR after tw_connector_stop_connecting(), TW_CONNECTION_LOST when the
 *   reactor shuts down first, TW_CONNECT_ERROR with build_protocol's code when it refused.
 * connector is the attempt that failed; it is freed after this call. */
typedef struct tw_connector tw_connector;
typedef struct tw_factory_ops {
    int (*start_factory)(tw_factory *f);
    void (*stop_factory)(tw_factory *f);
    int (*build_protocol)(tw_factory *f, const tw_address *peer, tw_protocol *out);
    void (*client_connection_failed)(tw_factory *f, tw_connector *connector,
                                     const tw_failure *reason);
} tw_factory_ops;

/* A factory: plain data the caller owns and keeps alive while any port, connector or connection
 * built by it exists. Initialise with { .ops = &my_ops, .user = state } (num_ports 0). */
struct tw_factory {
    const tw_factory_ops *ops;
    void *user;
    unsigned num_ports; /* users of the factory, maintained by do_start / do_stop */
};

/* Twisted's doStart/doStop: count users of f and call start_factory on the first, stop_factory
 * after the last. Ports and connectors call these; wrappers around a factory may too.
 * do_start returns start_factory's error (the count is then unchanged). */
TW_API int tw_factory_do_start(tw_factory *f) TW__MUST_CHECK;
TW_API void tw_factory_do_stop(tw_factory *f);

#ifdef __cplusplus
}
#endif
#endif
