/* twine endpoints: Twisted's IStreamServerEndpoint and IStreamClientEndpoint. An endpoint is a
 * small object that knows where to listen or what to connect to; listen() and connect() return
 * deferreds. Built in: TCP4, TCP6 and UNIX servers, stdio, TCP4, TCP6 and UNIX clients, and the
 * hostname client that resolves a name and races its addresses (Happy Eyeballs, RFC 8305).
 * docs/endpoints.md explains them; endpoint strings ("tcp:8080", "tcp:example.com:80") are in
 * strports.h.
 *
 * OWNERSHIP: an endpoint is a description. The caller owns it (tw_*_endpoint_free) and may free it
 * at any time, even while a listen or connect it started is in progress: those copy what they need.
 * A factory handed to listen/connect is borrowed and must outlive what is built with it (the port,
 * and every connection), as with tw_listen_tcp. A resolver is borrowed and must outlive the
 * endpoints that use it. Deferreds follow deferred.h: each returned one is the caller's reference.
 *
 * ERRORS: listen and connect return NULL with *err set only when they cannot even make a deferred
 * (-EINVAL for NULL arguments, -ENOMEM, -ESHUTDOWN while tw_reactor_free closes what is open);
 * everything else (address in use, refused, timed out, name unknown) arrives as the failure of the
 * deferred, never from inside the call and never as a callback of the factory. Constructors return
 * NULL with *err (-EINVAL for a bad argument, -ENOMEM). */
#ifndef TWINE_ENDPOINTS_H
#define TWINE_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deferred.h"
#include "error.h"
#include "failure.h"
#include "protocol.h"
#include "reactor.h"
#include "strports.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits and defaults --------------------------------------------------------------------- */

/* Seconds a client connect may take at most when the endpoint says 0 (Twisted's timeout=30). For
 * the hostname endpoint it bounds the resolution and every attempt together. */
#define TW_CONNECT_ENDPOINT_TIMEOUT_DEFAULT 30.0
/* Happy Eyeballs: the Connection Attempt Delay (RFC 8305 recommends 250 ms), the bounds it is
 * clamped to, and the least time between two attempt starts. */
#define TW_HAPPY_EYEBALLS_DELAY_DEFAULT 0.25
#define TW_HAPPY_EYEBALLS_DELAY_MIN 0.1
#define TW_HAPPY_EYEBALLS_DELAY_MAX 2.0
#define TW_HAPPY_EYEBALLS_SPACING_MIN 0.01
/* Addresses of one name tried at most (the rest of a longer answer is ignored). The longest host
 * name is TW_HOSTNAME_MAX, in strports.h. */
#define TW_HOSTNAME_ADDRESSES_MAX 64

/* Failure type of a connect whose factory built no protocol (Twisted's NoProtocol). The other
 * types a connect fails with are in failure.h: ConnectionRefusedError, NoRouteError,
 * TimeoutError, DNSLookupError, ConnectError, ConnectingCancelledError, ... */
#define TW_NO_PROTOCOL "NoProtocol"

/* ---- server endpoints --------------------------------------------------------------------------
 * listen(ep, factory) returns a deferred that fires with the listening tw_port * (no destructor:
 * the caller owns it, may stop it with tw_port_stop_listening, and releases it with tw_port_free,
 * as every port, also after the reactor's shutdown stopped it), or with NULL for an endpoint that
 * has no port (stdio: its one connection is reached through its protocol). It fails with
 * CannotListenError whose message names the address and the system's reason ("Couldn't listen on
 * tcp:127.0.0.1:8080: Address already in use"), code the negative errno.
 *
 * Implementing one: fill a tw_server_endpoint (usually the first member of a larger struct) with
 * ops whose listen follows the rules above and whose free releases it. */
typedef struct tw_server_endpoint tw_server_endpoint;
typedef struct tw_server_endpoint_ops {
    tw_deferred *(*listen)(tw_server_endpoint *ep, tw_factory *factory, int *err);
    void (*free)(tw_server_endpoint *ep); /* may be NULL: nothing to free */
} tw_server_endpoint_ops;

struct tw_server_endpoint {
    const tw_server_endpoint_ops *ops;
    tw_reactor *reactor;
    void *user;
};

/* Twisted's endpoint.listen(factory). NULL + *err only as ERRORS says. */
TW_API tw_deferred *tw_server_endpoint_listen(tw_server_endpoint *ep, tw_factory *factory,
                                              int *err);
TW_API void tw_server_endpoint_free(tw_server_endpoint *ep);

/* TCP4ServerEndpoint(reactor, port, backlog=50, interface=''): interface a numeric IPv4 address,
 * NULL or "" for every one. backlog <= 0 means TW_PORT_BACKLOG_DEFAULT. */
TW_API tw_server_endpoint *tw_tcp4_server_endpoint_new(tw_reactor *r, uint16_t port, int backlog,
                                                       const char *interface, int *err);
