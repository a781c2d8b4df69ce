/* Private interface of the transport layer (transport/): the per-reactor network context that every
 * transport, port and connector of one reactor shares (the one read buffer, what is open and must
 * close at shutdown, the reference count), sockets, and the stream transport that ports and
 * connectors hand their sockets to. */
#ifndef TWINE_TRANSPORT_NET_H
#define TWINE_TRANSPORT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport/tail.h"
#include "transport/write_queue.h"
#include "twine/transport.h"

/* The struct that holds member (a tw_net_closer, say), from the member's address. */
#define tw__container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- the per-reactor context (net.c) --------------------------------------------------------- */
typedef struct tw_transport_chunk tw_transport_chunk;
typedef struct tw__stdio tw__stdio;

/* Something open in a context that its reactor's shutdown must close: a listening port stops, a
 * connect in progress fails, a datagram port stops, the connections are lost. Ports, connectors
 * and datagram ports embed one each and register it while they are open; the stream transports
 * share one (tw_net.streams), registered while any of them is open, so that an idle connection
 * carries no links. The context knows nothing else of them. */
typedef struct tw_net_closer tw_net_closer;
struct tw_net_closer {
    void (*close)(tw_net_closer *self);
    tw_net_closer *prev, *next; /* NULL while not registered */
};

typedef struct tw_net {
    tw_reactor *r;
    char *rbuf;               /* TW_TRANSPORT_READ_BUFFER_SIZE bytes, shared by every connection */
    tw_transport_chunk *chunks;     /* where every transport of this context lives */
    tw_transport *free_transports;  /* unused ones in chunks (list through next_free) */
    size_t nconns;            /* transports started and not closed yet */
    size_t nmemory; /* in-memory transports (memory.c) open, counted apart: not in chunks */
    tw_net_closer open;       /* what is open: a circular list, oldest first, through this head */
    tw_net_closer streams;    /* closes every connection (stream.c), registered while nconns > 0 */
    tw_tails tails;           /* the connections' long unconsumed tails */
    tw__stdio *stdio;         /* the stdio transport's fds, while it is open (stdio.c) */
    unsigned refs;            /* see tw__net_acquire */
    long trigger_id;          /* the "during shutdown" trigger, 0 once it has run */
    bool closing;             /* tw_reactor_free is closing everything: nothing new may start */
} tw_net;

/* References: every port, connector and transport of a context holds one from its creation to the
 * very end of its life in the context (its own release is the last thing it does, after every
 * callback; a port's life in the context ends when it stops: a stopped port is its owner's handle
 * and may outlive the reactor), and the context is freed with the last one. tw__net_acquire takes
 * it for something new in r (the context is created on first use): NULL and *err on failure
 * (-ENOMEM, -ESHUTDOWN while tw_reactor_free closes what is open). tw__net_hold takes it in a
 * context at hand. */
tw_net *tw__net_acquire(tw_reactor *r, int *err) TW__MUST_CHECK;
void tw__net_hold(tw_net *net);
void tw__net_release(tw_net *net);
/* The context of r if there is one (no reference taken). */
tw_net *tw__net_find(tw_reactor *r);
/* Registers c (open from now on, closed by the reactor's shutdown through close) or unregisters it
 * (closing or closed; nothing if it is not registered). At a shutdown, what was registered when it
 * began is closed in the order it was registered; what registers meanwhile is left for
 * tw_reactor_free (a client that reconnects whenever it fails would otherwise never stop). */
void tw__net_register(tw_net *net, tw_net_closer *c, void (*close)(tw_net_closer *self));
void tw__net_unregister(tw_net_closer *c);
/* A zeroed transport from the context's chunks (NULL when out of memory), and back. */
tw_transport *tw__net_transport_alloc(tw_net *net) TW__MUST_CHECK;
void tw__net_transport_free(tw_net *net, tw_transport *t);
/* Calls fn on each transport of the context's chunks that is in use (allocated, not freed). fn may
 * free transports and allocate new ones; a transport allocated meanwhile may or may not be visited.
 * The caller holds a reference: the chunks live as long as the context. */
void tw__net_each_transport(tw_net *net, void (*fn)(tw_transport *t));

