/* twine testing, the endpoints layer's part: tw_memory_reactor, Twisted's MemoryReactor. It hands
 * out client and server endpoints that record every connect and listen made through them, so a
 * client is tested without a network: the test decides when and how each connect ends.
 *
 * OWNERSHIP: the caller owns the memory reactor (tw_memory_reactor_free) and each endpoint it hands
 * out (tw_client_endpoint_free / tw_server_endpoint_free, at any time). Factories are borrowed, as
 * by every endpoint: they must outlive the memory reactor. The string transports that
 * tw_memory_connect_succeed and tw_memory_listen_accept return are the memory reactor's: read and
 * feed them, but do not free them; tw_memory_reactor_free does. Free the memory reactor before its
 * reactor.
 *
 * ERRORS: functions taking an index return -EINVAL (or NULL with *err = -EINVAL) for a NULL memory
 * reactor or an index past the count; the rest are listed on each. */
#ifndef TWINE_TESTING_ENDPOINTS_H
#define TWINE_TESTING_ENDPOINTS_H

#include <stddef.h>
#include <stdint.h>

#include "endpoints.h"
#include "testing_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_memory_reactor tw_memory_reactor;

/* The longest host a memory client endpoint records (TW_HOSTNAME_MAX, strports.h). */
#define TW_MEMORY_HOST_MAX TW_HOSTNAME_MAX

/* Where a recorded connect stands. */
typedef enum {
    TW_MEMORY_CONNECT_PENDING = 1, /* its deferred has not fired: the test decides */
    TW_MEMORY_CONNECT_SUCCEEDED,   /* tw_memory_connect_succeed fired it with a protocol */
    TW_MEMORY_CONNECT_FAILED,      /* tw_memory_connect_fail (or a refused build) failed it */
    TW_MEMORY_CONNECT_CANCELLED,   /* the caller cancelled it (ConnectingCancelledError) */
    TW_MEMORY_CONNECT_LOST         /* the memory reactor was freed first (ConnectionLost) */
} tw_memory_connect_state;

/* A memory reactor on r (a tw_clock's reactor, usually). NULL + *err: -EINVAL, -ENOMEM. */
TW_API tw_memory_reactor *tw_memory_reactor_new(tw_reactor *r, int *err);
/* Fails every pending connect with ConnectionLost, closes and frees every string transport it
 * made (their protocols get connection_lost with ConnectionLost), and frees mr. NULL is ignored. */
TW_API void tw_memory_reactor_free(tw_memory_reactor *mr);

/* A client endpoint whose connect records (factory, host, port) and returns a pending deferred.
 * The endpoint copies host; connects may outlive it. NULL + *err: -EINVAL (mr NULL, host NULL,
 * empty or longer than TW_MEMORY_HOST_MAX), -ENOMEM. Its connect answers NULL + *err only with
 * -EINVAL, -ENOMEM, or -ESHUTDOWN once the memory reactor is freed. */
TW_API tw_client_endpoint *tw_memory_client_endpoint(tw_memory_reactor *mr, const char *host,
                                                     uint16_t port, int *err);
/* A server endpoint whose listen records (factory, port) and returns a deferred already fired
 * with NULL (no port, as endpoints.h allows). NULL + *err: -EINVAL, -ENOMEM. */
TW_API tw_server_endpoint *tw_memory_server_endpoint(tw_memory_reactor *mr, uint16_t port,
                                                     int *err);

/* ---- recorded connects (0-based, in the order made) ---------------------------------------- */
TW_API size_t tw_memory_connect_count(const tw_memory_reactor *mr);
/* The factory, host and port of connect i; NULL / NULL / 0 for a bad index. */
TW_API tw_factory *tw_memory_connect_factory(const tw_memory_reactor *mr, size_t i);
TW_API const char *tw_memory_connect_host(const tw_memory_reactor *mr, size_t i);
TW_API uint16_t tw_memory_connect_port(const tw_memory_reactor *mr, size_t i);
/* A tw_memory_connect_state, or -EINVAL. */
TW_API int tw_memory_connect_state_of(const tw_memory_reactor *mr, size_t i);

/* The connection is made: builds the recorded factory's protocol on a new string transport (its
 * peer 192.168.1.1:54321, TW_STRING_TRANSPORT_PEER), runs connection_made, then fires the connect's
 * deferred with the protocol (borrowed from the transport, no destructor). Returns the transport
 * for the test to feed and read. When the factory builds no protocol, the deferred fails (NoProtocol
 * for -ECONNREFUSED or no build_protocol, else the error) and this returns NULL with *err set to
 * that error; when connection_made returns an error, the deferred fails with it and the closed
 * transport is returned (a protocol that closes its connection inside connection_made still gets
 * its deferred fired with the protocol, already lost). NULL + *err: -EINVAL, -EALREADY (connect i is not pending), -ENOMEM. */
TW_API tw_string_transport *tw_memory_connect_succeed(tw_memory_reactor *mr, size_t i, int *err);
/* The connection cannot be made: fails connect i's deferred with reason (its reference is taken
 * on success only), or with ConnectionRefusedError (-ECONNREFUSED) when reason is NULL. For an
 * errno, pass tw_failure_from_errno(-ECONNREFUSED, ...). 0, or -EINVAL, -EALREADY (not pending),
 * -ENOMEM. The factory is not told (client_connection_failed is not called), as with every
 * endpoint. */
TW_API int tw_memory_connect_fail(tw_memory_reactor *mr, size_t i, tw_failure *reason);

/* ---- recorded listens ---------------------------------------------------------------------- */
TW_API size_t tw_memory_listen_count(const tw_memory_reactor *mr);
/* The factory and port of listen i; NULL / 0 for a bad index. */
TW_API tw_factory *tw_memory_listen_factory(const tw_memory_reactor *mr, size_t i);
TW_API uint16_t tw_memory_listen_port(const tw_memory_reactor *mr, size_t i);
/* A client connects to listen i: its factory's protocol is built on a new string transport and
 * connection_made runs, as a port does for an accepted connection. NULL + *err: -EINVAL, -ENOMEM,
 * or build_protocol's error (-ECONNREFUSED when the factory refuses or has no build_protocol). */
TW_API tw_string_transport *tw_memory_listen_accept(tw_memory_reactor *mr, size_t i, int *err);

#ifdef __cplusplus
}
#endif
#endif
