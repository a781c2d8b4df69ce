/* twine transports: TCP and UNIX stream connections (Twisted's ITransport, ITCPTransport,
 * IConsumer and IPushProducer), listening ports (IListeningPort) and outgoing connections by
 * numeric address (IConnector). Protocols and factories are in protocol.h.
 *
 * Ownership on error (libuv's rule, the same as twine's everywhere): a call that returns an error
 * never runs a callback it was given (a lent buffer's release, a producer's ops) and takes over
 * nothing it was handed; the caller still owns every buffer, callback and producer. */
#ifndef TWINE_TRANSPORT_H
#define TWINE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "error.h"
#include "failure.h"
#include "protocol.h"
#include "reactor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits and defaults --------------------------------------------------------------------- */

/* Size of the one read buffer every connection of a reactor reads into. */
#define TW_TRANSPORT_READ_BUFFER_SIZE 65536
/* Reads per readiness event at most (a read that fills the buffer is followed by another, up to
 * this many), so one busy connection cannot starve the others. */
#define TW_TRANSPORT_READS_PER_WAKE 4
/* Bytes a protocol may leave unconsumed before the connection is closed (ValueError, -EMSGSIZE): a
 * bound on what a peer can make the transport hold when the protocol does not set a tighter one. */
#define TW_TRANSPORT_UNCONSUMED_MAX (64u * 1024 * 1024)
/* Bytes all the connections of one reactor may hold in long unconsumed tails (longer than half the
 * read buffer: big partial frames; shorter ones are part of a connection's ordinary cost). Past it,
 * the connection that has held a long tail the longest is closed first (ValueError, -ENOBUFS),
 * then the next, until the total fits: a few peers sending huge unterminated frames cannot take
 * all the memory. A tail's buffer grows by doubling, so memory held may reach twice this. */
#define TW_TRANSPORT_UNCONSUMED_TOTAL_MAX (256u * 1024 * 1024)
/* Default write-buffer water marks: a streaming producer is paused when the bytes queued for
 * writing exceed the high mark and resumed when they fall to the low mark or below. */
#define TW_TRANSPORT_HIGH_WATER_DEFAULT 65536
#define TW_TRANSPORT_LOW_WATER_DEFAULT 16384
/* Buffers handed to one sendmsg() at most. */
#define TW_TRANSPORT_IOV_MAX 64
/* Listening. A backlog of TW_PORT_BACKLOG_DEFAULT (or any value <= 0) asks for the kernel's own
 * limit, net.core.somaxconn (4096 on Linux since 5.4), read when the port listens, or
 * TW_PORT_BACKLOG_FALLBACK when it cannot be read. This differs from Twisted on purpose: Twisted's
 * 50 (nginx uses 511) overflows under a burst of connections, and every SYN the kernel drops then
 * waits a full second for its retransmission; Go also asks for somaxconn. */
#define TW_PORT_BACKLOG_DEFAULT 0
#define TW_PORT_BACKLOG_FALLBACK 4096
/* Bounds of the adaptive accepts per readiness. */
#define TW_PORT_ACCEPTS_INITIAL 100
#define TW_PORT_ACCEPTS_MAX 1000
/* Permissions of a UNIX socket file made by tw_listen_unix (Twisted's listenUNIX default: anyone
 * may connect). tw_listen_unix_mode chooses others. */
#define TW_PORT_UNIX_MODE_DEFAULT 0666
/* Seconds a port stops accepting when out of file descriptors even after shedding load. */
#define TW_PORT_EMFILE_PAUSE 0.1
/* Outgoing connections: default connect timeout in seconds (Twisted's). */
#define TW_CONNECT_TIMEOUT_DEFAULT 30.0

/* ---- addresses ---------------------------------------------------------------------------------
 * A printable socket address, small enough for the stack (Twisted's IPv4Address, IPv6Address,
 * UNIXAddress, PipeAddress). host is numeric ("127.0.0.1", "::1", "fe80::1%eth0"); path is the
 * UNIX path (empty for an unnamed socket). TW_ADDRESS_PIPE is both ends of the stdio transport,
 * whatever its fds are (pipes, files, a terminal, a socket): it has no host, port or path. */
