/* twine testing, the transport layer's part: tw_string_transport, Twisted's StringTransport (a
 * protocol connected to a transport in memory that records what the protocol writes and is fed what
 * a peer would send), and tw_loopback, iosim.connect (two protocols on such transports, pumped into
 * each other). Include testing.h, which brings every test double; docs/testing.md shows them at
 * work.
 *
 * Ownership: string transports and loopbacks are the caller's (their _free), and are best freed
 * before their reactor (a reactor freed first closes their connections, as it closes sockets; the
 * objects themselves stay the caller's to free). Errors as everywhere in twine: 0 or a negative
 * code, NULL with *err. */
#ifndef TWINE_TESTING_TRANSPORT_H
#define TWINE_TESTING_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "failure.h"
#include "protocol.h"
#include "reactor.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- string transport (Twisted's proto_helpers.StringTransport) --------------------------------
 * A tw_transport in memory: hand its protocol to the code under test, which uses it through the
 * tw_transport_* functions as it would a socket's. Writes are recorded (tw_string_transport_value)
 * and never block, so tw_transport_write_buffer_size is always 0 and water marks change nothing.
 * Closes keep the socket transport's rules and timing: lose_connection waits for a registered
 * producer to be unregistered; asked from inside one of the protocol's callbacks it completes when
 * the callback returns, asked from outside (a timer, the test itself) on a later turn of the
 * reactor (tw_clock_advance(c, 0), or tw_reactor_iterate(r, 0)); abort_connection always on a later
 * turn. connection_lost gets the reasons a socket's gets (ConnectionDone, ConnectionAborted,
 * ConnectionLost, the error a callback returned), then destroy runs. Unlike Twisted's
 * StringTransport, there is no need to call connection_lost yourself.
 *
 * Input: tw_string_transport_data_received is what the peer sends. The protocol consumes what it
 * wants; the rest is presented again in front of the next bytes, always in a buffer of exactly the
 * size presented (so a protocol that reads past it trips AddressSanitizer). While paused
 * (tw_transport_pause_producing) the bytes are held, with an EOF after them, and presented on a
 * later turn once it resumes, as a socket's reader does. More than TW_TRANSPORT_UNCONSUMED_MAX left
 * unconsumed closes the connection (ValueError), as on a socket. Bytes fed after the transport
 * stopped reading for good (lose_connection, abort) are dropped, as a kernel's would be.
 *
 * A string transport belongs to the reactor it was made for: it counts in tw_transport_count, and
 * the reactor's shutdown closes it with ConnectionLost. tw_transport_fd answers -EBADF. */
typedef struct tw_string_transport tw_string_transport;

/* Twisted's addresses for a StringTransport made without any: host and peer (TCP over IPv4). */
#define TW_STRING_TRANSPORT_HOST "10.0.0.1"
#define TW_STRING_TRANSPORT_HOST_PORT 12345
#define TW_STRING_TRANSPORT_PEER "192.168.1.1"
#define TW_STRING_TRANSPORT_PEER_PORT 54321

/* host: what tw_transport_get_host answers, NULL for the default; peer: what tw_transport_get_peer
 * answers and what build_protocol is told, NULL for the default. A UNIX host address makes the TCP
 * options answer -EOPNOTSUPP, as on a UNIX socket. */
typedef struct tw_string_transport_options {
    const tw_address *host;
    const tw_address *peer;
} tw_string_transport_options;

/* Builds factory's protocol (build_protocol with the peer address) on a new string transport and
 * runs its connection_made, as a port does for an accepted connection; the factory is borrowed (it
 * must outlive the transport) and not started (no doStart). options may be NULL. A connection_made
 * that fails closes the transport as on a socket: the transport is still returned, closed.
 * NULL + *err: -EINVAL (r or factory NULL), -ENOMEM, -ESHUTDOWN (r is being freed),
 * build_protocol's
 * error, or -ECONNREFUSED when the factory has no build_protocol; then destroy does not run. */
TW_API tw_string_transport *tw_string_transport_new(tw_reactor *r, tw_factory *factory,
                                                    const tw_string_transport_options *options,
                                                    int *err);
/* The same for one protocol: its ops and user are copied into the transport's protocol (whose
 * factory is NULL). */
TW_API tw_string_transport *tw_string_transport_new_protocol(
    tw_reactor *r, const tw_protocol *protocol, const tw_string_transport_options *options,
    int *err);
/* Closes the connection if it is still open (connection_lost with ConnectionLost, then destroy)
 * and frees the transport. Not from inside one of its protocol's callbacks. */
TW_API void tw_string_transport_free(tw_string_transport *st);

/* The transport as the code under test sees it, and its protocol (valid until the free). */
TW_API tw_transport *tw_string_transport_transport(tw_string_transport *st);
TW_API tw_protocol *tw_string_transport_protocol(tw_string_transport *st);

/* Everything written since the last clear, NUL-terminated ("" when nothing was); *len (if not
 * NULL) gets its length.
 * Valid until the next write, clear or free. Writes keep being recorded after lose_connection (as
 * a socket still sends them) and fail with -ENOTCONN once closed, aborted or the write side
 * shut. */
TW_API const char *tw_string_transport_value(const tw_string_transport *st, size_t *len);
TW_API void tw_string_transport_clear(tw_string_transport *st);

