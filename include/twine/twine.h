/* twine: an event-driven networking framework in C, in the spirit of Twisted.
 * Include this one header to get the whole public API. */
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
#include "framing.h"
#include "policies.h"
#include "dns.h"
#include "testing.h"

#endif