/* TCP6ServerEndpoint: interface a numeric IPv6 address (scope allowed), NULL or "" for "::". */
TW_API tw_server_endpoint *tw_tcp6_server_endpoint_new(tw_reactor *r, uint16_t port, int backlog,
                                                       const char *interface, int *err);
/* UNIXServerEndpoint(reactor, address, backlog=50, mode=0o666): the socket file gets mode
 * (TW_ENDPOINT_UNIX_MODE_DEFAULT for Twisted's default) before it can accept anything, so no
 * client ever connects while it has other permissions. -ENAMETOOLONG for a path that does not fit
 * a sockaddr_un. */
TW_API tw_server_endpoint *tw_unix_server_endpoint_new(tw_reactor *r, const char *path,
                                                       int backlog, unsigned mode, int *err);
/* StandardIOEndpoint: listen builds one protocol over stdin and stdout (docs/endpoints.md, "stdio")
 * and fires with NULL. One stdio connection at a time per process: a second listen while one is
 * open fails with CannotListenError (-EBUSY). */
TW_API tw_server_endpoint *tw_stdio_endpoint_new(tw_reactor *r, int *err);
/* The endpoint a parsed server string describes (tw_server_from_string). */
TW_API tw_server_endpoint *tw_server_endpoint_from_description(tw_reactor *r,
                                                               const tw_server_description *d,
                                                               int *err);

/* ---- client endpoints --------------------------------------------------------------------------
 * connect(ep, factory) returns a deferred that fires with the connected protocol (a tw_protocol *
 * borrowed from its transport, no destructor; valid until its connection_lost) once its
 * connection_made has run, from inside that same dispatch, so the first callbacks run before
 * anything else happens on the connection. It fails with the reason the connection could not be
 * made: ConnectionRefusedError, NoRouteError, TimeoutError (the endpoint's timeout),
 * DNSLookupError, ConnectError (other errors), NoProtocol (the factory has no build_protocol, or it
 * refused with
 * -ECONNREFUSED as protocol.h documents), the failure of build_protocol's or connection_made's own
 * error code, or ConnectionLost when the reactor shuts down first.
 *
 * Cancelling the deferred at any moment before it fired fails it with ConnectingCancelledError
 * (code -ECANCELED) whose message names the address ("Connecting to example.com port 80 was
 * cancelled"); every socket is closed at once and no delayed call or fd is left behind. The
 * factory never hears of a connection that was not made: client_connection_failed is not called.
 *
 * Implementing one: as for server endpoints. */
typedef struct tw_client_endpoint tw_client_endpoint;
typedef struct tw_client_endpoint_ops {
    tw_deferred *(*connect)(tw_client_endpoint *ep, tw_factory *factory, int *err);
    void (*free)(tw_client_endpoint *ep); /* may be NULL */
} tw_client_endpoint_ops;

struct tw_client_endpoint {
    const tw_client_endpoint_ops *ops;
    tw_reactor *reactor;
    void *user;
};

/* Twisted's endpoint.connect(factory). NULL + *err only as ERRORS says. */
TW_API tw_deferred *tw_client_endpoint_connect(tw_client_endpoint *ep, tw_factory *factory,
                                               int *err);
TW_API void tw_client_endpoint_free(tw_client_endpoint *ep);

/* Twisted's connectProtocol(endpoint, protocol): connects with a factory that builds exactly this
 * protocol: protocol->ops and ->user are copied into the connection's protocol, which the deferred
 * fires with (an address inside the transport, not protocol). protocol is not kept. */
TW_API tw_deferred *tw_connect_protocol(tw_client_endpoint *ep, const tw_protocol *protocol,
                                        int *err);

/* TCP4ClientEndpoint(reactor, host, port, timeout=30, bindAddress=None): host a numeric IPv4
 * address; timeout in seconds (0: TW_CONNECT_ENDPOINT_TIMEOUT_DEFAULT, negative: none);
 * bind_address a numeric IPv4 address to connect from (port 0), or NULL. */
TW_API tw_client_endpoint *tw_tcp4_client_endpoint_new(tw_reactor *r, const char *host,
                                                       uint16_t port, double timeout,
                                                       const char *bind_address, int *err);
/* TCP6ClientEndpoint: the same with IPv6 addresses ("::1", "fe80::1%eth0"). For a name, use the
 * hostname endpoint with family AF_INET6. */
TW_API tw_client_endpoint *tw_tcp6_client_endpoint_new(tw_reactor *r, const char *host,
                                                       uint16_t port, double timeout,
                                                       const char *bind_address, int *err);
/* UNIXClientEndpoint(reactor, path, timeout=30). */
TW_API tw_client_endpoint *tw_unix_client_endpoint_new(tw_reactor *r, const char *path,
                                                       double timeout, int *err);