/* What the code under test did with the transport, and what the test fed, as bits. */
#define TW_STRING_LOSE_CONNECTION 0x001u       /* lose_connection (or stop_producing) was called */
#define TW_STRING_ABORT_CONNECTION 0x002u      /* abort_connection was called */
#define TW_STRING_LOSE_WRITE_CONNECTION 0x004u /* lose_write_connection was called */
#define TW_STRING_WRITE_SHUT 0x008u            /* ... and the write side is shut */
#define TW_STRING_PAUSED 0x010u                /* reading paused (pause_producing) */
#define TW_STRING_PRODUCER 0x020u              /* a producer is registered */
#define TW_STRING_STREAMING 0x040u             /* ... a streaming (push) one */
#define TW_STRING_TCP_NODELAY 0x080u           /* TCP_NODELAY as last set (on at the start) */
#define TW_STRING_TCP_KEEPALIVE 0x100u         /* SO_KEEPALIVE as last set */
#define TW_STRING_EOF 0x200u                   /* the test fed the peer's EOF */
#define TW_STRING_CLOSED 0x400u                /* connection_lost has run */
TW_API unsigned tw_string_transport_state(const tw_string_transport *st);
/* The reason connection_lost got (valid until the free), or NULL while open. */
TW_API const tw_failure *tw_string_transport_reason(const tw_string_transport *st);
/* True and *out (if not NULL) set when a producer is registered. A pull producer is asked for data
 * once, when registered; after that, ask it yourself (out->ops->resume_producing(out->self)), as
 * the socket transport would each time its buffer drained, or let tw_loopback_pump ask it. */
TW_API bool tw_string_transport_producer(const tw_string_transport *st, tw_producer *out);

/* The peer sends data: presented to the protocol before this returns (with what it left
 * unconsumed before), or held while reading is paused. 0, or -EINVAL, -ENOMEM, -ENOTCONN (closed,
 * or the peer's EOF was fed already), -EBUSY (called from inside one of the protocol's callbacks:
 * the peer's bytes come from the test, as a socket's come from the loop). */
TW_API int tw_string_transport_data_received(tw_string_transport *st, const void *data,
                                             size_t len);
/* The peer shuts its write side (a socket reads EOF): what the protocol left unconsumed is dropped;
 * a half-closeable protocol gets read_connection_lost, any other one is closed with ConnectionDone
 * when this returns. Held while paused. 0, or -EINVAL, -ENOTCONN, -EBUSY as data_received. */
TW_API int tw_string_transport_receive_eof(tw_string_transport *st);
/* The connection breaks (a read error with errno -code, ECONNRESET say): closed with
 * ConnectionLost carrying code when this returns. 0, or -EINVAL (code not negative), -ENOTCONN
 * (closed already), -EBUSY as data_received. */
TW_API int tw_string_transport_fail(tw_string_transport *st, int code);

/* ---- loopback pair (Twisted's iosim.connect / connectedServerAndClient) ------------------------
 * Two protocols, each on a string transport, whose writes reach each other when the test pumps:
 * what one side wrote is fed to the other; one side's EOF (its close, or its shut write side)
 * reaches the other after its bytes, and an abort reaches it as a reset (ConnectionLost,
 * -ECONNRESET), as over TCP. The server's host address is its client's peer and the other way
 * round (Twisted's StringTransport defaults: the server at 10.0.0.1:12345, the client at
 * 192.168.1.1:54321). */
typedef struct tw_loopback tw_loopback;

/* Rounds one tw_loopback_pump runs at most before it gives up (-ELOOP): two protocols that answer
 * each other forever never go quiet. */
#define TW_LOOPBACK_PUMP_ROUNDS_MAX 10000

/* Builds the server's protocol, then the client's, each with its factory (borrowed, as for
 * tw_string_transport_new), and runs their connection_made; nothing moves until the first pump.
 * NULL + *err as tw_string_transport_new (the server side is closed and freed when the client's
 * cannot be built). */
TW_API tw_loopback *tw_loopback_new(tw_reactor *r, tw_factory *server, tw_factory *client,
                                    int *err);
/* Frees both transports (as tw_string_transport_free) and the pair. */
TW_API void tw_loopback_free(tw_loopback *lb);
/* The two sides: inspect them and feed them as any string transport (tw_string_transport_value
 * shows what a side wrote since the last pump moved it). */
TW_API tw_string_transport *tw_loopback_server(tw_loopback *lb);
TW_API tw_string_transport *tw_loopback_client(tw_loopback *lb);

/* Twisted's IOPump.flush: rounds of asking each side's pull producer for more (as a drained socket
 * buffer does), moving each side's writes to the other, passing on EOFs and resets, then running
 * the reactor's due calls (one non-blocking turn: the later turns on which closes and resumes
 * complete), until a round changes nothing. Returns the bytes moved, or -EINVAL, -ENOMEM, -ELOOP
 * (still busy after TW_LOOPBACK_PUMP_ROUNDS_MAX rounds), TW_EALREADYRUNNING (called from inside a
 * callback of the reactor). */
TW_API long tw_loopback_pump(tw_loopback *lb);

#ifdef __cplusplus
}
#endif
#endif
