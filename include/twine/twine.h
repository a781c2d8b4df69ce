/* twine: an event-driven networking framework in C, in the spirit of Twisted.
 * Include this one header to get the whole public API.
 *
 * NULL: no twine function crashes when given NULL where it needs an object (a reactor, a deferred,
 * a handle, a callback). It does nothing, takes over nothing it was handed (a value, a failure, a
 * reference, an fd stays the caller's), and answers as its kind answers an error:
 *   - a function returning int returns -EINVAL;
 *   - a constructor returns NULL and sets *err (when err is not NULL) to -EINVAL;
 *   - a query returns false, 0 or NULL (tw_reactor_running(NULL) is false);
 *   - a void function does nothing (tw_reactor_free(NULL), tw_deferred_unref(NULL), as free(NULL)).
 * The one exception to "takes over nothing": tw_result_set_failure and tw_result_set_deferred
 * always take the reference they are given (they return nothing a caller could check), and drop
 * it when the result is NULL. Arguments documented as optional (err, a deferred's reactor, a
 * canceller) may be NULL. */
#ifndef TWINE_H
#define TWINE_H

#include "version.h"
#include "error.h"
#include "reactor.h"
#include "failure.h"
#include "deferred.h"
#include "task.h"
#include "protocol.h"
#include "transport.h"
#include "datagram.h"
#include "strports.h"
#include "endpoints.h"
#include "framing.h"
#include "policies.h"
#include "dns.h"
#include "http.h"
#include "testing.h"

#endif