/* ---- resolvers ---------------------------------------------------------------------------------
 * What the hostname endpoint asks for a name's addresses (Twisted's IHostnameResolver). resolve
 * returns a deferred that fires with a tw_address_list * (destructor tw_address_list_free) of TCP4
 * and TCP6 addresses in the resolver's order, the port set, or fails with DNSLookupError naming the
 * host and the reason. Cancelling it abandons the look-up: it must then fire at once (its canceller
 * fires it, or the deferred's own CancelledError does) and drop any late answer. NULL + *err only
 * when no deferred can be made. */
typedef struct tw_address_list {
    size_t count;
    tw_address addrs[];
} tw_address_list;

/* A list with room for count addresses, count set and every address zeroed; NULL + *err. */
TW_API tw_address_list *tw_address_list_new(size_t count, int *err);
/* Frees a list (a tw_destructor). */
TW_API void tw_address_list_free(void *list);

typedef struct tw_resolver tw_resolver;
typedef struct tw_resolver_ops {
    tw_deferred *(*resolve)(tw_resolver *res, tw_reactor *r, const char *host, uint16_t port,
                            int *err);
} tw_resolver_ops;

struct tw_resolver {
    const tw_resolver_ops *ops;
    void *user;
};

/* The default resolver: getaddrinfo(host, port, AF_UNSPEC, SOCK_STREAM), without AI_ADDRCONFIG,
 * in the reactor's thread pool (tw_call_in_thread). Shared and static: never freed. */
TW_API tw_resolver *tw_default_resolver(void);

/* ---- the hostname endpoint (Happy Eyeballs) ----------------------------------------------------
 * Resolves host (a numeric address skips the resolver and the thread) and connects to the first of
 * its addresses that answers: the resolver's order is kept, families are interleaved starting with
 * the first address's family; the first attempt starts at once, each next one after attempt_delay
 * or as soon as the attempt in progress fails, never two within TW_HAPPY_EYEBALLS_SPACING_MIN; the
 * first to complete wins (the earliest in order if several complete together) and every other
 * socket is closed at once, so only the winner reaches the factory. timeout bounds the resolution
 * and all attempts together. When all fail, the failure has the type of the last error and its
 * message names host, port and every address's error. */
typedef enum {
    TW_ATTEMPT_STARTED = 1, /* a socket is connecting to address */
    TW_ATTEMPT_FAILED,      /* it failed with error */
    TW_ATTEMPT_ABANDONED,   /* closed unfinished: another won, or cancel, timeout, shutdown */
    TW_ATTEMPT_WON          /* it connected; the protocol is being built */
} tw_attempt_event;

typedef struct tw_attempt_info {
    tw_attempt_event event;
    size_t index;               /* 0-based place in the order tried */
    size_t count;               /* addresses to try in all */
    const tw_address *address;  /* borrowed for the call */
    int error;                  /* TW_ATTEMPT_FAILED: the negative errno */
    double elapsed;             /* seconds since connect() was called, on the reactor's clock */
} tw_attempt_info;

/* Told of every attempt as it starts and ends (for tools and tests; twined connect -v uses it). It
 * must not cancel the connect's deferred or free anything the connect uses; schedule that. */
typedef void (*tw_attempt_fn)(void *ctx, const tw_attempt_info *info);

typedef struct tw_hostname_options {
    double timeout;             /* seconds; 0: TW_CONNECT_ENDPOINT_TIMEOUT_DEFAULT; < 0: none */
    double attempt_delay;       /* seconds; 0: TW_HAPPY_EYEBALLS_DELAY_DEFAULT; clamped */
    const char *bind_address;   /* numeric address to connect from (port 0), or NULL; only the
                                   addresses of its family are tried */
    int family;                 /* AF_UNSPEC (0): both; AF_INET or AF_INET6: that family only */
    tw_resolver *resolver;      /* NULL: tw_default_resolver() */
    tw_attempt_fn on_attempt;   /* NULL: none */
    void *on_attempt_ctx;
} tw_hostname_options;

/* HostnameEndpoint(reactor, host, port, ...): host a name, a numeric address, or a bracketed IPv6
 * address ("[::1]"); options may be NULL (all defaults). -EINVAL for an empty or over-long host, a
 * bad bind address or family. */
TW_API tw_client_endpoint *tw_hostname_endpoint_new(tw_reactor *r, const char *host,
                                                    uint16_t port,
                                                    const tw_hostname_options *options, int *err);

/* The endpoint a parsed client string describes (tw_client_from_string): tcp: is a hostname
 * endpoint over both families, tcp6: one over IPv6 only, unix: a UNIX client endpoint. */
TW_API tw_client_endpoint *tw_client_endpoint_from_description(tw_reactor *r,
                                                               const tw_client_description *d,
                                                               int *err);

#ifdef __cplusplus
}
#endif
#endif
