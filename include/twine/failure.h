/* tw_failure: why something did not work. Twisted's Failure, in C: a type name ("CancelledError",
 * "ConnectionRefusedError", ...), an errno-style code, a human message and an optional cause.
 *
 * Ownership: a failure is reference counted. tw_failure_new*() returns one reference owned by the
 * caller; whoever is handed a failure "takes" that reference unless the function says it borrows.
 * Type names are static strings: compare them with tw_failure_check(), never by pointer. */
#ifndef TWINE_FAILURE_H
#define TWINE_FAILURE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_failure tw_failure;

/* Type names used by twine itself (Twisted's exception class names). */
#define TW_CANCELLED_ERROR "CancelledError"
#define TW_TIMEOUT_ERROR "TimeoutError"
#define TW_ALREADY_CALLED_ERROR "AlreadyCalledError"
#define TW_FIRST_ERROR "FirstError"
#define TW_DNS_LOOKUP_ERROR "DNSLookupError"
#define TW_CONNECT_ERROR "ConnectError"
#define TW_CONNECTION_REFUSED_ERROR "ConnectionRefusedError"
#define TW_NO_ROUTE_ERROR "NoRouteError"
#define TW_TCP_TIMED_OUT_ERROR "TCPTimedOutError"
#define TW_CONNECTING_CANCELLED_ERROR "ConnectingCancelledError"
#define TW_CONNECTION_DONE "ConnectionDone"
#define TW_CONNECTION_LOST "ConnectionLost"
#define TW_CONNECTION_ABORTED "ConnectionAborted"
#define TW_CANNOT_LISTEN_ERROR "CannotListenError"
#define TW_QUEUE_OVERFLOW "QueueOverflow"
#define TW_QUEUE_UNDERFLOW "QueueUnderflow"
#define TW_VALUE_ERROR "ValueError"
#define TW_MEMORY_ERROR "MemoryError"

/* A new failure, or NULL when out of memory. type must be a string that outlives the failure (a
 * literal). code is a negative errno / TW_E* code, or 0. message is printf-formatted. */
TW_API tw_failure *tw_failure_new(const char *type, int code, const char *fmt, ...) TW_PRINTF(3, 4);

/* A failure for a negative errno: the type is Twisted's name for it (ECONNREFUSED ->
 * ConnectionRefusedError, ENETUNREACH/EHOSTUNREACH -> NoRouteError, ETIMEDOUT -> TCPTimedOutError,
 * ECANCELED -> CancelledError, ENETDOWN/EHOSTDOWN/EADDRNOTAVAIL/EAFNOSUPPORT -> ConnectError,
 * ENOMEM -> MemoryError; TW_EALREADYCALLED, TW_EOVERFLOW, TW_EUNDERFLOW and TW_EPARSE -> their
 * names in this header (ValueError for TW_EPARSE); anything else -> "OSError"), the message is
 * "CONTEXT: strerror". context may be NULL. Outgoing connections report every failure without a
 * name of its own as ConnectError, as Twisted's getConnectError does. */
TW_API tw_failure *tw_failure_from_errno(int code, const char *context);

/* Another reference to f (returned; NULL for NULL). A const failure may be kept too: the reason
 * connection_lost lends, say, forwarded into a deferred. The reference count is not part of what
 * const protects. */
TW_API tw_failure *tw_failure_ref(const tw_failure *f);
TW_API void tw_failure_unref(tw_failure *f);

TW_API const char *tw_failure_type(const tw_failure *f);
TW_API int tw_failure_code(const tw_failure *f);
TW_API const char *tw_failure_message(const tw_failure *f);
/* The failure that caused this one (FirstError's sub-failure, say), borrowed; or NULL. */
TW_API tw_failure *tw_failure_cause(const tw_failure *f);
/* Takes the caller's reference to cause. */
TW_API void tw_failure_set_cause(tw_failure *f, tw_failure *cause);
/* Is f of this type? (Twisted's Failure.check, by name.) */
TW_API bool tw_failure_check(const tw_failure *f, const char *type);
/* "Type: message" into buf (always NUL-terminated); returns buf. */
TW_API char *tw_failure_describe(const tw_failure *f, char *buf, size_t size);

/* A shared, static MemoryError failure (code -ENOMEM) for when a failure cannot be allocated: never
 * NULL, ref/unref do nothing to it, set_cause/set_index leave it unchanged. */
TW_API tw_failure *tw_failure_nomem(void);

/* FirstError's index: which input of a deferred list failed first; -1 for any other failure. */
TW_API long tw_failure_index(const tw_failure *f);
TW_API void tw_failure_set_index(tw_failure *f, long index);

#ifdef __cplusplus
}
#endif
#endif