typedef enum {
    TW_ADDRESS_TCP4 = 1,
    TW_ADDRESS_TCP6,
    TW_ADDRESS_UNIX,
    TW_ADDRESS_PIPE
} tw_address_type;
#define TW_ADDRESS_HOST_MAX 64
#define TW_ADDRESS_PATH_MAX 108
struct tw_address {
    tw_address_type type;
    uint16_t port;
    char host[TW_ADDRESS_HOST_MAX];
    char path[TW_ADDRESS_PATH_MAX];
};

/* Fills out from a kernel sockaddr: 0, or -EAFNOSUPPORT for another family. */
TW_API int tw_address_from_sockaddr(tw_address *out, const struct sockaddr *sa, socklen_t len);
/* "tcp:127.0.0.1:8080", "tcp6:[::1]:8080", "unix:/path" or "stdio:" into buf (always
 * NUL-terminated when size > 0). Returns the length it needed (as snprintf), or a negative error
 * for a bad address. */
TW_API int tw_address_format(const tw_address *a, char *buf, size_t size);

/* ---- producers and consumers -------------------------------------------------------------------
 * Twisted's IPushProducer / IPullProducer: something that writes into a consumer (a transport) and
 * can be told to pause, resume or stop. A streaming (push) producer writes on its own and is paused
 * above the consumer's high-water mark and resumed at the low one; a pull producer
 * (streaming=false) is asked for more (resume_producing) each time the consumer's buffer drains.
 * The producer struct is copied at registration; self must stay valid until it is unregistered or
 * stop_producing has been called. Ops return 0 or a negative error (logged). */
typedef struct tw_producer_ops {
    int (*pause_producing)(void *self);
    int (*resume_producing)(void *self);
    int (*stop_producing)(void *self);
} tw_producer_ops;

typedef struct tw_producer {
    const tw_producer_ops *ops;
    void *self;
} tw_producer;

/* ---- transports --------------------------------------------------------------------------------
 * A connected stream socket owned by twine: created by a port or connector, freed by twine after
 * its protocol's connection_lost and destroy have run. Never free it yourself; close it. Every
 * function takes the transport of a protocol that is connected (p->transport between
 * connection_made and the end of connection_lost); calls from inside connection_lost are accepted
 * and do nothing harmful. A test may connect a protocol to a transport that lives in memory instead
 * (testing.h's string transport): every function below works on it, with the same rules. */

/* Writes data. With nothing queued it is sent at once; whatever the kernel does not take is copied
 * and sent when the socket is writable. Writes after lose_connection() are still sent (as
 * Twisted). An empty write (len 0, or buffers that are all empty) is ignored: it sends nothing and
 * wakes nothing. Write errors are not returned: they close the connection with
 * TW_CONNECTION_LOST. The three writes return 0, or -EINVAL (t NULL, data or iov NULL with bytes to
 * write, iovcnt < 0), -ENOTCONN (dropped: the transport is closed or closing, or its write side
 * is shut), -ENOMEM (what the kernel did not take could not be queued: the connection closes with
 * TW_CONNECTION_LOST, since what the caller writes next must not follow a hole in the stream). */
TW_API int tw_transport_write(tw_transport *t, const void *data, size_t len);
/* Writes several buffers in order, as one sendmsg() when possible; copies what it must keep. */
TW_API int tw_transport_write_sequence(tw_transport *t, const struct iovec *iov, int iovcnt);
/* Lends buf without copying it: release(arg) runs once the transport no longer needs buf (sent,
 * or dropped by a close), possibly before this call returns. release may be NULL. On an error
 * return release does not run and buf is still the caller's. */
TW_API int tw_transport_write_lent(tw_transport *t, const void *buf, size_t len,
                                   void (*release)(void *arg), void *arg);
