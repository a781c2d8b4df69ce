/* twine HTTP/1.1: the limits of twine's request-head parsing and of its static file server
 * (`twined web`). Each is a named constant so that the code, the tests and the documentation agree
 * on the numbers the twined contract states. */
#ifndef TWINE_HTTP_H
#define TWINE_HTTP_H

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- request heads -----------------------------------------------------------------------------
 * A request head is read whole before anything is answered; these bound what a client can make the
 * server hold. Lines end in CRLF or a bare LF. */

/* Longest request line (method, target and version, without its line end); longer -> 414. */
#define TW_HTTP_REQUEST_LINE_MAX 8192
/* Most bytes of header field lines, line ends included and the final empty line excluded, and
 * most header field lines; more of either -> 431. */
#define TW_HTTP_HEADERS_MAX 32768
#define TW_HTTP_HEADER_LINES_MAX 100
/* Empty lines skipped before a request line (RFC 9112 2.2); more -> 400. */
#define TW_HTTP_EMPTY_LINES_MAX 8
/* The largest head the parser can be shown before it decides: everything above plus line ends. */
#define TW_HTTP_HEAD_MAX \
    (2 * TW_HTTP_EMPTY_LINES_MAX + TW_HTTP_REQUEST_LINE_MAX + 2 + TW_HTTP_HEADERS_MAX + 2)
/* A Content-Length body of at most this many bytes on a request is read and discarded, and the
 * connection goes on; a larger body, or a chunked one, is not read: 413 (405/501 for other methods)
 * and the connection is closed. */
#define TW_HTTP_BODY_DISCARD_MAX 65536

/* ---- directory listings --------------------------------------------------------------------- */

/* Entries shown in one listing at most; the rest are left out and the page says so. */
#define TW_HTTP_LISTING_ENTRIES_MAX 10000

#ifdef __cplusplus
}
#endif
#endif