/* ---- ports (port.c) ------------------------------------------------------------------------- */
/* tw_listen_tcp (AF_INET) or tw_listen_tcp6 (AF_INET6), with SO_REUSEPORT set before bind when
 * reuse_port (a server string's reusePort=1; -EOPNOTSUPP where the platform has none). */
tw_port *tw__listen_ip(tw_reactor *r, int family, uint16_t port, const char *interface,
                       int backlog, bool reuse_port, tw_factory *factory,
                       int *err) TW__MUST_CHECK;

/* ---- sockets (socket.c) ---------------------------------------------------------------------- */
/* A non-blocking, close-on-exec stream socket, or a negative errno. */
int tw__sock_stream(int family) TW__MUST_CHECK;
/* Numeric host and port into a sockaddr of the given family (AF_INET or AF_INET6; AF_UNSPEC takes
 * either). -EINVAL for a host that is not a numeric address of that family. */
int tw__sock_parse_ip(int family, const char *host, uint16_t port, struct sockaddr_storage *ss,
                     socklen_t *len) TW__MUST_CHECK;
/* -ENAMETOOLONG when path does not fit, -EINVAL for an empty path. */
int tw__sock_parse_unix(const char *path, struct sockaddr_storage *ss,
                        socklen_t *len) TW__MUST_CHECK;
int tw__sock_set_flag(int fd, int level, int option, bool on) TW__MUST_CHECK;
/* TCP_NODELAY on, best effort: a socket that refuses it still works (small writes are only
 * slower), so a refusal is no reason to fail a listen, an accept or a connect. */
void tw__sock_nodelay(int fd);
/* Closes an fd through the reactor, keeping errno intact for the caller's report. */
void tw__sock_close(tw_reactor *r, int fd);
/* A failure of the given type (NULL: Twisted's name for the errno, as tw_failure_from_errno) for a
 * negative code, with context ("connect", "read", ...). NULL only when out of memory. */
tw_failure *tw__sock_failure(const char *type, int code, const char *context);

/* ---- stream transports (stream.c) ------------------------------------------------------------ */
enum {
    TW_T_TCP = 1u << 0,            /* TCP socket (not UNIX) */
    TW_T_CLIENT = 1u << 1,         /* made by a connector: doStop the factory at close */
    TW_T_CONNECTED = 1u << 2,      /* connection_made has been called */
    TW_T_DISCONNECTING = 1u << 3,  /* lose_connection: close once the buffer is flushed */
    TW_T_READ_CLOSED = 1u << 4,    /* the peer's EOF reached a half-closeable protocol */
    TW_T_WRITE_CLOSING = 1u << 5,  /* lose_write_connection: shut the write side once flushed */
    TW_T_WRITE_SHUT = 1u << 6,     /* shutdown(SHUT_WR) done */
    TW_T_PAUSED_USER = 1u << 7,    /* pause_producing */
    TW_T_PAUSED_FULL = 1u << 8,    /* own write buffer above the high mark, no producer */
    TW_T_READING = 1u << 9,        /* reader registered with the reactor */
    TW_T_WRITING = 1u << 10,       /* writer registered with the reactor */
    TW_T_IN_DISPATCH = 1u << 11,   /* a reactor callback of this transport is running */
    TW_T_CLOSE_PENDING = 1u << 12, /* close decided; finishes when the dispatch ends */
    TW_T_ABORTING = 1u << 13,      /* abort_connection: close on a later turn */
    TW_T_CLOSED = 1u << 14,        /* fd closed; connection_lost running or done */
    TW_T_SELF_PAUSE = 1u << 15,    /* pause own reading when the write buffer is full */
    TW_T_SHUTDOWN = 1u << 16,      /* open when the streams' closer began: it closes this one */
    TW_T_MEMORY = 1u << 17,        /* no socket: in memory (testing_transport.h, memory.c) */
    TW_T_PIPE = 1u << 18,          /* stdin and stdout (stdio.c): not a socket, two fds */
};