/* Sends len bytes of the file open on fd, from offset, after everything queued, without reading
 * them into memory: sendfile(2) as the socket drains, a bounded buffer where sendfile cannot be
 * used (a memory transport, a file system that refuses it). The bytes count in the write buffer
 * size until sent, so producers and a port's pause-reading-when-full see them, but cost no memory.
 * fd stays the caller's: it must stay open and the region unchanged until release(arg) runs (once:
 * sent, or dropped by a close; possibly before this call returns). A file that turns out shorter
 * than offset + len closes the connection with TW_CONNECTION_LOST, code -EIO (the peer was
 * promised len bytes). An empty region (len 0) sends nothing and runs release at once. Returns as
 * tw_transport_write_lent, and -EINVAL for fd < 0; on an error return release does not run. */
TW_API int tw_transport_write_file(tw_transport *t, int fd, uint64_t offset, uint64_t len,
                                   void (*release)(void *arg), void *arg);

/* Closes after everything queued has been written and a registered producer (pull or streaming)
 * has been unregistered; reason TW_CONNECTION_DONE. Reading stops at once; writing goes on, so a
 * producer can finish (Twisted's rule: unregister a producer when it is done, or the connection
 * never closes). A close the peer or an error causes does not wait: the producer is stopped.
 * Idempotent. */
TW_API void tw_transport_lose_connection(tw_transport *t);
/* Closes now: queued data is dropped and the peer gets a reset (SO_LINGER 0). connection_lost runs
 * with TW_CONNECTION_ABORTED on a later turn, never from inside this call. Idempotent. */
TW_API void tw_transport_abort_connection(tw_transport *t);
/* Half-close: once the queued data is written and a registered producer unregistered, shut the
 * write side down (the peer sees EOF) and call write_connection_lost. Writes made until then are
 * still sent (as Twisted's); once the side is shut they return -ENOTCONN. Reading goes on. */
TW_API void tw_transport_lose_write_connection(tw_transport *t);

/* True once the transport is closing or closed (lose_connection, abort, an error): a protocol stops
 * handling the rest of its input then, as Twisted's protocols check transport.disconnecting. */
TW_API bool tw_transport_disconnecting(const tw_transport *t);

/* Back-pressure on what this transport reads (a transport is a push producer of its input).
 * Whenever reading resumes, for whatever reason (this call, or a full write buffer that drained:
 * see tw_transport_set_pause_reading_when_full), the bytes the protocol left unconsumed are
 * presented again on a later turn, without waiting for the peer to send more (a paused line
 * receiver delivers the lines it held, a pipelining server the requests that came together). */
TW_API void tw_transport_pause_producing(tw_transport *t);
TW_API void tw_transport_resume_producing(tw_transport *t);
/* = lose_connection (Twisted's stopProducing). */
TW_API void tw_transport_stop_producing(tw_transport *t);
/* This transport as a producer, to register with another transport (a proxy's two halves). */
TW_API tw_producer tw_transport_as_producer(tw_transport *t);

/* Consumer side: 0, -EINVAL (t or producer or its ops NULL), -EBUSY if a producer is already
 * registered (Twisted's RuntimeError), -ENOTCONN once the transport is closed or closing (where
 * Twisted calls stopProducing: here an error return calls none of the producer's ops), -ENOMEM.
 * A pull producer is asked for data (resume_producing) from inside this call. */
TW_API int tw_transport_register_producer(tw_transport *t, const tw_producer *producer,
                                          bool streaming);
TW_API void tw_transport_unregister_producer(tw_transport *t);

/* Water marks of this transport's write buffer: 0, or -EINVAL unless low <= high and high > 0. */
TW_API int tw_transport_set_water_marks(tw_transport *t, size_t high, size_t low);
/* A connection accepted by a port, with no producer registered, pauses its own reading while its
 * write buffer is above the high mark (and resumes at the low mark), so a peer that does not read
 * cannot make a server buffer without bound: an echo server needs nothing more. Outgoing
 * connections do not by default: if both ends stopped reading while their buffers were full, each
 * would wait for the other forever. This turns it on or off for one transport. */
TW_API void tw_transport_set_pause_reading_when_full(tw_transport *t, bool on);
/* Bytes queued for writing (not yet taken by the kernel). */
TW_API size_t tw_transport_write_buffer_size(const tw_transport *t);

/* Socket addresses: 0 or a negative errno (-ENOTCONN once closed). */
TW_API int tw_transport_get_host(const tw_transport *t, tw_address *out);
TW_API int tw_transport_get_peer(const tw_transport *t, tw_address *out);
/* TCP_NODELAY (on by default for TCP) and SO_KEEPALIVE (off by default). -EOPNOTSUPP on UNIX
 * sockets. */
TW_API int tw_transport_set_tcp_nodelay(tw_transport *t, bool on);
TW_API int tw_transport_set_tcp_keepalive(tw_transport *t, bool on);
/* The protocol this transport drives (embedded in the transport), the reactor, and the socket
 * (for socket options; do not read, write or close it). */
TW_API tw_protocol *tw_transport_protocol(tw_transport *t);
TW_API tw_reactor *tw_transport_reactor(const tw_transport *t);
TW_API int tw_transport_fd(const tw_transport *t);
/* Open transports of r (for tests and tools). */
TW_API size_t tw_transport_count(tw_reactor *r);

/* ---- listening ports ---------------------------------------------------------------------------
 * Ownership (libuv's handle rule): the tw_port * that tw_listen_* returns is yours until you
 * release it with tw_port_free, exactly once. Stopping is not releasing: tw_port_stop_listening
 * (Twisted's stopListening), the reactor's shutdown and tw_reactor_free only stop the port, which
 * stays a valid stopped handle until tw_port_free, even after tw_reactor_free. A stopped port
 * answers tw_port_stop_listening and tw_port_get_host with -ENOTCONN and still reports its
 * counters.
 *
 * Each accepted connection gets factory->ops->build_protocol, then connection_made. The factory is
 * borrowed and must outlive the port and its connections. NULL with *err (if err is not NULL) set
 * to a negative errno on failure (-EADDRINUSE, -EACCES, -EINVAL for a bad interface or path,
 * -ESHUTDOWN from a callback run while tw_reactor_free closes what is open).
 * backlog <= 0 (TW_PORT_BACKLOG_DEFAULT) means the kernel's somaxconn (see the limits above).
 * Port 0 picks a free port: ask tw_port_get_host. */
typedef struct tw_port tw_port;

/* Addresses here are numeric and never looked up: parsed with inet_pton (no resolver, so a static
 * build needs no NSS), -EINVAL for anything else. */
/* interface: a numeric IPv4 address (a dotted quad), NULL for any ("0.0.0.0"). */
TW_API tw_port *tw_listen_tcp(tw_reactor *r, uint16_t port, const char *interface, int backlog,
                              tw_factory *factory, int *err) TW__MUST_CHECK;
/* interface: a numeric IPv6 address (a scope by name or number allowed: "fe80::1%eth0",
 * "fe80::1%2"), NULL for any ("::").
 * The socket is IPv6-only. */
TW_API tw_port *tw_listen_tcp6(tw_reactor *r, uint16_t port, const char *interface, int backlog,
                               tw_factory *factory, int *err) TW__MUST_CHECK;
/* A stale socket file at path (nobody listening) is replaced; a live one is -EADDRINUSE; anything
 * else there (a regular file, a directory, a symlink) is -ENOTSOCK and never touched. The file
 * is removed by tw_port_stop_listening. -ENAMETOOLONG if path does not fit a sockaddr_un. The
 * file gets TW_PORT_UNIX_MODE_DEFAULT (0666) permissions, as with Twisted's listenUNIX. */
TW_API tw_port *tw_listen_unix(tw_reactor *r, const char *path, int backlog, tw_factory *factory,
                               int *err) TW__MUST_CHECK;
/* The same with the socket file's permissions (mode: 0 to 0777; -EINVAL beyond), umask or not.
 * They are in place before the socket listens, so no connection is ever made under others: until
 * listen() the kernel refuses every connect. */