/* Why a transport closes: the failure type connection_lost gets. */
typedef enum {
    TW_CLOSE_DONE = 1,
    TW_CLOSE_LOST,
    TW_CLOSE_ABORTED,
    TW_CLOSE_ERROR, /* a protocol op returned an error, or too much input was left unconsumed */
} tw_close_kind;

/* Everything a connection needs only sometimes; allocated on demand and freed when back to idle,
 * so an idle connection is just struct tw_transport. */
typedef struct tw_stream_ext {
    tw_write_queue queue;
    size_t high_water, low_water;
    tw_tail tail;      /* what the protocol left unconsumed (owner: the transport) */
    bool present_tail; /* reading resumed: kick_fired presents the tail unless a read did */
    tw_producer producer;
    bool has_producer, streaming, producer_paused;
    tw_close_kind close_kind;
    int close_code;
    const char *close_context;
    tw_delayed_call
        *kick_call; /* kick_fired on a later turn: a close, or a held tail shown again */
} tw_stream_ext;

struct tw_transport {
    tw_protocol proto; /* first: the protocol's address is the transport's */
    tw_net *net;       /* NULL while unused in its chunk */
    union {
        tw_stream_ext *ext;
        tw_transport *next_free; /* while unused */
    };
    int fd;
    uint32_t flags;
};

/* A transport for a connected socket, its reader registered before any protocol exists: NULL with
 * *err when it cannot take the socket (-ENOMEM, or the reactor's refusal to watch fd, such as
 * select's -EMFILE at FD_SETSIZE and above), fd untouched then. */
tw_transport *tw__stream_new(tw_net *net, int fd, uint32_t flags, int *err) TW__MUST_CHECK;
/* Gives t the protocol factory f builds for peer (t is not started yet: tw__stream_start). 0, or
 * build_protocol's error, or -ECONNREFUSED when f has no build_protocol (Twisted's buildProtocol
 * returning None): then the fd is closed and t is gone. */
int tw__stream_build(tw_transport *t, tw_factory *f, const tw_address *peer) TW__MUST_CHECK;
/* Counts the transport as open, starts reading and calls connection_made. */
void tw__stream_start(tw_transport *t);
/* The failure connection_lost gets for a close of this kind (tails: the bounds a ValueError names).
 * NULL only when out of memory. */
tw_failure *tw__stream_close_reason(tw_close_kind kind, int code, const char *context,
                                    const tw_tails *tails);
/* The same, then made(arg, p, err) inside the same dispatch, before any close connection_made asked
 * for: err is connection_made's error (the connection is then closing), or 0. */
typedef void (*tw__made_fn)(void *arg, tw_protocol *p, int err);
void tw__stream_start_then(tw_transport *t, tw__made_fn made, void *arg);
/* Watch the read or write side of t with fn (the reactor; stdio's through tw__stdio_watch), or
 * stop watching it. */
int tw__stream_watch(tw_transport *t, bool write, tw_io_fn fn);
void tw__stream_unwatch(tw_transport *t, bool write);

/* ---- stdin and stdout (stdio.c) ---------------------------------------------------------------
 * A TW_T_PIPE transport reads its fd (a copy of stdin) and writes another (a copy of stdout). */
/* Starts the one stdio transport of net, with the protocol factory f builds, flagged as a
 * connector's (the factory's use ends when it closes; the caller did tw_factory_do_start): 0, or
 * -EBUSY when one is open already, -EBADF, -ENOMEM, or build_protocol's error (then *refused). */
int tw__stdio_start(tw_net *net, tw_factory *f, bool *refused);
int tw__stdio_wfd(const tw_transport *t);
/* tw__stream_watch and _unwatch for a TW_T_PIPE transport: its two fds, and the files epoll cannot
 * watch (regular files, devices) served once a turn as always ready. */
int tw__stdio_watch(tw_transport *t, bool write, tw_io_fn fn);
void tw__stdio_unwatch(tw_transport *t, bool write);
/* Half-close: shutdown() a socket, else close the copy of stdout and let fd 1 go. */
void tw__stdio_shut_write(tw_transport *t);
/* Restores both fds' flags and closes them; if the transport was started, lets fds 0 and 1 go (they
 * then read and write /dev/null). */
void tw__stdio_close(tw_transport *t, bool started);

#endif