TW_API tw_port *tw_listen_unix_mode(tw_reactor *r, const char *path, unsigned mode, int backlog,
                                    tw_factory *factory, int *err) TW__MUST_CHECK;

/* Stops accepting, closes the socket (and removes a UNIX socket file) and calls the factory's
 * doStop; the port stays valid (free it with tw_port_free). Connections already accepted stay
 * open. Safe from inside the port's own callbacks. 0; -ENOTCONN when the port was stopped already
 * (by an earlier call, the reactor's shutdown or tw_reactor_free); -EINVAL for NULL. */
TW_API int tw_port_stop_listening(tw_port *port);
/* Releases the port: stops it first if it still listens, then frees it (after the current accept
 * loop when called from inside one). Works after tw_reactor_free too. NULL is ignored. */
TW_API void tw_port_free(tw_port *port);
/* The address the port listens on: 0, -ENOTCONN once stopped, -EINVAL. */
TW_API int tw_port_get_host(const tw_port *port, tw_address *out);
/* Connections accepted so far, and connections shed instead: accepted and closed at once because
 * the process was out of descriptors, or because the transport could not take one (an fd the
 * backend cannot watch, such as select's FD_SETSIZE and above; no memory). A shed connection gets
 * no protocol; each shedding is logged as a warning. */
TW_API uint64_t tw_port_accepted(const tw_port *port);
TW_API uint64_t tw_port_shed(const tw_port *port);
/* Upper bound of accepts per readiness event (1 disables the multi-accept loop; for benchmarks).
 * -EINVAL for 0. The adaptive count (Twisted's numberAccepts) grows up to this bound. */
TW_API int tw_port_set_max_accepts(tw_port *port, unsigned max);

/* ---- outgoing connections ----------------------------------------------------------------------
 * A non-blocking connect. On success the factory builds the protocol and connection_made runs; on
 * failure factory->ops->client_connection_failed runs (always on a later turn, never from inside
 * these calls). timeout in seconds: 0 means TW_CONNECT_TIMEOUT_DEFAULT, negative means none.
 * The connector is freed by twine right after connection_made or client_connection_failed has
 * returned: it stays valid inside those calls (tw_connector_get_destination works there), not
 * afterwards. NULL with *err set on bad arguments or when no socket can be made or watched
 * (-EINVAL, -EAFNOSUPPORT, -ENOMEM, -EMFILE: out of fds, or one the backend cannot watch, such as
 * select's FD_SETSIZE and above), or -ESHUTDOWN from a callback run while tw_reactor_free closes
 * what is open; nothing is left behind then (no callback, no fd). At a reactor shutdown the
 * connections in progress fail with TW_CONNECTION_LOST; one started from such a failure callback
 * is failed by tw_reactor_free. */

/* host: a numeric IPv4 (dotted quad) or IPv6 address (scope allowed), never looked up. */
TW_API tw_connector *tw_connect_tcp(tw_reactor *r, const char *host, uint16_t port, double timeout,
                                    tw_factory *factory, int *err) TW__MUST_CHECK;
TW_API tw_connector *tw_connect_sockaddr(tw_reactor *r, const struct sockaddr *sa, socklen_t len,
                                         double timeout, tw_factory *factory,
                                         int *err) TW__MUST_CHECK;
TW_API tw_connector *tw_connect_unix(tw_reactor *r, const char *path, double timeout,
                                     tw_factory *factory, int *err) TW__MUST_CHECK;
/* Abandons a connection in progress: client_connection_failed runs now with
 * TW_CONNECTING_CANCELLED_ERROR and the connector is freed. TW_EALREADYCALLED once the attempt
 * has connected or failed (called from inside connection_made or client_connection_failed). */
TW_API int tw_connector_stop_connecting(tw_connector *c);
/* The address being connected to. */
TW_API int tw_connector_get_destination(const tw_connector *c, tw_address *out);

#ifdef __cplusplus
}
#endif
#endif
